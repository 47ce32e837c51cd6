package config

import (
	"fmt"
	"strings"
	"unicode"
)

// iniEntry is one assignment as it appeared in a file. Line is 1-based and
// points at the line holding the key.
type iniEntry struct {
	Section string
	Key     string
	Value   string
	Line    int
}

// iniFile is a parsed file. Sections lists every section header in order of
// first appearance (even empty ones); Entries keeps every assignment in
// file order, repeats included, so later ones can override earlier ones.
type iniFile struct {
	Sections []string
	Entries  []iniEntry
}

// parseINI parses data with the rules of oslo.config's iniparser, so that
// any file Glance accepts is read the same way here:
//
//   - "key = value" and "key: value"; whichever of '=' and ':' comes first
//     separates the key, so URLs with colons in the value are fine.
//   - Only full-line comments starting with '#' or ';'. "a # b" is the
//     value "a # b", exactly as oslo keeps it.
//   - A line starting with a space or tab continues the previous value;
//     the parts are joined with "\n". A blank line ends the value.
//   - One pair of matching surrounding quotes (" or ') is removed from a
//     single-line value.
//   - Section names are lower-cased except DEFAULT, like oslo's group
//     name normalisation; keys are case-sensitive.
//
// Unlike oslo, which stops at the first error, parsing carries on so that
// every problem in the file is reported at once. name prefixes problems.
func parseINI(name string, data []byte) (*iniFile, Problems) {
	var (
		f        iniFile
		probs    Problems
		section  string
		haveSect bool
		seen     = map[string]bool{}

		// The assignment being collected; continuation lines extend it.
		key      string
		keyLine  int
		value    []string
		inAssign bool

		// Set after a malformed assignment so that its continuation lines
		// are not reported as a second, confusing problem.
		skipping bool
	)
	problem := func(line int, msg, text string) {
		probs = append(probs, fmt.Sprintf("%s:%d: %s: %q", name, line, msg, text))
	}
	flush := func() {
		if !inAssign {
			return
		}
		inAssign = false
		if !haveSect {
			problem(keyLine, "assignment before any [section] header", key)
			return
		}
		f.Entries = append(f.Entries, iniEntry{
			Section: section,
			Key:     key,
			Value:   strings.Join(value, "\n"),
			Line:    keyLine,
		})
	}

	// Python reads the file with universal newlines, so a lone CR ends a
	// line too.
	text := strings.TrimPrefix(string(data), "\ufeff")
	text = strings.ReplaceAll(text, "\r\n", "\n")
	text = strings.ReplaceAll(text, "\r", "\n")
	for i, line := range strings.Split(text, "\n") {
		lineno := i + 1
		line = strings.TrimRightFunc(line, unicode.IsSpace)
		if line != "" && (line[0] == ' ' || line[0] == '\t') {
			switch {
			case inAssign:
				value = append(value, strings.TrimLeftFunc(line, unicode.IsSpace))
			case !skipping:
				problem(lineno, "continuation line without a preceding assignment", line)
			}
			continue
		}
		skipping = false
		switch {
		case line == "":
			flush()
		case line[0] == '[':
			flush()
			if !strings.HasSuffix(line, "]") {
				problem(lineno, "section header must end with ]", line)
				continue
			}
			if len(line) <= 2 {
				problem(lineno, "empty section name", line)
				continue
			}
			section, haveSect = normalizeSection(line[1:len(line)-1]), true
			if !seen[section] {
				seen[section] = true
				f.Sections = append(f.Sections, section)
			}
		case line[0] == '#' || line[0] == ';':
			flush()
		default:
			flush()
			k, v, ok := splitKeyValue(line)
			if !ok {
				problem(lineno, "no '=' or ':' in assignment", line)
				skipping = true
				continue
			}
			if k == "" {
				problem(lineno, "empty key", line)
				skipping = true
				continue
			}
			key, keyLine, value, inAssign = k, lineno, []string{v}, true
		}
	}
	flush()
	return &f, probs
}

// splitKeyValue splits at the first '=' or ':', whichever comes first, and
// strips one pair of matching quotes from the value as oslo does.
func splitKeyValue(line string) (key, value string, ok bool) {
	i := strings.IndexAny(line, "=:")
	if i < 0 {
		return "", "", false
	}
	key = strings.TrimSpace(line[:i])
	value = strings.TrimSpace(line[i+1:])
	if n := len(value); n > 0 && (value[0] == '"' || value[0] == '\'') && value[n-1] == value[0] {
		if n == 1 {
			// oslo's value[1:-1] of a lone quote is the empty string.
			value = ""
		} else {
			value = value[1 : n-1]
		}
	}
	return key, value, true
}

// normalizeSection mirrors oslo.config: group names are case-insensitive
// except the literal DEFAULT.
func normalizeSection(s string) string {
	if s == "DEFAULT" {
		return s
	}
	return strings.ToLower(s)
}

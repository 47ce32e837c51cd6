package propprotect

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
)

// iniFile is a parsed INI file, read the way Python's configparser reads
// Glance's property protection file: sections in file order, option names
// lower-cased, "=" or ":" between name and value, "#" and ";" comment
// lines, indented continuation lines, [DEFAULT] values inherited by every
// section, and duplicate sections or options rejected.
type iniFile struct {
	defaults map[string]string
	sections []iniSection
}

type iniSection struct {
	name   string
	line   int
	values map[string]string
}

func parseINI(data []byte) (*iniFile, error) {
	f := &iniFile{defaults: map[string]string{}}
	seen := map[string]bool{}
	var cur map[string]string // nil before the first section header
	var curName, lastKey string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		raw := strings.TrimRight(sc.Text(), " \t\r")
		line := strings.TrimSpace(raw)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if lastKey != "" && cur != nil && (raw[0] == ' ' || raw[0] == '\t') {
			cur[lastKey] += "\n" + line
			continue
		}
		lastKey = ""
		if line[0] == '[' {
			end := strings.LastIndexByte(line, ']')
			if end < 2 {
				return nil, fmt.Errorf("line %d: malformed section header %q", n, line)
			}
			name := line[1:end]
			if name == "DEFAULT" {
				cur, curName = f.defaults, name
				continue
			}
			if seen[name] {
				return nil, fmt.Errorf("line %d: section [%s] already exists", n, name)
			}
			seen[name] = true
			s := iniSection{name: name, line: n, values: map[string]string{}}
			f.sections = append(f.sections, s)
			cur, curName = s.values, name
			continue
		}
		if cur == nil {
			return nil, fmt.Errorf("line %d: option %q before any section header", n, line)
		}
		i := strings.IndexAny(line, "=:")
		if i < 0 {
			return nil, fmt.Errorf("line %d: %q is not an option (want name = value)", n, line)
		}
		key := strings.ToLower(strings.TrimSpace(line[:i]))
		if key == "" {
			return nil, fmt.Errorf("line %d: option without a name", n)
		}
		if _, dup := cur[key]; dup {
			return nil, fmt.Errorf("line %d: option %q in section [%s] already exists", n, key, curName)
		}
		cur[key] = strings.TrimSpace(line[i+1:])
		lastKey = key
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return f, nil
}

// get returns an option of a section, from [DEFAULT] if the section lacks
// it, with configparser's basic interpolation applied: "%%" is a percent
// sign and "%(name)s" the value of another option.
func (f *iniFile) get(s iniSection, key string) (string, bool, error) {
	v, ok := s.values[key]
	if !ok {
		v, ok = f.defaults[key]
	}
	if !ok {
		return "", false, nil
	}
	out, err := f.interpolate(s, key, v, 1)
	return out, true, err
}

func (f *iniFile) interpolate(s iniSection, key, v string, depth int) (string, error) {
	if !strings.Contains(v, "%") {
		return v, nil
	}
	if depth > 10 {
		return "", fmt.Errorf("[%s] %s: interpolation too deep", s.name, key)
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] != '%' {
			b.WriteByte(v[i])
			continue
		}
		switch {
		case i+1 < len(v) && v[i+1] == '%':
			b.WriteByte('%')
			i++
		case i+1 < len(v) && v[i+1] == '(':
			end := strings.Index(v[i:], ")s")
			if end < 0 {
				return "", fmt.Errorf("[%s] %s: bad interpolation in %q", s.name, key, v)
			}
			ref := strings.ToLower(v[i+2 : i+end])
			rv, ok := s.values[ref]
			if !ok {
				rv, ok = f.defaults[ref]
			}
			if !ok {
				return "", fmt.Errorf("[%s] %s: %q refers to missing option %q", s.name, key, v, ref)
			}
			rv, err := f.interpolate(s, ref, rv, depth+1)
			if err != nil {
				return "", err
			}
			b.WriteString(rv)
			i += end + 1
		default:
			return "", fmt.Errorf("[%s] %s: '%%' must be followed by '%%' or '(' in %q", s.name, key, v)
		}
	}
	return b.String(), nil
}

package policy

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// tokKind is a token of the policy language.
type tokKind uint8

const (
	tokCheck tokKind = iota
	tokAndExpr
	tokOrExpr
	tokAnd
	tokOr
	tokNot
	tokLParen
	tokRParen
	tokString
)

type token struct {
	kind tokKind
	n    *node
}

// parser turns check strings into trees. It reproduces oslo.policy's
// greedy shift-reduce parser, so precedence and odd inputs come out the
// same: "not" binds tighter than "and", which binds tighter than "or".
type parser struct {
	slot func(name string) *slot // finds or makes the slot of rule:NAME
}

// parseText parses a check string. Where oslo.policy logs and denies
// (a check without a colon, an unbalanced expression), parseText returns
// an error, so a broken policy file stops start-up instead of failing
// closed at request time.
func (p *parser) parseText(s string) (*node, error) {
	if s == "" {
		return &node{kind: kindTrue}, nil
	}
	var stack []token
	for _, f := range strings.Fields(s) {
		clean := strings.TrimLeft(f, "(")
		for range len(f) - len(clean) {
			stack = shift(stack, token{kind: tokLParen})
		}
		if clean == "" {
			continue
		}
		tok := clean
		clean = strings.TrimRight(tok, ")")
		trail := len(tok) - len(clean)
		switch strings.ToLower(clean) {
		case "and":
			stack = shift(stack, token{kind: tokAnd})
		case "or":
			stack = shift(stack, token{kind: tokOr})
		case "not":
			stack = shift(stack, token{kind: tokNot})
		case "":
		default:
			if len(tok) >= 2 && (tok[0] == '"' && tok[len(tok)-1] == '"' || tok[0] == '\'' && tok[len(tok)-1] == '\'') {
				// A bare quoted string: oslo.policy makes it a token that
				// nothing reduces, so the whole rule fails to parse.
				stack = shift(stack, token{kind: tokString})
				break
			}
			n, err := p.parseCheck(clean)
			if err != nil {
				return nil, err
			}
			stack = shift(stack, token{kind: tokCheck, n: n})
		}
		for range trail {
			stack = shift(stack, token{kind: tokRParen})
		}
	}
	if len(stack) != 1 || stack[0].kind == tokString || stack[0].n == nil {
		return nil, fmt.Errorf("cannot parse %q", s)
	}
	return stack[0].n, nil
}

// shift pushes a token and reduces greedily, as oslo.policy's ParseState.
func shift(stack []token, t token) []token {
	stack = append(stack, t)
	for {
		l := len(stack)
		if l >= 3 {
			a, b, c := stack[l-3], stack[l-2], stack[l-1]
			switch {
			case a.kind == tokLParen && c.kind == tokRParen &&
				(b.kind == tokCheck || b.kind == tokAndExpr || b.kind == tokOrExpr):
				stack = append(stack[:l-3], token{kind: tokCheck, n: b.n})
				continue
			case a.kind == tokCheck && b.kind == tokAnd && c.kind == tokCheck:
				n := &node{kind: kindAnd, kids: []*node{a.n, c.n}}
				stack = append(stack[:l-3], token{kind: tokAndExpr, n: n})
				continue
			case a.kind == tokAndExpr && b.kind == tokAnd && c.kind == tokCheck:
				a.n.kids = append(a.n.kids, c.n)
				stack = append(stack[:l-3], token{kind: tokAndExpr, n: a.n})
				continue
			case a.kind == tokOrExpr && b.kind == tokAnd && c.kind == tokCheck:
				// "A or B and C": the and takes the last alternative.
				last := a.n.kids[len(a.n.kids)-1]
				if last.kind == kindAnd {
					last.kids = append(last.kids, c.n)
				} else {
					a.n.kids[len(a.n.kids)-1] = &node{kind: kindAnd, kids: []*node{last, c.n}}
				}
				stack = append(stack[:l-3], token{kind: tokOrExpr, n: a.n})
				continue
			case (a.kind == tokCheck || a.kind == tokAndExpr) && b.kind == tokOr && c.kind == tokCheck:
				n := &node{kind: kindOr, kids: []*node{a.n, c.n}}
				stack = append(stack[:l-3], token{kind: tokOrExpr, n: n})
				continue
			case a.kind == tokOrExpr && b.kind == tokOr && c.kind == tokCheck:
				a.n.kids = append(a.n.kids, c.n)
				stack = append(stack[:l-3], token{kind: tokOrExpr, n: a.n})
				continue
			}
		}
		if l >= 2 && stack[l-2].kind == tokNot && stack[l-1].kind == tokCheck {
			n := &node{kind: kindNot, kids: []*node{stack[l-1].n}}
			stack = append(stack[:l-2], token{kind: tokCheck, n: n})
			continue
		}
		return stack
	}
}

// errHTTPCheck is returned for http: and https: checks, which would make
// every decision depend on a remote server.
var errHTTPCheck = errors.New("http: checks are not supported")

// parseCheck parses one base check: "@", "!", or KIND:MATCH.
func (p *parser) parseCheck(s string) (*node, error) {
	switch s {
	case "!":
		return &node{kind: kindFalse, text: s}, nil
	case "@":
		return &node{kind: kindTrue, text: s}, nil
	}
	k, m, ok := strings.Cut(s, ":")
	if !ok {
		return nil, fmt.Errorf("check %q has no colon (want KIND:VALUE)", s)
	}
	switch k {
	case "http", "https":
		return nil, fmt.Errorf("check %q: %w", s, errHTTPCheck)
	case "rule":
		return &node{kind: kindRule, ref: p.slot(m), text: s}, nil
	}
	match, err := parseMatch(m)
	if err != nil {
		return nil, fmt.Errorf("check %q: %w", s, err)
	}
	n := &node{match: match, text: s}
	if k == "role" {
		n.kind = kindRole
		return n, nil
	}
	n.kind = kindGeneric
	if lit, ok := pyLiteral(k); ok {
		n.lit, n.isLit = lit, true
		return n, nil
	}
	first, _, deep := strings.Cut(k, ".")
	n.key = credKeys[first]
	n.deep = deep
	return n, nil
}

// parseMatch splits the right-hand side of a check into literal text and
// %(key)s substitutions, as Python's "%" operator with a mapping reads it.
func parseMatch(m string) ([]part, error) {
	if !strings.Contains(m, "%") {
		return []part{{text: m}}, nil
	}
	var parts []part
	var lit strings.Builder
	for i := 0; i < len(m); {
		c := m[i]
		if c != '%' {
			lit.WriteByte(c)
			i++
			continue
		}
		if i+1 < len(m) && m[i+1] == '%' {
			lit.WriteByte('%')
			i += 2
			continue
		}
		if i+1 >= len(m) || m[i+1] != '(' {
			return nil, errors.New("only %(key)s substitutions are supported")
		}
		// Python allows nested parentheses inside the key.
		depth, j := 1, i+2
		for ; j < len(m) && depth > 0; j++ {
			switch m[j] {
			case '(':
				depth++
			case ')':
				depth--
			}
		}
		if depth != 0 || j >= len(m) || m[j] != 's' {
			return nil, errors.New("only %(key)s substitutions are supported")
		}
		if lit.Len() > 0 {
			parts = append(parts, part{text: lit.String()})
			lit.Reset()
		}
		parts = append(parts, part{text: m[i+2 : j-1], isKey: true})
		i = j + 1
	}
	if lit.Len() > 0 || len(parts) == 0 {
		parts = append(parts, part{text: lit.String()})
	}
	return parts, nil
}

// pyLiteral reports whether the left-hand side of a generic check is a
// Python literal (ast.literal_eval succeeds) and returns str() of it:
// 'public' is public, True is True, 10 is 10.
func pyLiteral(k string) (string, bool) {
	if len(k) >= 2 && (k[0] == '\'' || k[0] == '"') && k[len(k)-1] == k[0] {
		inner := k[1 : len(k)-1]
		if !strings.ContainsRune(inner, rune(k[0])) && !strings.Contains(inner, `\`) {
			return inner, true
		}
		if s, err := strconv.Unquote(`"` + strings.ReplaceAll(inner, `"`, `\"`) + `"`); err == nil {
			return s, true
		}
		return "", false
	}
	switch k {
	case "True", "False", "None":
		return k, true
	}
	if i, err := strconv.ParseInt(k, 10, 64); err == nil && (k == "0" || strings.TrimPrefix(k, "-")[0] != '0') {
		return strconv.FormatInt(i, 10), true
	}
	if strings.ContainsAny(k, ".eE") && !strings.ContainsAny(k, "xXpP_nN") {
		if f, err := strconv.ParseFloat(k, 64); err == nil {
			s := strconv.FormatFloat(f, 'g', -1, 64)
			if !strings.ContainsAny(s, ".e") {
				s += ".0"
			}
			return s, true
		}
	}
	return "", false
}

// parseList parses the old list-of-lists syntax: the outer list is joined
// by "or", each inner list by "and"; each string is one base check.
func (p *parser) parseList(rule []any) (*node, error) {
	if len(rule) == 0 {
		return &node{kind: kindTrue}, nil
	}
	var or []*node
	for _, inner := range rule {
		var checks []string
		switch v := inner.(type) {
		case string:
			checks = []string{v}
		case []any:
			for _, c := range v {
				s, ok := c.(string)
				if !ok {
					return nil, fmt.Errorf("list rule: %v is not a string", c)
				}
				checks = append(checks, s)
			}
		default:
			return nil, fmt.Errorf("list rule: %v is neither a string nor a list", inner)
		}
		if len(checks) == 0 {
			continue
		}
		var and []*node
		for _, c := range checks {
			n, err := p.parseCheck(c)
			if err != nil {
				return nil, err
			}
			and = append(and, n)
		}
		if len(and) == 1 {
			or = append(or, and[0])
		} else {
			or = append(or, &node{kind: kindAnd, kids: and})
		}
	}
	switch len(or) {
	case 0:
		return &node{kind: kindFalse}, nil
	case 1:
		return or[0], nil
	}
	return &node{kind: kindOr, kids: or}, nil
}

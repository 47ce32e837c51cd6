package policy

import (
	"strconv"
	"strings"
)

// kind is the type of one node of a parsed check string.
type kind uint8

const (
	kindTrue    kind = iota // "@" or ""
	kindFalse               // "!"
	kindNot                 // not X
	kindAnd                 // X and Y ...
	kindOr                  // X or Y ...
	kindRule                // rule:NAME
	kindRole                // role:NAME
	kindGeneric             // KEY:VALUE
)

// credKey names the value of the caller that a generic check reads, as
// oslo.context's to_policy_values lays it out.
type credKey uint8

const (
	credMissing credKey = iota // a key the caller never has: always false
	credUserID
	credUserDomainID
	credSystemScope
	credSystem // only present for system-scoped tokens
	credDomainID
	credProjectID
	credProjectDomainID
	credRoles
	credServiceRoles
	credIsAdminProject
	credNone // service_user_id and friends: present, always None
)

var credKeys = map[string]credKey{
	"user_id":                   credUserID,
	"user_domain_id":            credUserDomainID,
	"system_scope":              credSystemScope,
	"system":                    credSystem,
	"domain_id":                 credDomainID,
	"project_id":                credProjectID,
	"project_domain_id":         credProjectDomainID,
	"roles":                     credRoles,
	"service_roles":             credServiceRoles,
	"is_admin_project":          credIsAdminProject,
	"service_user_id":           credNone,
	"service_user_domain_id":    credNone,
	"service_project_id":        credNone,
	"service_project_domain_id": credNone,
}

// pyNone is how Python prints None, which is what oslo.policy compares
// when a caller or target value is unset.
const pyNone = "None"

// part is a piece of the right-hand side of a check: literal text or a
// %(key)s substitution from the target.
type part struct {
	text  string
	isKey bool
}

// node is one node of a parsed check string. Parsed trees are never
// modified after the enforcer is built, so evaluation is lock-free.
type node struct {
	kind kind
	kids []*node // not, and, or

	// rule:NAME
	ref *slot

	// role and generic checks
	match []part // right-hand side with substitutions
	lit   string // generic: the literal left-hand side ('public', True)
	isLit bool
	key   credKey // generic: which caller value the path starts at
	deep  bool    // generic: the path has more than one segment

	text string // the check as written, for explanations
}

// matchValue substitutes target values into the right-hand side. ok is
// false when a substituted key is missing from the target (oslo: KeyError,
// the check fails).
func (n *node) matchValue(t Target) (string, bool) {
	switch len(n.match) {
	case 0:
		return "", true
	case 1:
		p := n.match[0]
		if !p.isKey {
			return p.text, true
		}
		v, ok := t[p.text]
		return v, ok
	}
	var b strings.Builder
	for _, p := range n.match {
		if !p.isKey {
			b.WriteString(p.text)
			continue
		}
		v, ok := t[p.text]
		if !ok {
			return "", false
		}
		b.WriteString(v)
	}
	return b.String(), true
}

// orNone maps an unset caller value to Python's None.
func orNone(s string) string {
	if s == "" {
		return pyNone
	}
	return s
}

// evaluator walks check trees. Depth bounds rule:NAME recursion, which
// oslo.policy would end with a RecursionError; here a cycle denies.
type evaluator struct {
	e *Enforcer
	c *Creds
	t Target
}

const maxDepth = 64

func (ev *evaluator) eval(n *node, depth int) bool {
	switch n.kind {
	case kindTrue:
		return true
	case kindFalse:
		return false
	case kindNot:
		return !ev.eval(n.kids[0], depth)
	case kindAnd:
		for _, k := range n.kids {
			if !ev.eval(k, depth) {
				return false
			}
		}
		return true
	case kindOr:
		for _, k := range n.kids {
			if ev.eval(k, depth) {
				return true
			}
		}
		return false
	case kindRule:
		if depth >= maxDepth {
			return false
		}
		target := ev.e.resolve(n.ref)
		if target == nil {
			return false
		}
		return ev.eval(target.check, depth+1)
	case kindRole:
		return ev.role(n)
	case kindGeneric:
		return ev.generic(n)
	}
	return false
}

func (ev *evaluator) role(n *node) bool {
	m, ok := n.matchValue(ev.t)
	if !ok || ev.c == nil {
		return false
	}
	for _, r := range ev.c.Roles {
		if strings.EqualFold(r, m) {
			return true
		}
	}
	return false
}

func (ev *evaluator) generic(n *node) bool {
	m, ok := n.matchValue(ev.t)
	if !ok {
		return false
	}
	if n.isLit {
		return m == n.lit
	}
	if n.deep {
		// Every caller value is a string or a list of strings; going one
		// level further into either fails in oslo.policy too.
		return false
	}
	c := ev.c
	if c == nil {
		c = &Creds{}
	}
	switch n.key {
	case credUserID:
		return m == orNone(c.UserID)
	case credUserDomainID:
		return m == orNone(c.UserDomainID)
	case credSystemScope:
		return m == orNone(c.SystemScope)
	case credSystem:
		return c.SystemScope != "" && m == c.SystemScope
	case credDomainID:
		return m == orNone(c.DomainID)
	case credProjectID:
		return m == orNone(c.ProjectID)
	case credProjectDomainID:
		return m == orNone(c.ProjectDomainID)
	case credRoles:
		return contains(c.Roles, m)
	case credServiceRoles:
		return contains(c.ServiceRoles, m)
	case credIsAdminProject:
		return m == "True"
	case credNone:
		return m == pyNone
	}
	return false
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// explain evaluates like eval and also says which checks decided.
func (ev *evaluator) explain(n *node, depth int) (bool, string) {
	switch n.kind {
	case kindNot:
		ok, why := ev.explain(n.kids[0], depth)
		return !ok, "not (" + why + ")"
	case kindAnd:
		var whys []string
		for _, k := range n.kids {
			ok, why := ev.explain(k, depth)
			if !ok {
				return false, why
			}
			whys = append(whys, why)
		}
		return true, strings.Join(whys, " and ")
	case kindOr:
		var whys []string
		for _, k := range n.kids {
			ok, why := ev.explain(k, depth)
			if ok {
				return true, why
			}
			whys = append(whys, why)
		}
		return false, "none of: " + strings.Join(whys, "; ")
	case kindRule:
		if depth >= maxDepth {
			return false, n.text + " is part of a cycle"
		}
		target := ev.e.resolve(n.ref)
		if target == nil {
			return false, n.text + " is not defined and there is no default rule"
		}
		ok, why := ev.explain(target.check, depth+1)
		via := n.text
		if target != n.ref {
			via += " (undefined, so rule:" + target.name + ")"
		}
		return ok, via + " -> " + why
	}
	ok := ev.eval(n, depth)
	if n.kind == kindTrue || n.kind == kindFalse {
		return ok, strconv.Quote(n.text) + " is always " + strconv.FormatBool(ok)
	}
	if ok {
		return true, n.text + " matched"
	}
	for _, p := range n.match {
		if _, found := ev.t[p.text]; p.isKey && !found {
			return false, n.text + " did not match (the target has no " + p.text + ")"
		}
	}
	return false, n.text + " did not match"
}

// String renders a tree as oslo.policy does.
func (n *node) String() string {
	switch n.kind {
	case kindTrue:
		return "@"
	case kindFalse:
		return "!"
	case kindNot:
		return "not " + n.kids[0].String()
	case kindAnd, kindOr:
		op := " and "
		if n.kind == kindOr {
			op = " or "
		}
		parts := make([]string, len(n.kids))
		for i, k := range n.kids {
			parts[i] = k.String()
		}
		return "(" + strings.Join(parts, op) + ")"
	}
	return n.text
}

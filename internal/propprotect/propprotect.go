// Package propprotect enforces Glance's property protections: which
// callers may create, read, update or delete which image properties.
//
// The protection file is INI. Each section name is a regular expression
// searched for in the property name (anywhere, as Python's re.search);
// the first section in file order that matches decides, and a property
// that no section matches is refused. Each section must set all four
// operations. In the "roles" format a value is a comma list of roles,
// "@" for everyone and "!" for nobody; an empty value allows nobody. In
// the "policies" format a value names one policy rule, registered in the
// enforcer as "<section>:<operation>".
//
// Properties starting with os_glance belong to Glance itself: a section
// [os_glance.*] allowing everyone is put first and sections of the file
// whose names start with os_glance are dropped.
package propprotect

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"

	"glimpse/internal/policy"
)

// Op is an operation on a property.
type Op string

// The operations a protection file must define for each section.
const (
	Create Op = "create"
	Read   Op = "read"
	Update Op = "update"
	Delete Op = "delete"
)

var ops = [...]Op{Create, Read, Update, Delete}

func opIndex(op Op) int {
	for i, o := range ops {
		if o == op {
			return i
		}
	}
	return -1
}

// Formats of the protection file ([DEFAULT] property_protection_rule_format).
const (
	FormatRoles    = "roles"
	FormatPolicies = "policies"
)

// Rules are loaded property protections. A nil *Rules allows everything
// (no property_protection_file configured).
type Rules struct {
	policies bool
	sections []section
	e        *policy.Enforcer
}

type section struct {
	name  string
	re    *regexp.Regexp
	perms [len(ops)][]string // roles (lower-cased), or the one policy name
}

// reserved is the section Glance puts in front of every protection file.
const reserved = "os_glance.*"

// Load reads a protection file. format is "roles" (also when empty) or
// "policies"; the policies format registers its rules in e. Errors are
// those for which Glance refuses to start: a missing or unreadable file,
// a section without all four operations, "@" together with "!", more
// than one policy for an operation, a section name that is not a valid
// regular expression, or an unknown format.
func Load(path, format string, e *policy.Enforcer) (*Rules, error) {
	format = strings.ToLower(format)
	if format == "" {
		format = FormatRoles
	}
	if format != FormatRoles && format != FormatPolicies {
		return nil, fmt.Errorf("propprotect: invalid property_protection_rule_format %q: want %q or %q", format, FormatRoles, FormatPolicies)
	}
	if format == FormatPolicies && e == nil {
		return nil, errors.New("propprotect: the policies format needs a policy enforcer")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("propprotect: cannot read property protection file: %w", err)
	}
	f, err := parseINI(data)
	if err != nil {
		return nil, fmt.Errorf("propprotect: %s: %w", path, err)
	}
	r := &Rules{policies: format == FormatPolicies, e: e}
	all := section{name: reserved, re: regexp.MustCompile(reserved)}
	for i := range all.perms {
		all.perms[i] = []string{"@"}
	}
	r.sections = append(r.sections, all)
	for _, s := range f.sections {
		if strings.HasPrefix(s.name, "os_glance") {
			continue
		}
		sec, err := r.compile(f, s)
		if err != nil {
			return nil, fmt.Errorf("propprotect: %s:%d: %w", path, s.line, err)
		}
		r.sections = append(r.sections, sec)
	}
	return r, nil
}

func (r *Rules) compile(f *iniFile, s iniSection) (section, error) {
	re, err := regexp.Compile(s.name)
	if err != nil {
		return section{}, fmt.Errorf("section [%s] is not a valid regular expression: %v", s.name, err)
	}
	sec := section{name: s.name, re: re}
	for i, op := range ops {
		v, ok, err := f.get(s, string(op))
		if err != nil {
			return section{}, err
		}
		if !ok {
			return section{}, fmt.Errorf("section [%s] lacks %q (create, read, update and delete are all required)", s.name, op)
		}
		if v == "" {
			continue // nobody
		}
		if r.policies {
			if strings.Contains(v, ",") {
				return section{}, fmt.Errorf("section [%s] %s = %s: one policy per operation; combine policies in the policy file", s.name, op, v)
			}
			if err := r.e.Register(s.name+":"+string(op), "rule:"+v); err != nil {
				return section{}, fmt.Errorf("section [%s] %s: %w", s.name, op, err)
			}
			sec.perms[i] = []string{v}
			continue
		}
		var roles []string
		for _, role := range strings.Split(v, ",") {
			roles = append(roles, strings.ToLower(strings.TrimSpace(role)))
		}
		if slices.Contains(roles, "@") && slices.Contains(roles, "!") {
			return section{}, fmt.Errorf("section [%s] %s = %s: '@' and '!' are mutually exclusive", s.name, op, v)
		}
		sec.perms[i] = roles
	}
	return sec, nil
}

// Allowed reports whether caller c may perform op on property prop. The
// caller's service roles count as roles.
func (r *Rules) Allowed(prop string, op Op, c *policy.Creds) bool {
	if r == nil || len(r.sections) == 0 {
		return true
	}
	i := opIndex(op)
	if i < 0 {
		return false
	}
	var sec *section
	for j := range r.sections {
		if r.sections[j].re.MatchString(prop) {
			sec = &r.sections[j]
			break
		}
	}
	if sec == nil {
		return false
	}
	perms := sec.perms[i]
	switch {
	case len(perms) == 0:
		return false
	case slices.Contains(perms, "!"):
		return false
	case slices.Contains(perms, "@"):
		return true
	}
	if c == nil {
		return false
	}
	if r.policies {
		// Glance adds the service roles to the context's roles before
		// asking the policy engine.
		cc := *c
		if len(c.ServiceRoles) > 0 {
			cc.Roles = append(slices.Clip(c.Roles), c.ServiceRoles...)
		}
		return r.e.Allowed(sec.name+":"+string(ops[i]), &cc, policy.Target{})
	}
	for _, role := range perms {
		if slices.Contains(c.Roles, role) || slices.Contains(c.ServiceRoles, role) {
			return true
		}
	}
	return false
}

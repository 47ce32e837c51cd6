// Package policy is an oslo.policy-compatible rule engine loaded with
// Glance's default rules.
//
// Rules are check strings in oslo.policy's language ("role:admin or
// (role:member and project_id:%(project_id)s)"), compiled once by New and
// evaluated against a caller (Creds) and the object acted on (Target).
// An operator's policy file and policy.d directories override the
// defaults rule by rule, as with Glance.
//
// Where oslo.policy would log and quietly deny (a check it cannot parse),
// New returns an error instead, so a broken policy file stops start-up.
package policy

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Creds is the caller as policy sees it: oslo.context's to_policy_values.
// An empty string stands for Python's None, which oslo.policy compares as
// the text "None".
type Creds struct {
	UserID, ProjectID, UserDomainID, ProjectDomainID, DomainID string

	SystemScope  string   // "all" for system-scoped tokens, "" otherwise
	Roles        []string // lower-cased
	ServiceRoles []string // roles of the X-Service-Token, lower-cased

	// IsAdmin is the request context's is_admin. Like oslo.context's
	// to_policy_values, the creds that checks see do not include it, so
	// "is_admin:True" in a policy never matches; Enforcer.IsAdmin reads it.
	IsAdmin bool
}

// Target is the object of an operation: project_id, owner, member_id,
// visibility and any other key a check substitutes with %(key)s. A check
// naming a key that is missing fails. Glance passes Python's None for
// unset image attributes (an image without owner); oslo.policy compares
// it as the text "None", so a caller mirroring Glance sets "None".
type Target map[string]string

// Options are the [oslo_policy] options.
type Options struct {
	// PolicyFile is the policy file; a relative name is resolved against
	// ConfigDir. A missing file is not an error (oslo.policy only logs
	// it), whatever its name.
	PolicyFile string
	// PolicyDirs are read after PolicyFile: every file inside whose name
	// does not start with a dot, in name order, each overriding the rules
	// before it. Missing directories are ignored.
	PolicyDirs []string
	// ConfigDir is where relative names are looked up.
	ConfigDir string
	// EnforceNewDefaults drops the deprecated checks of default rules.
	// When false, a default rule that the files do not override and that
	// has a deprecated check is "(new) or (deprecated)".
	EnforceNewDefaults bool
	// EnforceScope refuses callers whose token scope (project, domain or
	// system) is not among a default rule's scope types.
	EnforceScope bool
}

// ErrInvalidScope is returned by Enforce when EnforceScope is on and the
// caller's token scope is not among the rule's scope types (oslo.policy's
// InvalidScope, which Glance answers with 403). Allowed returns false.
var ErrInvalidScope = errors.New("policy: token scope not allowed for this rule")

// ErrDenied is returned by Enforce when the rule's checks deny the caller.
var ErrDenied = errors.New("policy: not allowed")

// Enforcer evaluates rules. It is safe for concurrent use once built;
// Register must not run concurrently with evaluations.
type Enforcer struct {
	slots     map[string]*slot
	defaults  []Default
	dflt      *slot // the "default" rule, used for unknown names
	sources   []string
	opts      Options
	fileRules map[string]bool
}

// slot holds one named rule. Parsed checks point at slots, so rule:NAME
// costs no map lookup and may name a rule defined later.
type slot struct {
	name   string
	check  *node // nil while the rule is undefined
	text   string
	source string   // "default", "default or deprecated", a file, "registered"
	scopes []string // scope types of a default rule; nil for others
}

// Decision explains one evaluation.
type Decision struct {
	Allowed     bool
	Rule        string // the rule evaluated: the one asked for, or "default"
	CheckString string // its effective check string
	Reason      string // which checks decided
}

// RuleInfo describes a rule as the enforcer will evaluate it.
type RuleInfo struct {
	Name       string
	Check      string   // effective check string
	Source     string   // "default", "default or deprecated", "registered" or the file it came from
	ScopeTypes []string // of a default rule
}

// New builds an enforcer from Glance's defaults and the files named by o.
func New(o Options) (*Enforcer, error) {
	e := &Enforcer{
		slots:     map[string]*slot{},
		defaults:  Defaults(),
		opts:      o,
		fileRules: map[string]bool{},
	}
	e.dflt = e.slot("default")
	if o.PolicyFile != "" {
		path := e.path(o.PolicyFile)
		switch fi, err := os.Stat(path); {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return nil, fmt.Errorf("policy: %w", err)
		case fi.IsDir():
			return nil, fmt.Errorf("policy: %s is a directory, not a policy file", path)
		default:
			if err := e.loadFile(path); err != nil {
				return nil, err
			}
		}
	}
	for _, d := range o.PolicyDirs {
		dir := e.path(d)
		fi, err := os.Stat(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("policy: %w", err)
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("policy: %s is not a directory", dir)
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("policy: %w", err)
		}
		for _, ent := range entries { // ReadDir sorts by name
			if strings.HasPrefix(ent.Name(), ".") {
				continue
			}
			p := filepath.Join(dir, ent.Name())
			if ent.IsDir() {
				continue
			}
			if ent.Type()&fs.ModeSymlink != 0 {
				if fi, err := os.Stat(p); err == nil && fi.IsDir() {
					continue
				}
			}
			if err := e.loadFile(p); err != nil {
				return nil, err
			}
		}
	}
	p := e.parser()
	for _, d := range e.defaults {
		if e.fileRules[d.Name] {
			e.slots[d.Name].scopes = d.ScopeTypes
			continue
		}
		n, err := p.parseText(d.Check)
		if err != nil {
			return nil, fmt.Errorf("policy: default rule %q: %w", d.Name, err)
		}
		s := e.slot(d.Name)
		s.check, s.text, s.source, s.scopes = n, d.Check, "default", d.ScopeTypes
		if !o.EnforceNewDefaults && d.Deprecated != "" && d.Deprecated != d.Check {
			dep, err := p.parseText(d.Deprecated)
			if err != nil {
				return nil, fmt.Errorf("policy: deprecated rule %q: %w", d.Name, err)
			}
			s.check = &node{kind: kindOr, kids: []*node{n, dep}}
			s.text = group(d.Check) + " or " + group(d.Deprecated)
			s.source = "default or deprecated"
		}
	}
	return e, nil
}

func group(check string) string {
	if check == "" {
		return `""`
	}
	return "(" + check + ")"
}

func (e *Enforcer) path(p string) string {
	if filepath.IsAbs(p) || e.opts.ConfigDir == "" {
		return p
	}
	return filepath.Join(e.opts.ConfigDir, p)
}

func (e *Enforcer) slot(name string) *slot {
	s, ok := e.slots[name]
	if !ok {
		s = &slot{name: name}
		e.slots[name] = s
	}
	return s
}

func (e *Enforcer) parser() *parser { return &parser{slot: e.slot} }

// loadFile reads one YAML or JSON policy file. Rules override earlier
// ones; a key repeated in the file takes its last value, as in PyYAML.
func (e *Enforcer) loadFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("policy: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("policy: %s: %v", path, err)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			root = nil
		} else {
			root = root.Content[0]
		}
	}
	e.sources = append(e.sources, path)
	if root == nil || root.Kind == 0 || root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil
	}
	if root.Kind != yaml.MappingNode {
		return fmt.Errorf("policy: %s:%d: want a mapping of rule names to check strings", path, root.Line)
	}
	p := e.parser()
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if v.Kind == yaml.AliasNode {
			v = v.Alias
		}
		name := k.Value
		var n *node
		var text string
		switch {
		case v.Kind == yaml.ScalarNode && v.Tag == "!!null":
			n, text = &node{kind: kindTrue}, ""
		case v.Kind == yaml.ScalarNode && v.Tag == "!!str":
			n, err = p.parseText(v.Value)
			text = v.Value
		case v.Kind == yaml.SequenceNode:
			var list []any
			if err = v.Decode(&list); err == nil {
				if n, err = p.parseList(list); err == nil {
					text = n.String()
				}
			}
		default:
			err = errors.New("check must be a string (or the old list-of-lists syntax)")
		}
		if err != nil {
			return fmt.Errorf("policy: %s:%d: rule %q: %w", path, v.Line, name, err)
		}
		s := e.slot(name)
		s.check, s.text, s.source = n, text, path
		e.fileRules[name] = true
	}
	return nil
}

// Register adds or replaces a rule, as Glance does for property
// protections in the "policies" format. It must not run concurrently
// with evaluations.
func (e *Enforcer) Register(name, check string) error {
	n, err := e.parser().parseText(check)
	if err != nil {
		return fmt.Errorf("policy: rule %q: %w", name, err)
	}
	s := e.slot(name)
	s.check, s.text, s.source = n, check, "registered"
	return nil
}

// resolve returns the slot whose check decides for s: s itself, or the
// "default" rule when s is undefined (oslo.policy's Rules.__missing__),
// or nil when neither is defined.
func (e *Enforcer) resolve(s *slot) *slot {
	if s != nil && s.check != nil {
		return s
	}
	if e.dflt.check != nil {
		return e.dflt
	}
	return nil
}

// tokenScope is the scope of the caller's token as oslo.policy sees it.
func tokenScope(c *Creds) string {
	switch {
	case c != nil && c.SystemScope != "":
		return "system"
	case c != nil && c.DomainID != "":
		return "domain"
	}
	return "project"
}

func (e *Enforcer) scopeOK(s *slot, c *Creds) bool {
	if !e.opts.EnforceScope || s == nil || len(s.scopes) == 0 {
		return true
	}
	return slices.Contains(s.scopes, tokenScope(c))
}

// Allowed reports whether the rule allows caller c on target t. An unknown
// rule name is evaluated as the "default" rule, as oslo.policy does. With
// EnforceScope on, a caller whose token scope is not among the rule's
// scope types is denied (Enforce tells this apart as ErrInvalidScope).
func (e *Enforcer) Allowed(rule string, c *Creds, t Target) bool {
	s := e.slots[rule]
	r := e.resolve(s)
	if r == nil || !e.scopeOK(s, c) {
		return false
	}
	ev := evaluator{e: e, c: c, t: t}
	return ev.eval(r.check, 0)
}

// Enforce is Allowed with the reason of a denial: nil, ErrInvalidScope or
// ErrDenied.
func (e *Enforcer) Enforce(rule string, c *Creds, t Target) error {
	s := e.slots[rule]
	if e.resolve(s) != nil && !e.scopeOK(s, c) {
		return fmt.Errorf("%w: %s requires %s scope, token is %s scoped",
			ErrInvalidScope, rule, strings.Join(s.scopes, " or "), tokenScope(c))
	}
	if !e.Allowed(rule, c, t) {
		return fmt.Errorf("%w: %s", ErrDenied, rule)
	}
	return nil
}

// Explain evaluates like Allowed and says which rule and checks decided.
func (e *Enforcer) Explain(rule string, c *Creds, t Target) Decision {
	s := e.slots[rule]
	r := e.resolve(s)
	if r == nil {
		return Decision{Rule: rule, Reason: "rule " + rule + " is not defined and there is no default rule"}
	}
	d := Decision{Rule: r.name, CheckString: r.text}
	if !e.scopeOK(s, c) {
		d.Reason = fmt.Sprintf("token scope %s is not among the rule's scope types %s",
			tokenScope(c), strings.Join(s.scopes, ", "))
		return d
	}
	ev := evaluator{e: e, c: c, t: t}
	d.Allowed, d.Reason = ev.explain(r.check, 0)
	if r != s {
		d.Reason = "rule " + rule + " is not defined, so the default rule decides: " + d.Reason
	}
	return d
}

// IsAdmin reports whether the caller is an administrator: the context's
// is_admin, or else the context_is_admin rule evaluated with the context
// as target, as Glance's RequestContext does.
func (e *Enforcer) IsAdmin(c *Creds) bool {
	if c == nil {
		return false
	}
	if c.IsAdmin {
		return true
	}
	t := Target{
		"user":           orNone(c.UserID),
		"project_id":     orNone(c.ProjectID),
		"project":        orNone(c.ProjectID),
		"system_scope":   orNone(c.SystemScope),
		"domain":         orNone(c.DomainID),
		"user_domain":    orNone(c.UserDomainID),
		"project_domain": orNone(c.ProjectDomainID),
		"is_admin":       "False",
	}
	return e.Allowed("context_is_admin", c, t)
}

// Rules returns the names of every defined rule: Glance's defaults in
// their registration order, then the others sorted.
func (e *Enforcer) Rules() []string {
	seen := map[string]bool{}
	var names []string
	for _, d := range e.defaults {
		names = append(names, d.Name)
		seen[d.Name] = true
	}
	var extra []string
	for name, s := range e.slots {
		if s.check != nil && !seen[name] {
			extra = append(extra, name)
		}
	}
	slices.Sort(extra)
	return append(names, extra...)
}

// Info describes a defined rule.
func (e *Enforcer) Info(name string) (RuleInfo, bool) {
	s := e.slots[name]
	if s == nil || s.check == nil {
		return RuleInfo{}, false
	}
	return RuleInfo{Name: name, Check: s.text, Source: s.source, ScopeTypes: slices.Clone(s.scopes)}, true
}

// Sources returns the policy files read, in the order they were applied.
func (e *Enforcer) Sources() []string { return slices.Clone(e.sources) }

// AlwaysAllows reports whether rule allows every caller on every target
// (as Glance's legacy defaults do for most image rules), so that a caller
// may skip building a target for it. It is conservative: false means
// "may deny", not "denies".
func (e *Enforcer) AlwaysAllows(rule string) bool {
	s := e.slots[rule]
	if e.opts.EnforceScope && s != nil && len(s.scopes) > 0 {
		return false
	}
	r := e.resolve(s)
	return r != nil && alwaysTrue(r.check, 0)
}

// alwaysTrue reports whether n is true whatever the caller and target.
func alwaysTrue(n *node, depth int) bool {
	if n == nil || depth > maxDepth {
		return false
	}
	switch n.kind {
	case kindTrue:
		return true
	case kindRule:
		return n.ref != nil && alwaysTrue(n.ref.check, depth+1)
	case kindOr:
		return slices.ContainsFunc(n.kids, func(k *node) bool { return alwaysTrue(k, depth+1) })
	case kindAnd:
		for _, k := range n.kids {
			if !alwaysTrue(k, depth+1) {
				return false
			}
		}
		return len(n.kids) > 0
	}
	return false
}

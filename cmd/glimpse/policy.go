package main

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"glimpse/internal/policy"
	"glimpse/internal/server"
)

const policyUsage = `usage:
  glimpse policy check RULE [--config FILE] [--roles R1,R2] [--project P] [--user U]
                            [--system-scope all] [--target KEY=VALUE ...] [--new-defaults]
  glimpse policy list [--config FILE] [--new-defaults]
`

// targetFlag collects repeated --target KEY=VALUE options.
type targetFlag policy.Target

func (t targetFlag) String() string { return "" }

func (t targetFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want KEY=VALUE, got %q", s)
	}
	t[k] = v
	return nil
}

// runPolicy implements "glimpse policy": check one rule for a caller, or
// list every rule as the configured policy files make it. check exits 0
// when the rule allows, 1 when it denies, 2 on a bad command line or
// configuration.
func runPolicy(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, policyUsage)
		return exitUsage
	}
	switch args[0] {
	case "check":
		return policyCheck(args[1:], stdout, stderr)
	case "list":
		return policyList(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, policyUsage)
		return 0
	}
	fmt.Fprintf(stderr, "glimpse policy: unknown command %q\n%s", args[0], policyUsage)
	return exitUsage
}

// parseInterspersed parses flags that may come before or after the
// positional arguments, which it returns.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// policyEnforcer loads the configuration and builds the enforcer it
// describes; newDefaults forces enforce_new_defaults on.
func policyEnforcer(configFile string, newDefaults bool, stderr io.Writer) (*policy.Enforcer, policy.Options, bool) {
	cfg, ok := loadConfig(&options{configFile: configFile}, stderr)
	if !ok {
		return nil, policy.Options{}, false
	}
	o := server.PolicyOptions(cfg)
	if newDefaults {
		o.EnforceNewDefaults = true
	}
	e, err := policy.New(o)
	if err != nil {
		fmt.Fprintf(stderr, "glimpse: config error: %v\n", err)
		return nil, o, false
	}
	return e, o, true
}

func policyCheck(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("glimpse policy check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configFile := fs.String("config", "", "glance-api.conf-style configuration file")
	roles := fs.String("roles", "", "comma-separated roles of the caller")
	project := fs.String("project", "", "project of the caller's token")
	user := fs.String("user", "", "user ID of the caller")
	systemScope := fs.String("system-scope", "", `"all" for a system-scoped token`)
	newDefaults := fs.Bool("new-defaults", false, "enforce the new defaults whatever the configuration says")
	target := targetFlag{}
	fs.Var(target, "target", "KEY=VALUE of the target, e.g. project_id=P or visibility=public (repeatable)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(pos) != 1 {
		fmt.Fprintf(stderr, "glimpse policy check: want exactly one RULE, got %d\n%s", len(pos), policyUsage)
		return exitUsage
	}
	rule := pos[0]
	e, _, ok := policyEnforcer(*configFile, *newDefaults, stderr)
	if !ok {
		return exitUsage
	}
	c := &policy.Creds{UserID: *user, ProjectID: *project, SystemScope: *systemScope}
	for _, r := range strings.Split(*roles, ",") {
		if r = strings.ToLower(strings.TrimSpace(r)); r != "" {
			c.Roles = append(c.Roles, r)
		}
	}
	c.IsAdmin = e.IsAdmin(c)
	d := e.Explain(rule, c, policy.Target(target))
	verdict := "denied"
	if d.Allowed {
		verdict = "allowed"
	}
	fmt.Fprintf(stdout, "%s: %s\n", verdict, rule)
	if d.Rule != rule {
		fmt.Fprintf(stdout, "rule: %s (no rule %s is defined)\n", d.Rule, rule)
	}
	fmt.Fprintf(stdout, "check: %s\n", quoteEmpty(d.CheckString))
	if info, ok := e.Info(d.Rule); ok {
		fmt.Fprintf(stdout, "source: %s\n", info.Source)
	}
	fmt.Fprintf(stdout, "decided by: %s\n", d.Reason)
	if !d.Allowed {
		return exitFailure
	}
	return 0
}

func quoteEmpty(s string) string {
	if s == "" {
		return `""`
	}
	return s
}

func policyList(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("glimpse policy list", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configFile := fs.String("config", "", "glance-api.conf-style configuration file")
	newDefaults := fs.Bool("new-defaults", false, "enforce the new defaults whatever the configuration says")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(pos) > 0 {
		fmt.Fprintf(stderr, "glimpse policy list: unexpected argument %q\n", pos[0])
		return exitUsage
	}
	e, o, ok := policyEnforcer(*configFile, *newDefaults, stderr)
	if !ok {
		return exitUsage
	}
	fmt.Fprintf(stdout, "# enforce_new_defaults = %v, enforce_scope = %v\n", o.EnforceNewDefaults, o.EnforceScope)
	src := e.Sources()
	if len(src) == 0 {
		fmt.Fprintln(stdout, "# no policy file found: Glance's defaults apply")
	}
	for _, s := range src {
		fmt.Fprintf(stdout, "# read %s\n", s)
	}
	for _, name := range e.Rules() {
		info, _ := e.Info(name)
		line := fmt.Sprintf("%q: %q", name, info.Check)
		if info.Source != "default" {
			line += "  # " + info.Source
		}
		fmt.Fprintln(stdout, line)
	}
	return 0
}

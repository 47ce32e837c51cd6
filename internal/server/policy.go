package server

import (
	"fmt"
	"path/filepath"

	"glimpse/internal/config"
	"glimpse/internal/policy"
	"glimpse/internal/propprotect"
)

// PolicyOptions maps [oslo_policy] to the enforcer's options; relative
// file and directory names are looked up beside the configuration file.
func PolicyOptions(cfg *config.Config) policy.Options {
	return policy.Options{
		PolicyFile:         cfg.OsloPolicy.PolicyFile,
		PolicyDirs:         cfg.OsloPolicy.PolicyDirs,
		ConfigDir:          cfg.Dir,
		EnforceNewDefaults: cfg.OsloPolicy.EnforceNewDefaults,
		EnforceScope:       cfg.OsloPolicy.EnforceScope,
	}
}

// Policy builds the enforcer the configuration describes, with property
// protections when [DEFAULT] property_protection_file is set (nil rules
// otherwise). In the policies format the protections add rules to the
// enforcer, so both are built together.
func Policy(cfg *config.Config) (*policy.Enforcer, *propprotect.Rules, error) {
	e, err := policy.New(PolicyOptions(cfg))
	if err != nil {
		return nil, nil, fmt.Errorf("[oslo_policy]: %w", err)
	}
	file := cfg.Default.PropertyProtectionFile
	if file == "" {
		return e, nil, nil
	}
	if !filepath.IsAbs(file) && cfg.Dir != "" {
		file = filepath.Join(cfg.Dir, file)
	}
	rules, err := propprotect.Load(file, cfg.Default.PropertyProtectionRuleFormat, e)
	if err != nil {
		return nil, nil, fmt.Errorf("[DEFAULT] property_protection_file: %w", err)
	}
	return e, rules, nil
}

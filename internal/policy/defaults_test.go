package policy

import (
	"fmt"
	"slices"
	"testing"
)

// caller is one of the personas the default rules are checked for.
type caller struct {
	name  string
	creds Creds
}

var callers = []caller{
	{"admin", Creds{UserID: "u-admin", ProjectID: "p1", Roles: []string{"admin"}}},
	{"member-p1", Creds{UserID: "u-member", ProjectID: "p1", Roles: []string{"member", "reader"}}},
	{"reader-p1", Creds{UserID: "u-reader", ProjectID: "p1", Roles: []string{"reader"}}},
	{"member-p2", Creds{UserID: "u-other", ProjectID: "p2", Roles: []string{"member", "reader"}}},
	{"no-roles-p1", Creds{UserID: "u-none", ProjectID: "p1"}},
}

type target struct {
	name string
	t    Target
}

// targets are images owned by p1 in each visibility, with and without
// member_id (set to p2, the other project, as Glance does for a member).
func targets() []target {
	var ts []target
	for _, vis := range []string{"private", "public", "shared", "community"} {
		ts = append(ts, target{vis, Target{"project_id": "p1", "owner": "p1", "visibility": vis}})
		ts = append(ts, target{vis + "+member", Target{"project_id": "p1", "owner": "p1", "visibility": vis, "member_id": "p2"}})
	}
	return ts
}

// Predicates read off the check strings of Glance's defaults.
func hasRole(c Creds, r string) bool { return slices.Contains(c.Roles, r) }
func isAdmin(c Creds, _ Target) bool { return hasRole(c, "admin") }
func expProjectMember(c Creds, t Target) bool {
	return hasRole(c, "member") && c.ProjectID == t["project_id"]
}
func expProjectReader(c Creds, t Target) bool {
	return hasRole(c, "reader") && c.ProjectID == t["project_id"]
}
func expSharedWith(c Creds, t Target) bool {
	v := t["visibility"]
	return c.ProjectID == t["member_id"] || v == "community" || v == "public" || v == "shared"
}
func always(Creds, Target) bool { return true }

type pred func(Creds, Target) bool

func or(ps ...pred) pred {
	return func(c Creds, t Target) bool {
		for _, p := range ps {
			if p(c, t) {
				return true
			}
		}
		return false
	}
}

var (
	aOrPM      = or(isAdmin, expProjectMember)
	aOrPR      = or(isAdmin, expProjectReader)
	expService = func(c Creds, _ Target) bool { return hasRole(c, "service") || hasRole(c, "admin") }
	getImage   = or(isAdmin, func(c Creds, t Target) bool {
		return hasRole(c, "reader") && (c.ProjectID == t["project_id"] || expSharedWith(c, t))
	})
	downloadImage = or(isAdmin, func(c Creds, t Target) bool {
		return hasRole(c, "member") && (c.ProjectID == t["project_id"] || expSharedWith(c, t))
	})
	createImage = or(isAdmin, func(c Creds, t Target) bool {
		return expProjectMember(c, t) && c.ProjectID == t["owner"]
	})
	readerOrPublic = or(isAdmin, func(c Creds, t Target) bool {
		return hasRole(c, "reader") && (c.ProjectID == t["project_id"] || t["visibility"] == "public")
	})
	getMember = or(isAdmin, func(c Creds, t Target) bool {
		return hasRole(c, "reader") && (c.ProjectID == t["project_id"] || c.ProjectID == t["member_id"])
	})
	modifyMember = or(isAdmin, func(c Creds, t Target) bool {
		return hasRole(c, "member") && c.ProjectID == t["member_id"]
	})
	addLocation = or(expService, func(c Creds, t Target) bool {
		return expProjectMember(c, t) && c.ProjectID == t["owner"]
	})
)

// expectations: the new default of each rule, and whether the legacy mode
// (EnforceNewDefaults off) OR-s in a deprecated check that is always true
// because default and metadef_default are "". Rules whose deprecated
// check is an admin check, or who have none, behave the same in both
// modes.
var expectations = map[string]struct {
	newDefault pred
	legacyTrue bool
}{
	"default":                                  {always, true},
	"context_is_admin":                         {isAdmin, false},
	"service_api":                              {expService, false},
	"add_image":                                {createImage, true},
	"delete_image":                             {aOrPM, true},
	"get_image":                                {getImage, true},
	"get_images":                               {aOrPR, true},
	"modify_image":                             {aOrPM, true},
	"publicize_image":                          {isAdmin, false},
	"communitize_image":                        {aOrPM, true},
	"download_image":                           {downloadImage, true},
	"download_from_store":                      {downloadImage, false},
	"upload_image":                             {aOrPM, true},
	"delete_image_location":                    {isAdmin, true},
	"get_image_location":                       {aOrPR, true},
	"set_image_location":                       {aOrPM, true},
	"add_image_location":                       {addLocation, false},
	"fetch_image_location":                     {expService, false},
	"add_member":                               {aOrPM, true},
	"delete_member":                            {aOrPM, true},
	"get_member":                               {getMember, true},
	"get_members":                              {getMember, true},
	"modify_member":                            {modifyMember, true},
	"manage_image_cache":                       {isAdmin, false},
	"deactivate":                               {aOrPM, true},
	"reactivate":                               {aOrPM, true},
	"copy_image":                               {isAdmin, false},
	"list_cached_nodes":                        {isAdmin, false},
	"get_task":                                 {always, true},
	"get_tasks":                                {always, true},
	"add_task":                                 {always, true},
	"modify_task":                              {always, true},
	"tasks_api_access":                         {isAdmin, false},
	"metadef_default":                          {always, true},
	"metadef_admin":                            {isAdmin, false},
	"get_metadef_namespace":                    {readerOrPublic, true},
	"get_metadef_namespaces":                   {aOrPR, true},
	"modify_metadef_namespace":                 {isAdmin, false},
	"add_metadef_namespace":                    {isAdmin, false},
	"delete_metadef_namespace":                 {isAdmin, false},
	"get_metadef_object":                       {readerOrPublic, true},
	"get_metadef_objects":                      {readerOrPublic, true},
	"modify_metadef_object":                    {isAdmin, false},
	"add_metadef_object":                       {isAdmin, false},
	"delete_metadef_object":                    {isAdmin, false},
	"list_metadef_resource_types":              {readerOrPublic, true},
	"get_metadef_resource_type":                {readerOrPublic, true},
	"add_metadef_resource_type_association":    {isAdmin, false},
	"remove_metadef_resource_type_association": {isAdmin, false},
	"get_metadef_property":                     {readerOrPublic, true},
	"get_metadef_properties":                   {readerOrPublic, true},
	"modify_metadef_property":                  {isAdmin, false},
	"add_metadef_property":                     {isAdmin, false},
	"remove_metadef_property":                  {isAdmin, false},
	"get_metadef_tag":                          {readerOrPublic, true},
	"get_metadef_tags":                         {readerOrPublic, true},
	"modify_metadef_tag":                       {isAdmin, false},
	"add_metadef_tag":                          {isAdmin, false},
	"add_metadef_tags":                         {isAdmin, false},
	"delete_metadef_tag":                       {isAdmin, false},
	"delete_metadef_tags":                      {isAdmin, false},
	"cache_image":                              {isAdmin, false},
	"cache_list":                               {isAdmin, false},
	"cache_delete":                             {isAdmin, false},
	"cache_clean":                              {isAdmin, false},
	"cache_prune":                              {isAdmin, false},
	"stores_info_detail":                       {expService, false},
}

func TestDefaultRulesTable(t *testing.T) {
	for _, newDefaults := range []bool{false, true} {
		e, err := New(Options{EnforceNewDefaults: newDefaults})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := len(e.Rules()), len(expectations); got != want {
			t.Errorf("len(Rules()) = %d, want %d", got, want)
		}
		for _, rule := range e.Rules() {
			exp, ok := expectations[rule]
			if !ok {
				t.Errorf("rule %s has no expectation", rule)
				continue
			}
			for _, c := range callers {
				for _, tg := range targets() {
					name := fmt.Sprintf("new=%v/%s/%s/%s", newDefaults, rule, c.name, tg.name)
					t.Run(name, func(t *testing.T) {
						want := exp.newDefault(c.creds, tg.t) || !newDefaults && exp.legacyTrue
						creds := c.creds
						if got := e.Allowed(rule, &creds, tg.t); got != want {
							t.Errorf("Allowed(%s) = %v, want %v (check %q)", rule, got, want, e.Explain(rule, &creds, tg.t).CheckString)
						}
					})
				}
			}
		}
	}
}

// TestDefaultRulesSpotChecks pins a few decisions that matter to the API,
// written out rather than computed.
func TestDefaultRulesSpotChecks(t *testing.T) {
	legacy, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	strict, err := New(Options{EnforceNewDefaults: true})
	if err != nil {
		t.Fatal(err)
	}
	p1Private := Target{"project_id": "p1", "owner": "p1", "visibility": "private"}
	p1Shared := Target{"project_id": "p1", "owner": "p1", "visibility": "shared"}
	p1SharedMember := Target{"project_id": "p1", "owner": "p1", "visibility": "shared", "member_id": "p2"}
	member2 := &Creds{ProjectID: "p2", Roles: []string{"member", "reader"}}
	reader1 := &Creds{ProjectID: "p1", Roles: []string{"reader"}}
	none1 := &Creds{ProjectID: "p1"}
	admin := &Creds{ProjectID: "p1", Roles: []string{"admin"}}
	tests := []struct {
		e      *Enforcer
		mode   string
		rule   string
		c      *Creds
		target Target
		want   bool
	}{
		{legacy, "legacy", "modify_image", member2, p1Private, true}, // code-level checks decide in 25.1
		{strict, "new", "modify_image", member2, p1Private, false},
		{strict, "new", "get_image", member2, p1Private, false},
		{strict, "new", "get_image", member2, p1Shared, true},
		{strict, "new", "get_image", none1, p1Shared, false},
		{strict, "new", "download_image", reader1, p1Private, false},
		{strict, "new", "modify_member", member2, p1SharedMember, true},
		{strict, "new", "modify_member", member2, p1Shared, false}, // member_id missing: check fails
		{legacy, "legacy", "publicize_image", reader1, p1Private, false},
		{legacy, "legacy", "publicize_image", admin, p1Private, true},
		{legacy, "legacy", "tasks_api_access", reader1, nil, false},
		{legacy, "legacy", "no_such_rule", none1, nil, true}, // falls back to default, ""
		{strict, "new", "no_such_rule", none1, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.mode+"/"+tt.rule, func(t *testing.T) {
			if got := tt.e.Allowed(tt.rule, tt.c, tt.target); got != tt.want {
				t.Errorf("Allowed(%s, %+v, %v) = %v, want %v", tt.rule, *tt.c, tt.target, got, tt.want)
			}
		})
	}
}

func TestDefaultsAreIndependentCopies(t *testing.T) {
	d := Defaults()
	d[3].ScopeTypes[0] = "system"
	d[0].Check = "!"
	if got := Defaults(); got[3].ScopeTypes[0] != "project" || got[0].Check != "" {
		t.Errorf("Defaults() after modifying a copy = %+v, %+v, want the originals", got[0], got[3])
	}
}

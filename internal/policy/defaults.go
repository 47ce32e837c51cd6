package policy

import "slices"

// Default is one of Glance's registered rules.
type Default struct {
	Name       string
	Check      string   // the default check string
	Deprecated string   // the deprecated check, OR-ed in unless EnforceNewDefaults; "" if none
	ScopeTypes []string // nil for the base rules
}

// Building blocks of Glance's check strings.
const (
	admin         = "rule:context_is_admin"
	dflt          = "rule:default"
	metadefDflt   = "rule:metadef_default"
	metadefAdmin  = "rule:metadef_admin"
	service       = "rule:service_api"
	projectMember = "role:member and project_id:%(project_id)s"
	projectReader = "role:reader and project_id:%(project_id)s"

	// sharedWith: the caller's project is a member, or the image is
	// visible beyond its owner.
	sharedWith = "project_id:%(member_id)s or 'community':%(visibility)s or " +
		"'public':%(visibility)s or 'shared':%(visibility)s"

	adminOrMember       = admin + " or (" + projectMember + ")"
	adminOrReader       = admin + " or (" + projectReader + ")"
	adminOrReaderImage  = admin + " or (role:reader and (project_id:%(project_id)s or " + sharedWith + "))"
	adminOrMemberImage  = admin + " or (role:member and (project_id:%(project_id)s or " + sharedWith + "))"
	adminOrMemberCreate = admin + " or (" + projectMember + " and project_id:%(owner)s)"
	adminOrReaderPublic = admin + " or (role:reader and (project_id:%(project_id)s or 'public':%(visibility)s))"
	adminOrImageMember  = admin + " or (role:member and project_id:%(member_id)s)"
	adminOrReaderMember = admin + " or role:reader and (project_id:%(project_id)s or project_id:%(member_id)s)"
	serviceOrMember     = service + " or (" + projectMember + " and project_id:%(owner)s)"
)

var projectScope = []string{"project"}

// glanceDefaults is the default rule set of current Glance, in its
// registration order. Glance 25.1 differs: its rules say role:admin where
// these say rule:context_is_admin (the same unless an operator redefines
// context_is_admin), default's deprecated check is role:admin,
// stores_info_detail is role:admin with no deprecated check, and it lacks
// service_api, download_from_store, add_image_location,
// fetch_image_location, list_cached_nodes, cache_clean and cache_prune.
// With EnforceNewDefaults off, default is "" or ..., so both sets allow
// the same callers for the rules they share.
var glanceDefaults = []Default{
	{Name: "default", Check: "", Deprecated: admin},
	{Name: "context_is_admin", Check: "role:admin"},
	{Name: "service_api", Check: "role:service or role:admin"},

	{Name: "add_image", Check: adminOrMemberCreate, Deprecated: dflt, ScopeTypes: projectScope},
	{Name: "delete_image", Check: adminOrMember, Deprecated: dflt, ScopeTypes: projectScope},
	{Name: "get_image", Check: adminOrReaderImage, Deprecated: dflt, ScopeTypes: projectScope},
	{Name: "get_images", Check: adminOrReader, Deprecated: dflt, ScopeTypes: projectScope},
	{Name: "modify_image", Check: adminOrMember, Deprecated: dflt, ScopeTypes: projectScope},
	{Name: "publicize_image", Check: admin, ScopeTypes: projectScope},
	{Name: "communitize_image", Check: adminOrMember, Deprecated: dflt, ScopeTypes: projectScope},
	{Name: "download_image", Check: adminOrMemberImage, Deprecated: dflt, ScopeTypes: projectScope},
	{Name: "download_from_store", Check: adminOrMemberImage, ScopeTypes: projectScope},
	{Name: "upload_image", Check: adminOrMember, Deprecated: dflt, ScopeTypes: projectScope},
	{Name: "delete_image_location", Check: admin, Deprecated: dflt, ScopeTypes: projectScope},
	{Name: "get_image_location", Check: adminOrReader, Deprecated: dflt, ScopeTypes: projectScope},
	{Name: "set_image_location", Check: adminOrMember, Deprecated: dflt, ScopeTypes: projectScope},
	{Name: "add_image_location", Check: serviceOrMember, ScopeTypes: projectScope},
	{Name: "fetch_image_location", Check: service, ScopeTypes: projectScope},
	{Name: "add_member", Check: adminOrMember, Deprecated: dflt, ScopeTypes: projectScope},
	{Name: "delete_member", Check: adminOrMember, Deprecated: dflt, ScopeTypes: projectScope},
	{Name: "get_member", Check: adminOrReaderMember, Deprecated: dflt, ScopeTypes: projectScope},
	{Name: "get_members", Check: adminOrReaderMember, Deprecated: dflt, ScopeTypes: projectScope},
	{Name: "modify_member", Check: adminOrImageMember, Deprecated: dflt, ScopeTypes: projectScope},
	{Name: "manage_image_cache", Check: admin, ScopeTypes: projectScope},
	{Name: "deactivate", Check: adminOrMember, Deprecated: dflt, ScopeTypes: projectScope},
	{Name: "reactivate", Check: adminOrMember, Deprecated: dflt, ScopeTypes: projectScope},
	{Name: "copy_image", Check: admin, ScopeTypes: projectScope},
	{Name: "list_cached_nodes", Check: admin, ScopeTypes: projectScope},

	{Name: "get_task", Check: dflt, Deprecated: dflt, ScopeTypes: projectScope},
	{Name: "get_tasks", Check: dflt, Deprecated: dflt, ScopeTypes: projectScope},
	{Name: "add_task", Check: dflt, Deprecated: dflt, ScopeTypes: projectScope},
	{Name: "modify_task", Check: dflt, ScopeTypes: projectScope},
	{Name: "tasks_api_access", Check: admin, ScopeTypes: projectScope},

	{Name: "metadef_default", Check: ""},
	{Name: "metadef_admin", Check: admin},
	{Name: "get_metadef_namespace", Check: adminOrReaderPublic, Deprecated: metadefDflt, ScopeTypes: projectScope},
	{Name: "get_metadef_namespaces", Check: adminOrReader, Deprecated: metadefDflt, ScopeTypes: projectScope},
	{Name: "modify_metadef_namespace", Check: metadefAdmin, ScopeTypes: projectScope},
	{Name: "add_metadef_namespace", Check: metadefAdmin, ScopeTypes: projectScope},
	{Name: "delete_metadef_namespace", Check: metadefAdmin, ScopeTypes: projectScope},
	{Name: "get_metadef_object", Check: adminOrReaderPublic, Deprecated: metadefDflt, ScopeTypes: projectScope},
	{Name: "get_metadef_objects", Check: adminOrReaderPublic, Deprecated: metadefDflt, ScopeTypes: projectScope},
	{Name: "modify_metadef_object", Check: metadefAdmin, ScopeTypes: projectScope},
	{Name: "add_metadef_object", Check: metadefAdmin, ScopeTypes: projectScope},
	{Name: "delete_metadef_object", Check: metadefAdmin, ScopeTypes: projectScope},
	{Name: "list_metadef_resource_types", Check: adminOrReaderPublic, Deprecated: metadefDflt, ScopeTypes: projectScope},
	{Name: "get_metadef_resource_type", Check: adminOrReaderPublic, Deprecated: metadefDflt, ScopeTypes: projectScope},
	{Name: "add_metadef_resource_type_association", Check: metadefAdmin, ScopeTypes: projectScope},
	{Name: "remove_metadef_resource_type_association", Check: metadefAdmin, ScopeTypes: projectScope},
	{Name: "get_metadef_property", Check: adminOrReaderPublic, Deprecated: metadefDflt, ScopeTypes: projectScope},
	{Name: "get_metadef_properties", Check: adminOrReaderPublic, Deprecated: metadefDflt, ScopeTypes: projectScope},
	{Name: "modify_metadef_property", Check: metadefAdmin, ScopeTypes: projectScope},
	{Name: "add_metadef_property", Check: metadefAdmin, ScopeTypes: projectScope},
	{Name: "remove_metadef_property", Check: metadefAdmin, ScopeTypes: projectScope},
	{Name: "get_metadef_tag", Check: adminOrReaderPublic, Deprecated: metadefDflt, ScopeTypes: projectScope},
	{Name: "get_metadef_tags", Check: adminOrReaderPublic, Deprecated: metadefDflt, ScopeTypes: projectScope},
	{Name: "modify_metadef_tag", Check: metadefAdmin, ScopeTypes: projectScope},
	{Name: "add_metadef_tag", Check: metadefAdmin, ScopeTypes: projectScope},
	{Name: "add_metadef_tags", Check: metadefAdmin, ScopeTypes: projectScope},
	{Name: "delete_metadef_tag", Check: metadefAdmin, ScopeTypes: projectScope},
	{Name: "delete_metadef_tags", Check: metadefAdmin, ScopeTypes: projectScope},

	{Name: "cache_image", Check: admin, Deprecated: "rule:manage_image_cache", ScopeTypes: projectScope},
	{Name: "cache_list", Check: admin, Deprecated: "rule:manage_image_cache", ScopeTypes: projectScope},
	{Name: "cache_delete", Check: admin, Deprecated: "rule:manage_image_cache", ScopeTypes: projectScope},
	{Name: "cache_clean", Check: admin, ScopeTypes: projectScope},
	{Name: "cache_prune", Check: admin, ScopeTypes: projectScope},

	{Name: "stores_info_detail", Check: admin + " or " + service, Deprecated: admin, ScopeTypes: projectScope},
}

// Defaults returns Glance's default rules in registration order.
func Defaults() []Default {
	out := slices.Clone(glanceDefaults)
	for i := range out {
		out[i].ScopeTypes = slices.Clone(out[i].ScopeTypes)
	}
	return out
}

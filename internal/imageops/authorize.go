package imageops

import (
	"slices"
	"strconv"

	"glimpse/internal/auth"
	"glimpse/internal/image"
)

// Policy decides Glance's named policy rules (an oslo.policy-compatible
// enforcer loaded with Glance's defaults and the operator's policy file).
type Policy interface {
	Allowed(rule string, c *auth.Context, target map[string]string) bool
	// AlwaysAllows reports that rule passes for everyone, so the
	// target need not be built.
	AlwaysAllows(rule string) bool
}

// PropertyRules decides property protections: op is "create", "read",
// "update" or "delete".
type PropertyRules interface {
	Allowed(prop, op string, c *auth.Context) bool
}

// WithPolicy makes the service ask p at the decision points Glance uses.
// legacy keeps Glance's code-level ownership checks on top of the policy,
// as Glance does while [oslo_policy] enforce_new_defaults is off.
func WithPolicy(p Policy, legacy bool) Option {
	return func(s *Service) {
		s.pol = p
		s.legacy = legacy
	}
}

// WithPropertyRules turns on property protections.
func WithPropertyRules(r PropertyRules) Option {
	return func(s *Service) { s.props = r }
}

// allowed asks the policy. Without one, the service behaves as Glance with
// its default rules in legacy mode: every image rule passes (the legacy
// checks decide) except publicize_image, which needs the admin role itself
// — even the role-less unauthenticated admin context may not publish.
func (s *Service) allowed(rule string, c *auth.Context, target map[string]string) bool {
	if s.pol == nil {
		return rule != "publicize_image" || c.HasRole("admin")
	}
	return s.pol.Allowed(rule, c, target)
}

// none is how the policy engine spells Python's None: Glance passes None
// for an unset owner or member, and oslo.policy compares it as text, so a
// project-less caller matches an owner-less image as Glance's does.
const none = "None"

// orNone is id, or None when empty.
func orNone(id string) string {
	if id == "" {
		return none
	}
	return id
}

// trivial reports whether rule lets everyone through.
func (s *Service) trivial(rule string) bool {
	if s.pol == nil {
		return rule != "publicize_image"
	}
	return s.pol.AlwaysAllows(rule)
}

// imageTarget is the policy target of an existing image, as Glance's
// ImageTarget presents it: its attributes by name, project_id for the
// owner, member_id for the caller's project when the image is shared and
// not the caller's own, and the custom properties the caller may read.
// Values are spelled as Python prints them (None, True, False), since
// that is what policy files written for Glance compare against.
func (s *Service) imageTarget(c *auth.Context, img *image.Image) map[string]string {
	t := make(map[string]string, 20+len(img.Properties))
	for k, v := range img.Properties {
		if v != nil && (s.props == nil || s.props.Allowed(k, "read", c)) {
			t[k] = *v
		}
	}
	str := func(p *string) string {
		if p == nil {
			return none
		}
		return *p
	}
	num := func(p *int64) string {
		if p == nil {
			return none
		}
		return strconv.FormatInt(*p, 10)
	}
	t["id"], t["image_id"] = img.ID, img.ID
	t["name"] = str(img.Name)
	t["visibility"] = string(img.Visibility)
	t["status"] = string(img.Status)
	t["protected"] = pyBool(img.Protected)
	t["os_hidden"] = pyBool(img.OSHidden)
	t["disk_format"] = str(img.DiskFormat)
	t["container_format"] = str(img.ContainerFormat)
	t["checksum"] = str(img.Checksum)
	t["os_hash_algo"] = str(img.OSHashAlgo)
	t["os_hash_value"] = str(img.OSHashValue)
	t["size"] = num(img.Size)
	t["virtual_size"] = num(img.VirtualSize)
	t["min_disk"] = strconv.Itoa(img.MinDisk)
	t["min_ram"] = strconv.Itoa(img.MinRAM)
	owner := str(img.Owner)
	t["owner"], t["project_id"] = owner, owner
	t["member_id"], t["member"] = none, none
	if img.Visibility == image.Shared && orNone(c.ProjectID) != owner {
		t["member_id"], t["member"] = orNone(c.ProjectID), orNone(c.ProjectID)
	}
	return t
}

// pyBool spells b as Python does.
func pyBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

// newImageTarget is the target of an image about to be created: the
// requested owner and visibility, private when none was asked for.
func newImageTarget(owner string, v image.Visibility) map[string]string {
	if v == "" {
		v = image.Private
	}
	owner = orNone(owner)
	return map[string]string{"project_id": owner, "owner": owner, "visibility": string(v)}
}

// enforce checks rule on an existing image. As Glance, a refusal hides the
// image (a bare 404) unless the caller may see it, and is otherwise a 403
// naming the rule.
func (s *Service) enforce(op string, c *auth.Context, rule string, img *image.Image) error {
	if s.trivial(rule) {
		return nil
	}
	t := s.imageTarget(c, img)
	if s.allowed(rule, c, t) {
		return nil
	}
	if rule == "get_image" || !s.allowed("get_image", c, t) {
		return image.E(op, image.NotFound, "")
	}
	return ruleDenied(op, rule)
}

// Authorize checks a rule that concerns no image (such as
// stores_info_detail): a 403 naming it when the caller fails it.
func (s *Service) Authorize(op string, c *auth.Context, rule string) error {
	if s.allowed(rule, c, map[string]string{}) {
		return nil
	}
	return ruleDenied(op, rule)
}

func ruleDenied(op, rule string) error {
	return image.E(op, image.Forbidden, "You are not authorized to complete %s action.", rule)
}

// visibilityRule is the rule guarding a change to visibility v, if any.
func visibilityRule(v image.Visibility) string {
	switch v {
	case image.Public:
		return "publicize_image"
	case image.Community:
		return "communitize_image"
	}
	return ""
}

// checkVisibility applies the rule guarding a move to visibility v.
func (s *Service) checkVisibility(op string, c *auth.Context, v image.Visibility, target map[string]string) error {
	rule := visibilityRule(v)
	if rule == "" || s.allowed(rule, c, target) {
		return nil
	}
	return ruleDenied(op, rule)
}

// readable drops the properties the caller may not read, on a copy.
func (s *Service) readable(c *auth.Context, img *image.Image) *image.Image {
	if s.props == nil || len(img.Properties) == 0 {
		return img
	}
	var hidden []string
	for k := range img.Properties {
		if !s.props.Allowed(k, "read", c) {
			hidden = append(hidden, k)
		}
	}
	if hidden == nil {
		return img
	}
	out := img.Clone()
	for _, k := range hidden {
		delete(out.Properties, k)
	}
	return out
}

// checkPropertyChanges applies property protections to an edit from old
// (nil on create; otherwise the caller's readable view of the image) to
// img.
//
// A property the edit names (touched) is checked even when its value does
// not change, as Glance checks every assignment.
func (s *Service) checkPropertyChanges(op string, c *auth.Context, old, img *image.Image, touched []Touch) error {
	if s.props == nil {
		return nil
	}
	named := func(k string) bool {
		return slices.ContainsFunc(touched, func(t Touch) bool { return t.Key == k && t.Op != "remove" })
	}
	for k, v := range img.Properties {
		var was *string
		existed := false
		if old != nil {
			was, existed = old.Properties[k]
		}
		switch {
		case !existed:
			if !s.props.Allowed(k, "create", c) {
				return reserved(op, k)
			}
		case !samePtr(was, v) || named(k):
			if !s.props.Allowed(k, "update", c) {
				return reserved(op, k)
			}
		}
	}
	if old == nil {
		return nil
	}
	for k := range old.Properties {
		if _, kept := img.Properties[k]; !kept && !s.props.Allowed(k, "delete", c) {
			return reserved(op, k)
		}
	}
	return nil
}

// keepHidden puts back into img the properties of full that the caller
// could not read (and so neither saw nor edited), so that an edit never
// drops what its author could not see.
func keepHidden(full, view, img *image.Image) {
	if full == view {
		return
	}
	for k, v := range full.Properties {
		if _, seen := view.Properties[k]; seen {
			continue
		}
		if _, set := img.Properties[k]; !set {
			img.Properties[k] = v
		}
	}
}

func reserved(op, prop string) error {
	return image.E(op, image.Forbidden, "Attribute '%s' is reserved.", prop)
}

func samePtr(a, b *string) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

package imageops

import (
	"slices"
	"strconv"
	"sync"

	"glimpse/internal/auth"
	"glimpse/internal/image"
	"glimpse/internal/policy"
	"glimpse/internal/propprotect"
)

// WithPolicy makes the service ask e at the decision points Glance uses
// (without it, Glance's default rules apply). legacy keeps Glance's
// code-level ownership checks on top of the policy, as Glance does while
// [oslo_policy] enforce_new_defaults is off.
func WithPolicy(e *policy.Enforcer, legacy bool) Option {
	return func(s *Service) {
		s.pol = e
		s.legacy = legacy
	}
}

// WithPropertyRules turns on property protections.
func WithPropertyRules(r *propprotect.Rules) Option {
	return func(s *Service) { s.props = r }
}

// defaultPolicy is Glance's default rules, for services built without a
// policy of their own.
var defaultPolicy = sync.OnceValue(func() *policy.Enforcer {
	e, err := policy.New(policy.Options{})
	if err != nil {
		panic("imageops: Glance's default policy does not load: " + err.Error())
	}
	return e
})

// allowed asks the policy whether c passes rule on target.
func (s *Service) allowed(rule string, c *auth.Context, target map[string]string) bool {
	return s.pol.Allowed(rule, c.PolicyCreds(), target)
}

// propAllowed asks the property protections (all allowed without them).
func (s *Service) propAllowed(prop string, op propprotect.Op, cr *policy.Creds) bool {
	return s.props == nil || s.props.Allowed(prop, op, cr)
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
func (s *Service) trivial(rule string) bool { return s.pol.AlwaysAllows(rule) }

// imageTarget is the policy target of an existing image, as Glance's
// ImageTarget presents it: its attributes by name, project_id for the
// owner, member_id for the caller's project when the image is shared and
// not the caller's own, and the custom properties the caller may read.
// Values are spelled as Python prints them (None, True, False), since
// that is what policy files written for Glance compare against.
func (s *Service) imageTarget(c *auth.Context, img *image.Image) map[string]string {
	t := make(map[string]string, 20+len(img.Properties))
	cr := c.PolicyCreds()
	for k, v := range img.Properties {
		if v != nil && s.propAllowed(k, propprotect.Read, cr) {
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
	cr := c.PolicyCreds()
	for k := range img.Properties {
		if !s.propAllowed(k, propprotect.Read, cr) {
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
	cr := c.PolicyCreds()
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
			if !s.propAllowed(k, propprotect.Create, cr) {
				return reserved(op, k)
			}
		case !samePtr(was, v) || named(k):
			if !s.propAllowed(k, propprotect.Update, cr) {
				return reserved(op, k)
			}
		}
	}
	if old == nil {
		return nil
	}
	for k := range old.Properties {
		if _, kept := img.Properties[k]; !kept && !s.propAllowed(k, propprotect.Delete, cr) {
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

package v2_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"glimpse/internal/image"
)

// Bad input: each request gets Glance's status and wording, and changes
// nothing.
func TestBadInput(t *testing.T) {
	h := newHarness(t, false, nil)
	c := h.admin()
	target := c.createImage(t, map[string]any{"name": "target", "foo": "bar", "tags": []string{"x"}, "min_ram": 5})["id"].(string)
	c.json(t, "POST", "/v2/images/"+target+"/members", map[string]string{"member": "tenantB"}).want(t, "add member", http.StatusOK)
	locked := c.createImage(t, map[string]any{"name": "locked", "protected": true})["id"].(string)
	private := c.createImage(t, map[string]any{"name": "private", "visibility": "private"})["id"].(string)
	active := c.createImage(t, map[string]any{"name": "active", "disk_format": "raw", "container_format": "bare"})["id"].(string)
	h.setImage(t, active, func(img *image.Image) { img.Status = image.Active })

	const (
		schema    = "Provided object does not match schema 'image': "
		uuidRE    = `'^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$'`
		denied    = "Access was denied to this resource."
		conflict  = "There was a conflict when trying to complete your request."
		sortKeys  = "It must be one of the following: name, status, container_format, disk_format, size, id, created_at, updated_at."
		ops       = "It must be one of the following: add, remove, replace."
		noBody    = "A body is not expected with this request."
		unexpBody = "Unexpected body type. Expected list/dict."
	)
	long := func(c string) string { return strings.Repeat(c, 256) }
	disks := "[None, 'ami', 'ari', 'aki', 'vhd', 'vhdx', 'vmdk', 'raw', 'qcow2', 'vdi', 'iso', 'ploop']"
	containers := "[None, 'ami', 'ari', 'aki', 'bare', 'ovf', 'ova', 'docker', 'compressed']"

	type tc struct {
		name, method, path, body string
		contentType              string // default application/json; PATCH defaults to the v2.1 patch type
		status                   int
		msg, detail              string
	}
	create := func(name, body string, status int, msg, detail string) tc {
		return tc{name: "create " + name, method: "POST", path: "/v2/images", body: body, status: status, msg: msg, detail: detail}
	}
	list := func(query string, status int, msg string) tc {
		return tc{name: "list " + query, method: "GET", path: "/v2/images?" + query, status: status, msg: msg}
	}
	patch := func(name, body string, status int, msg, detail string) tc {
		return tc{name: "patch " + name, method: "PATCH", path: "/v2/images/{id}", body: body, status: status, msg: msg, detail: detail}
	}
	cases := []tc{
		// Bodies that are not an image.
		create("malformed JSON", `{"name": `, 400, "Malformed JSON in request body.", ""),
		create("trailing garbage", `{"name": "x"} x`, 400, "Malformed JSON in request body.", ""),
		create("empty body", ``, 400, "Body expected in request.", ""),
		// Glance fails with a 500 on a list; glimpse refuses it like the
		// other non-objects.
		create("JSON array", `[]`, 400, unexpBody, ""),
		create("JSON array of objects", `[{"name": "x"}]`, 400, unexpBody, ""),
		create("JSON string", `"abc"`, 400, unexpBody, ""),
		create("JSON null", `null`, 400, unexpBody, ""),
		create("JSON number", `5`, 400, unexpBody, ""),
		create("JSON true", `true`, 400, unexpBody, ""),
		// Wrong types and values (Glance adds jsonschema's trace after
		// the first line; glimpse sends that line).
		create("name int", `{"name": 5}`, 400, schema+"5 is not of type 'null', 'string'", ""),
		create("name 256 chars", `{"name": "`+long("n")+`"}`, 400, schema+"'"+long("n")+"' is too long", ""),
		create("protected string", `{"protected": "true"}`, 400, schema+"'true' is not of type 'boolean'", ""),
		create("os_hidden null", `{"os_hidden": null}`, 400, schema+"None is not of type 'boolean'", ""),
		create("min_ram string", `{"min_ram": "1"}`, 400, schema+"'1' is not of type 'integer'", ""),
		create("min_ram float", `{"min_ram": 1.5}`, 400, schema+"1.5 is not of type 'integer'", ""),
		create("min_ram negative", `{"min_ram": -1}`, 400, "Invalid value '-1' for parameter 'min_ram': Cannot be a negative value", ""),
		create("min_disk negative", `{"min_disk": -3}`, 400, "Invalid value '-3' for parameter 'min_disk': Cannot be a negative value", ""),
		create("min_ram above int32", `{"min_ram": 3000000000}`, 400, "'min_ram' value out of range, must not exceed 2147483647.", ""),
		create("visibility bogus", `{"visibility": "bogus"}`, 400, schema+"'bogus' is not one of ['community', 'public', 'private', 'shared']", ""),
		create("disk_format bogus", `{"disk_format": "bogus"}`, 400, schema+"'bogus' is not one of "+disks, ""),
		create("container_format bogus", `{"container_format": "bogus"}`, 400, schema+"'bogus' is not one of "+containers, ""),
		create("tags string", `{"tags": "a"}`, 400, schema+"'a' is not of type 'array'", ""),
		create("tags of numbers", `{"tags": [1]}`, 400, schema+"1 is not of type 'string'", ""),
		create("tag 256 chars", `{"tags": ["`+long("t")+`"]}`, 400, schema+"'"+long("t")+"' is too long", ""),
		create("property key 256 chars", `{"`+long("k")+`": "v"}`, 400, "Custom property should not be greater than 255 characters.", ""),
		create("property key 256 chars, int value", `{"`+long("k")+`": 1}`, 400, schema+"1 is not of type 'string'", ""),
		create("property int", `{"foo": 1}`, 400, schema+"1 is not of type 'string'", ""),
		create("property null", `{"foo": null}`, 400, schema+"None is not of type 'string'", ""),
		create("property object", `{"foo": {"a": "b"}}`, 400, schema+"{'a': 'b'} is not of type 'string'", ""),
		create("description int", `{"description": 5}`, 400, schema+"5 is not of type 'string'", ""),
		create("deletion policy bogus", `{"cinder_encryption_key_deletion_policy": "bogus"}`, 400, schema+"'bogus' is not one of ['on_image_deletion', 'do_not_delete']", ""),
		create("kernel_id not a uuid", `{"kernel_id": "x"}`, 400, schema+"'x' does not match "+uuidRE, ""),
		create("id not a uuid", `{"id": "not-a-uuid"}`, 400, schema+"'not-a-uuid' does not match "+uuidRE, ""),
		create("id without dashes", `{"id": "abcdefab222233334444555555555555"}`, 400, schema+"'abcdefab222233334444555555555555' does not match "+uuidRE, ""),
		create("id int", `{"id": 5}`, 400, schema+"5 is not of type 'string'", ""),
		create("id already used", `{"id": "`+target+`"}`, 409, "Image ID "+target+" already exists!", ""),
		// Read-only and reserved attributes.
		create("status", `{"status": "active"}`, 403, "Attribute 'status' is read-only.", ""),
		create("status of a wrong type", `{"status": 5}`, 400, schema+"5 is not of type 'string'", ""),
		create("checksum", `{"checksum": "abc"}`, 403, "Attribute 'checksum' is read-only.", ""),
		create("size", `{"size": 5}`, 403, "Attribute 'size' is read-only.", ""),
		create("size of a wrong type", `{"size": "x"}`, 400, schema+"'x' is not of type 'null', 'integer'", ""),
		create("virtual_size", `{"virtual_size": 5}`, 403, "Attribute 'virtual_size' is read-only.", ""),
		create("os_hash_value", `{"os_hash_value": "abc"}`, 403, "Attribute 'os_hash_value' is read-only.", ""),
		create("created_at", `{"created_at": "2020-01-01T00:00:00Z"}`, 403, "Attribute 'created_at' is read-only.", ""),
		create("updated_at", `{"updated_at": "2020-01-01T00:00:00Z"}`, 403, "Attribute 'updated_at' is read-only.", ""),
		create("self", `{"self": "x"}`, 403, "Attribute 'self' is read-only.", ""),
		create("file", `{"file": "x"}`, 403, "Attribute 'file' is read-only.", ""),
		create("schema", `{"schema": "x"}`, 403, "Attribute 'schema' is read-only.", ""),
		create("direct_url", `{"direct_url": "x"}`, 403, "Attribute 'direct_url' is read-only.", ""),
		create("stores", `{"stores": "x"}`, 403, "Attribute 'stores' is read-only.", ""),
		create("self before the schema", `{"self": "x", "name": 5}`, 403, "Attribute 'self' is read-only.", ""),
		create("schema before status", `{"status": "active", "name": 5}`, 400, schema+"5 is not of type 'null', 'string'", ""),
		create("os_glance_ prefix", `{"os_glance_x": "x"}`, 403, denied, "Attribute 'os_glance_x' is reserved."),
		create("os_glance_ prefix, int", `{"os_glance_x": 1}`, 400, schema+"1 is not of type 'string'", ""),
		create("location", `{"location": "http://x"}`, 403, denied, "Attribute 'location' is reserved."),
		create("deleted", `{"deleted": "x"}`, 403, denied, "Attribute 'deleted' is reserved."),
		create("deleted bool", `{"deleted": false}`, 400, schema+"False is not of type 'string'", ""),
		create("deleted_at", `{"deleted_at": "x"}`, 403, denied, "Attribute 'deleted_at' is reserved."),
		create("reserved before read-only", `{"deleted": "x", "status": "active"}`, 403, denied, "Attribute 'deleted' is reserved."),
		create("locations", `{"locations": []}`, 403, "Attribute 'locations' is reserved.", ""),
		create("locations of a wrong type", `{"locations": 5}`, 400, schema+"5 is not of type 'array'", ""),
		create("public without the admin role", `{"visibility": "public"}`, 403, "You are not authorized to complete publicize_image action.", ""),

		// List parameters.
		list("limit=abc", 400, "limit param must be an integer"),
		list("limit=1.5", 400, "limit param must be an integer"),
		list("limit=", 400, "limit param must be an integer"),
		list("limit=-1", 400, "limit param must be positive"),
		list("marker="+unknownID, 400, "No image found with ID "+unknownID),
		list("marker=not-a-uuid", 400, "No image found with ID not-a-uuid"),
		list("protected=maybe", 400, "Invalid value 'maybe' for 'protected' filter. Valid values are 'true' or 'false'."),
		list("protected=True", 400, "Invalid value 'True' for 'protected' filter. Valid values are 'true' or 'false'."),
		list("protected=1", 400, "Invalid value '1' for 'protected' filter. Valid values are 'true' or 'false'."),
		list("os_hidden=bogus", 400, "Invalid value 'bogus' for 'os_hidden' filter. Valid values are 'true' or 'false'."),
		list("size_min=abc", 400, "Unable to filter on a range with a non-numeric value."),
		list("size_max=1.5", 400, "Unable to filter on a range with a non-numeric value."),
		list("created_at=bogus", 400, `Bad "created_at" query filter format. Use ISO 8601 DateTime notation.`),
		list("created_at=gt:notadate", 400, `Bad "created_at" query filter format. Use ISO 8601 DateTime notation.`),
		list("updated_at=bogus", 400, `Bad "updated_at" query filter format. Use ISO 8601 DateTime notation.`),
		list("created_at=in:2020-01-01T00:00:00Z", 400, "Unable to filter on a unknown operator."),
		list("created_at=bogusop:2020-01-01T00:00:00Z", 400, "Unable to filter on a unknown operator."),
		list("name=neq:x", 400, "Unable to filter by unknown operator 'neq'."),
		list("name=gt:alpha", 400, "Unable to filter by unknown operator 'gt'."),
		list("name=foo:bar", 400, "Unable to filter by unknown operator 'foo'."),
		list(`name=in:"abc`, 400, `Invalid filter value "abc. The quote is not closed.`),
		list("visibility=bogus", 400, "Invalid visibility value: bogus"),
		list("member_status=bogus", 400, "Invalid status: bogus"),
		list("changes-since=2020-01-01T00:00:00Z", 400, `The "changes-since" filter is no longer available on v2.`),
		list("sort_key=bogus", 400, "Invalid sort key: bogus. "+sortKeys),
		list("sort_key=tags", 400, "Invalid sort key: tags. "+sortKeys),
		list("sort_key=foo", 400, "Invalid sort key: foo. "+sortKeys),
		list("sort=bogus", 400, "Invalid sort key: bogus. "+sortKeys),
		list("sort=", 400, "Invalid sort key: . "+sortKeys),
		list("sort_dir=bogus", 400, "Invalid sort direction: bogus"),
		list("sort=name:bogus", 400, "Invalid sort direction: bogus"),
		list("sort=name:asc:x", 400, "Invalid sort direction: asc:x"),
		list("sort=name&sort_key=status", 400, "Old and new sorting syntax cannot be combined"),
		list("sort=name&sort_dir=asc", 400, "Old and new sorting syntax cannot be combined"),
		list("sort_key=name&sort_dir=asc&sort_dir=desc", 400, "Number of sort dirs does not match the number of sort keys"),
		list("sort_key=name&sort_key=status&sort_key=id&sort_dir=asc&sort_dir=desc", 400, "Number of sort dirs does not match the number of sort keys"),

		// PATCH syntax.
		patch("op bogus", `[{"op": "bogus", "path": "/name", "value": "x"}]`, 400, "Invalid operation: `bogus`. "+ops, ""),
		patch("op move", `[{"op": "move", "from": "/name", "path": "/foo"}]`, 400, "Invalid operation: `move`. "+ops, ""),
		patch("op test", `[{"op": "test", "path": "/name", "value": "x"}]`, 400, "Invalid operation: `test`. "+ops, ""),
		patch("missing op", `[{"path": "/name", "value": "x"}]`, 400, "Unable to find `op` in JSON Schema change. "+ops, ""),
		patch("null op", `[{"op": null, "path": "/name", "value": "x"}]`, 400, "Unable to find `op` in JSON Schema change. "+ops, ""),
		patch("missing path", `[{"op": "replace", "value": "x"}]`, 400, "Unable to find 'path' in JSON Schema change", ""),
		patch("missing value", `[{"op": "replace", "path": "/name"}]`, 400, `Operation "replace" requires a member named "value".`, ""),
		patch("missing value on add", `[{"op": "add", "path": "/bar"}]`, 400, `Operation "add" requires a member named "value".`, ""),
		patch("path without slash", `[{"op": "replace", "path": "name", "value": "x"}]`, 400, "Pointer `name` does not start with \"/\".", ""),
		patch("path too deep", `[{"op": "add", "path": "/a/b", "value": "x"}]`, 400, "Invalid JSON pointer for this resource: '/a/b'", ""),
		patch("tags index", `[{"op": "add", "path": "/tags/-", "value": "y"}]`, 400, "Invalid JSON pointer for this resource: '/tags/-'", ""),
		patch("tags remove index", `[{"op": "remove", "path": "/tags/0"}]`, 400, "Invalid JSON pointer for this resource: '/tags/0'", ""),
		patch("adjacent slashes", `[{"op": "add", "path": "/a//b", "value": "x"}]`, 400, "Pointer `/a//b` contains adjacent \"/\".", ""),
		patch("trailing slash", `[{"op": "add", "path": "/a/", "value": "x"}]`, 400, "Pointer `/a/` end with \"/\".", ""),
		patch("pointer error before missing value", `[{"op": "add", "path": "/a/"}]`, 400, "Pointer `/a/` end with \"/\".", ""),
		patch("~2 escape", `[{"op": "add", "path": "/a~2b", "value": "x"}]`, 400, "Pointer `/a~2b` contains \"~\" not part of a recognized escape sequence.", ""),
		patch("trailing ~", `[{"op": "add", "path": "/ab~", "value": "x"}]`, 400, "Pointer `/ab~` contains \"~\" not part of a recognized escape sequence.", ""),
		patch("body object", `{"op": "replace", "path": "/name", "value": "x"}`, 400, "Request body must be a JSON array of operation objects.", ""),
		patch("array of non-objects", `["a", 1]`, 400, "Operations must be JSON objects.", ""),
		patch("malformed JSON", `[{"op": `, 400, "Malformed JSON in request body.", ""),
		patch("empty body", ``, 400, "Body expected in request.", ""),
		patch("v2.0 add existing property", `[{"add": "/foo", "value": "baz"}]`, 409, conflict, "Property foo already present."),
		patch("v2.0 with a v2.1 body", `[{"op": "replace", "path": "/name", "value": "x"}]`, 400, `Operation objects must contain exactly one member named "add", "remove", or "replace".`, ""),
		patch("v2.0 path without slash", `[{"replace": "name", "value": "x"}]`, 400, "Pointer `name` does not start with \"/\".", ""),
		// PATCH semantics.
		patch("remove name", `[{"op": "remove", "path": "/name"}]`, 403, denied, "Property name may not be removed."),
		patch("remove min_ram", `[{"op": "remove", "path": "/min_ram"}]`, 403, denied, "Property min_ram may not be removed."),
		patch("remove protected", `[{"op": "remove", "path": "/protected"}]`, 403, denied, "Property protected may not be removed."),
		patch("remove tags", `[{"op": "remove", "path": "/tags"}]`, 403, denied, "Property tags may not be removed."),
		patch("remove visibility", `[{"op": "remove", "path": "/visibility"}]`, 403, denied, "Property visibility may not be removed."),
		patch("remove disk_format", `[{"op": "remove", "path": "/disk_format"}]`, 403, denied, "Property disk_format may not be removed."),
		patch("replace missing property", `[{"op": "replace", "path": "/nope", "value": "x"}]`, 409, conflict, "Property nope does not exist."),
		patch("remove missing property", `[{"op": "remove", "path": "/nope"}]`, 409, conflict, "Property nope does not exist."),
		patch("second op fails", `[{"op": "replace", "path": "/name", "value": "new"}, {"op": "replace", "path": "/missingprop", "value": "x"}]`, 409, conflict, "Property missingprop does not exist."),
		patch("replace status", `[{"op": "replace", "path": "/status", "value": "active"}]`, 403, "Attribute 'status' is read-only.", ""),
		patch("replace id", `[{"op": "replace", "path": "/id", "value": "`+unknownID+`"}]`, 403, "Attribute 'id' is read-only.", ""),
		patch("replace created_at", `[{"op": "replace", "path": "/created_at", "value": "x"}]`, 403, "Attribute 'created_at' is read-only.", ""),
		patch("replace size", `[{"op": "replace", "path": "/size", "value": 5}]`, 403, "Attribute 'size' is read-only.", ""),
		patch("replace checksum", `[{"op": "replace", "path": "/checksum", "value": "x"}]`, 403, "Attribute 'checksum' is read-only.", ""),
		patch("replace self", `[{"op": "replace", "path": "/self", "value": "x"}]`, 403, "Attribute 'self' is read-only.", ""),
		patch("add os_glance_", `[{"op": "add", "path": "/os_glance_foo", "value": "x"}]`, 403, "Attribute 'os_glance_foo' is reserved.", ""),
		patch("visibility public", `[{"op": "replace", "path": "/visibility", "value": "public"}]`, 403, "You are not authorized to complete publicize_image action.", ""),
		patch("visibility bogus", `[{"op": "replace", "path": "/visibility", "value": "bogus"}]`, 400, schema+"'bogus' is not one of ['community', 'public', 'private', 'shared']", ""),
		patch("tag 256 chars", `[{"op": "replace", "path": "/tags", "value": ["`+long("t")+`"]}]`, 400, schema+"'"+long("t")+"' is too long", ""),
		patch("min_ram string", `[{"op": "replace", "path": "/min_ram", "value": "1"}]`, 400, schema+"'1' is not of type 'integer'", ""),
		patch("min_ram negative", `[{"op": "replace", "path": "/min_ram", "value": -1}]`, 400, "Invalid value '-1' for parameter 'min_ram': Cannot be a negative value", ""),
		patch("min_ram null", `[{"op": "replace", "path": "/min_ram", "value": null}]`, 400, schema+"None is not of type 'integer'", ""),
		patch("protected string", `[{"op": "replace", "path": "/protected", "value": "true"}]`, 400, schema+"'true' is not of type 'boolean'", ""),
		patch("name 256 chars", `[{"op": "replace", "path": "/name", "value": "`+long("n")+`"}]`, 400, schema+"'"+long("n")+"' is too long", ""),
		patch("property int", `[{"op": "add", "path": "/intprop", "value": 1}]`, 400, schema+"1 is not of type 'string'", ""),
		patch("locations to empty", `[{"op": "replace", "path": "/locations", "value": []}]`, 403, denied, "Cannot set locations to empty list."),
		patch("add a location", `[{"op": "add", "path": "/locations/-", "value": {"url": "http://x", "metadata": {}}}]`, 403, "It's not allowed to add locations if locations are invisible.", ""),
		{name: "patch disk_format of an active image", method: "PATCH", path: "/v2/images/{active}", body: `[{"op": "replace", "path": "/disk_format", "value": "qcow2"}]`,
			status: 403, msg: "Attribute disk_format can be only replaced for a queued image."},
		{name: "patch container_format of an active image, same value", method: "PATCH", path: "/v2/images/{active}", body: `[{"op": "replace", "path": "/container_format", "value": "bare"}]`,
			status: 403, msg: "Attribute container_format can be only replaced for a queued image."},
		{name: "patch unknown image", method: "PATCH", path: "/v2/images/" + unknownID, body: `[]`, status: 404, msg: "No image found with ID " + unknownID},

		// Bodies where none is expected.
		{name: "GET image with a body", method: "GET", path: "/v2/images/{id}", body: `{}`, status: 400, msg: noBody},
		{name: "DELETE image with a body", method: "DELETE", path: "/v2/images/{id}", body: `{}`, status: 400, msg: noBody},
		{name: "deactivate with a body", method: "POST", path: "/v2/images/{active}/actions/deactivate", body: `{}`, status: 400, msg: noBody},
		{name: "reactivate with a body", method: "POST", path: "/v2/images/{active}/actions/reactivate", body: `{}`, status: 400, msg: noBody},
		{name: "PUT tag with a body", method: "PUT", path: "/v2/images/{id}/tags/new", body: `{}`, status: 400, msg: noBody},
		{name: "DELETE tag with a body", method: "DELETE", path: "/v2/images/{id}/tags/x", body: `{}`, status: 400, msg: noBody},
		{name: "GET members with a body", method: "GET", path: "/v2/images/{id}/members", body: `{}`, status: 400, msg: noBody},
		{name: "GET member with a body", method: "GET", path: "/v2/images/{id}/members/tenantB", body: `{}`, status: 400, msg: noBody},
		{name: "DELETE member with a body", method: "DELETE", path: "/v2/images/{id}/members/tenantB", body: `{}`, status: 400, msg: noBody},
		{name: "GET schema with a body", method: "GET", path: "/v2/schemas/image", body: `{}`, status: 400, msg: noBody},

		// Other refusals.
		{name: "delete protected", method: "DELETE", path: "/v2/images/{locked}", status: 403, msg: "Image {locked} is protected and cannot be deleted."},
		{name: "delete unknown", method: "DELETE", path: "/v2/images/" + unknownID, status: 404, msg: "Failed to find image " + unknownID + " to delete"},
		{name: "delete not a uuid", method: "DELETE", path: "/v2/images/not-a-uuid", status: 404, msg: "Failed to find image not-a-uuid to delete"},
		{name: "deactivate queued", method: "POST", path: "/v2/images/{id}/actions/deactivate", status: 403, msg: "Not allowed to deactivate image in status 'queued'"},
		{name: "reactivate queued", method: "POST", path: "/v2/images/{id}/actions/reactivate", status: 403, msg: "Not allowed to reactivate image in status 'queued'"},
		{name: "tag 256 chars", method: "PUT", path: "/v2/images/{id}/tags/" + long("t"), status: 400, msg: schema + "'" + long("t") + "' is too long"},
		{name: "delete missing tag", method: "DELETE", path: "/v2/images/{id}/tags/nope", status: 404, msg: "The resource could not be found."},
		{name: "tag unknown image", method: "PUT", path: "/v2/images/" + unknownID + "/tags/x", status: 404, msg: "Image " + unknownID + " not found."},

		// Members.
		{name: "member body without member", method: "POST", path: "/v2/images/{id}/members", body: `{}`, status: 400, msg: "Member to be added not specified"},
		{name: "member body array", method: "POST", path: "/v2/images/{id}/members", body: `["x"]`, status: 400, msg: `Expected a member in the form: {"member": "image_id"}`},
		{name: "member body string", method: "POST", path: "/v2/images/{id}/members", body: `"x"`, status: 400, msg: unexpBody},
		{name: "member empty", method: "POST", path: "/v2/images/{id}/members", body: `{"member": ""}`, status: 400, msg: "Member can't be empty"},
		{name: "member malformed", method: "POST", path: "/v2/images/{id}/members", body: `{"member": `, status: 400, msg: "Malformed JSON in request body."},
		{name: "member no body", method: "POST", path: "/v2/images/{id}/members", status: 400, msg: "Body expected in request."},
		{name: "member duplicate", method: "POST", path: "/v2/images/{id}/members", body: `{"member": "tenantB"}`, status: 409, msg: "Member tenantB is duplicated for image {id}"},
		{name: "member on private image", method: "POST", path: "/v2/images/{private}/members", body: `{"member": "tenantB"}`, status: 403, msg: "Not allowed to create members for image {private}."},
		{name: "member on unknown image", method: "POST", path: "/v2/images/" + unknownID + "/members", body: `{"member": "tenantB"}`, status: 404, msg: "Image " + unknownID + " not found."},
		{name: "members of private image", method: "GET", path: "/v2/images/{private}/members", status: 403, msg: "Not allowed to list members for image {private}: Only shared images have members."},
		{name: "members of unknown image", method: "GET", path: "/v2/images/" + unknownID + "/members", status: 404, msg: "Image " + unknownID + " not found."},
		{name: "member status bogus", method: "PUT", path: "/v2/images/{id}/members/tenantB", body: `{"status": "bogus"}`, status: 400, msg: `Incorrect request: Status must be "pending", "accepted" or "rejected".`},
		{name: "member status missing", method: "PUT", path: "/v2/images/{id}/members/tenantB", body: `{}`, status: 400, msg: "Status not specified"},
		{name: "member status body array", method: "PUT", path: "/v2/images/{id}/members/tenantB", body: `[]`, status: 400, msg: `Expected a status in the form: {"status": "status"}`},
		{name: "member status of missing member", method: "PUT", path: "/v2/images/{id}/members/nobody", body: `{"status": "accepted"}`, status: 404, msg: "nobody not found in the member list of the image {id}."},
		{name: "show missing member", method: "GET", path: "/v2/images/{id}/members/nobody", status: 404, msg: "nobody not found in the member list of the image {id}."},
		{name: "delete missing member", method: "DELETE", path: "/v2/images/{id}/members/nobody", status: 404, msg: "nobody not found in the member list of the image {id}."},
	}
	ids := strings.NewReplacer("{id}", target, "{locked}", locked, "{private}", private, "{active}", active)
	state := func() []byte {
		var b bytes.Buffer
		b.Write(h.catalogState(t))
		b.Write(c.do(t, "GET", "/v2/images/"+target+"/members", "").want(t, "members", http.StatusOK).Body)
		return b.Bytes()
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := state()
			var hdr []string
			switch {
			case tc.contentType != "":
				hdr = []string{"Content-Type", tc.contentType}
			case tc.method == "PATCH" && strings.HasPrefix(tc.name, "patch v2.0"):
				hdr = []string{"Content-Type", "application/openstack-images-v2.0-json-patch"}
			case tc.method == "PATCH":
				hdr = []string{"Content-Type", "application/openstack-images-v2.1-json-patch"}
			}
			r := c.do(t, tc.method, ids.Replace(tc.path), tc.body, hdr...)
			r.wantError(t, tc.name, tc.status, ids.Replace(tc.msg), tc.detail)
			if after := state(); !bytes.Equal(before, after) {
				t.Errorf("the catalog changed:\n got %s\nwant %s", after, before)
			}
		})
	}
}

// Callers who may see an image but not change it, and callers who may not
// see it, are refused with Glance's words and change nothing.
func TestForeignImages(t *testing.T) {
	h := newHarness(t, true, nil)
	a, b := h.as("A", "member"), h.as("B", "member")
	ids := map[string]string{}
	for _, vis := range []string{"private", "shared", "community"} {
		ids[vis] = a.createImage(t, map[string]any{"name": "a-" + vis, "visibility": vis})["id"].(string)
	}
	ids["public"] = h.as("P", "admin").createImage(t, map[string]any{"name": "public", "visibility": "public"})["id"].(string)
	const (
		notOwner = "You do not own this image"
	)
	type tc struct {
		name, method, image, suffix, body string
		status                            int
		msg, detail                       string
	}
	cases := []tc{
		{"show private", "GET", "private", "", "", 404, "No image found with ID {id}", ""},
		{"show shared, not a member", "GET", "shared", "", "", 404, "No image found with ID {id}", ""},
		{"patch private", "PATCH", "private", "", `[]`, 404, "No image found with ID {id}", ""},
		{"patch community", "PATCH", "community", "", `[{"op": "replace", "path": "/name", "value": "x"}]`, 403, notOwner, ""},
		{"patch public", "PATCH", "public", "", `[{"op": "replace", "path": "/name", "value": "x"}]`, 403, notOwner, ""},
		{"delete private", "DELETE", "private", "", "", 404, "Failed to find image {id} to delete", ""},
		{"delete community", "DELETE", "community", "", "", 403, notOwner, ""},
		{"delete public", "DELETE", "public", "", "", 403, notOwner, ""},
		{"tag community", "PUT", "community", "/tags/x", "", 403, "Not allowed to update tags for image {id}.", ""},
		{"tag private", "PUT", "private", "/tags/x", "", 404, "Image {id} not found.", ""},
		{"untag community", "DELETE", "community", "/tags/x", "", 403, "Not allowed to delete tags for image {id}.", ""},
		{"deactivate community", "POST", "community", "/actions/deactivate", "", 403, notOwner, ""},
		{"deactivate private", "POST", "private", "/actions/deactivate", "", 404, "No image found with ID {id}", ""},
		{"add member to shared", "POST", "shared", "/members", `{"member": "B"}`, 404, "Image {id} not found.", ""},
		{"list members of shared", "GET", "shared", "/members", "", 404, "Image {id} not found.", ""},
		{"list members of private", "GET", "private", "/members", "", 404, "Image {id} not found.", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id := ids[tc.image]
			before := h.catalogState(t)
			var hdr []string
			if tc.method == "PATCH" {
				hdr = []string{"Content-Type", "application/openstack-images-v2.1-json-patch"}
			}
			r := b.do(t, tc.method, "/v2/images/"+id+tc.suffix, tc.body, hdr...)
			r.wantError(t, tc.name, tc.status, strings.ReplaceAll(tc.msg, "{id}", id), tc.detail)
			if after := h.catalogState(t); !bytes.Equal(before, after) {
				t.Errorf("the catalog changed")
			}
		})
	}

	// Creating for another project, and changing the owner, need admin.
	before := h.catalogState(t)
	a.json(t, "POST", "/v2/images", map[string]any{"owner": "B"}).wantError(t, "create for B", http.StatusForbidden,
		"You are not permitted to create images owned by 'B'.", "")
	a.patch(t, ids["private"], map[string]any{"op": "replace", "path": "/owner", "value": "B"}).wantError(t, "give to B", http.StatusForbidden,
		"Access was denied to this resource.", "Owner can't be updated by non admin.")
	if after := h.catalogState(t); !bytes.Equal(before, after) {
		t.Errorf("refused ownership changes changed the catalog")
	}

	// B's marker may not name an image B cannot see.
	b.do(t, "GET", "/v2/images?marker="+ids["private"], "").wantError(t, "invisible marker", http.StatusForbidden,
		"Forbidding request, image "+ids["private"]+" not visible", "")
	// Default lists: A sees its own images and the public one; B sees
	// the public one and, only when asking for it, A's community image.
	for _, lc := range []struct {
		who   *client
		query string
		want  []string
	}{
		{a, "", []string{"private", "shared", "community", "public"}},
		{b, "", []string{"public"}},
		{b, "visibility=community", []string{"community"}},
		{b, "visibility=all", []string{"community", "public"}},
		{b, "visibility=private", []string{}},
		{a, "visibility=private", []string{"private"}},
	} {
		got := lc.who.listIDs(t, lc.query)
		var want []string
		for _, n := range lc.want {
			want = append(want, ids[n])
		}
		if !sameSet(got, want) {
			t.Errorf("list %q as %s: got %v, want %v", lc.query, lc.who.header["X-Project-Id"], got, want)
		}
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]int{}
	for _, s := range a {
		m[s]++
	}
	for _, s := range b {
		m[s]--
	}
	for _, n := range m {
		if n != 0 {
			return false
		}
	}
	return true
}

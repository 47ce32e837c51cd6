package imageops

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"glimpse/internal/auth"
	"glimpse/internal/catalog"
	"glimpse/internal/image"
	"glimpse/internal/store"
)

// Image locations through PATCH (Images API v2.4), as Glance's images
// controller and its location proxy (glance/api/v2/images.py,
// glance/location.py) handle them, with what Glance's advisories call for:
//
//   - a client's location must name data in a store glimpse only reads
//     (the http store): file://, filesystem:// and swift+config:// are
//     refused whatever they name, as are the locations of stores glimpse
//     writes, so that no client can point an image at a server file or at
//     another image's data, nor have it deleted (OSSA-2014-041,
//     OSSA-2015-002);
//   - the last location of an image cannot be removed, nor all replaced
//     by none (OSSA-2016-006);
//   - data is attached to an image only while it is queued, with the
//     hashes the client vouches for (validation_data); a location added
//     to an active image must hold data of the image's size (OSSN-0065);
//   - only administrators name web locations: the http store fetches a
//     location whenever the image is read, following redirects, so a
//     user's address could reach inside the cloud (SSRF).

// LocationConfig is the site's location settings.
type LocationConfig struct {
	// Show is [DEFAULT] show_multiple_locations: images show their
	// locations, and PATCH may change them (policy permitting).
	Show bool
	// DirectURL is [DEFAULT] show_image_direct_url: images show the URL
	// of their first location as direct_url.
	DirectURL bool
	// Quota is [DEFAULT] image_location_quota, the most locations an
	// image may have; negative means unlimited.
	Quota int
}

// WithLocations sets the location settings (without it, locations are
// neither shown nor changed).
func WithLocations(c LocationConfig) Option {
	return func(s *Service) { s.locs = c }
}

// Locations returns the location settings the service was built with.
func (s *Service) Locations() LocationConfig { return s.locs }

// ShownLocations are the locations of img shown to c: none for a
// deactivated image unless c is an administrator, as Glance's database
// API hides them.
func ShownLocations(c *auth.Context, img *image.Image) []image.Location {
	if img.Status == image.Deactivated && !c.IsAdmin {
		return nil
	}
	return img.Locations
}

// NewLocation is a location a client gives.
type NewLocation struct {
	URL      string
	Metadata map[string]any
	// Validation is its validation_data; nil when not given.
	Validation *Validation
}

// Validation is the hashes a client says a location's data has; a field
// is nil when not given.
type Validation struct {
	Checksum, HashAlgo, HashValue *string
}

// LocationOp is one PATCH operation on an image's locations.
type LocationOp struct {
	Op string // add, remove or replace
	// Pos is the position add and remove name: an index, or "-" for the
	// end.
	Pos string
	// Locations is the location to add, or the list replacing the
	// image's locations.
	Locations []NewLocation
}

// Edit is one operation of an image edit: a location operation
// (Location set), or any other change (Touch names it, Apply makes it).
type Edit struct {
	Location *LocationOp
	Touch    Touch
	Apply    Change
}

// refusedLocationSchemes name files of the server itself, or a store
// configured with the server's own credentials: no client may give them
// (glance/common/store_utils.py RESTRICTED_URI_SCHEMAS).
var refusedLocationSchemes = []string{"file", "filesystem", "swift+config"}

// UpdateLocations applies an edit that changes the image's locations,
// operation by operation in request order as Glance does, and stores it
// in one transaction guarded by the image's status and locations. Data
// of locations the edit removed goes from its store afterwards (not that
// of read-only stores, which glimpse never wrote).
func (s *Service) UpdateLocations(ctx context.Context, c *auth.Context, id string, edits []Edit, attemptedTags int) (*image.Image, error) {
	const op = "imageops.UpdateLocations"
	cfg := s.Locations()
	cat, ok := s.cat.(catalog.Locations)
	if !cfg.Show || !ok {
		for _, e := range edits {
			if e.Location != nil {
				return nil, invisibleLocations(op, e.Location.Op)
			}
		}
		return s.Update(ctx, c, id, func(img *image.Image) error {
			for _, e := range edits {
				if e.Apply != nil {
					if err := e.Apply(img); err != nil {
						return err
					}
				}
			}
			return nil
		}, attemptedTags, touches(edits)...)
	}
	old, err := s.load(ctx, c, op, id)
	if err != nil {
		return nil, err
	}
	view := s.readable(c, old)
	img := view.Clone()
	var (
		touched  []Touch
		modified bool
		removed  []image.Location
	)
	for _, e := range edits {
		if e.Location == nil {
			if err := s.checkTouch(op, c, old, e.Touch, &modified); err != nil {
				return nil, err
			}
			touched = append(touched, e.Touch)
			if e.Apply != nil {
				if err := e.Apply(img); err != nil {
					return nil, err
				}
			}
			continue
		}
		lo := e.Location
		if err := s.authorizeLocations(op, c, old, lo); err != nil {
			return nil, err
		}
		switch lo.Op {
		case "add":
			err = s.addLocation(ctx, op, c, cfg, img, lo)
		case "replace":
			err = s.replaceLocations(ctx, op, c, cfg, img, lo.Locations)
		case "remove":
			var gone image.Location
			gone, err = removeLocation(op, img, lo.Pos)
			removed = append(removed, gone)
		default:
			err = image.E(op, image.Invalid, "Invalid operation: `%s`. It must be one of the following: add, remove, replace.", lo.Op)
		}
		if err != nil {
			return nil, err
		}
	}
	if err := s.checkUpdate(op, c, old, view, img, touched, attemptedTags); err != nil {
		return nil, err
	}
	img.UpdatedAt = s.now()
	switch err := cat.UpdateImageLocations(ctx, old, img); {
	case errors.Is(err, catalog.ErrLastLocation):
		return nil, image.D(op, image.Forbidden, "Cannot remove last location in the image.")
	case err != nil:
		return nil, catalogErr(op, id, err)
	}
	// Data goes with a location the image had before the edit and has no
	// more; matched by URL, as a replace earlier in the same edit gives
	// the locations it keeps new records.
	has := func(ls []image.Location, u string) bool {
		return slices.ContainsFunc(ls, func(k image.Location) bool { return k.URL == u })
	}
	for _, l := range removed {
		if has(old.Locations, l.URL) && !has(img.Locations, l.URL) {
			s.dropLocationData(context.WithoutCancel(ctx), id, l)
		}
	}
	return s.readable(c, img), nil
}

// touches lists what the edits other than location ones set.
func touches(edits []Edit) []Touch {
	var out []Touch
	for _, e := range edits {
		if e.Location == nil {
			out = append(out, e.Touch)
		}
	}
	return out
}

// checkTouch makes the checks Glance makes before it applies a change
// other than a location one, as Update does: an owner change by a
// non-admin, the visibility rule, and modify_image (asked once).
func (s *Service) checkTouch(op string, c *auth.Context, old *image.Image, t Touch, modified *bool) error {
	if t.Key == "owner" && t.Op == "replace" && !c.IsAdmin {
		return image.D(op, image.Forbidden, "Owner can't be updated by non admin.")
	}
	if t.Key == "visibility" && t.Op != "remove" {
		if err := s.checkVisibility(op, c, image.Visibility(t.Value), s.imageTarget(c, old)); err != nil {
			return err
		}
	}
	if *modified {
		return nil
	}
	*modified = true
	if err := s.enforce(op, c, "modify_image", old); err != nil {
		return err
	}
	if !s.mutable(c, old) {
		return image.E(op, image.Forbidden, "You do not own this image")
	}
	return nil
}

// authorizeLocations makes the checks a location operation needs before
// anything is looked at: set_image_location for add and replace,
// delete_image_location for remove, and, before the stores are asked
// anything, that the caller may change the image at all (Glance's
// database layer checks that last, when it saves).
func (s *Service) authorizeLocations(op string, c *auth.Context, old *image.Image, lo *LocationOp) error {
	rule := "set_image_location"
	switch lo.Op {
	case "replace":
		if len(lo.Locations) == 0 {
			return image.D(op, image.Forbidden, "Cannot set locations to empty list.")
		}
	case "remove":
		rule = "delete_image_location"
	}
	if err := s.enforce(op, c, rule, old); err != nil {
		return err
	}
	if !s.mutable(c, old) {
		return image.E(op, image.Forbidden, "You do not own this image")
	}
	return nil
}

// invisibleLocations is Glance's refusal of location changes while
// locations are not shown.
func invisibleLocations(op, locOp string) error {
	verb := map[string]string{"add": "add", "replace": "update", "remove": "remove"}[locOp]
	if verb == "" {
		verb = locOp
	}
	return image.E(op, image.Forbidden, "It's not allowed to %s locations if locations are invisible.", verb)
}

// addLocation is Glance's _do_add_locations and StoreLocations.insert.
func (s *Service) addLocation(ctx context.Context, op string, c *auth.Context, cfg LocationConfig, img *image.Image, lo *LocationOp) error {
	if img.Status != image.Queued && img.Status != image.Active {
		return image.E(op, image.Conflict, "It's not allowed to add locations if image status is %s.", img.Status)
	}
	if len(lo.Locations) != 1 {
		return image.E(op, image.Invalid, "Invalid location")
	}
	val, err := s.validationData(op, img, lo.Locations)
	if err != nil {
		return err
	}
	pos, ok := locationPos(lo.Pos, len(img.Locations), true)
	if !ok {
		return image.E(op, image.Invalid, "Invalid position for adding a location.")
	}
	loc, size, err := s.probeLocation(ctx, op, c, lo.Locations[0])
	if err != nil {
		return err
	}
	if duplicates(img.Locations, loc) > 0 {
		return image.E(op, image.Invalid, "The location %s already exists", loc.URL)
	}
	if q := cfg.Quota; q >= 0 && len(img.Locations)+1 > q {
		return locationLimit(op, len(img.Locations)+1, q)
	}
	unit := size
	if img.Size != nil && *img.Size > 0 {
		unit = *img.Size
	}
	if err := s.locationStorage(ctx, op, img, unit, len(img.Locations), 1); err != nil {
		return err
	}
	if img.Status == image.Active {
		if err := s.sameData(op, img, loc.URL, size); err != nil {
			return err
		}
	}
	img.Locations = slices.Insert(img.Locations, pos, loc)
	if img.Size == nil || *img.Size == 0 {
		img.Size = &size
	}
	if img.Status == image.Queued {
		return activate(op, img, val)
	}
	return nil
}

// replaceLocations is Glance's _do_replace_locations and the locations
// setter of its location proxy: a queued image (one without locations)
// gets a list of new ones, whose data is checked as add checks it; an
// image with locations may only have the metadata of the same URLs
// replaced.
func (s *Service) replaceLocations(ctx context.Context, op string, c *auth.Context, cfg LocationConfig, img *image.Image, list []NewLocation) error {
	if img.Status != image.Queued && img.Status != image.Active {
		return image.E(op, image.Conflict, "It's not allowed to replace locations if image status is %s.", img.Status)
	}
	val, err := s.validationData(op, img, list)
	if err != nil {
		return err
	}
	if q := cfg.Quota; q >= 0 && len(list) > q {
		return locationLimit(op, len(list), q)
	}
	cur := make([]string, len(img.Locations))
	for i, l := range img.Locations {
		cur[i] = l.URL
	}
	next := make([]string, len(list))
	for i, l := range list {
		next[i] = l.URL
	}
	slices.Sort(cur)
	slices.Sort(next)
	same := slices.Equal(cur, next)
	if len(img.Locations) > 0 && !same {
		return image.E(op, image.Invalid, "Original locations is not empty: %s", pyLocations(img.Locations))
	}
	locs := make([]image.Location, len(list))
	var first int64
	for i, nl := range list {
		if same {
			// The same data: only the metadata changes, and nothing is
			// asked of the stores, as in Glance.
			locs[i] = image.Location{URL: nl.URL, Metadata: s.storeMetadata(nl.URL, nl.Metadata), Status: "active"}
			continue
		}
		loc, size, err := s.probeLocation(ctx, op, c, nl)
		if err != nil {
			return err
		}
		if first == 0 {
			first = size
		}
		locs[i] = loc
	}
	if !same {
		for _, l := range locs {
			if duplicates(locs, l) > 1 {
				return image.E(op, image.Invalid, "The location %s already exists", l.URL)
			}
		}
	}
	unit := first
	if img.Size != nil && *img.Size > 0 {
		unit = *img.Size
	}
	if err := s.locationStorage(ctx, op, img, unit, 0, len(locs)); err != nil {
		return err
	}
	img.Locations = locs
	if (img.Size == nil || *img.Size == 0) && first > 0 {
		img.Size = &first
	}
	if img.Status == image.Queued {
		return activate(op, img, val)
	}
	return nil
}

// removeLocation is Glance's _do_remove_locations: the location at pos
// leaves the list (its data goes once the edit is stored).
func removeLocation(op string, img *image.Image, p string) (image.Location, error) {
	if img.Status != image.Active {
		return image.Location{}, image.E(op, image.Conflict, "It's not allowed to remove locations if image status is %s.", img.Status)
	}
	if len(img.Locations) == 1 {
		// OSSA-2016-006: an image without data went back to queued,
		// and new data could then be uploaded into it.
		return image.Location{}, image.D(op, image.Forbidden, "Cannot remove last location in the image.")
	}
	pos, ok := locationPos(p, len(img.Locations), false)
	if !ok {
		return image.Location{}, image.E(op, image.Invalid, "Invalid position for removing a location.")
	}
	gone := img.Locations[pos]
	img.Locations = slices.Delete(slices.Clone(img.Locations), pos, pos+1)
	return gone, nil
}

// locationPos is Glance's _get_locations_op_pos: "-" is the end (the last
// location, for a removal), digits an index; add may name any index
// (past the end it appends), remove only an existing one.
func locationPos(p string, n int, add bool) (int, bool) {
	pos := n - 1
	if add {
		pos = n
	}
	switch {
	case p == "-":
	case p != "" && strings.Trim(p, "0123456789") == "":
		i, err := strconv.Atoi(p)
		if err != nil {
			// Too large for an int: past any end.
			i = n + 1
		}
		pos = i
	default:
		return 0, false
	}
	if add {
		return min(pos, n), true
	}
	return pos, 0 <= pos && pos < n
}

// activate is the move of a queued image to active on its first
// locations, with the hashes the client gave.
func activate(op string, img *image.Image, val *Validation) error {
	if err := missingFormats(op, img); err != nil {
		return err
	}
	if val != nil {
		if val.Checksum != nil {
			img.Checksum = val.Checksum
		}
		if val.HashAlgo != nil {
			img.OSHashAlgo = val.HashAlgo
		}
		if val.HashValue != nil {
			img.OSHashValue = val.HashValue
		}
	}
	img.Status = image.Active
	return nil
}

// validationData is Glance's _validate_validation_data: the hashes the
// locations vouch for must agree with one another and with those the
// image has; new ones are taken only while the image is queued, and must
// be well formed, of the configured hashing algorithm. It returns the new
// values (nil when none).
func (s *Service) validationData(op string, img *image.Image, locs []NewLocation) (*Validation, error) {
	type field struct {
		name string
		get  func(*Validation) *string
		cur  *string
	}
	fields := []field{
		{"checksum", func(v *Validation) *string { return v.Checksum }, img.Checksum},
		{"os_hash_algo", func(v *Validation) *string { return v.HashAlgo }, img.OSHashAlgo},
		{"os_hash_value", func(v *Validation) *string { return v.HashValue }, img.OSHashValue},
	}
	given := map[string]string{}
	for _, l := range locs {
		if l.Validation == nil {
			continue
		}
		for _, f := range fields {
			v := f.get(l.Validation)
			if v == nil {
				continue
			}
			if g, ok := given[f.name]; ok && g != *v {
				return nil, image.E(op, image.Conflict, "Conflicting values for %s", f.name)
			}
			given[f.name] = *v
		}
	}
	fresh := map[string]string{}
	var names []string
	for _, f := range fields {
		v, ok := given[f.name]
		if !ok || (f.cur != nil && *f.cur == v) {
			continue
		}
		if f.cur != nil && *f.cur != "" {
			return nil, image.E(op, image.Conflict, "%s is already set with a different value", f.name)
		}
		fresh[f.name] = v
		names = append(names, f.name)
	}
	if len(fresh) == 0 {
		return nil, nil
	}
	if img.Status != image.Queued {
		return nil, image.E(op, image.Conflict, "New value(s) for %s may only be provided when image status is 'queued'", strings.Join(names, ", "))
	}
	if sum, ok := fresh["checksum"]; ok {
		b, err := hex.DecodeString(sum)
		if err != nil {
			return nil, image.E(op, image.Conflict, "checksum (%s) is not a valid hexadecimal value", sum)
		}
		if len(b) != 16 {
			return nil, image.E(op, image.Conflict, "checksum (%s) is not the correct size for md5 (should be 16 bytes)", sum)
		}
	}
	algo, ok := fresh["os_hash_algo"]
	if !ok {
		algo = "None"
	}
	if algo != s.data.HashAlgo {
		return nil, image.E(op, image.Conflict, "os_hash_algo must be %s, not %s", s.data.HashAlgo, algo)
	}
	value, ok := fresh["os_hash_value"]
	if !ok && img.OSHashValue != nil {
		value = *img.OSHashValue
	}
	b, err := hex.DecodeString(value)
	if err != nil {
		return nil, image.E(op, image.Conflict, "os_hash_value (%s) is not a valid hexadecimal value", value)
	}
	if want := digestSizes[algo]; len(b) != want {
		return nil, image.E(op, image.Conflict, "os_hash_value (%s) is not the correct size for %s (should be %d bytes)", value, algo, want)
	}
	out := &Validation{}
	for _, f := range fields {
		if v, ok := fresh[f.name]; ok {
			switch f.name {
			case "checksum":
				out.Checksum = &v
			case "os_hash_algo":
				out.HashAlgo = &v
			case "os_hash_value":
				out.HashValue = &v
			}
		}
	}
	return out, nil
}

// digestSizes are the digest sizes, in bytes, of the hashing algorithms
// glimpse computes (hashlib's digest_size).
var digestSizes = map[string]int{
	"md5": 16, "sha1": 20, "sha224": 28, "sha256": 32, "sha384": 48, "sha512": 64,
	"sha3_224": 28, "sha3_256": 32, "sha3_384": 48, "sha3_512": 64,
}

// probeLocation checks a location a client gives, as Glance's
// _check_image_location does, and returns it as the image will record it
// (with its store in the metadata when stores are named) and the size of
// its data. Any location glimpse cannot read, or would not take from a
// client, is "Invalid location".
func (s *Service) probeLocation(ctx context.Context, op string, c *auth.Context, nl NewLocation) (image.Location, int64, error) {
	invalid := func(cause error) (image.Location, int64, error) {
		return image.Location{}, 0, &image.Error{Op: op, Kind: image.Invalid, Msg: "Invalid location", Err: cause}
	}
	if err := checkLocationMetadata(op, nl.Metadata, ""); err != nil {
		return image.Location{}, 0, err
	}
	scheme := strings.ToLower(store.Scheme(nl.URL))
	if scheme == "" || slices.Contains(refusedLocationSchemes, scheme) || s.data.Stores == nil {
		// Never looked at: glance_store's file store would tell the
		// size of any file the server can read.
		return invalid(fmt.Errorf("scheme %q is not taken from clients", scheme))
	}
	_, d, err := s.data.Stores.ForURI(nl.URL)
	if err != nil {
		return invalid(err)
	}
	if !d.Capabilities().ReadOnly {
		// Objects of the stores glimpse writes are images' data: naming
		// one would share, and on removal delete, another image's data.
		return invalid(errors.New("a client location must name data in a read-only store"))
	}
	if !c.IsAdmin {
		// The http store reads a location whenever the image is
		// downloaded, following redirects and resolving names anew: a
		// client-chosen address would let a user make the service fetch
		// from inside the cloud (SSRF). As for v1's
		// x-image-meta-location, only admins may name one.
		return image.Location{}, 0, image.E(op, image.Forbidden, "Only administrators may set image locations on a web store.")
	}
	if !s.passesFilter(ctx, nl.URL) {
		// An admin's location is still fetched by the service, for
		// every user who downloads the image: it passes the import URI
		// filter as v1's x-image-meta-location does.
		return image.Location{}, 0, image.E(op, image.Invalid, "URI for location does not pass filtering: %s", nl.URL)
	}
	st, ok := d.(store.Statter)
	if !ok {
		return invalid(errors.New("the store cannot tell the data's size"))
	}
	size, err := st.Stat(ctx, nl.URL)
	if err != nil {
		return invalid(err)
	}
	if size <= 0 {
		return invalid(errors.New("no data"))
	}
	if s.data.SizeCap > 0 && size > s.data.SizeCap {
		return image.Location{}, 0, image.E(op, image.TooLarge, "The provided image is too large.")
	}
	return image.Location{URL: nl.URL, Metadata: s.storeMetadata(nl.URL, nl.Metadata), Status: "active"}, size, nil
}

// storeMetadata is a location's metadata as recorded: with stores named,
// the store the URL belongs to replaces any the client gave, as Glance's
// get_updated_store_location does.
func (s *Service) storeMetadata(uri string, meta map[string]any) map[string]any {
	out := maps.Clone(meta)
	if out == nil {
		out = map[string]any{}
	}
	// The store a location belongs to is the service's to say, never the
	// client's.
	delete(out, "store")
	if s.data.MultiStore && s.data.Stores != nil {
		if id, _, err := s.data.Stores.ForURI(uri); err == nil {
			out["store"] = id
		}
	}
	return out
}

// checkLocationMetadata is glance_store's check_location_metadata: values
// are strings, or lists and objects of them.
func checkLocationMetadata(op string, v any, key string) error {
	switch x := v.(type) {
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(x)) {
			if err := checkLocationMetadata(op, x[k], k); err != nil {
				return err
			}
		}
	case []any:
		for i, e := range x {
			if err := checkLocationMetadata(op, e, fmt.Sprintf("%s[%d]", key, i)); err != nil {
				return err
			}
		}
	case string:
	default:
		return image.E(op, image.Invalid, "The image metadata key %s has an invalid type of %s. Only dict, list, and unicode are supported.", key, pyType(v))
	}
	return nil
}

// pyType is Python's repr of the type of a decoded JSON value.
func pyType(v any) string {
	switch x := v.(type) {
	case nil:
		return "<class 'NoneType'>"
	case bool:
		return "<class 'bool'>"
	case json.Number:
		if strings.ContainsAny(x.String(), ".eE") {
			return "<class 'float'>"
		}
		return "<class 'int'>"
	case float64:
		if x == float64(int64(x)) {
			return "<class 'int'>"
		}
		return "<class 'float'>"
	}
	return fmt.Sprintf("<class '%T'>", v)
}

// duplicates counts the locations of list with loc's URL and metadata
// (Glance's _count_duplicated_locations).
func duplicates(list []image.Location, loc image.Location) int {
	n := 0
	for _, l := range list {
		if l.URL == loc.URL && sameMetadata(l.Metadata, loc.Metadata) {
			n++
		}
	}
	return n
}

// sameMetadata compares metadata as JSON values (numbers decoded either
// way compare equal).
func sameMetadata(a, b map[string]any) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	if err1 != nil || err2 != nil {
		return reflect.DeepEqual(a, b)
	}
	var va, vb any
	if json.Unmarshal(ja, &va) != nil || json.Unmarshal(jb, &vb) != nil {
		return reflect.DeepEqual(a, b)
	}
	return reflect.DeepEqual(va, vb)
}

func locationLimit(op string, attempted, max int) error {
	return image.E(op, image.TooLarge, "The limit has been exceeded on the number of allowed image locations. Attempted: %d, Maximum: %d", attempted, max)
}

// locationStorage applies user_storage_quota to locations being added:
// the image's data counts once per location, so keeping kept locations
// and adding added ones, of unit bytes each, must fit in what the owner
// has left besides this image.
func (s *Service) locationStorage(ctx context.Context, op string, img *image.Image, unit int64, kept, added int) error {
	if s.data.UserStorageQuota <= 0 || unit <= 0 {
		return nil
	}
	left, err := s.quotaLeft(ctx, img)
	if err != nil {
		return catalogErr(op, img.ID, err)
	}
	if left < 0 {
		return nil
	}
	if unit*int64(kept+added) > left {
		return quotaExceeded(op, unit*int64(added), max(left-unit*int64(kept), 0))
	}
	return nil
}

// sameData checks that a location added to an active image holds data of
// the image's size (OSSN-0065). Only administrators add web locations
// (probeLocation), so the data itself is not read here.
func (s *Service) sameData(op string, img *image.Image, uri string, size int64) error {
	if img.Size != nil && *img.Size != size {
		return image.E(op, image.Conflict, "The data at %s does not match the image: size %d, recorded %d.", uri, size, *img.Size)
	}
	return nil
}

// dropLocationData removes the data of a location an edit removed from
// its store, as Glance does when a location is popped; data of read-only
// stores (http) is not glimpse's to remove. Failures are logged: the
// location is already gone.
func (s *Service) dropLocationData(ctx context.Context, imageID string, l image.Location) {
	if s.data.Stores == nil {
		return
	}
	_, d, err := s.data.Stores.ForURI(l.URL)
	if err == nil && d.Capabilities().ReadOnly {
		return
	}
	if err == nil {
		err = d.Delete(ctx, l.URL)
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.log().Error("cannot delete the data of a removed location", "image", imageID, "location", l.URL, "error", err)
	}
}

// pyLocations spells locations as Python's repr of Glance's location
// dicts, for messages that quote them.
func pyLocations(locs []image.Location) string {
	parts := make([]string, len(locs))
	for i, l := range locs {
		parts[i] = fmt.Sprintf("{'id': %d, 'url': %s, 'metadata': %s, 'status': %s}", l.ID, PyRepr(l.URL), PyRepr(l.Metadata), PyRepr(l.Status))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// PyRepr is Python's repr of a decoded JSON value, which Glance's
// messages quote values with.
func PyRepr(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case bool:
		if x {
			return "True"
		}
		return "False"
	case json.Number:
		return x.String()
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case string:
		q := "'"
		if strings.Contains(x, "'") && !strings.Contains(x, `"`) {
			q = `"`
		}
		r := strings.NewReplacer(`\`, `\\`, "\n", `\n`, "\t", `\t`, "\r", `\r`)
		s := r.Replace(x)
		if q == "'" {
			s = strings.ReplaceAll(s, "'", `\'`)
		}
		return q + s + q
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = PyRepr(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		parts := make([]string, 0, len(x))
		for _, k := range slices.Sorted(maps.Keys(x)) {
			parts = append(parts, PyRepr(k)+": "+PyRepr(x[k]))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return fmt.Sprint(v)
}

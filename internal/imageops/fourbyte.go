package imageops

import (
	"errors"
	"maps"
	"slices"
	"unicode"

	"glimpse/internal/image"
)

// ErrFourByteUnicode is the cause of a refusal to store a character
// outside the Basic Multilingual Plane, which UTF-8 writes in four bytes
// (an emoji, say). Glance refuses them on every database, as MySQL's utf8
// tables cannot hold them; each API words the refusal its own way around
// the message image.Message gives.
var ErrFourByteUnicode = errors.New("4 byte unicode characters refused")

// Glance's messages for a value, a dictionary key, and a plain argument
// (a tag) with such a character.
const (
	fourByteKeyMsg   = "Property names can't contain 4 byte unicode."
	fourByteParamMsg = "Param values can't contain 4 byte unicode."
)

func fourByte(op, msg string) error {
	return &image.Error{Op: op, Kind: image.Invalid, Msg: msg, Err: ErrFourByteUnicode}
}

// fourByteValue is the refusal of the value stored under key: Glance
// names the key title-cased.
func fourByteValue(op, key string) error {
	return fourByte(op, pyTitle(key)+" can't contain 4 byte unicode characters.")
}

// hasFourByte reports whether s holds a code point above U+FFFF.
func hasFourByte(s string) bool {
	for _, r := range s {
		if r > 0xFFFF {
			return true
		}
	}
	return false
}

// pyTitle is Python's str.title: a cased character that follows another
// cased one is lower-cased, any other title-cased ("os_distro" becomes
// "Os_Distro", "hw2x" becomes "Hw2X").
func pyTitle(s string) string {
	out := make([]rune, 0, len(s))
	prevCased := false
	for _, r := range s {
		if prevCased {
			out = append(out, unicode.ToLower(r))
		} else {
			out = append(out, unicode.ToTitle(r))
		}
		prevCased = unicode.In(r, unicode.Lu, unicode.Ll, unicode.Lt, unicode.Other_Lowercase, unicode.Other_Uppercase)
	}
	return string(out)
}

// checkFourByte refuses to store img (replacing old, nil for a new image)
// when a value it would write holds a four-byte character, in the order
// Glance's database layer checks them: the image's attributes, then its
// properties (each name before its value), then its locations, then the
// tags it adds.
func checkFourByte(op string, old, img *image.Image) error {
	attrs := []struct {
		key string
		val *string
	}{
		{"id", &img.ID},
		{"name", img.Name},
		{"status", (*string)(&img.Status)},
		{"checksum", img.Checksum},
		{"os_hash_algo", img.OSHashAlgo},
		{"os_hash_value", img.OSHashValue},
		{"owner", img.Owner},
		{"disk_format", img.DiskFormat},
		{"container_format", img.ContainerFormat},
		{"visibility", (*string)(&img.Visibility)},
	}
	for _, a := range attrs {
		if a.val != nil && hasFourByte(*a.val) {
			return fourByteValue(op, a.key)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(img.Properties)) {
		if err := checkFourByteEntry(op, k, img.Properties[k]); err != nil {
			return err
		}
	}
	for _, l := range img.Locations {
		if err := checkFourByteLocation(op, l); err != nil {
			return err
		}
	}
	for _, t := range img.Tags {
		if old != nil && slices.Contains(old.Tags, t) {
			continue
		}
		if hasFourByte(t) {
			return fourByte(op, fourByteParamMsg)
		}
	}
	return nil
}

// checkFourByteEntry checks one key and its string value.
func checkFourByteEntry(op, key string, val *string) error {
	if hasFourByte(key) {
		return fourByte(op, fourByteKeyMsg)
	}
	if val != nil && hasFourByte(*val) {
		return fourByteValue(op, key)
	}
	return nil
}

// checkFourByteLocation checks a location's URL, its metadata and status.
func checkFourByteLocation(op string, l image.Location) error {
	if hasFourByte(l.URL) {
		return fourByteValue(op, "url")
	}
	if err := checkFourByteMap(op, l.Metadata); err != nil {
		return err
	}
	if hasFourByte(l.Status) {
		return fourByteValue(op, "status")
	}
	return nil
}

// checkFourByteMap checks a metadata object as Glance does: the strings
// it holds and their keys, and nested objects the same way (a nested
// object's own key, and the items of lists, are not looked at).
func checkFourByteMap(op string, m map[string]any) error {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		switch v := m[k].(type) {
		case map[string]any:
			if err := checkFourByteMap(op, v); err != nil {
				return err
			}
		case string:
			if err := checkFourByteEntry(op, k, &v); err != nil {
				return err
			}
		default:
			if hasFourByte(k) {
				return fourByte(op, fourByteKeyMsg)
			}
		}
	}
	return nil
}

// checkFourByteMember refuses a membership for a member id with a
// four-byte character.
func checkFourByteMember(op, memberID string) error {
	if hasFourByte(memberID) {
		return fourByteValue(op, "member")
	}
	return nil
}

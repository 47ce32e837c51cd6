// Package wirejson writes JSON as Glance's responses spell it: object keys
// in a chosen order, ", " and ": " separators, non-ASCII escaped. Clients do
// not depend on the spelling, but byte-comparable responses make
// differences with Glance easy to spot.
package wirejson

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// Object is an ordered JSON object under construction.
type Object struct {
	buf   []byte
	first bool
}

// NewObject starts an object.
func NewObject() *Object { return &Object{buf: []byte{'{'}, first: true} }

func (o *Object) key(k string) {
	if !o.first {
		o.buf = append(o.buf, ", "...)
	}
	o.first = false
	o.buf = AppendString(o.buf, k)
	o.buf = append(o.buf, ": "...)
}

// String adds a string member.
func (o *Object) String(k, v string) *Object {
	o.key(k)
	o.buf = AppendString(o.buf, v)
	return o
}

// StringPtr adds a string or null.
func (o *Object) StringPtr(k string, v *string) *Object {
	if v == nil {
		return o.Raw(k, "null")
	}
	return o.String(k, *v)
}

// Int adds an integer member.
func (o *Object) Int(k string, v int64) *Object {
	o.key(k)
	o.buf = strconv.AppendInt(o.buf, v, 10)
	return o
}

// IntPtr adds an integer or null.
func (o *Object) IntPtr(k string, v *int64) *Object {
	if v == nil {
		return o.Raw(k, "null")
	}
	return o.Int(k, *v)
}

// Bool adds a boolean member.
func (o *Object) Bool(k string, v bool) *Object {
	return o.Raw(k, strconv.FormatBool(v))
}

// Strings adds an array of strings.
func (o *Object) Strings(k string, vs []string) *Object {
	o.key(k)
	o.buf = append(o.buf, '[')
	for i, v := range vs {
		if i > 0 {
			o.buf = append(o.buf, ", "...)
		}
		o.buf = AppendString(o.buf, v)
	}
	o.buf = append(o.buf, ']')
	return o
}

// Raw adds a member whose value is already JSON.
func (o *Object) Raw(k, raw string) *Object {
	o.key(k)
	o.buf = append(o.buf, raw...)
	return o
}

// RawBytes adds a member whose value is already JSON.
func (o *Object) RawBytes(k string, raw []byte) *Object {
	o.key(k)
	o.buf = append(o.buf, raw...)
	return o
}

// Value adds any value through encoding/json, re-spaced.
func (o *Object) Value(k string, v any) *Object {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte("null")
	}
	return o.RawBytes(k, Respace(b))
}

// Bytes closes the object and returns it.
func (o *Object) Bytes() []byte { return append(o.buf, '}') }

// Array joins already-encoded values into a JSON array.
func Array(items [][]byte) []byte {
	out := []byte{'['}
	for i, it := range items {
		if i > 0 {
			out = append(out, ", "...)
		}
		out = append(out, it...)
	}
	return append(out, ']')
}

const hex = "0123456789abcdef"

// AppendString appends s as a JSON string with every non-ASCII rune
// escaped (\uXXXX, surrogate pairs above the BMP), as Python does.
func AppendString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"':
				b = append(b, '\\', '"')
			case c == '\\':
				b = append(b, '\\', '\\')
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20 || c == 0x7f:
				b = appendU(b, rune(c))
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r > 0xffff {
			r -= 0x10000
			b = appendU(b, 0xd800+(r>>10))
			b = appendU(b, 0xdc00+(r&0x3ff))
		} else {
			b = appendU(b, r)
		}
		i += size
	}
	return append(b, '"')
}

func appendU(b []byte, r rune) []byte {
	return append(b, '\\', 'u', hex[r>>12&0xf], hex[r>>8&0xf], hex[r>>4&0xf], hex[r&0xf])
}

// Respace rewrites compact JSON with Python's separators.
func Respace(b []byte) []byte {
	out := make([]byte, 0, len(b)+len(b)/8)
	inStr, esc := false, false
	for _, c := range b {
		out = append(out, c)
		switch {
		case esc:
			esc = false
		case c == '\\' && inStr:
			esc = true
		case c == '"':
			inStr = !inStr
		case !inStr && (c == ',' || c == ':'):
			out = append(out, ' ')
		}
	}
	return out
}

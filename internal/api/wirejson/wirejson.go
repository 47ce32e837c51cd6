// Package wirejson writes JSON as Glance's responses spell it: object keys
// in a chosen order, ", " and ": " separators, non-ASCII escaped as Python's
// json.dumps does by default — or, through Unescaped, written as UTF-8, as
// Glance's image, member and task documents have it. Clients do not depend
// on the spelling, but byte-comparable responses make differences with
// Glance easy to spot.
package wirejson

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf16"
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

// Value adds any value through encoding/json, re-spaced and escaped as
// AppendString escapes.
func (o *Object) Value(k string, v any) *Object {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // Python leaves <, > and & alone
	b := []byte("null")
	if enc.Encode(v) == nil {
		b = escapeNonASCII(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
	}
	return o.RawBytes(k, Respace(b))
}

// escapeNonASCII rewrites the non-ASCII characters of a JSON text (they
// can only be inside strings) as AppendString writes them.
func escapeNonASCII(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			out = append(out, b[i])
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		out = appendRune(out, r)
		i += size
	}
	return out
}

// Unescaped rewrites a document of this package's (ASCII-only) spelling the
// way Python's json.dumps(..., ensure_ascii=False) spells it: every \u
// escape of a character from U+007F up becomes that character in UTF-8;
// quotes, backslashes and control characters stay escaped.
func Unescaped(b []byte) []byte {
	if !bytes.Contains(b, []byte("\\u")) {
		return b
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); {
		c := b[i]
		if c != '\\' || i+1 >= len(b) {
			out = append(out, c)
			i++
			continue
		}
		if b[i+1] != 'u' || i+6 > len(b) {
			out = append(out, c, b[i+1]) // a two-character escape
			i += 2
			continue
		}
		r, ok := hex4(b[i+2 : i+6])
		if !ok || r < 0x7f {
			out = append(out, b[i:i+6]...)
			i += 6
			continue
		}
		n := 6
		if utf16.IsSurrogate(r) {
			lo, ok := rune(0), false
			if i+12 <= len(b) && b[i+6] == '\\' && b[i+7] == 'u' {
				lo, ok = hex4(b[i+8 : i+12])
			}
			if r = utf16.DecodeRune(r, lo); !ok || r == utf8.RuneError {
				out = append(out, b[i:i+6]...) // a lone surrogate stays escaped
				i += 6
				continue
			}
			n = 12
		}
		out = utf8.AppendRune(out, r)
		i += n
	}
	return out
}

func hex4(h []byte) (rune, bool) {
	var r rune
	for _, c := range h {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
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
			case c == '\b':
				b = append(b, '\\', 'b')
			case c == '\f':
				b = append(b, '\\', 'f')
			case c < 0x20 || c == 0x7f:
				b = appendU(b, rune(c))
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		b = appendRune(b, r)
		i += size
	}
	return append(b, '"')
}

// appendRune escapes one non-ASCII rune, as a surrogate pair above the BMP.
func appendRune(b []byte, r rune) []byte {
	if r > 0xffff {
		r -= 0x10000
		b = appendU(b, 0xd800+(r>>10))
		return appendU(b, 0xdc00+(r&0x3ff))
	}
	return appendU(b, r)
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

package compute

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxBody bounds a request body (Nova's osapi_max_request_body_size).
const maxBody = 114688

// object is a decoded JSON object that keeps its keys in request order,
// as the Python dict Nova validates does (a repeated key keeps its first
// place and its last value).
type object struct {
	keys []string
	vals map[string]any
}

func (o *object) get(k string) (any, bool) {
	v, ok := o.vals[k]
	return v, ok
}

// readBody decodes a PUT or POST body. An empty body is JSON null to the
// validation, as Nova passes None.
func (rq *req) readBody() error {
	if rq.r.Body == nil || rq.r.ContentLength == 0 || (rq.r.ContentLength < 0 && len(rq.r.TransferEncoding) == 0) {
		return nil
	}
	b, err := io.ReadAll(io.LimitReader(rq.r.Body, maxBody+1))
	if err != nil || len(b) > maxBody {
		return errors.New("body unreadable or too large")
	}
	if rq.r.ContentLength < 0 && len(b) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	v, err := decodeValue(dec)
	if err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data")
	}
	rq.body, rq.hasBody = v, true
	return nil
}

func decodeValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			o := &object{vals: map[string]any{}}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, ok := kt.(string)
				if !ok {
					return nil, errors.New("object key is not a string")
				}
				v, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				if _, dup := o.vals[k]; !dup {
					o.keys = append(o.keys, k)
				}
				o.vals[k] = v
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return o, nil
		case '[':
			arr := []any{}
			for dec.More() {
				v, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return arr, nil
		}
		return nil, errors.New("unexpected delimiter")
	}
	return tok, nil
}

// metadataKey is Nova's pattern for metadata keys. Python's "$" also
// matches before one final newline, so such a key passes too.
var metadataKey = regexp.MustCompile(`^[a-zA-Z0-9\-_:. ]{1,255}\n?$`)

const metadataKeyPattern = `'^[a-zA-Z0-9-_:. ]{1,255}$'`

// validateMetadata checks a request body against Nova's schema for image
// metadata, {"metadata": {...}} (name "metadata") or, with single, the
// one-item {"meta": {...}}. It returns Nova's message for the first
// violation, in the order Nova's validator finds them; legacy relaxes
// unknown keys as the /v2 endpoint does.
func validateMetadata(body any, name string, single, legacy bool) (*object, string) {
	top, ok := body.(*object)
	if !ok {
		return nil, pyRepr(body) + " is not of type 'object'"
	}
	if v, present := top.get(name); present {
		md, ok := v.(*object)
		if !ok {
			return nil, fieldError(name, v, pyRepr(v)+" is not of type 'object'")
		}
		for _, k := range md.keys {
			if !metadataKey.MatchString(k) {
				continue
			}
			val := md.vals[k]
			s, isStr := val.(string)
			if !isStr {
				return nil, fieldError(k, val, pyRepr(val)+" is not of type 'string'")
			}
			if utf8.RuneCountInString(s) > 255 {
				return nil, fieldError(k, val, pyRepr(val)+" is too long")
			}
		}
		var extra []string
		for _, k := range md.keys {
			if !metadataKey.MatchString(k) {
				extra = append(extra, k)
			}
		}
		if len(extra) > 0 {
			slices.Sort(extra)
			quoted := make([]string, len(extra))
			for i, k := range extra {
				quoted[i] = pyRepr(k)
			}
			switch {
			case !legacy:
				verb := "does"
				if len(extra) > 1 {
					verb = "do"
				}
				return nil, fieldError(name, md, strings.Join(quoted, ", ")+" "+verb+" not match any of the regexes: "+metadataKeyPattern)
			case len(extra) < len(md.keys):
				verb := "was"
				if len(extra) > 1 {
					verb = "were"
				}
				return nil, fieldError(name, md, "Additional properties are not allowed ("+strings.Join(quoted, ", ")+" "+verb+" unexpected)")
			}
			// The /v2 endpoint lets an object made only of unknown
			// keys through.
		}
		if single {
			if len(md.keys) < 1 {
				return nil, fieldError(name, md, pyRepr(md)+" should be non-empty")
			}
			if len(md.keys) > 1 {
				return nil, fieldError(name, md, pyRepr(md)+" has too many properties")
			}
		}
	} else {
		return nil, pyRepr(name) + " is a required property"
	}
	if !legacy {
		var extra []string
		for _, k := range top.keys {
			if k != name {
				extra = append(extra, k)
			}
		}
		if len(extra) > 0 {
			slices.Sort(extra)
			quoted := make([]string, len(extra))
			for i, k := range extra {
				quoted[i] = pyRepr(k)
			}
			verb := "was"
			if len(extra) > 1 {
				verb = "were"
			}
			return nil, "Additional properties are not allowed (" + strings.Join(quoted, ", ") + " " + verb + " unexpected)"
		}
	}
	md, _ := top.vals[name].(*object)
	return md, ""
}

// fieldError is Nova's wording of a schema violation inside the body.
func fieldError(field string, value any, msg string) string {
	return "Invalid input for field/attribute " + field + ". Value: " + pyStr(value) + ". " + msg
}

// pyStr is Python's str() of a decoded JSON value.
func pyStr(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return pyRepr(v)
}

// pyRepr is Python's repr() of a decoded JSON value, as Nova's
// validation messages print it.
func pyRepr(v any) string {
	switch t := v.(type) {
	case nil:
		return "None"
	case bool:
		if t {
			return "True"
		}
		return "False"
	case string:
		return pyStrRepr(t)
	case json.Number:
		s := t.String()
		if !strings.ContainsAny(s, ".eE") {
			return s
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return s
		}
		if math.IsInf(f, 0) {
			if f > 0 {
				return "inf"
			}
			return "-inf"
		}
		out := strconv.FormatFloat(f, 'g', -1, 64)
		if strings.Contains(out, "e") {
			// Python spells exponents with at least two digits: 1e+20.
			mant, exp, _ := strings.Cut(out, "e")
			sign := exp[:1]
			digits := exp[1:]
			if len(digits) < 2 {
				digits = "0" + digits
			}
			abs := math.Abs(f)
			if abs >= 1e-4 && abs < 1e16 {
				out = strconv.FormatFloat(f, 'f', -1, 64)
				if !strings.Contains(out, ".") {
					out += ".0"
				}
				return out
			}
			return mant + "e" + sign + digits
		}
		if !strings.Contains(out, ".") {
			out += ".0"
		}
		return out
	case []any:
		parts := make([]string, len(t))
		for i, e := range t {
			parts[i] = pyRepr(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case *object:
		parts := make([]string, len(t.keys))
		for i, k := range t.keys {
			parts[i] = pyStrRepr(k) + ": " + pyRepr(t.vals[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return ""
}

// pyStrRepr quotes s as Python 3's repr does.
func pyStrRepr(s string) string {
	quote := byte('\'')
	if strings.Contains(s, "'") && !strings.Contains(s, `"`) {
		quote = '"'
	}
	var b strings.Builder
	b.WriteByte(quote)
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == rune(quote):
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			b.WriteString(`\x`)
			b.WriteString(hex2(int(r)))
		case r >= 0x80 && r < 0xa0:
			b.WriteString(`\x`)
			b.WriteString(hex2(int(r)))
		case !strconv.IsPrint(r) && r >= 0xa0:
			if r <= 0xffff {
				b.WriteString(`\u`)
				b.WriteString(hexN(int(r), 4))
			} else {
				b.WriteString(`\U`)
				b.WriteString(hexN(int(r), 8))
			}
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte(quote)
	return b.String()
}

func hex2(n int) string { return hexN(n, 2) }

func hexN(n, width int) string {
	s := strconv.FormatInt(int64(n), 16)
	for len(s) < width {
		s = "0" + s
	}
	return s
}

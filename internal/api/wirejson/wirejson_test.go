package wirejson

import (
	"encoding/json"
	"testing"
)

func TestObject(t *testing.T) {
	name := "x"
	got := string(NewObject().String("z", "first").StringPtr("name", &name).StringPtr("null", nil).
		Int("n", -3).IntPtr("size", nil).Bool("b", true).Strings("tags", []string{"a", "b"}).
		Strings("none", []string{}).Value("m", map[string]int{"k": 1}).Bytes())
	want := `{"z": "first", "name": "x", "null": null, "n": -3, "size": null, "b": true, "tags": ["a", "b"], "none": [], "m": {"k": 1}}`
	if got != want {
		t.Errorf("Object = %s, want %s", got, want)
	}
}

func TestAppendString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", `"plain"`},
		{`q"b\`, `"q\"b\\"`},
		{"tab\tnl\ncr\r", `"tab\tnl\ncr\r"`},
		{"\x01\x7f", `"\u0001\u007f"`},
		{"é", `"\u00e9"`},
		{"😀", `"\ud83d\ude00"`},
		{"<br />&", `"<br />&"`},
	}
	for _, tt := range tests {
		got := string(AppendString(nil, tt.in))
		if got != tt.want {
			t.Errorf("AppendString(%q) = %s, want %s", tt.in, got, tt.want)
		}
		var back string
		if err := json.Unmarshal([]byte(got), &back); err != nil || back != tt.in {
			t.Errorf("AppendString(%q) does not round-trip: %q, %v", tt.in, back, err)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	f.Add("a\"b\\c\u2028😀\x00")
	f.Fuzz(func(t *testing.T, s string) {
		var back string
		if err := json.Unmarshal(AppendString(nil, s), &back); err != nil {
			t.Fatalf("AppendString(%q) is not JSON: %v", s, err)
		}
		// Invalid UTF-8 is replaced, as encoding/json does; valid input
		// must round-trip.
		if isValidUTF8(s) && back != s {
			t.Fatalf("round trip of %q = %q", s, back)
		}
	})
}

func TestRespace(t *testing.T) {
	got := string(Respace([]byte(`{"a":[1,2],"b":"x,y:z","c":{"d":null}}`)))
	want := `{"a": [1, 2], "b": "x,y:z", "c": {"d": null}}`
	if got != want {
		t.Errorf("Respace = %s, want %s", got, want)
	}
}

func isValidUTF8(s string) bool {
	for _, r := range s {
		if r == '\uFFFD' {
			return false
		}
	}
	return true
}

// Unescaped spells documents as Python's json.dumps(..., ensure_ascii=False)
// does; the wants are Python's own output for the same values.
func TestUnescaped(t *testing.T) {
	for _, tc := range []struct {
		name, value, want string
	}{
		{"ascii", "plain", `{"k": "plain"}`},
		{"latin and symbols", "ünïcødé ✓ text", `{"k": "ünïcødé ✓ text"}`},
		{"above the BMP", "emoji 😀", `{"k": "emoji 😀"}`},
		{"controls stay escaped", "a\nb\tc\x01\b\f", `{"k": "a\nb\tc\u0001\b\f"}`},
		{"DEL is written as is", "x\x7fy", "{\"k\": \"x\x7fy\"}"},
		{"quotes and backslashes", `say "hi" \ bye`, `{"k": "say \"hi\" \\ bye"}`},
		{"an escape spelled out in the text", `\u00e9 and \\u00e9`, `{"k": "\\u00e9 and \\\\u00e9"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := string(Unescaped(NewObject().String("k", tc.value).Bytes()))
			if got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
			var back map[string]string
			if err := json.Unmarshal([]byte(got), &back); err != nil || back["k"] != tc.value {
				t.Errorf("decodes to %q (%v), want %q", back["k"], err, tc.value)
			}
		})
	}
	// Value goes through encoding/json: the same spelling, no HTML escapes.
	got := string(Unescaped(NewObject().Value("m", map[string]string{"a": "<é>&"}).Bytes()))
	if want := `{"m": {"a": "<é>&"}}`; got != want {
		t.Errorf("Value: got %s, want %s", got, want)
	}
	got = string(NewObject().Value("m", map[string]string{"a": "<é>&"}).Bytes())
	if want := `{"m": {"a": "<\u00e9>&"}}`; got != want {
		t.Errorf("Value, escaped: got %s, want %s", got, want)
	}
}

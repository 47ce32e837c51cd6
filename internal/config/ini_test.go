package config

import (
	"reflect"
	"strings"
	"testing"
)

// flatten applies the entries in order, so a repeated key keeps the last
// value, the way Load builds Raw.
func flatten(f *iniFile) map[string]map[string]string {
	m := map[string]map[string]string{}
	for _, s := range f.Sections {
		m[s] = map[string]string{}
	}
	for _, e := range f.Entries {
		m[e.Section][e.Key] = e.Value
	}
	return m
}

type sections = map[string]map[string]string

func TestParseINI(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		want  sections
		probs []string
	}{
		{
			name: "spacing around equals",
			in:   "[DEFAULT]\na = 1\nb=2\nc  =   3   \n",
			want: sections{"DEFAULT": {"a": "1", "b": "2", "c": "3"}},
		},
		{
			name: "colon separator",
			in:   "[DEFAULT]\na: 1\nb:2\n",
			want: sections{"DEFAULT": {"a": "1", "b": "2"}},
		},
		{
			name: "first of equals and colon separates",
			in:   "[database]\nconnection = mysql+pymysql://glance:pw@db/glance\nx: y=z\n",
			want: sections{"database": {"connection": "mysql+pymysql://glance:pw@db/glance", "x": "y=z"}},
		},
		{
			name: "full line comments",
			in:   "# top\n[DEFAULT]\n# a = 1\n; b = 2\nc = 3\n#d = 4\n",
			want: sections{"DEFAULT": {"c": "3"}},
		},
		{
			name: "no inline comments",
			in:   "[DEFAULT]\na = x # not a comment\nb = y ; nor this\n",
			want: sections{"DEFAULT": {"a": "x # not a comment", "b": "y ; nor this"}},
		},
		{
			name: "continuation lines",
			in:   "[DEFAULT]\na = one,\n  two,\n\tthree\nb = 2\n",
			want: sections{"DEFAULT": {"a": "one,\ntwo,\nthree", "b": "2"}},
		},
		{
			name: "comment ends a value, indented line after it is an error",
			in:   "[DEFAULT]\na = 1\n# c\n  more\n",
			want: sections{"DEFAULT": {"a": "1"}},
			probs: []string{
				`t.conf:4: continuation line without a preceding assignment: "  more"`,
			},
		},
		{
			name: "blank line ends a value",
			in:   "[DEFAULT]\na = 1\n\n  more\n",
			want: sections{"DEFAULT": {"a": "1"}},
			probs: []string{
				`t.conf:4: continuation line without a preceding assignment: "  more"`,
			},
		},
		{
			name: "repeated key last wins",
			in:   "[DEFAULT]\na = 1\na = 2\n[database]\nb = 1\n[DEFAULT]\na = 3\n",
			want: sections{"DEFAULT": {"a": "3"}, "database": {"b": "1"}},
		},
		{
			name: "keys are case-sensitive, sections lower-cased except DEFAULT",
			in:   "[DEFAULT]\nKey = 1\nkey = 2\n[Database]\nx = 1\n[Default]\ny = 1\n",
			want: sections{"DEFAULT": {"Key": "1", "key": "2"}, "database": {"x": "1"}, "default": {"y": "1"}},
		},
		{
			name: "blank values",
			in:   "[paste_deploy]\nflavor =\nconfig_file=\n",
			want: sections{"paste_deploy": {"flavor": "", "config_file": ""}},
		},
		{
			name: "one pair of matching quotes is stripped",
			in:   "[DEFAULT]\na = \"x y\"\nb = 'x'\nc = \"x'\nd = \"\ne = \"\"x\"\"\nf = x\"\n",
			want: sections{"DEFAULT": {"a": "x y", "b": "x", "c": "\"x'", "d": "", "e": "\"x\"", "f": "x\""}},
		},
		{
			name: "empty sections are kept",
			in:   "[DEFAULT]\n[glimpse]\n",
			want: sections{"DEFAULT": {}, "glimpse": {}},
		},
		{
			name: "CRLF and lone CR line endings and a byte order mark",
			in:   "\ufeff[DEFAULT]\r\na = 1\r\nb = 2\rc = 3\n",
			want: sections{"DEFAULT": {"a": "1", "b": "2", "c": "3"}},
		},
		{
			name: "every error is reported with its line",
			in:   "a = 0\n[DEFAULT]\nnoequals\n  cont of bad line\n= 1\n[broken\n[]\nok = 1\n",
			want: sections{"DEFAULT": {"ok": "1"}},
			probs: []string{
				`t.conf:1: assignment before any [section] header: "a"`,
				`t.conf:3: no '=' or ':' in assignment: "noequals"`,
				`t.conf:5: empty key: "= 1"`,
				`t.conf:6: section header must end with ]: "[broken"`,
				`t.conf:7: empty section name: "[]"`,
			},
		},
		{
			name: "continuation at the top of the file",
			in:   " x\n[DEFAULT]\n",
			want: sections{"DEFAULT": {}},
			probs: []string{
				`t.conf:1: continuation line without a preceding assignment: " x"`,
			},
		},
		{
			name: "section header with trailing text is an error as in oslo",
			in:   "[DEFAULT] # main\na = 1\n",
			want: sections{},
			probs: []string{
				`t.conf:1: section header must end with ]: "[DEFAULT] # main"`,
				`t.conf:2: assignment before any [section] header: "a"`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, probs := parseINI("t.conf", []byte(tt.in))
			if got := flatten(f); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("sections:\n got %q\nwant %q", got, tt.want)
			}
			if got := []string(probs); !reflect.DeepEqual(got, tt.probs) && len(got)+len(tt.probs) > 0 {
				t.Errorf("problems:\n got %q\nwant %q", got, tt.probs)
			}
		})
	}
}

func TestParseINILineNumbers(t *testing.T) {
	f, _ := parseINI("t.conf", []byte("[DEFAULT]\n\n# c\na = 1\n  2\nb = 3\n"))
	want := []iniEntry{
		{Section: "DEFAULT", Key: "a", Value: "1\n2", Line: 4},
		{Section: "DEFAULT", Key: "b", Value: "3", Line: 6},
	}
	if !reflect.DeepEqual(f.Entries, want) {
		t.Errorf("entries:\n got %+v\nwant %+v", f.Entries, want)
	}
}

func FuzzParseINI(f *testing.F) {
	for _, seed := range []string{
		"",
		"[DEFAULT]\na = 1\n",
		"[DEFAULT]\na = x,\n  y\n\n b\n",
		"a=1\n[\n[]\n[x]\n=\n:\n\"\n",
		"[DEFAULT]\nenabled_backends = a:file, b:http\nuser_storage_quota = 10GB\n",
		"\ufeff[glance_store]\r\ndefault_backend = 'a'\r",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		file, probs := parseINI("f", []byte(in))
		known := map[string]bool{}
		for _, s := range file.Sections {
			if s == "" {
				t.Fatalf("empty section name from %q", in)
			}
			known[s] = true
		}
		for _, e := range file.Entries {
			if e.Key == "" || !known[e.Section] || e.Line < 1 {
				t.Fatalf("bad entry %+v from %q", e, in)
			}
		}
		for _, p := range probs {
			if !strings.HasPrefix(p, "f:") {
				t.Fatalf("problem without location: %q", p)
			}
		}
		// The rest of loading must not panic on whatever the parser lets
		// through either.
		if _, _, err := load(file, probs, nil, nil); err == nil && len(probs) > 0 {
			t.Fatalf("parse problems lost for %q", in)
		}
	})
}

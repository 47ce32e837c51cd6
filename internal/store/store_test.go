package store_test

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"

	"glimpse/internal/store"
)

// fake is a driver that owns every URI of its scheme (it has no Owns).
type fake struct{ name string }

func (f *fake) Put(context.Context, string, io.Reader, int64) (string, int64, error) {
	return "", 0, store.ErrReadOnly
}
func (f *fake) Get(context.Context, string, int64, int64) (io.ReadCloser, int64, error) {
	return nil, 0, store.ErrNotFound
}
func (f *fake) Delete(context.Context, string) error      { return store.ErrNotFound }
func (f *fake) Capabilities() store.Capabilities          { return store.Capabilities{ReadOnly: true} }
func fakeFactory(map[string]string) (store.Driver, error) { return &fake{}, nil }

func mustPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s: got no panic, want one", what)
		}
	}()
	f()
}

var errFactory = errors.New("bad option")

func init() {
	store.Register("storetest-fake", fakeFactory)
	store.Register("storetest-failing", func(map[string]string) (store.Driver, error) { return nil, errFactory })
}

func TestRegister(t *testing.T) {
	mustPanic(t, "duplicate Register", func() { store.Register("storetest-fake", fakeFactory) })
	mustPanic(t, "Register with empty scheme", func() { store.Register("", fakeFactory) })
	mustPanic(t, "Register of nil factory", func() { store.Register("storetest-nil", nil) })

	d, err := store.Open("storetest-fake", nil)
	if err != nil {
		t.Fatalf("Open: got error %v, want nil", err)
	}
	if _, ok := d.(*fake); !ok {
		t.Errorf("Open: got %T, want *fake", d)
	}
	_, err = store.Open("storetest-missing", nil)
	var unknown *store.UnknownSchemeError
	if !errors.As(err, &unknown) || unknown.Scheme != "storetest-missing" {
		t.Errorf("Open of an unregistered type: got %v, want *UnknownSchemeError for storetest-missing", err)
	}
	if !strings.Contains(err.Error(), "storetest-fake") {
		t.Errorf("unknown-type message %q: want it to list the registered types", err)
	}
}

func TestOpenFactoryError(t *testing.T) {
	if _, err := store.Open("storetest-failing", nil); !errors.Is(err, errFactory) {
		t.Errorf("Open: got error %v, want it to wrap %v", err, errFactory)
	}
}

func TestNewSet(t *testing.T) {
	a, b := &fake{"a"}, &fake{"b"}
	cases := []struct {
		name     string
		def      string
		backends []store.Backend
		wantErr  string
	}{
		{"none", "x", nil, "no stores"},
		{"empty id", "", []store.Backend{{ID: "", Scheme: "x", Driver: a}}, "empty identifier"},
		{"nil driver", "a", []store.Backend{{ID: "a", Scheme: "x"}}, "no driver"},
		{"duplicate", "a", []store.Backend{{ID: "a", Driver: a}, {ID: "a", Driver: b}}, "twice"},
		{"missing default", "c", []store.Backend{{ID: "a", Driver: a}, {ID: "b", Driver: b}}, "not configured"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := store.NewSet(c.def, c.backends...)
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("NewSet: got error %v, want one containing %q", err, c.wantErr)
			}
		})
	}
}

func TestSet(t *testing.T) {
	a, b := &fake{"a"}, &fake{"b"}
	s, err := store.NewSet("web", store.Backend{ID: "web", Scheme: "http", Driver: a}, store.Backend{ID: "cloud", Scheme: "swift", Driver: b})
	if err != nil {
		t.Fatal(err)
	}
	if s.Default() != store.Driver(a) || s.DefaultID() != "web" {
		t.Errorf("Default: got %q, want web", s.DefaultID())
	}
	if got := s.IDs(); len(got) != 2 || got[0] != "cloud" || got[1] != "web" {
		t.Errorf("IDs: got %q, want [cloud web]", got)
	}
	if d, ok := s.Lookup("cloud"); !ok || d != store.Driver(b) {
		t.Errorf("Lookup(cloud): got %v, %t; want driver b", d, ok)
	}
	if _, ok := s.Lookup("nope"); ok {
		t.Errorf("Lookup(nope): got found, want not found")
	}
	for _, c := range []struct{ uri, want string }{
		{"http://example.com/img", "web"},
		{"HTTP://example.com/img", "web"},
		{"swift://acct:user:key@host/container/obj", "cloud"},
		{"rbd://fsid/pool/img/snap", ""},
		{"no scheme", ""},
		{"", ""},
	} {
		id, _, err := s.ForURI(c.uri)
		if c.want == "" {
			if !errors.Is(err, store.ErrBadLocation) {
				t.Errorf("ForURI(%q): got %q, %v; want %v", c.uri, id, err, store.ErrBadLocation)
			}
			continue
		}
		if err != nil || id != c.want {
			t.Errorf("ForURI(%q): got %q, %v; want %q", c.uri, id, err, c.want)
		}
	}
}

func TestScheme(t *testing.T) {
	for in, want := range map[string]string{
		"file:///var/lib/glance/images/x": "file",
		"FILE:///x":                       "file",
		"swift+https://h/x":               "swift+https",
		"cinder://vol":                    "cinder",
		"://x":                            "",
		"1http://x":                       "",
		"/var/lib/x":                      "",
		"a b://x":                         "",
		"":                                "",
	} {
		if got := store.Scheme(in); got != want {
			t.Errorf("Scheme(%q): got %q, want %q", in, got, want)
		}
	}
}

func TestErrorMatching(t *testing.T) {
	cause := &os.PathError{Op: "write", Path: "/d/.x.tmp", Err: syscall.ENOSPC}
	err := error(&store.Error{Op: "put", Location: "x", Kind: store.ErrNoSpace, Err: cause})
	if !errors.Is(err, store.ErrNoSpace) || !errors.Is(err, syscall.ENOSPC) || errors.Is(err, store.ErrNotFound) {
		t.Errorf("errors.Is on %v: want ErrNoSpace and ENOSPC only", err)
	}
	if want := "store: put x: no space left: write /d/.x.tmp: no space left on device"; err.Error() != want {
		t.Errorf("message: got %q, want %q", err.Error(), want)
	}
	ctxErr := error(&store.Error{Op: "put", Location: "x", Err: context.Canceled})
	if !errors.Is(ctxErr, context.Canceled) || errors.Is(ctxErr, store.ErrUnavailable) {
		t.Errorf("errors.Is on %v: want context.Canceled only", ctxErr)
	}
}

// TestFileSectionCopy checks that Copy hands a section's limited reader
// over and that Close closes the file.
func TestFileSectionCopy(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "section")
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("0123456789")
	f.Seek(3, io.SeekStart)
	s := &store.FileSection{LimitedReader: &io.LimitedReader{R: f, N: 4}, File: f}
	var b strings.Builder
	n, err := store.Copy(&b, s)
	if err != nil || n != 4 || b.String() != "3456" {
		t.Errorf("Copy: got %d, %q, %v; want 4, %q, nil", n, b.String(), err, "3456")
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: got %v, want nil", err)
	}
	if _, err := f.Read(make([]byte, 1)); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Read after Close: got %v, want %v", err, os.ErrClosed)
	}
}

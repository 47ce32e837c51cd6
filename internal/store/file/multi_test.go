package file

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"glimpse/internal/store"
	"glimpse/internal/store/storetest"
)

// newMulti opens a Multi over directories named as in spec ("name" or
// "name:priority", in listed order) under a fresh temporary directory, and
// returns it with that directory.
func newMulti(t testing.TB, spec ...string) (*Multi, string) {
	t.Helper()
	root := t.TempDir()
	entries := make([]string, len(spec))
	for i, s := range spec {
		entries[i] = filepath.Join(root, s)
	}
	d, err := Open(map[string]string{"filesystem_store_datadirs": strings.Join(entries, ",")})
	if err != nil {
		t.Fatalf("Open: got error %v, want nil", err)
	}
	m, ok := d.(*Multi)
	if !ok {
		t.Fatalf("Open with filesystem_store_datadirs: got %T, want *file.Multi", d)
	}
	return m, root
}

// fakeFree makes m see the free space in free (keyed by directory name
// under root); a directory missing from it fails with EIO.
func fakeFree(m *Multi, root string, free map[string]int64) {
	m.FreeSpace = func(dir string) (int64, error) {
		n, ok := free[strings.TrimPrefix(dir, root+"/")]
		if !ok {
			return 0, &os.PathError{Op: "statfs", Path: dir, Err: syscall.EIO}
		}
		return n, nil
	}
}

// multiEntries lists the entries of every directory of m as
// "<directory name>/<entry>".
func multiEntries(t *testing.T, m *Multi) []string {
	t.Helper()
	var out []string
	for _, dir := range m.Dirs() {
		for _, n := range listDir(t, dir) {
			out = append(out, filepath.Base(dir)+"/"+n)
		}
	}
	slices.Sort(out)
	return out
}

func TestMultiConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Driver {
		m, _ := newMulti(t, "low:1", "high-a:5", "high-b:5")
		return m
	}, storetest.Options{
		Leftovers: func(t *testing.T, d store.Driver) []string { return multiEntries(t, d.(*Multi)) },
		BadURIs: func(t *testing.T, d store.Driver, valid string) []string {
			name := filepath.Base(valid)
			dirs := d.(*Multi).Dirs()
			bad := []string{
				"file:///etc/passwd",
				valid + "/../../../etc/passwd",
				"file://" + filepath.Dir(dirs[0]) + "/" + name,
				"file://" + filepath.Dir(dirs[0]) + "/other/" + name,
				"http://127.0.0.1/" + name,
			}
			for _, dir := range dirs {
				bad = append(bad,
					"file://"+dir+"x/"+name,
					"file://"+dir+"/sub/"+name,
					"file://"+dir,
					"file://"+dir+"/",
					"file://"+dir+"/."+name+".0123456789abcdef.tmp",
					"file://"+strings.TrimPrefix(dir, "/")+"/"+name,
					"file://"+dir+"/"+name+"\x00",
				)
			}
			return bad
		},
	})
}

func TestMultiChoice(t *testing.T) {
	cases := []struct {
		name    string
		spec    []string
		free    map[string]int64
		size    int64 // -1: unknown (the data is then 5 bytes)
		want    string
		wantErr error
	}{
		{"priority before free space", []string{"small:10", "big:0"}, map[string]int64{"small": 100, "big": 1000}, 50, "small", nil},
		{"listed order does not matter", []string{"big:0", "small:10"}, map[string]int64{"small": 100, "big": 1000}, 50, "small", nil},
		{"higher priority too small", []string{"small:10", "big:0"}, map[string]int64{"small": 10, "big": 1000}, 50, "big", nil},
		{"exactly the free space", []string{"small:10", "big:0"}, map[string]int64{"small": 50, "big": 1000}, 50, "small", nil},
		{"equal priority: most free", []string{"a:3", "b:3", "c:3"}, map[string]int64{"a": 100, "b": 300, "c": 200}, 50, "b", nil},
		{"equal priority and free space: listed first", []string{"a:3", "b:3"}, map[string]int64{"a": 300, "b": 300}, 50, "a", nil},
		{"equal priority: most free too small", []string{"a", "b", "c"}, map[string]int64{"a": 100, "b": 30, "c": 60}, 80, "a", nil},
		{"default priority is zero", []string{"neg:-1", "plain", "pos:1"}, map[string]int64{"neg": 900, "plain": 100, "pos": 10}, 50, "plain", nil},
		{"unknown size: best by priority", []string{"a:1", "b:2"}, map[string]int64{"a": 500, "b": 1}, -1, "b", nil},
		{"unknown size: full directory skipped", []string{"a:1", "b:2"}, map[string]int64{"a": 500, "b": 0}, -1, "a", nil},
		{"empty image needs some free space", []string{"a:1", "b:2"}, map[string]int64{"a": 1, "b": 0}, 0, "a", nil},
		{"statfs failure skipped", []string{"a:2", "b:1"}, map[string]int64{"b": 100}, 50, "b", nil},
		{"too big for all", []string{"a:2", "b:1", "c:1"}, map[string]int64{"a": 49, "b": 10, "c": 0}, 50, "", store.ErrNoSpace},
		{"unknown size and all full", []string{"a", "b"}, map[string]int64{"a": 0, "b": 0}, -1, "", store.ErrNoSpace},
		{"statfs failing everywhere", []string{"a", "b"}, map[string]int64{}, 50, "", store.ErrUnavailable},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, root := newMulti(t, c.spec...)
			fakeFree(m, root, c.free)
			n := c.size
			if n < 0 {
				n = 5
			}
			data := bytes.Repeat([]byte("x"), int(n))
			uri, n, err := m.Put(context.Background(), imageID, bytes.NewReader(data), c.size)
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("Put: got error %v, want %v", err, c.wantErr)
				}
				if got := multiEntries(t, m); len(got) != 0 {
					t.Errorf("after the refused Put: got entries %q, want none", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Put: got error %v, want nil", err)
			}
			if want := "file://" + filepath.Join(root, c.want, imageID); uri != want {
				t.Errorf("Put: got location %s, want %s", uri, want)
			}
			if n != int64(len(data)) {
				t.Errorf("Put: got %d bytes written, want %d", n, len(data))
			}
			if got, want := multiEntries(t, m), []string{c.want + "/" + imageID}; !slices.Equal(got, want) {
				t.Errorf("entries: got %q, want %q", got, want)
			}
		})
	}
}

func TestMultiNoSpaceMessage(t *testing.T) {
	m, root := newMulti(t, "a", "b")
	fakeFree(m, root, map[string]int64{"a": 10, "b": 20})
	_, _, err := m.Put(context.Background(), imageID, strings.NewReader("0123456789abcdefghijklmnopqrstuvwxyz"), 36)
	var se *store.Error
	if !errors.As(err, &se) || se.Op != "put" || se.Location != imageID || se.Kind != store.ErrNoSpace {
		t.Fatalf("Put of 36 bytes with 10 and 20 free: got %#v, want a put *store.Error of kind ErrNoSpace for %s", err, imageID)
	}
	if got, want := err.Error(), "no store directory has 36 bytes free"; !strings.Contains(got, want) {
		t.Errorf("error: got %q, want it to contain %q", got, want)
	}
}

func TestMultiFreeSpace(t *testing.T) {
	dir := t.TempDir()
	if n, err := freeSpace(dir); err != nil || n <= 0 {
		t.Errorf("freeSpace(%s): got %d, %v; want > 0, nil", dir, n, err)
	}
	missing := filepath.Join(dir, "missing")
	if _, err := freeSpace(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("freeSpace(%s): got error %v, want %v", missing, err, os.ErrNotExist)
	}
	m, _ := newMulti(t, "a")
	if m.FreeSpace == nil {
		t.Fatal("FreeSpace of an opened Multi: got nil, want statfs")
	}
	if _, err := m.FreeSpace(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("default FreeSpace(%s): got error %v, want %v", missing, err, os.ErrNotExist)
	}
}

// TestMultiLowerPriorityData: data that went to the lower-priority
// directory (the other was full) is found, sized and deleted through its
// location once the preferred directory has room again.
func TestMultiLowerPriorityData(t *testing.T) {
	ctx := context.Background()
	m, root := newMulti(t, "fast:9", "slow:1")
	fakeFree(m, root, map[string]int64{"fast": 0, "slow": 1 << 30})
	data := []byte("stored on the slow disk")
	uri, _, err := m.Put(ctx, imageID, bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("Put: got error %v, want nil", err)
	}
	slowURI := "file://" + filepath.Join(root, "slow", imageID)
	if uri != slowURI {
		t.Fatalf("Put with the fast directory full: got location %s, want %s", uri, slowURI)
	}
	fakeFree(m, root, map[string]int64{"fast": 1 << 30, "slow": 1 << 30})

	if got := m.Location(imageID); got != slowURI {
		t.Errorf("Location(%s) of stored data: got %s, want %s", imageID, got, slowURI)
	}
	if !m.Owns(uri) {
		t.Errorf("Owns(%s): got false, want true", uri)
	}
	rc, size, err := m.Get(ctx, uri, 0, -1)
	if err != nil {
		t.Fatalf("Get: got error %v, want nil", err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if string(got) != string(data) || size != int64(len(data)) {
		t.Errorf("Get: got %q (size %d), want %q (size %d)", got, size, data, len(data))
	}
	rc, _, err = m.Get(ctx, uri, 7, 2)
	if err != nil {
		t.Fatalf("Get of a range: got error %v, want nil", err)
	}
	got, _ = io.ReadAll(rc)
	rc.Close()
	if string(got) != "on" {
		t.Errorf("Get of bytes 7-8: got %q, want %q", got, "on")
	}
	if n, err := m.Stat(ctx, uri); err != nil || n != int64(len(data)) {
		t.Errorf("Stat: got %d, %v; want %d, nil", n, err, len(data))
	}

	// The same ID is refused although Put would now choose the other
	// directory.
	_, _, err = m.Put(ctx, imageID, strings.NewReader("again"), 5)
	if !errors.Is(err, store.ErrExists) {
		t.Errorf("second Put of %s: got error %v, want %v", imageID, err, store.ErrExists)
	}
	if got, want := multiEntries(t, m), []string{"slow/" + imageID}; !slices.Equal(got, want) {
		t.Errorf("entries after the refused Put: got %q, want %q", got, want)
	}

	if err := m.Delete(ctx, uri); err != nil {
		t.Fatalf("Delete: got error %v, want nil", err)
	}
	if got := multiEntries(t, m); len(got) != 0 {
		t.Errorf("entries after Delete: got %q, want none", got)
	}
	if _, _, err := m.Get(ctx, uri, 0, -1); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get after Delete: got error %v, want %v", err, store.ErrNotFound)
	}
	if err := m.Delete(ctx, uri); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second Delete: got error %v, want %v", err, store.ErrNotFound)
	}
	if got, want := m.Location(imageID), "file://"+filepath.Join(root, "fast", imageID); got != want {
		t.Errorf("Location(%s) without data: got %s, want %s (the preferred directory)", imageID, got, want)
	}
}

func TestMultiBadLocations(t *testing.T) {
	ctx := context.Background()
	m, root := newMulti(t, "a:2", "b:1")
	outside := filepath.Join(root, "c")
	if err := os.Mkdir(outside, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, imageID), []byte("not ours"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, imageID), []byte("not ours"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := []string{
		"file://" + filepath.Join(outside, imageID),
		"file://" + filepath.Join(root, imageID),
		"file://" + filepath.Join(root, "a") + "/../c/" + imageID,
		"file://" + filepath.Join(root, "a", "b", imageID),
		"file://" + filepath.Join(root, "b") + "/.x.0123456789abcdef.tmp",
		"file://" + strings.TrimPrefix(filepath.Join(root, "a", imageID), "/"),
		"swift://account:user:key@127.0.0.1/glance/" + imageID,
	}
	for _, u := range bad {
		t.Run(u, func(t *testing.T) {
			if m.Owns(u) {
				t.Errorf("Owns: got true, want false")
			}
			if _, _, err := m.Get(ctx, u, 0, -1); !errors.Is(err, store.ErrBadLocation) {
				t.Errorf("Get: got error %v, want %v", err, store.ErrBadLocation)
			}
			if _, err := m.Stat(ctx, u); !errors.Is(err, store.ErrBadLocation) {
				t.Errorf("Stat: got error %v, want %v", err, store.ErrBadLocation)
			}
			if err := m.Delete(ctx, u); !errors.Is(err, store.ErrBadLocation) {
				t.Errorf("Delete: got error %v, want %v", err, store.ErrBadLocation)
			}
		})
	}
	for _, p := range []string{filepath.Join(outside, imageID), filepath.Join(root, imageID)} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("file outside the store directories after the refused Deletes: got %v, want it kept", err)
		}
	}
	for _, dir := range []string{"a", "b"} {
		u := "file://" + filepath.Join(root, dir, imageID)
		if !m.Owns(u) {
			t.Errorf("Owns(%s) of a missing image in a store directory: got false, want true", u)
		}
		if _, _, err := m.Get(ctx, u, 0, -1); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get(%s): got error %v, want %v", u, err, store.ErrNotFound)
		}
	}
}

func TestOpenDatadirs(t *testing.T) {
	tmp := t.TempDir()
	notDir := filepath.Join(tmp, "plain")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	p := func(name string) string { return filepath.Join(tmp, name) }
	cases := []struct {
		name         string
		sec          map[string]string
		want         []Datadir // in the order Put considers them
		wantWarnings int
		wantErr      string
	}{
		{"priorities", map[string]string{"filesystem_store_datadirs": p("a") + ":5, " + p("b") + " : 7 ," + p("c")},
			[]Datadir{{p("b"), 7}, {p("a"), 5}, {p("c"), 0}}, 0, ""},
		{"newline separated", map[string]string{"filesystem_store_datadirs": p("a") + "\n" + p("b") + ":1"},
			[]Datadir{{p("b"), 1}, {p("a"), 0}}, 0, ""},
		{"signed priorities", map[string]string{"filesystem_store_datadirs": p("a") + ":-1," + p("b") + ":+2," + p("c")},
			[]Datadir{{p("b"), 2}, {p("c"), 0}, {p("a"), -1}}, 0, ""},
		{"equal priorities keep listed order", map[string]string{"filesystem_store_datadirs": p("z") + ":3," + p("y") + ":3"},
			[]Datadir{{p("z"), 3}, {p("y"), 3}}, 0, ""},
		{"empty priority", map[string]string{"filesystem_store_datadirs": p("a") + ":"},
			[]Datadir{{p("a"), 0}}, 0, ""},
		{"colon in the path", map[string]string{"filesystem_store_datadirs": p("x:y") + ":4"},
			[]Datadir{{p("x:y"), 4}}, 0, ""},
		{"blank entries skipped", map[string]string{"filesystem_store_datadirs": " ," + p("a") + ",\n,"},
			[]Datadir{{p("a"), 0}}, 0, ""},
		{"same directory and priority twice", map[string]string{"filesystem_store_datadirs": p("a") + ":3," + p("b") + "," + p("a") + "/:3"},
			[]Datadir{{p("a"), 3}, {p("b"), 0}}, 1, ""},
		{"same directory, other priority", map[string]string{"filesystem_store_datadirs": p("a") + ":3," + p("a") + ":4"},
			nil, 0, "listed more than once"},
		{"same directory spelled differently", map[string]string{"filesystem_store_datadirs": p("a") + "," + p("b") + "/../a:1"},
			nil, 0, "listed more than once"},
		{"both options", map[string]string{"filesystem_store_datadir": p("a"), "filesystem_store_datadirs": p("b")},
			nil, 0, "specify either filesystem_store_datadir or filesystem_store_datadirs"},
		{"neither option", map[string]string{"filesystem_store_file_perm": "640"},
			nil, 0, "specify at least filesystem_store_datadir or filesystem_store_datadirs"},
		{"priority not a number", map[string]string{"filesystem_store_datadirs": p("a") + ":high"},
			nil, 0, `invalid priority "high"`},
		{"priority not an integer", map[string]string{"filesystem_store_datadirs": p("a") + ":1.5"},
			nil, 0, `invalid priority "1.5"`},
		{"no directory", map[string]string{"filesystem_store_datadirs": p("a") + ", :5"},
			nil, 0, "invalid directory"},
		{"only separators", map[string]string{"filesystem_store_datadirs": ", ,\n,"},
			nil, 0, "lists no directory"},
		{"blank", map[string]string{"filesystem_store_datadirs": " \n "},
			nil, 0, "specify at least"},
		{"a file, not a directory", map[string]string{"filesystem_store_datadirs": p("a") + "," + notDir},
			nil, 0, "not a directory"},
		{"bad file perm", map[string]string{"filesystem_store_datadirs": p("a"), "filesystem_store_file_perm": "200"},
			nil, 0, "unreadable"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := store.Open("file", c.sec)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("Open: got error %v, want one containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open: got error %v, want nil", err)
			}
			m, ok := d.(*Multi)
			if !ok {
				t.Fatalf("Open: got %T, want *file.Multi", d)
			}
			var got []Datadir
			for i, dir := range m.Dirs() {
				got = append(got, Datadir{dir, m.prio[i]})
				if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
					t.Errorf("datadir %s: got %v, want a directory", dir, err)
				}
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("directories (-want +got):\n%s", diff)
			}
			if got := m.Warnings(); len(got) != c.wantWarnings {
				t.Errorf("Warnings: got %q, want %d", got, c.wantWarnings)
			}
		})
	}
}

func TestOpenDatadirsOptions(t *testing.T) {
	tmp := t.TempDir()
	d, err := Open(map[string]string{
		"filesystem_store_datadirs":   filepath.Join(tmp, "a") + ":1," + filepath.Join(tmp, "b") + ":2",
		"filesystem_store_file_perm":  "640",
		"filesystem_store_chunk_size": "4194304",
	})
	if err != nil {
		t.Fatalf("Open: got error %v, want nil", err)
	}
	m := d.(*Multi)
	for _, fd := range m.Drivers() {
		if fd.perm != 0o640 || fd.bufSize != 4194304 {
			t.Errorf("driver of %s: got perm %#o, buffer %d; want 0640, 4194304", fd.Dir(), fd.perm, fd.bufSize)
		}
	}
	uri, _, err := m.Put(context.Background(), imageID, strings.NewReader("data"), 4)
	if err != nil {
		t.Fatalf("Put: got error %v, want nil", err)
	}
	fi, err := os.Stat(strings.TrimPrefix(uri, "file://"))
	if err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("image file: got %v, %v; want mode 0640", fi, err)
	}
	if got := m.Capabilities(); got != (store.Capabilities{RandomRead: true, LocalFile: true}) {
		t.Errorf("Capabilities: got %+v, want RandomRead and LocalFile", got)
	}
}

func TestMultiCleanTemp(t *testing.T) {
	ctx := context.Background()
	m, root := newMulti(t, "a:2", "b:1")
	fakeFree(m, root, map[string]int64{"a": 1 << 30, "b": 1 << 30})
	stale := []string{"a/.dead-1.0123456789abcdef.tmp", "b/.dead-2.fedcba9876543210.tmp"}
	keep := []string{"a/.hidden", "b/.x.0123.tmp"}
	for _, n := range append(slices.Clone(stale), keep...) {
		if err := os.WriteFile(filepath.Join(root, n), []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// A live writer in each directory: an upload through m (to a) and a
	// writer in b, as another process's would be.
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, _, err := m.Put(ctx, "in-flight", pr, -1)
		done <- err
	}()
	pw.Write([]byte("first part"))
	waitFor(t, func() bool { return m.UploadInProgress("in-flight") })
	other, err := New(filepath.Join(root, "b"))
	if err != nil {
		t.Fatal(err)
	}
	f, tmp, err := other.createTemp("elsewhere")
	if err != nil {
		t.Fatalf("createTemp: %v", err)
	}
	defer func() {
		f.Close()
		os.Remove(tmp)
	}()

	for _, c := range []struct {
		id   string
		want bool
	}{{"in-flight", true}, {"elsewhere", true}, {"dead-1", false}, {"dead-2", false}, {"nothing", false}} {
		if got := m.UploadInProgress(c.id); got != c.want {
			t.Errorf("UploadInProgress(%s): got %v, want %v", c.id, got, c.want)
		}
	}

	removed, err := m.CleanTemp()
	if err != nil || removed != len(stale) {
		t.Errorf("CleanTemp: got %d removed, error %v; want %d, nil", removed, err, len(stale))
	}
	got := multiEntries(t, m)
	for _, n := range stale {
		if slices.Contains(got, n) {
			t.Errorf("after CleanTemp: %s still there", n)
		}
	}
	for _, n := range keep {
		if !slices.Contains(got, n) {
			t.Errorf("after CleanTemp: %s removed, want it kept", n)
		}
	}
	if _, err := os.Stat(tmp); err != nil {
		t.Errorf("temporary file of the live writer in b: got %v, want it kept", err)
	}
	pw.Write([]byte(", second part"))
	pw.Close()
	if err := <-done; err != nil {
		t.Fatalf("in-flight Put: got error %v, want nil", err)
	}
	b, err := os.ReadFile(filepath.Join(root, "a", "in-flight"))
	if err != nil || string(b) != "first part, second part" {
		t.Errorf("in-flight image: got %q, %v; want %q", b, err, "first part, second part")
	}
}

// TestMultiPutRaceAcrossProcesses: two stores on the same directories (two
// processes) that choose different directories for one image ID. The one
// that stores it first wins; the other, finding the ID in the other
// directory once its own file is in place, removes it and reports
// ErrExists.
func TestMultiPutRaceAcrossProcesses(t *testing.T) {
	ctx := context.Background()
	m1, root := newMulti(t, "a", "b")
	m2, err := Open(map[string]string{"filesystem_store_datadirs": filepath.Join(root, "a") + "," + filepath.Join(root, "b")})
	if err != nil {
		t.Fatal(err)
	}
	fakeFree(m1, root, map[string]int64{"a": 100, "b": 10})
	fakeFree(m2.(*Multi), root, map[string]int64{"a": 10, "b": 100})

	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, _, err := m1.Put(ctx, imageID, pr, -1)
		done <- err
	}()
	pw.Write([]byte("slow"))
	waitFor(t, func() bool { return m2.(*Multi).UploadInProgress(imageID) })
	uri, _, err := m2.Put(ctx, imageID, strings.NewReader("fast"), 4)
	if err != nil {
		t.Fatalf("second process's Put: got error %v, want nil", err)
	}
	pw.Close()
	if err := <-done; !errors.Is(err, store.ErrExists) {
		t.Errorf("first process's Put, finishing last: got error %v, want %v", err, store.ErrExists)
	}
	if got, want := multiEntries(t, m1), []string{"b/" + imageID}; !slices.Equal(got, want) {
		t.Errorf("entries: got %q, want %q", got, want)
	}
	rc, _, err := m1.Get(ctx, uri, 0, -1)
	if err != nil {
		t.Fatalf("Get(%s): %v", uri, err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "fast" {
		t.Errorf("stored data: got %q, want %q", b, "fast")
	}
}

// TestMultiPutSameIDWaits: a second Put of an ID in this process waits for
// the first, and gives up when its context ends.
func TestMultiPutSameIDWaits(t *testing.T) {
	m, _ := newMulti(t, "a", "b")
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, _, err := m.Put(context.Background(), imageID, pr, -1)
		done <- err
	}()
	pw.Write([]byte("x"))
	waitFor(t, func() bool { return m.UploadInProgress(imageID) })

	ctx, cancel := context.WithCancel(context.Background())
	second := make(chan error, 1)
	go func() {
		_, _, err := m.Put(ctx, imageID, strings.NewReader("y"), 1)
		second <- err
	}()
	cancel()
	if err := <-second; !errors.Is(err, context.Canceled) {
		t.Errorf("waiting Put with its context cancelled: got error %v, want %v", err, context.Canceled)
	}
	pw.Close()
	if err := <-done; err != nil {
		t.Fatalf("first Put: got error %v, want nil", err)
	}
	if _, _, err := m.Put(context.Background(), imageID, strings.NewReader("y"), 1); !errors.Is(err, store.ErrExists) {
		t.Errorf("Put after the first finished: got error %v, want %v", err, store.ErrExists)
	}
	if got := len(multiEntries(t, m)); got != 1 {
		t.Errorf("entries: got %d, want 1", got)
	}
}

func TestMultiRegisteredSet(t *testing.T) {
	m, root := newMulti(t, "a:1", "b:2")
	set, err := store.NewSet("file", store.Backend{ID: "file", Scheme: "file", Driver: m})
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{"a", "b"} {
		u := "file://" + filepath.Join(root, dir, imageID)
		if id, _, err := set.ForURI(u); err != nil || id != "file" {
			t.Errorf("ForURI(%s): got %q, %v; want file, nil", u, id, err)
		}
	}
	u := fmt.Sprintf("file://%s/%s", root, imageID)
	if _, _, err := set.ForURI(u); !errors.Is(err, store.ErrBadLocation) {
		t.Errorf("ForURI(%s): got error %v, want %v", u, err, store.ErrBadLocation)
	}
}

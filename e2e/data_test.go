//go:build linux

package e2e

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"glimpse/internal/catalog/sqlcat/sqlcattest"
)

// dataHTTP bounds every request the data tests make themselves.
var dataHTTP = &http.Client{Timeout: 60 * time.Second}

// dataBin returns GLIMPSE_BIN, skipping when it is not set (these tests
// need glimpse's own process and data directory).
func dataBin(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("GLIMPSE_BIN")
	if bin == "" {
		t.Skip("GLIMPSE_BIN is not set: scripts/test.sh builds glimpse and runs these tests with it")
	}
	return bin
}

// dataDo sends one request and returns the status and body.
func dataDo(t *testing.T, method, url, ctype string, body io.Reader) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := dataHTTP.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, url, err)
	}
	return resp.StatusCode, b
}

// dataCreate creates a raw/bare image and returns its id.
func dataCreate(t *testing.T, base, name string) string {
	t.Helper()
	body := fmt.Sprintf(`{"name": %q, "disk_format": "raw", "container_format": "bare"}`, name)
	code, b := dataDo(t, http.MethodPost, base+"/v2/images", "application/json", strings.NewReader(body))
	if code != http.StatusCreated {
		t.Fatalf("POST /v2/images: got %d %s, want 201", code, b)
	}
	var img struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(b, &img); err != nil || img.ID == "" {
		t.Fatalf("POST /v2/images: no id in %s (%v)", b, err)
	}
	return img.ID
}

// dataImage is what the data tests read of an image.
type dataImage struct {
	Status   string  `json:"status"`
	Size     *int64  `json:"size"`
	Checksum *string `json:"checksum"`
	HashVal  *string `json:"os_hash_value"`
}

func dataShow(t *testing.T, base, id string) dataImage {
	t.Helper()
	code, b := dataDo(t, http.MethodGet, base+"/v2/images/"+id, "", nil)
	if code != http.StatusOK {
		t.Fatalf("GET /v2/images/%s: got %d %s, want 200", id, code, b)
	}
	var img dataImage
	if err := json.Unmarshal(b, &img); err != nil {
		t.Fatalf("GET /v2/images/%s: %v in %s", id, err, b)
	}
	return img
}

// dataWantQueued checks that an image is queued with no data recorded.
func dataWantQueued(t *testing.T, base, id string) {
	t.Helper()
	img := dataShow(t, base, id)
	if img.Status != "queued" || img.Size != nil || img.Checksum != nil || img.HashVal != nil {
		t.Errorf("image %s: got status %q, size %v, checksum %v, hash %v; want queued with no size, checksum or hash",
			id, img.Status, img.Size, img.Checksum, img.HashVal)
	}
}

// dataUpload stores data for an image and checks the answer is 204.
func dataUpload(t *testing.T, base, id string, data []byte) {
	t.Helper()
	code, b := dataDo(t, http.MethodPut, base+"/v2/images/"+id+"/file", "application/octet-stream", bytes.NewReader(data))
	if code != http.StatusNoContent {
		t.Fatalf("PUT /v2/images/%s/file: got %d %s, want 204", id, code, b)
	}
}

// dataWantDownload checks that an image's data is exactly want.
func dataWantDownload(t *testing.T, base, id string, want []byte) {
	t.Helper()
	code, b := dataDo(t, http.MethodGet, base+"/v2/images/"+id+"/file", "", nil)
	if code != http.StatusOK {
		t.Fatalf("GET /v2/images/%s/file: got %d, want 200", id, code)
	}
	if !bytes.Equal(b, want) {
		t.Errorf("GET /v2/images/%s/file: got %d bytes (md5 %x), want %d bytes (md5 %x)", id, len(b), md5.Sum(b), len(want), md5.Sum(want))
	}
}

func dataRandom(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// dataStoreFiles lists the store directory of a data directory: image
// files and temporary files (hidden, ending in .tmp) apart.
func dataStoreFiles(t *testing.T, dataDir string) (images, temps []string) {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dataDir, "images"))
	if err != nil {
		t.Fatalf("store directory: %v", err)
	}
	for _, e := range ents {
		n := e.Name()
		if strings.HasPrefix(n, ".") && strings.HasSuffix(n, ".tmp") {
			temps = append(temps, n)
		} else {
			images = append(images, n)
		}
	}
	return images, temps
}

// dataTempSize returns the size of the image's temporary file, -1 if none.
func dataTempSize(t *testing.T, dataDir, id string) int64 {
	t.Helper()
	_, temps := dataStoreFiles(t, dataDir)
	for _, n := range temps {
		if strings.HasPrefix(n, "."+id+".") {
			fi, err := os.Stat(filepath.Join(dataDir, "images", n))
			if err == nil {
				return fi.Size()
			}
		}
	}
	return -1
}

// dataWait polls cond every 20 ms for up to 30 s.
func dataWait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 30 s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// rawUpload is an upload written by hand on a TCP connection, so that the
// test decides when the bytes go and when the client vanishes.
type rawUpload struct {
	t    *testing.T
	conn net.Conn
}

// startRawUpload sends the request head of PUT /v2/images/<id>/file with
// the given Content-Length and no body yet.
func startRawUpload(t *testing.T, base, id string, length int64) *rawUpload {
	t.Helper()
	host := strings.TrimPrefix(base, "http://")
	conn, err := net.DialTimeout("tcp", host, 10*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", host, err)
	}
	t.Cleanup(func() { conn.Close() })
	head := fmt.Sprintf("PUT /v2/images/%s/file HTTP/1.1\r\nHost: %s\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n", id, host, length)
	conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatalf("upload request head: %v", err)
	}
	return &rawUpload{t: t, conn: conn}
}

// send writes data in 1 MiB pieces, pausing between them.
func (u *rawUpload) send(data []byte, pause time.Duration) {
	u.t.Helper()
	for len(data) > 0 {
		n := min(len(data), 1<<20)
		u.conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
		if _, err := u.conn.Write(data[:n]); err != nil {
			u.t.Fatalf("upload body: %v", err)
		}
		data = data[n:]
		time.Sleep(pause)
	}
}

// response reads the server's answer to the upload.
func (u *rawUpload) response() (int, string) {
	u.t.Helper()
	u.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(u.conn), nil)
	if err != nil {
		u.t.Fatalf("upload response: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestInterruptedUploads: an upload cut short, by the client going away
// or by the server being killed, leaves the image queued with no data and
// no temporary file; the image then takes a new upload.
func TestInterruptedUploads(t *testing.T) {
	bin := dataBin(t)
	const declared = 256 << 20
	part := dataRandom(t, 32<<20)

	t.Run("client disconnects", func(t *testing.T) {
		dir := t.TempDir()
		p := startGlimpse(t, bin, dir)
		id := dataCreate(t, p.url, "disconnect-"+uniq(t))
		u := startRawUpload(t, p.url, id, declared)
		u.send(part, 5*time.Millisecond)
		dataWait(t, "image saving with a temporary file", func() bool {
			return dataShow(t, p.url, id).Status == "saving" && dataTempSize(t, dir, id) > 0
		})
		u.conn.Close()
		dataWait(t, "image back to queued", func() bool { return dataShow(t, p.url, id).Status == "queued" })
		dataWantQueued(t, p.url, id)
		dataWait(t, "temporary file removed", func() bool { return dataTempSize(t, dir, id) < 0 })
		if images, temps := dataStoreFiles(t, dir); len(images)+len(temps) != 0 {
			t.Errorf("store after the disconnect: got images %q, temporary files %q; want none", images, temps)
		}
		data := dataRandom(t, 1<<20)
		dataUpload(t, p.url, id, data)
		dataWantDownload(t, p.url, id, data)
	})

	t.Run("server killed with SIGKILL", func(t *testing.T) {
		dir := t.TempDir()
		p := startGlimpse(t, bin, dir)
		id := dataCreate(t, p.url, "sigkill-"+uniq(t))
		u := startRawUpload(t, p.url, id, declared)
		u.send(part, 5*time.Millisecond)
		dataWait(t, "16 MiB in the temporary file", func() bool {
			return dataShow(t, p.url, id).Status == "saving" && dataTempSize(t, dir, id) >= 16<<20
		})
		if err := syscall.Kill(p.cmd.Process.Pid, syscall.SIGKILL); err != nil {
			t.Fatalf("SIGKILL glimpse (pid %d): %v", p.cmd.Process.Pid, err)
		}
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			t.Fatalf("glimpse (pid %d) still running 30 s after SIGKILL", p.cmd.Process.Pid)
		}
		u.conn.Close()
		// What the crash left: the image saving, a temporary file.
		if n := dataTempSize(t, dir, id); n <= 0 {
			t.Fatalf("after SIGKILL: temporary file size %d, want a partial file left by the crash", n)
		}

		p2 := startGlimpse(t, bin, dir)
		dataWantQueued(t, p2.url, id)
		if images, temps := dataStoreFiles(t, dir); len(images)+len(temps) != 0 {
			t.Errorf("store after the restart: got images %q, temporary files %q; want none", images, temps)
		}
		data := dataRandom(t, 4<<20)
		dataUpload(t, p2.url, id, data)
		img := dataShow(t, p2.url, id)
		sum := md5.Sum(data)
		if img.Status != "active" || img.Size == nil || *img.Size != int64(len(data)) || img.Checksum == nil || *img.Checksum != hex.EncodeToString(sum[:]) {
			t.Errorf("image after a fresh upload: got %+v, want active, size %d, checksum %x", img, len(data), sum)
		}
		dataWantDownload(t, p2.url, id, data)
	})
}

// TestSharedDataDir: two glimpse processes serve one data directory and
// one catalog — the SQLite file in it, or one database on PostgreSQL or
// MariaDB: both take writes at once, see each other's images and data, race
// for the same uploads and imports with exactly one winner, and one
// restarting does not break an upload the other is receiving.
func TestSharedDataDir(t *testing.T) {
	bin := dataBin(t)
	for _, backend := range append([]string{"sqlite"}, sqlcattest.Backends...) {
		t.Run(backend, func(t *testing.T) {
			dir := t.TempDir()
			var extra []string
			if backend != "sqlite" {
				conf := filepath.Join(dir, "glance-api.conf")
				text := "[database]\nconnection = " + sqlcattest.FreshURL(t, backend) + "\n"
				if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
					t.Fatal(err)
				}
				extra = []string{"--config", conf}
			}
			sharedCatalog(t, bin, dir, extra...)
		})
	}
}

func sharedCatalog(t *testing.T, bin, dir string, extra ...string) {
	p1 := startGlimpse(t, bin, dir, extra...)
	p2 := startGlimpse(t, bin, dir, extra...)

	const perServer, workers = 200, 8
	run := uniq(t)
	var (
		mu       sync.Mutex
		ids      = map[string]bool{}
		failures []string
	)
	var wg sync.WaitGroup
	for s, p := range []*glimpseProcess{p1, p2} {
		next := make(chan int)
		go func() {
			for i := range perServer {
				next <- i
			}
			close(next)
		}()
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					body := fmt.Sprintf(`{"name": "shared-%s-%d-%d", "disk_format": "raw", "container_format": "bare"}`, run, s, i)
					resp, err := dataHTTP.Post(p.url+"/v2/images", "application/json", strings.NewReader(body))
					if err != nil {
						mu.Lock()
						failures = append(failures, err.Error())
						mu.Unlock()
						continue
					}
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					var img struct {
						ID string `json:"id"`
					}
					mu.Lock()
					if resp.StatusCode != http.StatusCreated || json.Unmarshal(b, &img) != nil || img.ID == "" {
						failures = append(failures, fmt.Sprintf("server %d: %d %s", s+1, resp.StatusCode, b))
					} else {
						ids[img.ID] = true
					}
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("concurrent creates: %d of %d failed, want none; first: %s", len(failures), 2*perServer, failures[0])
	}
	if len(ids) != 2*perServer {
		t.Fatalf("concurrent creates: got %d distinct ids, want %d", len(ids), 2*perServer)
	}
	for s, p := range []*glimpseProcess{p1, p2} {
		code, b := dataDo(t, http.MethodGet, p.url+"/v2/images?limit=1000", "", nil)
		if code != http.StatusOK {
			t.Fatalf("server %d: list: got %d %s, want 200", s+1, code, b)
		}
		var page struct {
			Images []struct {
				ID string `json:"id"`
			} `json:"images"`
		}
		if err := json.Unmarshal(b, &page); err != nil {
			t.Fatalf("server %d: list: %v", s+1, err)
		}
		seen := map[string]bool{}
		for _, img := range page.Images {
			seen[img.ID] = true
		}
		missing := 0
		for id := range ids {
			if !seen[id] {
				missing++
			}
		}
		if missing != 0 || len(page.Images) != len(ids) {
			t.Errorf("server %d: list: got %d images, %d of the created ones missing; want %d, none missing", s+1, len(page.Images), missing, len(ids))
		}
	}

	// Data uploaded through one is served by the other.
	id := dataCreate(t, p1.url, "shared-data-"+run)
	data := dataRandom(t, 8<<20)
	dataUpload(t, p1.url, id, data)
	dataWantDownload(t, p2.url, id, data)

	// Both race to upload different data to one image, and then to
	// import different staged data into another: one wins each race, the
	// other gets 409, and the image holds the winner's bytes.
	for round := range 3 {
		id := dataCreate(t, p1.url, fmt.Sprintf("race-upload-%s-%d", run, round))
		datas := [][]byte{dataRandom(t, 1<<20), dataRandom(t, 1<<20)}
		codes := make([]int, 2)
		var race sync.WaitGroup
		for i, p := range []*glimpseProcess{p1, p2} {
			race.Go(func() {
				codes[i], _ = dataDo(t, http.MethodPut, p.url+"/v2/images/"+id+"/file", "application/octet-stream", bytes.NewReader(datas[i]))
			})
		}
		race.Wait()
		winner := slices.Index(codes, http.StatusNoContent)
		if winner < 0 || codes[1-winner] != http.StatusConflict {
			t.Fatalf("racing uploads: got %v, want one 204 and one 409", codes)
		}
		dataWantDownload(t, p2.url, id, datas[winner])
		dataWantDownload(t, p1.url, id, datas[winner])
	}
	for round := range 3 {
		id := dataCreate(t, p1.url, fmt.Sprintf("race-import-%s-%d", run, round))
		data := dataRandom(t, 1<<20)
		if code, b := dataDo(t, http.MethodPut, p1.url+"/v2/images/"+id+"/stage", "application/octet-stream", bytes.NewReader(data)); code != http.StatusNoContent {
			t.Fatalf("stage: got %d %s, want 204", code, b)
		}
		codes := make([]int, 2)
		var race sync.WaitGroup
		for i, p := range []*glimpseProcess{p1, p2} {
			race.Go(func() {
				codes[i], _ = dataDo(t, http.MethodPost, p.url+"/v2/images/"+id+"/import", "application/json",
					strings.NewReader(`{"method": {"name": "glance-direct"}}`))
			})
		}
		race.Wait()
		if !slices.Contains(codes, http.StatusAccepted) || !slices.Contains(codes, http.StatusConflict) {
			t.Fatalf("racing imports: got %v, want one 202 and one 409", codes)
		}
		dataWait(t, "the imported image active", func() bool { return dataShow(t, p2.url, id).Status == "active" })
		dataWantDownload(t, p1.url, id, data)
	}

	// p1 restarts while p2 receives an upload: p1's start-up clean-up must
	// leave p2's temporary file and saving image alone.
	id = dataCreate(t, p2.url, "shared-restart-"+run)
	data = dataRandom(t, 16<<20)
	u := startRawUpload(t, p2.url, id, int64(len(data)))
	u.send(data[:8<<20], 2*time.Millisecond)
	dataWait(t, "p2's upload under way", func() bool { return dataTempSize(t, dir, id) > 0 })
	p1.stop(t)
	p1 = startGlimpse(t, bin, dir, extra...)
	if n := dataTempSize(t, dir, id); n <= 0 {
		t.Fatalf("p2's temporary file after p1 restarted: size %d, want it kept", n)
	}
	if st := dataShow(t, p1.url, id).Status; st != "saving" {
		t.Errorf("image of p2's upload after p1 restarted: got status %q, want saving", st)
	}
	u.send(data[8<<20:], 2*time.Millisecond)
	if code, body := u.response(); code != http.StatusNoContent {
		t.Fatalf("p2's upload across p1's restart: got %d %s, want 204", code, body)
	}
	if st := dataShow(t, p1.url, id).Status; st != "active" {
		t.Errorf("image after the upload: got status %q, want active", st)
	}
	dataWantDownload(t, p1.url, id, data)
	if _, temps := dataStoreFiles(t, dir); len(temps) != 0 {
		t.Errorf("temporary files after the uploads: got %q, want none", temps)
	}
}

// TestCLIImageData: image data through the OpenStack clients: create with
// --file, save, and glance image-download, byte for byte.
func TestCLIImageData(t *testing.T) {
	tg := newTarget(t)
	c := newCLI(t, tg.url)
	dir := t.TempDir()
	data := dataRandom(t, 32<<20)
	in := filepath.Join(dir, "in.raw")
	if err := os.WriteFile(in, data, 0o600); err != nil {
		t.Fatal(err)
	}
	img := c.create("--file", in, "--disk-format", "raw", "--container-format", "bare", "cli-data-"+uniq(t))

	var shown struct {
		Status   string `json:"status"`
		Size     int64  `json:"size"`
		Checksum string `json:"checksum"`
	}
	c.json(&shown, "image", "show", img.ID)
	sum := md5.Sum(data)
	if shown.Status != "active" || shown.Size != int64(len(data)) || shown.Checksum != hex.EncodeToString(sum[:]) {
		t.Errorf("image show after create --file: got status %q, size %d, checksum %s; want active, %d, %x",
			shown.Status, shown.Size, shown.Checksum, len(data), sum)
	}

	out := filepath.Join(dir, "saved.raw")
	c.ok("image", "save", "--file", out, img.ID)
	dataWantFile(t, "openstack image save", out, data)

	out2 := filepath.Join(dir, "downloaded.raw")
	if r := c.glance("image-download", "--file", out2, img.ID); r.code != 0 {
		t.Fatalf("glance image-download: want exit 0, got:\n%s", r)
	}
	dataWantFile(t, "glance image-download", out2, data)
}

func dataWantFile(t *testing.T, what, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s: got %d bytes (md5 %x), want %d bytes (md5 %x)", what, len(got), md5.Sum(got), len(want), md5.Sum(want))
	}
}

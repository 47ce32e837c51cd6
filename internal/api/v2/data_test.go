package v2_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/imagedata"

	"glimpse/internal/config"
	"glimpse/internal/image"
)

const (
	octets       = "application/octet-stream"
	tooLargeMsg  = "The incoming image is too large: The provided image is too large."
	rangeExpl    = "The Range requested is not available."
	badRange     = "Invalid Range header."
	badCRange    = "Invalid Content-Range header."
	multiRange   = "Requests with multiple ranges are not supported in Glance. You may make multiple single-range requests instead."
	deactivated  = "The requested image has been deactivated. Image data download is forbidden."
	bodyEndedMsg = "The request body ended before the image data did."
)

func startMsg(last int) string {
	return fmt.Sprintf("Invalid start position in Range header. Start position MUST be in the inclusive range [0, %d].", last)
}

func unsupported(mediaType string) string {
	return "The request media type " + mediaType + " is not supported by this server.\n<br /><br />\n"
}

// wantData checks an active image's data fields against data and that a
// download returns data with Glance's headers.
func (e *dataEnv) wantData(t *testing.T, c *client, id string, data []byte) {
	t.Helper()
	img := c.do(t, "GET", "/v2/images/"+id, "").want(t, "GET image", http.StatusOK).object(t)
	n := float64(len(data))
	var vsize any = n
	if len(data) == 0 {
		// Glance's format inspection records no virtual size of 0.
		vsize = nil
	}
	for k, want := range map[string]any{
		"status": "active", "size": n, "virtual_size": vsize, "checksum": md5Hex(data),
		"os_hash_algo": "sha512", "os_hash_value": sha512Hex(data),
	} {
		if img[k] != want {
			t.Errorf("image %s: got %v, want %v", k, img[k], want)
		}
	}
	r := c.getFile(t, id).want(t, "download", http.StatusOK)
	for k, want := range map[string]string{
		"Content-Type": octets, "Content-Length": strconv.Itoa(len(data)), "Content-MD5": md5Hex(data),
	} {
		if got := r.Header.Get(k); got != want {
			t.Errorf("download %s: got %q, want %q", k, got, want)
		}
	}
	if !bytes.Equal(r.Body, data) {
		t.Errorf("download: got %d bytes (md5 %s), want %d bytes (md5 %s)", len(r.Body), md5Hex(r.Body), len(data), md5Hex(data))
	}
	if got := e.storedBytes(t, id); !bytes.Equal(got, data) {
		t.Errorf("stored file: got %d bytes (md5 %s), want %d bytes (md5 %s)", len(got), md5Hex(got), len(data), md5Hex(data))
	}
}

// wantQueued checks that an image is queued with no data recorded.
func (e *dataEnv) wantQueued(t *testing.T, id string) {
	t.Helper()
	img := e.admin().do(t, "GET", "/v2/images/"+id, "").want(t, "GET image", http.StatusOK).object(t)
	for _, k := range []string{"size", "virtual_size", "checksum", "os_hash_algo", "os_hash_value"} {
		if img[k] != nil {
			t.Errorf("image %s: got %v, want null", k, img[k])
		}
	}
	if img["status"] != "queued" {
		t.Errorf("image status: got %v, want queued", img["status"])
	}
	e.admin().getFile(t, id).want(t, "download of a queued image", http.StatusNoContent)
}

func TestDataRoundTrip(t *testing.T) {
	e := newDataEnv(t, false, nil)
	c := e.admin()
	sc := c.gophercloud()
	ctx := context.Background()
	var ids []string
	for _, tc := range []struct {
		name        string
		size        int
		gophercloud bool
	}{
		{"0 bytes", 0, false},
		{"0 bytes gophercloud", 0, true},
		{"1 byte", 1, false},
		{"1 byte gophercloud", 1, true},
		{"1 MiB + 7", 1<<20 + 7, false},
		{"1 MiB + 7 gophercloud", 1<<20 + 7, true},
		{"32 MiB", 32 << 20, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := randomBytes(tc.size, uint64(len(ids)))
			id := c.newRawImage(t)
			ids = append(ids, id)
			if tc.gophercloud {
				if err := imagedata.Upload(ctx, sc, id, bytes.NewReader(data)).ExtractErr(); err != nil {
					t.Fatalf("imagedata.Upload: %v", err)
				}
				rc, err := imagedata.Download(ctx, sc, id).Extract()
				if err != nil {
					t.Fatalf("imagedata.Download: %v", err)
				}
				got, err := io.ReadAll(rc)
				rc.Close()
				if err != nil {
					t.Fatalf("reading the download: %v", err)
				}
				if !bytes.Equal(got, data) {
					t.Errorf("imagedata.Download: got %d bytes (md5 %s), want %d bytes (md5 %s)", len(got), md5Hex(got), len(data), md5Hex(data))
				}
			} else {
				r := c.putFile(t, id, data).want(t, "upload", http.StatusNoContent)
				if len(r.Body) != 0 {
					t.Errorf("upload: got body %q, want none", r.Body)
				}
			}
			e.wantData(t, c, id, data)
		})
	}
	e.wantStoreFiles(t, "after the round trips", ids...)
	if got := c.do(t, "GET", "/v2/images/"+ids[0], "").object(t)["checksum"]; got != "d41d8cd98f00b204e9800998ecf8427e" {
		t.Errorf("checksum of 0 bytes: got %v, want d41d8cd98f00b204e9800998ecf8427e", got)
	}
}

func TestDataChunkedUpload(t *testing.T) {
	e := newDataEnv(t, false, nil)
	c := e.admin()
	data := randomBytes(3<<20+11, 42)

	t.Run("client", func(t *testing.T) {
		id := c.newRawImage(t)
		pr, pw := io.Pipe()
		go func() {
			for off := 0; off < len(data); off += 100_003 {
				if _, err := pw.Write(data[off:min(off+100_003, len(data))]); err != nil {
					return
				}
			}
			pw.Close()
		}()
		r, err := c.send(t, "PUT", "/v2/images/"+id+"/file", pr, -1, "Content-Type", octets)
		if err != nil {
			t.Fatalf("chunked upload: %v", err)
		}
		r.want(t, "chunked upload", http.StatusNoContent)
		e.wantData(t, c, id, data)
	})

	t.Run("raw", func(t *testing.T) {
		id := c.newRawImage(t)
		rc := e.dial(t)
		rc.head(c, "PUT", "/v2/images/"+id+"/file", "Content-Type", octets, "Transfer-Encoding", "chunked")
		for off := 0; off < len(data); off += 65_521 {
			if err := rc.writeChunk(data[off:min(off+65_521, len(data))]); err != nil {
				t.Fatalf("writing a chunk: %v", err)
			}
		}
		rc.writeChunk(nil)
		rc.response().want(t, "raw chunked upload", http.StatusNoContent)
		e.wantData(t, c, id, data)
	})
}

func TestDataUploadMediaType(t *testing.T) {
	e := newDataEnv(t, false, nil)
	c := e.admin()
	for _, tc := range []struct {
		contentType string
		status      int
		named       string // the media type the refusal names
	}{
		{"application/json", http.StatusUnsupportedMediaType, "application/json"},
		{"", http.StatusUnsupportedMediaType, "text/plain"},
		{"text/plain", http.StatusUnsupportedMediaType, "text/plain"},
		{"foo", http.StatusUnsupportedMediaType, "foo"},
		{"application/json; charset=utf-8", http.StatusUnsupportedMediaType, "application/json; charset=utf-8"},
		{"APPLICATION/OCTET-STREAM", http.StatusUnsupportedMediaType, "APPLICATION/OCTET-STREAM"},
		{"application/octet-stream ; x=y", http.StatusUnsupportedMediaType, "application/octet-stream ; x=y"},
		{"application/octet-stream", http.StatusNoContent, ""},
		{"application/octet-stream;x=y", http.StatusNoContent, ""},
		{"application/octet-stream; charset=binary", http.StatusNoContent, ""},
	} {
		t.Run(tc.contentType, func(t *testing.T) {
			id := c.newRawImage(t)
			r := c.putFile(t, id, []byte("abcde"), "Content-Type", tc.contentType).want(t, "upload", tc.status)
			if tc.status == http.StatusNoContent {
				e.wantData(t, c, id, []byte("abcde"))
				return
			}
			if got, want := r.message(t), unsupported(tc.named); got != want {
				t.Errorf("got message %q, want %q", got, want)
			}
			e.wantQueued(t, id)
		})
	}
	// The media type is checked first, even for an unknown image.
	r := c.putFile(t, "00000000-0000-0000-0000-000000000000", []byte("x"), "Content-Type", "application/json")
	r.want(t, "upload to an unknown image", http.StatusUnsupportedMediaType)
}

func TestDataUploadRefusals(t *testing.T) {
	e := newDataEnv(t, true, nil)
	owner, other, admin := e.as("A", "member"), e.as("B", "member"), e.admin()
	abc := []byte("abc")

	noFormats := owner.createImage(t, nil)["id"].(string)
	diskOnly := owner.createImage(t, map[string]any{"disk_format": "raw"})["id"].(string)
	containerOnly := owner.createImage(t, map[string]any{"container_format": "bare"})["id"].(string)
	active := owner.newRawImage(t)
	owner.putFile(t, active, abc).want(t, "upload", http.StatusNoContent)
	deact := owner.newRawImage(t)
	owner.putFile(t, deact, abc).want(t, "upload", http.StatusNoContent)
	admin.do(t, "POST", "/v2/images/"+deact+"/actions/deactivate", "").want(t, "deactivate", http.StatusNoContent)
	saving := owner.newRawImage(t)
	e.setImage(t, saving, func(img *image.Image) { img.Status = image.Saving })
	private := owner.newRawImage(t, "visibility", "private")
	community := owner.newRawImage(t, "visibility", "community")
	unknown := "00000000-0000-0000-0000-000000000000"

	for _, tc := range []struct {
		name   string
		c      *client
		id     string
		status int
		msg    string
	}{
		{"no formats", owner, noFormats, 400, "Properties disk_format, container_format must be set prior to saving data."},
		{"no container format", owner, diskOnly, 400, "Property container_format must be set prior to saving data."},
		{"no disk format", owner, containerOnly, 400, "Property disk_format must be set prior to saving data."},
		{"active", owner, active, 409, "Image status transition from active to saving is not allowed"},
		{"deactivated", admin, deact, 409, "Image status transition from deactivated to saving is not allowed"},
		{"saving", owner, saving, 409, "Image status transition from saving to saving is not allowed"},
		{"not the owner", other, community, 403, "Not allowed to upload image data for image " + community},
		{"invisible", other, private, 404, "No image found with ID " + private},
		{"unknown", owner, unknown, 404, "No image found with ID " + unknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.c.putFile(t, tc.id, abc)
			r.wantError(t, "upload", tc.status, tc.msg, "")
			if tc.status == http.StatusConflict {
				if got := r.Header.Get("Connection"); got != "close" {
					t.Errorf("Connection: got %q, want close", got)
				}
			}
		})
	}
	for id, want := range map[string]string{noFormats: "queued", diskOnly: "queued", containerOnly: "queued",
		active: "active", deact: "deactivated", saving: "saving", private: "queued", community: "queued"} {
		if got := e.status(t, id); got != want {
			t.Errorf("image %s: got status %s, want %s", id, got, want)
		}
	}
	e.wantStoreFiles(t, "after the refusals", active, deact)
	if got := e.storedBytes(t, active); !bytes.Equal(got, abc) {
		t.Errorf("active image's data: got %q, want %q", got, abc)
	}
	// The owner of the community image can still upload to it.
	owner.putFile(t, community, abc).want(t, "owner's upload", http.StatusNoContent)
	e.wantData(t, owner, community, abc)
}

func TestDataDownloadRanges(t *testing.T) {
	e := newDataEnv(t, false, nil)
	c := e.admin()
	data := []byte("0123456789")
	id := c.newRawImage(t)
	c.putFile(t, id, data).want(t, "upload", http.StatusNoContent)
	empty := c.newRawImage(t)
	c.putFile(t, empty, nil).want(t, "upload of nothing", http.StatusNoContent)
	queued := c.newRawImage(t)

	for _, tc := range []struct {
		name   string
		id     string
		hdr    []string
		status int
		crange string // Content-Range of a 206
		body   string // of a 206
		expl   string // of an error
		detail string
	}{
		{"first-last", id, []string{"Range", "bytes=1-2"}, 206, "bytes 1-2/10", "12", "", ""},
		{"first byte", id, []string{"Range", "bytes=0-0"}, 206, "bytes 0-0/10", "0", "", ""},
		{"last byte", id, []string{"Range", "bytes=9-9"}, 206, "bytes 9-9/10", "9", "", ""},
		{"everything", id, []string{"Range", "bytes=0-9"}, 206, "bytes 0-9/10", "0123456789", "", ""},
		{"end past the size", id, []string{"Range", "bytes=3-99"}, 206, "bytes 3-9/10", "3456789", "", ""},
		{"open end", id, []string{"Range", "bytes=7-"}, 206, "bytes 7-9/10", "789", "", ""},
		{"open end at the last byte", id, []string{"Range", "bytes=9-"}, 206, "bytes 9-9/10", "9", "", ""},
		{"suffix", id, []string{"Range", "bytes=-3"}, 206, "bytes 7-9/10", "789", "", ""},
		{"suffix of the size", id, []string{"Range", "bytes=-10"}, 206, "bytes 0-9/10", "0123456789", "", ""},
		{"suffix past the size", id, []string{"Range", "bytes=-99"}, 206, "bytes 0-9/10", "0123456789", "", ""},
		{"suffix of nothing", id, []string{"Range", "bytes=-0"}, 206, "bytes 0-9/10", "0123456789", "", ""},
		{"spaces and capitals", id, []string{"Range", "BYTES = 2 - 3"}, 206, "bytes 2-3/10", "23", "", ""},
		{"trailing text", id, []string{"Range", "bytes=2-3junk"}, 206, "bytes 2-3/10", "23", "", ""},
		{"start at the size", id, []string{"Range", "bytes=10-"}, 416, "", "", rangeExpl, startMsg(9)},
		{"start past the size", id, []string{"Range", "bytes=10-20"}, 416, "", "", rangeExpl, startMsg(9)},
		{"huge start", id, []string{"Range", "bytes=99999999999999999999-"}, 416, "", "", rangeExpl, startMsg(9)},
		{"huge range", id, []string{"Range", "bytes=99999999999999999999-99999999999999999999"}, 416, "", "", rangeExpl, startMsg(9)},
		{"end before start", id, []string{"Range", "bytes=5-2"}, 416, "", "", rangeExpl, badRange},
		{"other unit", id, []string{"Range", "items=0-1"}, 416, "", "", rangeExpl, badRange},
		{"no numbers", id, []string{"Range", "bytes=-"}, 416, "", "", rangeExpl, badRange},
		{"no range", id, []string{"Range", "bytes="}, 416, "", "", rangeExpl, badRange},
		{"garbage", id, []string{"Range", "garbage"}, 416, "", "", rangeExpl, badRange},
		{"negative", id, []string{"Range", "bytes=-5-"}, 206, "bytes 5-9/10", "56789", "", ""},
		{"two ranges", id, []string{"Range", "bytes=0-1,3-4"}, 400, "", "", multiRange, ""},
		{"two ranges with a space", id, []string{"Range", "bytes=0-1, 3-4"}, 400, "", "", multiRange, ""},
		{"content-range", id, []string{"Content-Range", "bytes 1-2/10"}, 206, "bytes 1-2/10", "12", "", ""},
		{"content-range, any length", id, []string{"Content-Range", "bytes 1-2/*"}, 206, "bytes 1-2/10", "12", "", ""},
		{"content-range, other length", id, []string{"Content-Range", "bytes 1-2/3"}, 206, "bytes 1-2/10", "12", "", ""},
		{"content-range past the end", id, []string{"Content-Range", "bytes 1-10/*"}, 416, "", "", rangeExpl,
			"Invalid stop position in Content-Range header. The stop position MUST be in the inclusive range [0, 9]."},
		{"content-range after the end", id, []string{"Content-Range", "bytes 10-11/*"}, 416, "", "", rangeExpl,
			"Invalid stop position in Content-Range header. The stop position MUST be in the inclusive range [0, 9]."},
		{"content-range, start at the size", id, []string{"Content-Range", "bytes 10-10/20"}, 416, "", "", rangeExpl,
			"Invalid start position in Content-Range header. Start position MUST be in the inclusive range [0, 9]."},
		{"content-range of a longer object", id, []string{"Content-Range", "bytes 5-14/20"}, 416, "", "", rangeExpl,
			"Invalid stop position in Content-Range header. The stop position MUST be in the inclusive range [0, 9]."},
		{"content-range backwards", id, []string{"Content-Range", "bytes 2-1/*"}, 416, "", "", rangeExpl, badCRange},
		{"content-range past its length", id, []string{"Content-Range", "bytes 1-5/3"}, 416, "", "", rangeExpl, badCRange},
		{"content-range star", id, []string{"Content-Range", "bytes */10"}, 416, "", "", rangeExpl, badCRange},
		{"content-range garbage", id, []string{"Content-Range", "junk"}, 416, "", "", rangeExpl, badCRange},
		{"range wins over content-range", id, []string{"Range", "bytes=8-", "Content-Range", "bytes 1-2/*"}, 206, "bytes 8-9/10", "89", "", ""},
		{"empty image", empty, []string{"Range", "bytes=0-"}, 416, "", "", rangeExpl, startMsg(-1)},
		{"empty image, first byte", empty, []string{"Range", "bytes=0-0"}, 416, "", "", rangeExpl, startMsg(-1)},
		{"empty image, suffix", empty, []string{"Range", "bytes=-5"}, 416, "", "", rangeExpl, startMsg(-1)},
		{"empty image, content-range", empty, []string{"Content-Range", "bytes 0-0/*"}, 416, "", "", rangeExpl,
			"Invalid stop position in Content-Range header. The stop position MUST be in the inclusive range [0, -1]."},
		{"queued image", queued, []string{"Range", "bytes=0-1"}, 204, "", "", "", ""},
		{"queued image, content-range", queued, []string{"Content-Range", "bytes 0-1/*"}, 204, "", "", "", ""},
		{"queued image, two ranges", queued, []string{"Range", "bytes=0-1,3-4"}, 400, "", "", multiRange, ""},
		{"queued image, garbage", queued, []string{"Range", "garbage"}, 416, "", "", rangeExpl, badRange},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := c.getFile(t, tc.id, tc.hdr...)
			switch tc.status {
			case http.StatusPartialContent:
				r.want(t, "download", tc.status)
				for k, want := range map[string]string{
					"Content-Range": tc.crange, "Content-Length": strconv.Itoa(len(tc.body)),
					"Content-MD5": md5Hex(data), "Content-Type": octets,
				} {
					if got := r.Header.Get(k); got != want {
						t.Errorf("%s: got %q, want %q", k, got, want)
					}
				}
				if string(r.Body) != tc.body {
					t.Errorf("body: got %q, want %q", r.Body, tc.body)
				}
			case http.StatusNoContent:
				r.want(t, "download", tc.status)
				if len(r.Body) != 0 || r.Header.Get("Content-Type") != "" {
					t.Errorf("got Content-Type %q and body %q, want neither", r.Header.Get("Content-Type"), r.Body)
				}
			default:
				r.wantError(t, "download", tc.status, tc.expl, tc.detail)
			}
		})
	}

	t.Run("whole empty image", func(t *testing.T) {
		r := c.getFile(t, empty).want(t, "download", http.StatusOK)
		if len(r.Body) != 0 || r.Header.Get("Content-Length") != "0" || r.Header.Get("Content-MD5") != md5Hex(nil) {
			t.Errorf("got Content-Length %q, Content-MD5 %q, body %q; want 0, %s, none",
				r.Header.Get("Content-Length"), r.Header.Get("Content-MD5"), r.Body, md5Hex(nil))
		}
	})
	t.Run("HEAD", func(t *testing.T) {
		r := c.do(t, "HEAD", "/v2/images/"+id+"/file", "").want(t, "HEAD", http.StatusMethodNotAllowed)
		if got := r.Header.Get("Allow"); got != "GET, PUT" {
			t.Errorf("Allow: got %q, want %q", got, "GET, PUT")
		}
	})
}

func TestDataDownloadRules(t *testing.T) {
	e := newDataEnv(t, true, nil)
	owner, other, admin := e.as("A", "member"), e.as("B", "member"), e.admin()
	data := []byte("abcde")
	id := owner.newRawImage(t, "visibility", "community")
	private := owner.newRawImage(t, "visibility", "private")
	owner.putFile(t, id, data).want(t, "upload", http.StatusNoContent)
	owner.putFile(t, private, data).want(t, "upload", http.StatusNoContent)

	for _, c := range []*client{owner, other, admin} {
		if r := c.getFile(t, id).want(t, "download", http.StatusOK); !bytes.Equal(r.Body, data) {
			t.Errorf("download: got %q, want %q", r.Body, data)
		}
	}
	other.getFile(t, private).wantError(t, "download of an invisible image", http.StatusNotFound, "No image found with ID "+private, "")

	admin.do(t, "POST", "/v2/images/"+id+"/actions/deactivate", "").want(t, "deactivate", http.StatusNoContent)
	owner.getFile(t, id).wantError(t, "owner's download of a deactivated image", http.StatusForbidden, deactivated, "")
	other.getFile(t, id).wantError(t, "other's download of a deactivated image", http.StatusForbidden, deactivated, "")
	// The refusal comes before the Range header is looked at.
	owner.getFile(t, id, "Range", "garbage").wantError(t, "ranged download of a deactivated image", http.StatusForbidden, deactivated, "")
	if r := admin.getFile(t, id).want(t, "admin's download of a deactivated image", http.StatusOK); !bytes.Equal(r.Body, data) {
		t.Errorf("admin's download: got %q, want %q", r.Body, data)
	}
	wantCode(t, "gophercloud download of a deactivated image", imagedata.Download(context.Background(), owner.gophercloud(), id).Err, http.StatusForbidden, deactivated)

	admin.do(t, "POST", "/v2/images/"+id+"/actions/reactivate", "").want(t, "reactivate", http.StatusNoContent)
	if r := owner.getFile(t, id).want(t, "download after reactivation", http.StatusOK); !bytes.Equal(r.Body, data) {
		t.Errorf("download after reactivation: got %q, want %q", r.Body, data)
	}
}

func TestDataSizeCap(t *testing.T) {
	const limit = 1 << 20
	e := newDataEnv(t, false, func(cfg *config.Config) { cfg.Default.ImageSizeCap = limit })
	c := e.admin()
	path := func(id string) string { return "/v2/images/" + id + "/file" }
	var active []string

	t.Run("declared length over the cap", func(t *testing.T) {
		id := c.newRawImage(t)
		rc := e.dial(t)
		rc.head(c, "PUT", path(id), "Content-Type", octets, "Content-Length", strconv.Itoa(limit+1))
		go rc.write(make([]byte, limit+1))
		r := rc.response()
		r.wantError(t, "upload", http.StatusRequestEntityTooLarge, tooLargeMsg, "")
		if got := r.Header.Get("Connection"); got != "close" {
			t.Errorf("Connection: got %q, want close", got)
		}
		e.wantQueued(t, id)
		e.wantStoreFiles(t, "after the refusal", active...)
	})

	t.Run("chunked body growing past the cap", func(t *testing.T) {
		id := c.newRawImage(t)
		rc := e.dial(t)
		rc.head(c, "PUT", path(id), "Content-Type", octets, "Transfer-Encoding", "chunked")
		go func() {
			chunk := randomBytes(64<<10, 3)
			for range 4 * limit / len(chunk) {
				if rc.writeChunk(chunk) != nil {
					return
				}
			}
			rc.writeChunk(nil)
		}()
		r := rc.response()
		r.wantError(t, "upload", http.StatusRequestEntityTooLarge, tooLargeMsg, "")
		if got := r.Header.Get("Connection"); got != "close" {
			t.Errorf("Connection: got %q, want close", got)
		}
		e.wantQueued(t, id)
		e.wantStoreFiles(t, "after the refusal", active...)

		// The image takes a retry.
		data := randomBytes(1000, 4)
		c.putFile(t, id, data).want(t, "retry", http.StatusNoContent)
		active = append(active, id)
		e.wantData(t, c, id, data)
	})

	t.Run("chunked client body past the cap", func(t *testing.T) {
		id := c.newRawImage(t)
		pr, pw := io.Pipe()
		go func() {
			chunk := randomBytes(64<<10, 5)
			for range 4 * limit / len(chunk) {
				if _, err := pw.Write(chunk); err != nil {
					return
				}
			}
			pw.Close()
		}()
		r, err := c.send(t, "PUT", path(id), pr, -1, "Content-Type", octets)
		pr.CloseWithError(io.ErrClosedPipe)
		if err != nil {
			// net/http may report the closed connection instead of the
			// answer; the server side is what matters.
			t.Logf("client: %v", err)
		} else {
			r.wantError(t, "upload", http.StatusRequestEntityTooLarge, tooLargeMsg, "")
		}
		waitFor(t, "image back to queued", func() bool { return e.status(t, id) == "queued" })
		e.wantQueued(t, id)
		e.wantStoreFiles(t, "after the refusal", active...)
	})

	for _, chunked := range []bool{false, true} {
		t.Run(fmt.Sprintf("exactly the cap, chunked %v", chunked), func(t *testing.T) {
			id := c.newRawImage(t)
			data := randomBytes(limit, 6)
			size := int64(len(data))
			if chunked {
				size = -1
			}
			r, err := c.send(t, "PUT", path(id), bytes.NewReader(data), size, "Content-Type", octets)
			if err != nil {
				t.Fatalf("upload: %v", err)
			}
			r.want(t, "upload", http.StatusNoContent)
			active = append(active, id)
			e.wantData(t, c, id, data)
		})
	}
	e.wantStoreFiles(t, "at the end", active...)
}

func TestDataLyingContentLength(t *testing.T) {
	e := newDataEnv(t, false, nil)
	c := e.admin()
	data := randomBytes(1000, 9)

	t.Run("shorter body", func(t *testing.T) {
		id := c.newRawImage(t)
		rc := e.dial(t)
		rc.head(c, "PUT", "/v2/images/"+id+"/file", "Content-Type", octets, "Content-Length", "1000")
		rc.write(data[:500])
		rc.conn.CloseWrite()
		rc.response().wantError(t, "upload", http.StatusBadRequest, bodyEndedMsg, "")
		e.wantQueued(t, id)
		e.wantStoreFiles(t, "after the short body")
	})

	t.Run("longer body", func(t *testing.T) {
		// The server reads exactly Content-Length bytes, as Glance does;
		// what follows is read as the next request.
		id := c.newRawImage(t)
		rc := e.dial(t)
		rc.head(c, "PUT", "/v2/images/"+id+"/file", "Content-Type", octets, "Content-Length", "1000")
		rc.write(append(append([]byte{}, data...), "this is no request\r\n\r\n"...))
		rc.response().want(t, "upload", http.StatusNoContent)
		next := rc.response()
		if next.Status >= 500 {
			t.Errorf("the bytes past the body: got status %d, want no 5xx; body %q", next.Status, next.Body)
		}
		t.Logf("the bytes past the body got %d %q", next.Status, next.Body)
		e.wantData(t, c, id, data)
		e.wantStoreFiles(t, "after the long body", id)
	})
}

func TestDataClientDisconnect(t *testing.T) {
	e := newDataEnv(t, false, nil)
	c := e.admin()
	id := c.newRawImage(t)
	rc := e.dial(t)
	rc.head(c, "PUT", "/v2/images/"+id+"/file", "Content-Type", octets, "Content-Length", strconv.Itoa(10<<20))
	if err := rc.write(randomBytes(1<<20, 10)); err != nil {
		t.Fatalf("writing the first MiB: %v", err)
	}
	waitFor(t, "upload under way", func() bool { return e.status(t, id) == "saving" })
	rc.conn.Close()
	waitFor(t, "image back to queued", func() bool { return e.status(t, id) == "queued" })
	e.wantQueued(t, id)
	e.wantStoreFiles(t, "after the disconnect")

	data := randomBytes(2<<20, 11)
	c.putFile(t, id, data).want(t, "retry", http.StatusNoContent)
	e.wantData(t, c, id, data)
}

func TestDataConcurrentUploads(t *testing.T) {
	e := newDataEnv(t, false, nil)
	c := e.admin()
	var active []string

	t.Run("second upload while the first streams", func(t *testing.T) {
		id := c.newRawImage(t)
		first := randomBytes(2<<20, 12)
		pr, pw := io.Pipe()
		done := make(chan error, 1)
		var r *response
		go func() {
			var err error
			r, err = c.send(t, "PUT", "/v2/images/"+id+"/file", pr, int64(len(first)), "Content-Type", octets)
			done <- err
		}()
		if _, err := pw.Write(first[:256<<10]); err != nil {
			t.Fatalf("writing: %v", err)
		}
		waitFor(t, "first upload under way", func() bool { return e.status(t, id) == "saving" })
		r2 := c.putFile(t, id, randomBytes(1000, 13))
		r2.wantError(t, "second upload", http.StatusConflict, "Image status transition from saving to saving is not allowed", "")
		if _, err := pw.Write(first[256<<10:]); err != nil {
			t.Fatalf("writing: %v", err)
		}
		pw.Close()
		if err := <-done; err != nil {
			t.Fatalf("first upload: %v", err)
		}
		r.want(t, "first upload", http.StatusNoContent)
		active = append(active, id)
		e.wantData(t, c, id, first)
	})

	t.Run("racing uploads", func(t *testing.T) {
		for round := range 5 {
			id := c.newRawImage(t)
			bodies := [][]byte{randomBytes(512<<10, uint64(100+2*round)), randomBytes(512<<10, uint64(101+2*round))}
			results := make([]*response, 2)
			errs := make([]error, 2)
			var start, wg sync.WaitGroup
			start.Add(1)
			for i := range bodies {
				wg.Add(1)
				go func() {
					defer wg.Done()
					start.Wait()
					results[i], errs[i] = c.send(t, "PUT", "/v2/images/"+id+"/file", bytes.NewReader(bodies[i]), int64(len(bodies[i])), "Content-Type", octets)
				}()
			}
			start.Done()
			wg.Wait()
			winner := -1
			for i := range results {
				if errs[i] != nil {
					t.Fatalf("round %d upload %d: %v", round, i, errs[i])
				}
				switch results[i].Status {
				case http.StatusNoContent:
					if winner >= 0 {
						t.Fatalf("round %d: both uploads succeeded", round)
					}
					winner = i
				case http.StatusConflict:
				default:
					t.Fatalf("round %d upload %d: got status %d, want 204 or 409; body %s", round, i, results[i].Status, results[i].Body)
				}
			}
			if winner < 0 {
				t.Fatalf("round %d: both uploads were refused", round)
			}
			loser := results[1-winner]
			if got := loser.message(t); !strings.HasPrefix(got, "Image status transition from ") || !strings.HasSuffix(got, " to saving is not allowed<br /><br />\n\n\n") {
				t.Errorf("round %d: refusal %q, want a status transition refusal", round, got)
			}
			active = append(active, id)
			e.wantData(t, c, id, bodies[winner])
		}
	})
	e.wantStoreFiles(t, "at the end", active...)
}

func TestDataDeleteDuringUpload(t *testing.T) {
	e := newDataEnv(t, false, nil)
	c := e.admin()
	id := c.newRawImage(t)
	data := randomBytes(3<<20, 14)
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	var r *response
	go func() {
		var err error
		r, err = c.send(t, "PUT", "/v2/images/"+id+"/file", pr, -1, "Content-Type", octets)
		done <- err
	}()
	if _, err := pw.Write(data[:1<<20]); err != nil {
		t.Fatalf("writing: %v", err)
	}
	waitFor(t, "upload under way", func() bool { return e.status(t, id) == "saving" })
	c.do(t, "DELETE", "/v2/images/"+id, "").want(t, "delete", http.StatusNoContent)
	if _, err := pw.Write(data[1<<20:]); err != nil {
		t.Fatalf("writing: %v", err)
	}
	pw.Close()
	if err := <-done; err != nil {
		t.Fatalf("upload: %v", err)
	}
	r.wantError(t, "upload", http.StatusGone,
		"Image "+id+" could not be found after upload. The image may have been deleted during the upload, cleaning up the chunks uploaded.", "")
	c.do(t, "GET", "/v2/images/"+id, "").want(t, "GET deleted image", http.StatusNotFound)
	e.wantStoreFiles(t, "after the upload")
}

func TestDataMissingFile(t *testing.T) {
	e := newDataEnv(t, false, nil)
	c := e.admin()
	id := c.newRawImage(t)
	c.putFile(t, id, []byte("abcde")).want(t, "upload", http.StatusNoContent)
	if err := os.Remove(filepath.Join(e.storeDir, id)); err != nil {
		t.Fatal(err)
	}
	for _, hdr := range [][]string{nil, {"Range", "bytes=1-2"}} {
		r := c.getFile(t, id, hdr...).want(t, fmt.Sprintf("download %q of a lost file", hdr), http.StatusNoContent)
		if len(r.Body) != 0 {
			t.Errorf("got body %q, want none", r.Body)
		}
	}
	if got := e.status(t, id); got != "active" {
		t.Errorf("status: got %s, want active", got)
	}
	c.do(t, "DELETE", "/v2/images/"+id, "").want(t, "delete", http.StatusNoContent)
	e.wantStoreFiles(t, "after the delete")
}

func TestDataDeleteRemovesFile(t *testing.T) {
	e := newDataEnv(t, false, nil)
	c := e.admin()
	keep, gone := c.newRawImage(t), c.newRawImage(t)
	c.putFile(t, keep, []byte("keep")).want(t, "upload", http.StatusNoContent)
	c.putFile(t, gone, []byte("gone")).want(t, "upload", http.StatusNoContent)
	e.wantStoreFiles(t, "after the uploads", keep, gone)
	c.do(t, "DELETE", "/v2/images/"+gone, "").want(t, "delete", http.StatusNoContent)
	e.wantStoreFiles(t, "after the delete", keep)
	c.getFile(t, gone).want(t, "download of a deleted image", http.StatusNotFound)
	e.wantData(t, c, keep, []byte("keep"))

	// So does deleting an image left saving by an upload that never ended.
	stuck := c.newRawImage(t)
	e.setImage(t, stuck, func(img *image.Image) { img.Status = image.Saving })
	if err := os.WriteFile(filepath.Join(e.storeDir, stuck), []byte("orphan"), 0o640); err != nil {
		t.Fatal(err)
	}
	c.do(t, "DELETE", "/v2/images/"+stuck, "").want(t, "delete of a saving image", http.StatusNoContent)
	e.wantStoreFiles(t, "after deleting the saving image", keep)
}

func TestDataGophercloudErrors(t *testing.T) {
	e := newDataEnv(t, false, nil)
	c := e.admin()
	sc := c.gophercloud()
	ctx := context.Background()
	id := c.newRawImage(t)
	if err := imagedata.Upload(ctx, sc, id, strings.NewReader("abc")).ExtractErr(); err != nil {
		t.Fatalf("upload: %v", err)
	}
	wantCode(t, "second upload", imagedata.Upload(ctx, sc, id, strings.NewReader("abc")).ExtractErr(),
		http.StatusConflict, "Image status transition from active to saving is not allowed")
	bare := c.createImage(t, nil)["id"].(string)
	wantCode(t, "upload without formats", imagedata.Upload(ctx, sc, bare, strings.NewReader("abc")).ExtractErr(),
		http.StatusBadRequest, "Properties disk_format, container_format must be set prior to saving data.")
	e.wantStoreFiles(t, "at the end", id)
}

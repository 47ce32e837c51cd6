package httperr

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"glimpse/internal/image"
)

func TestBodyFormat(t *testing.T) {
	tests := []struct{ accept, want string }{
		{"", "plain"},
		{"*/*", "html"},
		{"text/html", "html"},
		{"application/json", "json"},
		{"application/*", "json"},
		{"application/json, text/html", "html"},
		{"text/html;q=0.5, application/json", "json"},
		{"text/plain", "plain"},
		{"application/xml", "plain"},
		{"application/json;q=0", "plain"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		if tt.accept != "" {
			r.Header.Set("Accept", tt.accept)
		}
		if got := bodyFormat(r); got != tt.want {
			t.Errorf("bodyFormat(Accept: %q) = %s, want %s", tt.accept, got, tt.want)
		}
	}
}

func TestWrite(t *testing.T) {
	tests := []struct {
		name, accept string
		err          error
		status       int
		ctype, body  string
	}{
		{"html explanation", "*/*", image.E("t", image.NotFound, "No image found with ID x"), 404, "text/html; charset=UTF-8",
			"<html>\n <head>\n  <title>404 Not Found</title>\n </head>\n <body>\n  <h1>404 Not Found</h1>\n  No image found with ID x<br /><br />\n\n\n\n </body>\n</html>"},
		{"json detail", "application/json", image.D("t", image.Forbidden, "Attribute 'location' is reserved."), 403, "application/json",
			`{"message": "Access was denied to this resource.<br /><br />\nAttribute 'location' is reserved.\n\n", "code": "403 Forbidden", "title": "Forbidden"}`},
		{"plain", "", image.E("t", image.Conflict, "Image ID x already exists!"), 409, "text/plain; charset=UTF-8",
			"409 Conflict\n\nImage ID x already exists!\n\n   "},
		{"html escapes quotes", "text/html", image.E("t", image.Forbidden, `Attribute 'status' is "read-only".`), 403, "text/html; charset=UTF-8",
			"<html>\n <head>\n  <title>403 Forbidden</title>\n </head>\n <body>\n  <h1>403 Forbidden</h1>\n  Attribute &#x27;status&#x27; is &quot;read-only&quot;.<br /><br />\n\n\n\n </body>\n</html>"},
		{"internal hides cause", "application/json", &image.Error{Op: "t", Kind: image.Internal, Msg: "secret"}, 500, "application/json",
			`{"message": "The server has either erred or is incapable of performing the requested operation.<br /><br />\n\n\n", "code": "500 Internal Server Error", "title": "Internal Server Error"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			if tt.accept != "" {
				r.Header.Set("Accept", tt.accept)
			}
			w := httptest.NewRecorder()
			Write(w, r, tt.err)
			if w.Code != tt.status || w.Header().Get("Content-Type") != tt.ctype || w.Body.String() != tt.body {
				t.Errorf("Write = %d %q %q, want %d %q %q", w.Code, w.Header().Get("Content-Type"), w.Body.String(), tt.status, tt.ctype, tt.body)
			}
		})
	}
}

func TestHeadHasNoBody(t *testing.T) {
	r := httptest.NewRequest("HEAD", "/v2/images/x", nil)
	w := httptest.NewRecorder()
	MethodNotAllowed(w, r, "GET, PATCH, DELETE")
	if w.Code != http.StatusMethodNotAllowed || w.Body.Len() != 0 || w.Header().Get("Allow") != "GET, PATCH, DELETE" || w.Header().Get("Content-Length") != "0" {
		t.Errorf("HEAD 405 = %d, body %q, headers %v", w.Code, w.Body.String(), w.Header())
	}
}

// Package apitest serves an API handler for tests the way the server
// does, with identity taken from the noauth headers.
package apitest

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"glimpse/internal/api/httperr"
	"glimpse/internal/auth"
)

// Serve serves h over loopback behind a header-trusting identity
// middleware (auth.NoAuth: X-Identity-Status, X-Project-Id, X-Roles),
// closed when the test ends.
func Serve(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := auth.NoAuth{}.Authenticate(r)
		if err != nil {
			httperr.Write(w, r, err)
			return
		}
		h.ServeHTTP(w, r.WithContext(auth.NewContext(r.Context(), c)))
	}))
	t.Cleanup(ts.Close)
	return ts
}

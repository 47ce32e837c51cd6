// Package httperr is the one place where domain errors become HTTP status
// codes and bodies. Bodies reproduce what Glance's WSGI stack (webob) sends:
// HTML by default, JSON when the client accepts it.
package httperr

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"glimpse/internal/api/wirejson"
	"glimpse/internal/image"
)

var kindStatus = map[image.Kind]int{
	image.Internal:            http.StatusInternalServerError,
	image.NotFound:            http.StatusNotFound,
	image.Conflict:            http.StatusConflict,
	image.Forbidden:           http.StatusForbidden,
	image.Invalid:             http.StatusBadRequest,
	image.TooLarge:            http.StatusRequestEntityTooLarge,
	image.Unsupported:         http.StatusUnsupportedMediaType,
	image.Unavailable:         http.StatusServiceUnavailable,
	image.Unauthorized:        http.StatusUnauthorized,
	image.Gone:                http.StatusGone,
	image.RangeNotSatisfiable: http.StatusRequestedRangeNotSatisfiable,
	image.NotAllowed:          http.StatusMethodNotAllowed,
}

// Status returns the HTTP status for err.
func Status(err error) int {
	if s, ok := kindStatus[image.KindOf(err)]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// reasons are the reason phrases webob uses (416's differs from Go's).
var reasons = map[int]string{
	400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
	405: "Method Not Allowed", 409: "Conflict", 410: "Gone",
	413: "Request Entity Too Large", 415: "Unsupported Media Type",
	416: "Request Range Not Satisfiable", 500: "Internal Server Error",
	502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout",
}

// explanations are the generic texts shown when an error only carries a
// detail line.
var explanations = map[int]string{
	400: "The server could not comply with the request since it is either malformed or otherwise incorrect.",
	401: "This server could not verify that you are authorized to access the document you requested. Either you supplied the wrong credentials (e.g., bad password), or your browser does not understand how to supply the credentials required.",
	403: "Access was denied to this resource.",
	404: "The resource could not be found.",
	405: "The method is not allowed for this resource.",
	409: "There was a conflict when trying to complete your request.",
	410: "This resource is no longer available.  No forwarding address is given.",
	413: "The request is larger than the server is willing or able to process.",
	415: "The request media type is not supported by this server.",
	416: "The Range requested is not available.",
	500: "The server has either erred or is incapable of performing the requested operation.",
	503: "The server is currently unavailable. Please try again at a later time.",
}

// Reason is the reason phrase for a status.
func Reason(status int) string {
	if r, ok := reasons[status]; ok {
		return r
	}
	return http.StatusText(status)
}

// Write answers err. 5xx causes are logged with the request's logger and
// never shown to the client.
func Write(w http.ResponseWriter, r *http.Request, err error) {
	status := Status(err)
	var e *image.Error
	msg, detail := "", ""
	if ie, ok := err.(*image.Error); ok {
		e = ie
	} else if image.KindOf(err) != image.Internal {
		e = asError(err)
	}
	if e != nil && status < 500 {
		msg, detail = e.Msg, e.Detail
	} else if e != nil && status == http.StatusServiceUnavailable {
		msg, detail = e.Msg, e.Detail
	}
	if status >= 500 {
		logger(r).Error("request failed", "status", status, "error", err)
	}
	if status == http.StatusUnsupportedMediaType && r != nil {
		// webob's 415 names the request's media type and shows the
		// cause as its detail.
		UnsupportedMediaType(w, r, r.Header.Get("Content-Type"), msg)
		return
	}
	WriteStatus(w, r, status, msg, detail)
}

func asError(err error) *image.Error {
	for err != nil {
		if e, ok := err.(*image.Error); ok {
			return e
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return nil
		}
		err = u.Unwrap()
	}
	return nil
}

// WriteStatus writes a webob-style error body: explanation (the status's
// generic one when empty), then an optional detail line.
func WriteStatus(w http.ResponseWriter, r *http.Request, status int, explanation, detail string) {
	if explanation == "" {
		explanation = explanations[status]
	}
	WriteText(w, r, status, explanation+"<br /><br />\n"+detail+"\n\n")
}

// MethodNotAllowed answers a known path asked with another method, with
// the Allow header and webob's shorter template for this status.
func MethodNotAllowed(w http.ResponseWriter, r *http.Request, allow string) {
	w.Header().Set("Allow", allow)
	WriteText(w, r, http.StatusMethodNotAllowed, "The method "+r.Method+" is not allowed for this resource. <br /><br />\n")
}

// UnsupportedMediaType answers a body of a media type the route does not
// take, or data the route cannot accept in it (detail says why).
func UnsupportedMediaType(w http.ResponseWriter, r *http.Request, mediaType, detail string) {
	WriteText(w, r, http.StatusUnsupportedMediaType, "The request media type "+mediaType+" is not supported by this server.\n<br /><br />\n"+detail)
}

// WriteText writes an error body whose text is already composed, in the
// format the client's Accept header picks.
func WriteText(w http.ResponseWriter, r *http.Request, status int, text string) {
	title := strconv.Itoa(status) + " " + Reason(status)
	h := w.Header()
	h.Del("Content-Length")
	var body []byte
	switch bodyFormat(r) {
	case "json":
		body = wirejson.NewObject().String("message", text).String("code", title).
			String("title", Reason(status)).Bytes()
		h.Set("Content-Type", "application/json")
	case "html":
		body = []byte(fmt.Sprintf("<html>\n <head>\n  <title>%s</title>\n </head>\n <body>\n  <h1>%s</h1>\n  %s\n </body>\n</html>",
			title, title, escape(text)))
		h.Set("Content-Type", "text/html; charset=UTF-8")
	default:
		body = []byte(title + "\n\n" + stripTags(text))
		h.Set("Content-Type", "text/plain; charset=UTF-8")
	}
	if r != nil && r.Method == http.MethodHead {
		body = nil
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

// stripTags renders the body text as webob's plain-text template does:
// newlines become spaces, <br /> becomes a newline.
func stripTags(s string) string {
	s = strings.ReplaceAll(s, "\r", "")
	s = strings.ReplaceAll(s, "\n", " ")
	return strings.ReplaceAll(s, "<br />", "\n")
}

// bodyFormat picks html, json or plain the way webob's acceptable_offers
// does for the offers text/html and application/json: the higher quality
// wins, a tie goes to HTML, no acceptable offer (or no Accept) means plain.
func bodyFormat(r *http.Request) string {
	if r == nil {
		return "plain"
	}
	accept := r.Header.Get("Accept")
	if accept == "" {
		return "plain"
	}
	qHTML, qJSON := -1.0, -1.0
	specHTML, specJSON := -1, -1
	for _, part := range strings.Split(accept, ",") {
		fields := strings.Split(part, ";")
		mt := strings.ToLower(strings.TrimSpace(fields[0]))
		q := 1.0
		for _, p := range fields[1:] {
			if v, ok := strings.CutPrefix(strings.TrimSpace(p), "q="); ok {
				if f, err := strconv.ParseFloat(v, 64); err == nil {
					q = f
				}
			}
		}
		match := func(offer string, best *float64, spec *int) {
			typ, _, _ := strings.Cut(offer, "/")
			s := -1
			switch mt {
			case offer:
				s = 2
			case typ + "/*":
				s = 1
			case "*/*":
				s = 0
			}
			// The most specific matching range decides an offer's quality.
			if s > *spec {
				*spec, *best = s, q
			}
		}
		match("text/html", &qHTML, &specHTML)
		match("application/json", &qJSON, &specJSON)
	}
	switch {
	case qHTML <= 0 && qJSON <= 0:
		return "plain"
	case qJSON > qHTML:
		return "json"
	}
	return "html"
}

var htmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#x27;")

// escape escapes like Python's html.escape, except the markup webob itself
// puts between explanation and detail.
func escape(s string) string {
	const br = "<br /><br />"
	parts := strings.Split(s, br)
	for i, p := range parts {
		parts[i] = htmlEscaper.Replace(p)
	}
	return strings.Join(parts, br)
}

type loggerKey struct{}

// NewContext returns ctx carrying the request's logger, so failures are
// logged with its request id.
func NewContext(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, l)
}

// Logger returns the request's logger (slog's default when none is set).
func Logger(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}

func logger(r *http.Request) *slog.Logger {
	if r == nil {
		return slog.Default()
	}
	return Logger(r.Context())
}

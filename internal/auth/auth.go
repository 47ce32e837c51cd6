// Package auth builds the request context (who is calling) from a request,
// in the modes Glance's paste flavors offer. Keystone token validation
// plugs in here as another Authenticator.
package auth

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"glimpse/internal/image"
)

// Context is the caller as the rest of glimpse sees it.
type Context struct {
	UserID    string
	ProjectID string // "" when the caller has no project
	Roles     []string
	IsAdmin   bool
	// RequestID is the client's X-Openstack-Request-Id when the mode
	// trusts it (Glance's context middleware echoes it; the
	// unauthenticated one does not).
	RequestID string
}

// HasRole reports whether the caller holds role (roles are lower-cased).
func (c *Context) HasRole(role string) bool { return slices.Contains(c.Roles, strings.ToLower(role)) }

type ctxKey struct{}

// NewContext returns ctx carrying the caller.
func NewContext(ctx context.Context, c *Context) context.Context {
	return context.WithValue(ctx, ctxKey{}, c)
}

// FromContext returns the caller, or an anonymous non-admin caller when
// none was attached (never nil, so no handler can skip the checks by
// accident).
func FromContext(ctx context.Context) *Context {
	if c, ok := ctx.Value(ctxKey{}).(*Context); ok {
		return c
	}
	return &Context{}
}

// Authenticator decides who sent a request.
type Authenticator interface {
	Authenticate(r *http.Request) (*Context, error)
	// RequiresAuth reports whether the mode checks identity at all; a
	// service without it must not listen beyond loopback by accident.
	RequiresAuth() bool
}

// Unauthenticated is Glance's default pipeline without a flavor: every
// request is an admin with no user and no project.
type Unauthenticated struct{}

func (Unauthenticated) Authenticate(*http.Request) (*Context, error) {
	return &Context{IsAdmin: true}, nil
}

func (Unauthenticated) RequiresAuth() bool { return false }

// NoAuth trusts identity headers set by a front proxy, as Glance's context
// middleware does without keystonemiddleware in front of it.
type NoAuth struct{}

func (NoAuth) RequiresAuth() bool { return false }

func (NoAuth) Authenticate(r *http.Request) (*Context, error) {
	if r.Header.Get("X-Identity-Status") != "Confirmed" {
		return nil, &image.Error{Op: "auth", Kind: image.Unauthorized,
			Msg: "This server could not verify that you are authorized to access the document you requested. Either you supplied the wrong credentials (e.g., bad password), or your browser does not understand how to supply the credentials required."}
	}
	c := &Context{UserID: r.Header.Get("X-User-Id"), RequestID: r.Header.Get("X-Openstack-Request-Id")}
	c.ProjectID = r.Header.Get("X-Project-Id")
	if c.ProjectID == "" {
		c.ProjectID = r.Header.Get("X-Tenant-Id")
	}
	for _, role := range strings.Split(r.Header.Get("X-Roles"), ",") {
		if role = strings.ToLower(strings.TrimSpace(role)); role != "" && !slices.Contains(c.Roles, role) {
			c.Roles = append(c.Roles, role)
		}
	}
	c.IsAdmin = c.HasRole("admin")
	return c, nil
}

package auth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"glimpse/internal/image"
)

// Keystone authenticates requests with Keystone tokens, as Glance's
// keystone flavors do with keystonemiddleware's auth_token in front of the
// context middleware.
//
// glimpse logs in to Keystone as the service user of [keystone_authtoken]
// (password method, project scope), keeps that token and renews it two
// minutes before it expires or when Keystone answers 401 to it. Each
// request's X-Auth-Token (or X-Storage-Token) is checked with
// GET /v3/auth/tokens, and so is X-Service-Token when present. The caller's
// identity comes only from Keystone's answer: identity headers sent by the
// client (X-Roles, X-Project-Id, X-Identity-Status, ...) are ignored.
//
// Token cache: Keystone's answer for a valid token is kept for
// token_cache_time seconds (default 300) but never past the token's
// expires_at; token_cache_time = 0 keeps it until expires_at and -1 turns
// the cache off. A token Keystone calls invalid is remembered for 10
// seconds (or token_cache_time when shorter), so a flood of bad tokens
// costs Keystone one request per token per 10 s. At most 10,000 tokens are
// kept; the oldest entry goes first. Entries are keyed by the SHA-256 of
// the token. As with keystonemiddleware, a revoked token keeps working
// until its entry expires. Concurrent requests with the same uncached token
// share one validation.
//
// Timeouts: every exchange with Keystone (connecting, sending, reading the
// answer) must end within http_connect_timeout seconds (default 10, as
// keystoneauth applies its session timeout to the connection and to the
// answer). A connection that cannot be made is retried
// http_request_max_retries times (default 3) after 0.5, 1, 2, ... s. A
// request never waits more than three timeouts (30 s by default) for
// Keystone, logins and retries included. When Keystone cannot be reached
// or answers with an error, Authenticate returns an image.Unavailable
// error (503) and glimpse logs one line per minute while the failures
// last, and one when Keystone answers again.
//
// Rejections: a missing, invalid or expired token, or an X-Service-Token
// that is invalid (or lacks service_token_roles when
// service_token_roles_required is set), gives an image.Unauthorized error
// whose Err is ErrTokenRejected. keystonemiddleware answers it with the
// JSON body RejectionBody (Content-Type application/json; charset=UTF-8),
// and every 401 in this mode carries the header
// "WWW-Authenticate: <Challenge()>".
//
// With delay_auth_decision, a request whose token is missing or invalid
// (or cannot be checked because Keystone is down) goes on unconfirmed, as
// Glance's context middleware then decides: an anonymous read-only caller
// when AllowAnonymous is set, else a 401 with webob's generic message.
type Keystone struct {
	// AllowAnonymous is Glance's [DEFAULT] allow_anonymous_access; it
	// matters only with delay_auth_decision. Set it before the first
	// request.
	AllowAnonymous bool

	cfg        keystoneConfig
	log        *slog.Logger
	client     *http.Client
	challenge  string
	now        func() time.Time
	retryDelay time.Duration

	svcMu      sync.Mutex
	svcToken   string
	svcRenewAt time.Time

	cache *tokenCache

	flightMu sync.Mutex
	flights  map[flightKey]*flight

	down       atomic.Bool
	outageMu   sync.Mutex
	lastLog    time.Time
	suppressed int
	roleWarned atomic.Bool
}

var _ Authenticator = (*Keystone)(nil)

// ErrTokenRejected is the cause (image.Error.Err) of keystonemiddleware's
// own 401: no token, an invalid or expired one, or an unacceptable
// service token. The HTTP layer answers it with RejectionBody.
var ErrTokenRejected = errors.New("keystone: token missing, invalid or expired")

// RejectionBody is the body of keystonemiddleware's 401, sent as
// application/json whatever the client accepts.
const RejectionBody = `{"error": {"code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication."}}`

const (
	rejectionMsg   = "The request you have made requires authentication."
	unavailableMsg = "The Keystone service is temporarily unavailable."

	defaultTimeout        = 10 * time.Second
	defaultRetries        = 3
	defaultTokenCacheTime = 300 * time.Second
	negativeCacheTime     = 10 * time.Second
	maxCachedTokens       = 10000
	serviceTokenMargin    = 2 * time.Minute
	outageLogEvery        = time.Minute
	maxKeystoneBody       = 8 << 20
)

type keystoneConfig struct {
	identityURL   string // .../v3
	wwwAuthURI    string
	userID        string
	username      string
	password      string
	userDomainID  string
	userDomainNm  string
	projectID     string
	projectName   string
	projDomainID  string
	projDomainNm  string
	regionName    string
	serviceRoles  []string
	rolesRequired bool
	cacheTime     time.Duration // < 0: no cache
	timeout       time.Duration
	retries       int
	withCatalog   bool
	delayDecision bool
}

// keystoneOptions are the [keystone_authtoken] options glimpse reads.
// region_name and interface choose the identity endpoint in
// keystonemiddleware; glimpse always talks to auth_url, so they are
// accepted and have no further effect.
var keystoneOptions = map[string]bool{
	"auth_url": true, "www_authenticate_uri": true, "auth_uri": true, "auth_type": true,
	"username": true, "user_id": true, "password": true,
	"project_name": true, "project_id": true,
	"user_domain_name": true, "user_domain_id": true,
	"project_domain_name": true, "project_domain_id": true,
	"default_domain_name": true, "default_domain_id": true,
	"region_name": true, "interface": true,
	"service_token_roles": true, "service_token_roles_required": true,
	"token_cache_time": true, "http_connect_timeout": true, "http_request_max_retries": true,
	"include_service_catalog": true, "delay_auth_decision": true,
}

// NewKeystone reads the [keystone_authtoken] options (keys lower-case). It
// returns one warning per option glimpse does not use, and an error naming
// every missing or bad option. It does not contact Keystone: the first
// request does.
func NewKeystone(opts map[string]string, logger *slog.Logger) (*Keystone, []string, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var warnings, problems []string
	get := func(k string) string { return strings.TrimSpace(opts[k]) }
	bad := func(key, format string, args ...any) {
		problems = append(problems, "[keystone_authtoken] "+key+": "+fmt.Sprintf(format, args...))
	}
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !keystoneOptions[k] {
			warnings = append(warnings, "[keystone_authtoken] "+k+": not supported by glimpse; ignored")
		}
	}

	c := keystoneConfig{
		userID: get("user_id"), username: get("username"), password: opts["password"],
		userDomainID: get("user_domain_id"), userDomainNm: get("user_domain_name"),
		projectID: get("project_id"), projectName: get("project_name"),
		projDomainID: get("project_domain_id"), projDomainNm: get("project_domain_name"),
		regionName: get("region_name"),
		cacheTime:  defaultTokenCacheTime, timeout: defaultTimeout, retries: defaultRetries,
		withCatalog: true,
	}
	switch t := get("auth_type"); t {
	case "password", "v3password":
	case "":
		bad("auth_type", "missing; glimpse supports auth_type = password")
	default:
		bad("auth_type", "%q is not supported; glimpse supports auth_type = password", t)
	}
	if u := get("auth_url"); u == "" {
		bad("auth_url", "missing")
	} else if id, err := identityURL(u); err != nil {
		bad("auth_url", "%v", err)
	} else {
		c.identityURL = id
	}
	if c.userID == "" && c.username == "" {
		bad("username", "missing (or user_id)")
	}
	if c.password == "" {
		bad("password", "missing")
	}
	if c.projectID == "" && c.projectName == "" {
		bad("project_name", "missing (or project_id)")
	}
	if c.userDomainID == "" && c.userDomainNm == "" {
		c.userDomainID, c.userDomainNm = get("default_domain_id"), get("default_domain_name")
	}
	if c.projDomainID == "" && c.projDomainNm == "" {
		c.projDomainID, c.projDomainNm = get("default_domain_id"), get("default_domain_name")
	}
	if c.userID == "" && c.username != "" && c.userDomainID == "" && c.userDomainNm == "" {
		bad("user_domain_name", "missing (or user_domain_id): needed with username")
	}
	if c.projectID == "" && c.projectName != "" && c.projDomainID == "" && c.projDomainNm == "" {
		bad("project_domain_name", "missing (or project_domain_id): needed with project_name")
	}
	c.wwwAuthURI = get("www_authenticate_uri")
	if c.wwwAuthURI == "" {
		c.wwwAuthURI = get("auth_uri")
	}
	if c.wwwAuthURI == "" && c.identityURL != "" {
		c.wwwAuthURI = strings.TrimSuffix(c.identityURL, "/v3")
		warnings = append(warnings, "[keystone_authtoken] www_authenticate_uri: not set; 401 answers point clients at auth_url "+c.wwwAuthURI)
	}

	c.serviceRoles = []string{"service"}
	if v, ok := opts["service_token_roles"]; ok {
		c.serviceRoles = nil
		for _, r := range strings.Split(v, ",") {
			if r = strings.ToLower(strings.TrimSpace(r)); r != "" {
				c.serviceRoles = append(c.serviceRoles, r)
			}
		}
	}
	boolOpt := func(key string, dst *bool) {
		if v := get(key); v != "" {
			b, ok := parseBool(v)
			if !ok {
				bad(key, "%q is not a boolean", v)
			}
			*dst = b
		}
	}
	boolOpt("service_token_roles_required", &c.rolesRequired)
	boolOpt("include_service_catalog", &c.withCatalog)
	boolOpt("delay_auth_decision", &c.delayDecision)
	intOpt := func(key string, min int) (int, bool) {
		v := get(key)
		if v == "" {
			return 0, false
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < min {
			bad(key, "%q is not an integer >= %d", v, min)
			return 0, false
		}
		return n, true
	}
	if n, ok := intOpt("token_cache_time", -1); ok {
		c.cacheTime = time.Duration(n) * time.Second
	}
	if n, ok := intOpt("http_connect_timeout", 1); ok {
		c.timeout = time.Duration(n) * time.Second
	}
	if n, ok := intOpt("http_request_max_retries", 0); ok {
		c.retries = n
	}
	if len(problems) > 0 {
		return nil, warnings, errors.New(strings.Join(problems, "; "))
	}

	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.DialContext = (&net.Dialer{Timeout: c.timeout, KeepAlive: 30 * time.Second}).DialContext
	transport.MaxIdleConnsPerHost = 16
	k := &Keystone{
		cfg:        c,
		log:        logger,
		client:     &http.Client{Timeout: c.timeout, Transport: transport},
		challenge:  `Keystone uri="` + c.wwwAuthURI + `"`,
		now:        time.Now,
		retryDelay: 500 * time.Millisecond,
		cache:      newTokenCache(maxCachedTokens),
		flights:    map[flightKey]*flight{},
	}
	return k, warnings, nil
}

// identityURL turns auth_url into the Identity v3 root.
func identityURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%q is not an http or https URL", raw)
	}
	p := strings.TrimRight(u.Path, "/")
	switch {
	case strings.HasSuffix(p, "/v3"):
	case strings.HasSuffix(p, "/v2.0"):
		return "", fmt.Errorf("%q names Identity v2.0; glimpse speaks v3", raw)
	default:
		p += "/v3"
	}
	u.Path, u.RawQuery, u.Fragment = p, "", ""
	return u.String(), nil
}

func parseBool(v string) (bool, bool) {
	switch strings.ToLower(v) {
	case "true", "yes", "on", "1", "t", "y":
		return true, true
	case "false", "no", "off", "0", "f", "n":
		return false, true
	}
	return false, false
}

// RequiresAuth is true: every request needs a token.
func (k *Keystone) RequiresAuth() bool { return true }

// Challenge is the WWW-Authenticate value every 401 carries in keystone
// mode: Keystone uri="<www_authenticate_uri>".
func (k *Keystone) Challenge() string { return k.challenge }

// Authenticate checks the request's tokens with Keystone (or the cache)
// and returns the caller they name.
func (k *Keystone) Authenticate(r *http.Request) (*Context, error) {
	// Direct map reads with canonical keys: this is the hot path.
	h := r.Header
	userTok, ok := header(h, "X-Auth-Token")
	if !ok {
		userTok, _ = header(h, "X-Storage-Token")
	}
	userTok = strings.TrimSpace(userTok)
	svcTok, _ := header(h, "X-Service-Token")
	svcTok = strings.TrimSpace(svcTok)
	ctx := r.Context()

	var svc *tokenInfo
	serviceOK, allowExpired := true, false
	if svcTok != "" {
		info, err := k.check(ctx, svcTok, false)
		switch {
		case err == nil:
			passed := slices.ContainsFunc(info.ctx.Roles, func(r string) bool { return slices.Contains(k.cfg.serviceRoles, r) })
			serviceOK = passed || !k.cfg.rolesRequired
			if !passed && !k.cfg.rolesRequired && !k.roleWarned.Swap(true) {
				k.log.Warn("keystone: a valid token without service_token_roles was sent as X-Service-Token; accepted because service_token_roles_required is false")
			}
			allowExpired = passed
			if serviceOK {
				svc = info
			}
		case errors.Is(err, errInvalidToken):
			serviceOK = false
		case k.cfg.delayDecision:
			serviceOK = false
		default:
			return nil, err
		}
	}
	var user *tokenInfo
	if userTok != "" {
		info, err := k.check(ctx, userTok, allowExpired)
		switch {
		case err == nil:
			user = info
		case errors.Is(err, errInvalidToken), k.cfg.delayDecision:
		default:
			return nil, err
		}
	}

	if user == nil || !serviceOK {
		if !k.cfg.delayDecision {
			return nil, &image.Error{Op: "auth", Kind: image.Unauthorized, Msg: rejectionMsg, Err: ErrTokenRejected}
		}
		if user == nil {
			// Unconfirmed identity: Glance's context middleware decides.
			if k.AllowAnonymous {
				return &Context{ReadOnly: true, IsAdminProject: true}, nil
			}
			return nil, &image.Error{Op: "auth", Kind: image.Unauthorized, Msg: notAuthorizedMsg}
		}
		// The user is confirmed but the service token is not: Glance
		// sees the user alone.
	}
	c := *user.ctx
	c.AuthToken = Token(userTok)
	c.RequestID, _ = header(h, "X-Openstack-Request-Id")
	if svc != nil {
		c.ServiceUserID, c.ServiceUserName = svc.ctx.UserID, svc.ctx.UserName
		c.ServiceProjectID, c.ServiceRoles = svc.ctx.ProjectID, svc.ctx.Roles
	}
	return &c, nil
}

// header is h.Get(key) for a key already in canonical form.
func header(h http.Header, key string) (string, bool) {
	if v := h[key]; len(v) > 0 {
		return v[0], true
	}
	return "", false
}

// errInvalidToken: Keystone does not know the token, or it has expired.
var errInvalidToken = errors.New("keystone: invalid token")

// tokenInfo is what Keystone said about one token; never modified once
// made.
type tokenInfo struct {
	ctx     *Context // without AuthToken and RequestID
	expires time.Time
}

type flightKey struct {
	hash         [sha256.Size]byte
	allowExpired bool
}

type flight struct {
	done chan struct{}
	info *tokenInfo
	err  error
}

// check returns what Keystone says about tok: from the cache, else from
// one validation shared by the concurrent callers asking about the same
// token. The error is errInvalidToken or an image.Unavailable error.
func (k *Keystone) check(ctx context.Context, tok string, allowExpired bool) (*tokenInfo, error) {
	key := flightKey{sha256.Sum256([]byte(tok)), allowExpired}
	now := k.now()
	if info, hit := k.cache.get(key.hash, now, allowExpired); hit {
		if info == nil {
			return nil, errInvalidToken
		}
		return info, nil
	}
	k.flightMu.Lock()
	if f, ok := k.flights[key]; ok {
		k.flightMu.Unlock()
		select {
		case <-f.done:
			return f.info, f.err
		case <-ctx.Done():
			// The client went away; Keystone is not to blame.
			return nil, &image.Error{Op: "auth", Kind: image.Unavailable, Detail: unavailableMsg, Err: ctx.Err()}
		}
	}
	f := &flight{done: make(chan struct{})}
	k.flights[key] = f
	k.flightMu.Unlock()

	// The validation is shared, so one caller going away must not cancel
	// it for the others; a login, a validation, retries and a renewal all
	// fit in three timeouts.
	vctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*k.cfg.timeout)
	f.info, f.err = k.validate(vctx, tok, allowExpired)
	cancel()
	if k.cfg.cacheTime >= 0 {
		now = k.now()
		switch {
		case f.err == nil:
			until := now.Add(k.cfg.cacheTime)
			if k.cfg.cacheTime == 0 {
				until = f.info.expires
			}
			if !allowExpired && f.info.expires.Before(until) {
				until = f.info.expires
			}
			k.cache.put(key.hash, &cacheEntry{info: f.info, until: until})
		case errors.Is(f.err, errInvalidToken):
			ttl := negativeCacheTime
			if k.cfg.cacheTime > 0 && k.cfg.cacheTime < ttl {
				ttl = k.cfg.cacheTime
			}
			k.cache.put(key.hash, &cacheEntry{until: now.Add(ttl), allowExpired: allowExpired})
		}
	}
	k.flightMu.Lock()
	delete(k.flights, key)
	k.flightMu.Unlock()
	close(f.done)
	return f.info, f.err
}

// validate asks Keystone about tok, renewing glimpse's own token once when
// Keystone rejects it.
func (k *Keystone) validate(ctx context.Context, tok string, allowExpired bool) (*tokenInfo, error) {
	q := url.Values{}
	if !k.cfg.withCatalog {
		q.Set("nocatalog", "")
	}
	if allowExpired {
		q.Set("allow_expired", "1")
	}
	u := k.cfg.identityURL + "/auth/tokens"
	if len(q) > 0 {
		u += "?" + strings.Replace(q.Encode(), "nocatalog=", "nocatalog", 1)
	}
	stale := ""
	for attempt := 0; ; attempt++ {
		svc, err := k.serviceToken(ctx, stale)
		if err != nil {
			return nil, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, k.unavailable(err)
		}
		req.Header.Set("X-Auth-Token", svc)
		req.Header.Set("X-Subject-Token", tok)
		req.Header.Set("Accept", "application/json")
		resp, err := k.do(req)
		if err != nil {
			return nil, k.unavailable(err)
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxKeystoneBody))
		resp.Body.Close()
		if err != nil {
			return nil, k.unavailable(fmt.Errorf("reading the answer to GET /v3/auth/tokens: %w", err))
		}
		switch resp.StatusCode {
		case http.StatusOK:
			k.recovered()
			info, err := parseToken(body)
			if err != nil {
				k.log.Warn("keystone: token validation answer not understood", "error", err)
				return nil, errInvalidToken
			}
			if !allowExpired && !k.now().Before(info.expires) {
				return nil, errInvalidToken
			}
			return info, nil
		case http.StatusNotFound:
			k.recovered()
			return nil, errInvalidToken
		case http.StatusUnauthorized:
			if attempt == 0 {
				stale = svc
				continue
			}
			return nil, k.unavailable(errors.New("keystone rejected glimpse's own token twice while validating a token"))
		default:
			return nil, k.unavailable(fmt.Errorf("GET /v3/auth/tokens: HTTP %d: %s", resp.StatusCode, snippet(body)))
		}
	}
}

// do sends req, retrying connections that cannot be made.
func (k *Keystone) do(req *http.Request) (*http.Response, error) {
	delay := k.retryDelay
	for attempt := 0; ; attempt++ {
		if req.GetBody != nil && attempt > 0 {
			b, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			req.Body = b
		}
		resp, err := k.client.Do(req)
		var op *net.OpError
		if err == nil || attempt >= k.cfg.retries || !errors.As(err, &op) || op.Op != "dial" {
			return resp, err
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-req.Context().Done():
			t.Stop()
			return nil, err
		}
		delay *= 2
	}
}

// serviceToken returns glimpse's own token, getting a new one when there
// is none, when it is about to expire, or when it is stale (the token
// Keystone just refused).
func (k *Keystone) serviceToken(ctx context.Context, stale string) (string, error) {
	k.svcMu.Lock()
	defer k.svcMu.Unlock()
	if k.svcToken != "" && k.svcToken != stale && k.now().Before(k.svcRenewAt) {
		return k.svcToken, nil
	}
	var scope map[string]any
	if k.cfg.projectID != "" {
		scope = map[string]any{"project": map[string]any{"id": k.cfg.projectID}}
	} else {
		scope = map[string]any{"project": map[string]any{"name": k.cfg.projectName, "domain": domainRef(k.cfg.projDomainID, k.cfg.projDomainNm)}}
	}
	user := map[string]any{"password": k.cfg.password}
	if k.cfg.userID != "" {
		user["id"] = k.cfg.userID
	} else {
		user["name"] = k.cfg.username
		user["domain"] = domainRef(k.cfg.userDomainID, k.cfg.userDomainNm)
	}
	body, _ := json.Marshal(map[string]any{"auth": map[string]any{
		"identity": map[string]any{"methods": []string{"password"}, "password": map[string]any{"user": user}},
		"scope":    scope,
	}})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, k.cfg.identityURL+"/auth/tokens?nocatalog", bytes.NewReader(body))
	if err != nil {
		return "", k.unavailable(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := k.do(req)
	if err != nil {
		return "", k.unavailable(err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxKeystoneBody))
	if err != nil {
		return "", k.unavailable(fmt.Errorf("reading the answer to POST /v3/auth/tokens: %w", err))
	}
	if resp.StatusCode != http.StatusCreated {
		return "", k.unavailable(fmt.Errorf("glimpse's login as %q (POST /v3/auth/tokens): HTTP %d: %s", k.cfg.username+k.cfg.userID, resp.StatusCode, snippet(answer)))
	}
	tok := resp.Header.Get("X-Subject-Token")
	var parsed struct {
		Token struct {
			IssuedAt  time.Time `json:"issued_at"`
			ExpiresAt time.Time `json:"expires_at"`
		} `json:"token"`
	}
	if err := json.Unmarshal(answer, &parsed); err != nil || tok == "" || parsed.Token.ExpiresAt.IsZero() {
		return "", k.unavailable(errors.New("glimpse's login (POST /v3/auth/tokens): answer without a token or expires_at"))
	}
	// Renew two minutes before expiry, or halfway through a shorter life.
	now := k.now()
	margin := min(serviceTokenMargin, parsed.Token.ExpiresAt.Sub(now)/2)
	k.svcToken, k.svcRenewAt = tok, parsed.Token.ExpiresAt.Add(-margin)
	return tok, nil
}

func domainRef(id, name string) map[string]string {
	if id != "" {
		return map[string]string{"id": id}
	}
	return map[string]string{"name": name}
}

// keystoneToken is the part of Keystone's token document glimpse reads.
type keystoneToken struct {
	Token struct {
		ExpiresAt time.Time `json:"expires_at"`
		User      struct {
			ID     string `json:"id"`
			Name   string `json:"name"`
			Domain struct {
				ID   string `json:"id"`
				Name string `json:"name"`
			} `json:"domain"`
		} `json:"user"`
		Project *struct {
			ID     string `json:"id"`
			Name   string `json:"name"`
			Domain struct {
				ID   string `json:"id"`
				Name string `json:"name"`
			} `json:"domain"`
		} `json:"project"`
		Domain *struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"domain"`
		System         map[string]any `json:"system"`
		Roles          []struct{ Name string }
		IsAdminProject *bool            `json:"is_admin_project"`
		Catalog        []CatalogService `json:"catalog"`
	} `json:"token"`
}

func parseToken(body []byte) (*tokenInfo, error) {
	var kt keystoneToken
	if err := json.Unmarshal(body, &kt); err != nil {
		return nil, err
	}
	t := &kt.Token
	if t.User.ID == "" || t.ExpiresAt.IsZero() {
		return nil, errors.New("token without user or expires_at")
	}
	c := &Context{
		UserID: t.User.ID, UserName: t.User.Name,
		UserDomainID: t.User.Domain.ID, UserDomainName: t.User.Domain.Name,
		IsAdminProject: t.IsAdminProject == nil || *t.IsAdminProject,
		ExpiresAt:      t.ExpiresAt,
		ServiceCatalog: t.Catalog,
	}
	if t.Project != nil {
		c.ProjectID, c.ProjectName = t.Project.ID, t.Project.Name
		c.ProjectDomainID, c.ProjectDomainName = t.Project.Domain.ID, t.Project.Domain.Name
	}
	if t.Domain != nil {
		c.DomainID, c.DomainName = t.Domain.ID, t.Domain.Name
	}
	if all, _ := t.System["all"].(bool); all {
		c.SystemScope = "all"
	}
	for _, r := range t.Roles {
		if name := strings.ToLower(r.Name); name != "" && !slices.Contains(c.Roles, name) {
			c.Roles = append(c.Roles, name)
		}
	}
	c.IsAdmin = c.HasRole("admin")
	return &tokenInfo{ctx: c, expires: t.ExpiresAt}, nil
}

func snippet(b []byte) string {
	const max = 200
	s := strings.TrimSpace(string(b))
	if len(s) > max {
		s = s[:max] + "..."
	}
	return s
}

// unavailable logs a failure to reach Keystone (at most once per minute
// while failures last) and returns the error for the client: 503.
func (k *Keystone) unavailable(cause error) error {
	k.outageMu.Lock()
	now := k.now()
	if !k.down.Load() || now.Sub(k.lastLog) >= outageLogEvery {
		k.log.Error("keystone: cannot validate tokens; requests get 503 until it answers",
			"url", k.cfg.identityURL, "error", cause, "failures_not_logged", k.suppressed)
		k.lastLog, k.suppressed = now, 0
	} else {
		k.suppressed++
	}
	k.down.Store(true)
	k.outageMu.Unlock()
	return &image.Error{Op: "auth", Kind: image.Unavailable, Detail: unavailableMsg, Err: cause}
}

// recovered notes that Keystone answered.
func (k *Keystone) recovered() {
	if !k.down.Load() {
		return
	}
	k.outageMu.Lock()
	if k.down.Load() {
		k.down.Store(false)
		k.log.Info("keystone: answering again", "url", k.cfg.identityURL, "failures_not_logged", k.suppressed)
		k.suppressed = 0
	}
	k.outageMu.Unlock()
}

// tokenCache maps token hashes to Keystone's answers, evicting the oldest
// entry when full. Reads take only a read lock.
type tokenCache struct {
	mu    sync.RWMutex
	max   int
	m     map[[sha256.Size]byte]*cacheEntry
	order [][sha256.Size]byte // insertion order, a ring of max slots
	next  int
}

type cacheEntry struct {
	info         *tokenInfo // nil: the token is invalid
	until        time.Time
	allowExpired bool // negative entry learnt with allow_expired
}

func newTokenCache(max int) *tokenCache {
	return &tokenCache{max: max, m: make(map[[sha256.Size]byte]*cacheEntry), order: make([][sha256.Size]byte, 0, max)}
}

// get returns (info, true) for a known valid token, (nil, true) for a
// known invalid or expired one, (nil, false) when Keystone must be asked.
func (c *tokenCache) get(key [sha256.Size]byte, now time.Time, allowExpired bool) (*tokenInfo, bool) {
	c.mu.RLock()
	e := c.m[key]
	c.mu.RUnlock()
	if e == nil || !now.Before(e.until) {
		return nil, false
	}
	if e.info == nil {
		// An expired token may still pass with allow_expired.
		return nil, !allowExpired || e.allowExpired
	}
	if !allowExpired && !now.Before(e.info.expires) {
		return nil, true
	}
	return e.info, true
}

func (c *tokenCache) put(key [sha256.Size]byte, e *cacheEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[key]; ok {
		c.m[key] = e
		return
	}
	if len(c.order) < c.max {
		c.order = append(c.order, key)
	} else {
		delete(c.m, c.order[c.next])
		c.order[c.next] = key
		c.next = (c.next + 1) % c.max
	}
	c.m[key] = e
}

func (c *tokenCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}

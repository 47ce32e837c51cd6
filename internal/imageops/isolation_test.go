package imageops_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"glimpse/internal/config"
	"glimpse/internal/server"
)

// The tenant-isolation matrix: every caller against every kind of image
// owned by project A, for every image and member operation, with the
// status and message Glance's legacy policy gives (observed against
// Glance 25.1 in its noauth context mode).

// caller is who sends a request, as the noauth identity headers say.
type caller struct {
	name    string
	project string
	roles   string
}

var (
	callerA   = caller{name: "A", project: "A", roles: "member"}
	callerB   = caller{name: "B", project: "B", roles: "member"}
	callerAdm = caller{name: "admin", project: "ADM", roles: "admin"}
	callerNP  = caller{name: "no-project", project: "", roles: "member"}
	// callers is the column order of every row of the matrix below.
	callers = []caller{callerA, callerB, callerAdm, callerNP}
)

// kind is one fixture image: all are owned by A except ownerless.
type kind string

const (
	private        kind = "private"
	sharedNone     kind = "shared-B-none"
	sharedPending  kind = "shared-B-pending"
	sharedAccepted kind = "shared-B-accepted"
	sharedRejected kind = "shared-B-rejected"
	public         kind = "public"
	community      kind = "community"
	ownerless      kind = "ownerless"
)

var kinds = []kind{private, sharedNone, sharedPending, sharedAccepted, sharedRejected, public, community, ownerless}

// bStatus is B's membership of each kind ("" when B is not a member).
var bStatus = map[kind]string{sharedPending: "pending", sharedAccepted: "accepted", sharedRejected: "rejected"}

// outcome is one cell: the status code, and for errors the message with
// {id} and {member} standing for the image and the member in the path.
// For a successful member list, members are the member IDs expected.
type outcome struct {
	status  int
	msg     string
	members []string
}

var (
	// na marks a cell that does not apply (a caller without a project
	// has no membership of its own to show).
	na    = outcome{}
	ok200 = outcome{status: 200}
	ok204 = outcome{status: 204}

	noImage         = outcome{status: 404, msg: "No image found with ID {id}"}
	noImageToDelete = outcome{status: 404, msg: "Failed to find image {id} to delete"}
	imageNotFound   = outcome{status: 404, msg: "Image {id} not found."}
	notMember       = outcome{status: 404, msg: "{member} not found in the member list of the image {id}."}
	notOwner        = outcome{status: 403, msg: "You do not own this image"}
	tagsDenied      = outcome{status: 403, msg: "Not allowed to update tags for image {id}."}
	createDenied    = outcome{status: 403, msg: "Not allowed to create members for image {id}."}
	deleteDenied    = outcome{status: 403, msg: "Not allowed to delete members for image {id}."}
	updateDenied    = outcome{status: 403, msg: "Not allowed to update members for image {id}."}
	onlyShared      = outcome{status: 403, msg: "Not allowed to list members for image {id}: Only shared images have members."}
	noMembers       = outcome{status: 404, msg: "Only shared images have members."}
	queuedDeact     = outcome{status: 403, msg: "Not allowed to deactivate image in status 'queued'"}
)

func members(ids ...string) outcome { return outcome{status: 200, members: ids} }

// op is one operation of the matrix. want rows are in callers order.
type op struct {
	name string
	// mutating operations get a fresh fixture per cell, and check the
	// stored image afterwards (as the admin sees it).
	mutating bool
	do       func(c *client, who caller, k kind, id string) response
	after    func(t *testing.T, c *client, k kind, id string, who caller, succeeded bool)
	want     map[kind][4]outcome
}

// listing is a list query whose result is checked per image and caller.
type listing struct {
	query string
	want  map[kind][4]bool
}

const y, n = true, false

var listings = []listing{
	{query: "", want: map[kind][4]bool{
		//               A  B  admin no-project
		private:        {y, n, y, n},
		sharedNone:     {y, n, y, n},
		sharedPending:  {y, n, y, y}, // a caller without a project sees every shared image with a member
		sharedAccepted: {y, y, y, y},
		sharedRejected: {y, n, y, y},
		public:         {y, y, y, y},
		community:      {y, n, n, n}, // others' community images only on request, even for admins
		ownerless:      {n, n, y, n}, // visible to all on GET, listed to admins only
	}},
	{query: "visibility=all", want: map[kind][4]bool{
		private:        {y, n, y, n},
		sharedNone:     {y, n, y, n},
		sharedPending:  {y, n, y, y},
		sharedAccepted: {y, y, y, y},
		sharedRejected: {y, n, y, y},
		public:         {y, y, y, y},
		community:      {y, y, y, y},
		ownerless:      {n, n, y, n},
	}},
	{query: "visibility=community", want: map[kind][4]bool{
		private:        {n, n, n, n},
		sharedNone:     {n, n, n, n},
		sharedPending:  {n, n, n, n},
		sharedAccepted: {n, n, n, n},
		sharedRejected: {n, n, n, n},
		public:         {n, n, n, n},
		community:      {y, y, y, y},
		ownerless:      {n, n, n, n},
	}},
	{query: "member_status=pending", want: map[kind][4]bool{
		private:        {y, n, y, n},
		sharedNone:     {y, n, y, n},
		sharedPending:  {y, y, y, y},
		sharedAccepted: {y, n, y, y},
		sharedRejected: {y, n, y, y},
		public:         {y, y, y, y},
		community:      {y, n, n, n},
		ownerless:      {n, n, y, n},
	}},
	{query: "member_status=all", want: map[kind][4]bool{
		private:        {y, n, y, n},
		sharedNone:     {y, n, y, n},
		sharedPending:  {y, y, y, y},
		sharedAccepted: {y, y, y, y},
		sharedRejected: {y, y, y, y},
		public:         {y, y, y, y},
		community:      {y, n, n, n},
		ownerless:      {n, n, y, n},
	}},
}

// updateTarget is the status B's membership is moved to: always a change.
func updateTarget(k kind) string {
	if k == sharedAccepted {
		return "rejected"
	}
	return "accepted"
}

var ops = []op{
	{
		name: "show",
		do: func(c *client, who caller, k kind, id string) response {
			return c.do(who, "GET", "/v2/images/"+id, "", "")
		},
		want: map[kind][4]outcome{
			//               A      B        admin  no-project
			private:        {ok200, noImage, ok200, noImage},
			sharedNone:     {ok200, noImage, ok200, noImage},
			sharedPending:  {ok200, ok200, ok200, noImage},
			sharedAccepted: {ok200, ok200, ok200, noImage},
			sharedRejected: {ok200, ok200, ok200, noImage},
			public:         {ok200, ok200, ok200, ok200},
			community:      {ok200, ok200, ok200, ok200},
			ownerless:      {ok200, ok200, ok200, ok200},
		},
	},
	{
		name: "list members",
		do: func(c *client, who caller, k kind, id string) response {
			return c.do(who, "GET", "/v2/images/"+id+"/members", "", "")
		},
		want: map[kind][4]outcome{
			private:        {onlyShared, imageNotFound, onlyShared, imageNotFound},
			sharedNone:     {members(), imageNotFound, members(), imageNotFound},
			sharedPending:  {members("B", "C"), members("B"), members("B", "C"), imageNotFound},
			sharedAccepted: {members("B", "C"), members("B"), members("B", "C"), imageNotFound},
			sharedRejected: {members("B", "C"), members("B"), members("B", "C"), imageNotFound},
			public:         {onlyShared, onlyShared, onlyShared, onlyShared},
			community:      {onlyShared, onlyShared, onlyShared, onlyShared},
			ownerless:      {members(), members(), members(), members()},
		},
	},
	{
		name: "show own membership",
		do: func(c *client, who caller, k kind, id string) response {
			return c.do(who, "GET", "/v2/images/"+id+"/members/"+who.project, "", "")
		},
		want: map[kind][4]outcome{
			private:        {noMembers, imageNotFound, noMembers, na},
			sharedNone:     {notMember, imageNotFound, notMember, na},
			sharedPending:  {notMember, ok200, notMember, na},
			sharedAccepted: {notMember, ok200, notMember, na},
			sharedRejected: {notMember, ok200, notMember, na},
			public:         {noMembers, noMembers, noMembers, na},
			community:      {noMembers, noMembers, noMembers, na},
			ownerless:      {notMember, notMember, notMember, na},
		},
	},
	{
		name: "show membership of B",
		do: func(c *client, who caller, k kind, id string) response {
			return c.do(who, "GET", "/v2/images/"+id+"/members/B", "", "")
		},
		want: map[kind][4]outcome{
			private:        {noMembers, imageNotFound, noMembers, imageNotFound},
			sharedNone:     {notMember, imageNotFound, notMember, imageNotFound},
			sharedPending:  {ok200, ok200, ok200, imageNotFound},
			sharedAccepted: {ok200, ok200, ok200, imageNotFound},
			sharedRejected: {ok200, ok200, ok200, imageNotFound},
			public:         {noMembers, noMembers, noMembers, noMembers},
			community:      {noMembers, noMembers, noMembers, noMembers},
			ownerless:      {notMember, notMember, notMember, notMember},
		},
	},
	{
		name:     "patch name",
		mutating: true,
		do: func(c *client, who caller, k kind, id string) response {
			return c.do(who, "PATCH", "/v2/images/"+id, "application/openstack-images-v2.1-json-patch",
				`[{"op": "replace", "path": "/name", "value": "renamed"}]`)
		},
		after: func(t *testing.T, c *client, k kind, id string, who caller, succeeded bool) {
			img := c.adminImage(t, id)
			if got := img.Name == "renamed"; got != succeeded {
				t.Errorf("%s/%s/patch name: stored name %q after a request that succeeded=%v", who.name, k, img.Name, succeeded)
			}
		},
		want: map[kind][4]outcome{
			private:        {ok200, noImage, ok200, noImage},
			sharedNone:     {ok200, noImage, ok200, noImage},
			sharedPending:  {ok200, notOwner, ok200, noImage},
			sharedAccepted: {ok200, notOwner, ok200, noImage},
			sharedRejected: {ok200, notOwner, ok200, noImage},
			public:         {ok200, notOwner, ok200, notOwner},
			community:      {ok200, notOwner, ok200, notOwner},
			ownerless:      {notOwner, notOwner, ok200, notOwner},
		},
	},
	{
		name:     "delete",
		mutating: true,
		do: func(c *client, who caller, k kind, id string) response {
			return c.do(who, "DELETE", "/v2/images/"+id, "", "")
		},
		after: func(t *testing.T, c *client, k kind, id string, who caller, succeeded bool) {
			r := c.do(callerAdm, "GET", "/v2/images/"+id, "", "")
			if gone := r.status == 404; gone != succeeded {
				t.Errorf("%s/%s/delete: admin GET after the delete got %d, want the image gone=%v", who.name, k, r.status, succeeded)
			}
		},
		want: map[kind][4]outcome{
			private:        {ok204, noImageToDelete, ok204, noImageToDelete},
			sharedNone:     {ok204, noImageToDelete, ok204, noImageToDelete},
			sharedPending:  {ok204, notOwner, ok204, noImageToDelete},
			sharedAccepted: {ok204, notOwner, ok204, noImageToDelete},
			sharedRejected: {ok204, notOwner, ok204, noImageToDelete},
			public:         {ok204, notOwner, ok204, notOwner},
			community:      {ok204, notOwner, ok204, notOwner},
			ownerless:      {notOwner, notOwner, ok204, notOwner},
		},
	},
	{
		name:     "put tag",
		mutating: true,
		do: func(c *client, who caller, k kind, id string) response {
			return c.do(who, "PUT", "/v2/images/"+id+"/tags/isolation", "", "")
		},
		after: func(t *testing.T, c *client, k kind, id string, who caller, succeeded bool) {
			img := c.adminImage(t, id)
			if got := slices.Contains(img.Tags, "isolation"); got != succeeded {
				t.Errorf("%s/%s/put tag: stored tags %q after a request that succeeded=%v", who.name, k, img.Tags, succeeded)
			}
		},
		want: map[kind][4]outcome{
			private:        {ok204, imageNotFound, ok204, imageNotFound},
			sharedNone:     {ok204, imageNotFound, ok204, imageNotFound},
			sharedPending:  {ok204, tagsDenied, ok204, imageNotFound},
			sharedAccepted: {ok204, tagsDenied, ok204, imageNotFound},
			sharedRejected: {ok204, tagsDenied, ok204, imageNotFound},
			public:         {ok204, tagsDenied, ok204, tagsDenied},
			community:      {ok204, tagsDenied, ok204, tagsDenied},
			ownerless:      {tagsDenied, tagsDenied, ok204, tagsDenied},
		},
	},
	{
		// Every fixture is queued: the owner and admins reach the status
		// check, which refuses; others stop at visibility or ownership.
		name:     "deactivate queued",
		mutating: true,
		do: func(c *client, who caller, k kind, id string) response {
			return c.do(who, "POST", "/v2/images/"+id+"/actions/deactivate", "", "")
		},
		after: func(t *testing.T, c *client, k kind, id string, who caller, _ bool) {
			if img := c.adminImage(t, id); img.Status != "queued" {
				t.Errorf("%s/%s/deactivate queued: stored status %q, want queued", who.name, k, img.Status)
			}
		},
		want: map[kind][4]outcome{
			private:        {queuedDeact, noImage, queuedDeact, noImage},
			sharedNone:     {queuedDeact, noImage, queuedDeact, noImage},
			sharedPending:  {queuedDeact, notOwner, queuedDeact, noImage},
			sharedAccepted: {queuedDeact, notOwner, queuedDeact, noImage},
			sharedRejected: {queuedDeact, notOwner, queuedDeact, noImage},
			public:         {queuedDeact, notOwner, queuedDeact, notOwner},
			community:      {queuedDeact, notOwner, queuedDeact, notOwner},
			ownerless:      {notOwner, notOwner, queuedDeact, notOwner},
		},
	},
	{
		name:     "add member D",
		mutating: true,
		do: func(c *client, who caller, k kind, id string) response {
			return c.do(who, "POST", "/v2/images/"+id+"/members", "application/json", `{"member": "D"}`)
		},
		after: func(t *testing.T, c *client, k kind, id string, who caller, succeeded bool) {
			r := c.do(callerAdm, "GET", "/v2/images/"+id+"/members/D", "", "")
			if added := r.status == 200; added != succeeded {
				t.Errorf("%s/%s/add member D: admin GET of the membership got %d after a request that succeeded=%v", who.name, k, r.status, succeeded)
			}
		},
		want: map[kind][4]outcome{
			private:        {createDenied, imageNotFound, createDenied, imageNotFound},
			sharedNone:     {ok200, imageNotFound, ok200, imageNotFound},
			sharedPending:  {ok200, createDenied, ok200, imageNotFound},
			sharedAccepted: {ok200, createDenied, ok200, imageNotFound},
			sharedRejected: {ok200, createDenied, ok200, imageNotFound},
			public:         {createDenied, createDenied, createDenied, createDenied},
			community:      {createDenied, createDenied, createDenied, createDenied},
			ownerless:      {createDenied, createDenied, ok200, createDenied},
		},
	},
	{
		name:     "update status of B",
		mutating: true,
		do: func(c *client, who caller, k kind, id string) response {
			return c.do(who, "PUT", "/v2/images/"+id+"/members/B", "application/json", `{"status": "`+updateTarget(k)+`"}`)
		},
		after: func(t *testing.T, c *client, k kind, id string, who caller, succeeded bool) {
			want := bStatus[k]
			if succeeded {
				want = updateTarget(k)
			}
			if got := c.adminMemberStatus(t, id, "B"); got != want {
				t.Errorf("%s/%s/update status of B: stored status %q, want %q", who.name, k, got, want)
			}
		},
		want: map[kind][4]outcome{
			// Only shared images have members; the owner may never decide
			// for a member, even before the membership is looked up (a
			// caller without a project counts as the owner of owner-less
			// images here).
			private:        {updateDenied, imageNotFound, updateDenied, imageNotFound},
			sharedNone:     {updateDenied, imageNotFound, notMember, imageNotFound},
			sharedPending:  {updateDenied, ok200, ok200, imageNotFound},
			sharedAccepted: {updateDenied, ok200, ok200, imageNotFound},
			sharedRejected: {updateDenied, ok200, ok200, imageNotFound},
			public:         {updateDenied, updateDenied, updateDenied, updateDenied},
			community:      {updateDenied, updateDenied, updateDenied, updateDenied},
			ownerless:      {notMember, notMember, notMember, updateDenied},
		},
	},
	{
		name:     "delete membership of B",
		mutating: true,
		do: func(c *client, who caller, k kind, id string) response {
			return c.do(who, "DELETE", "/v2/images/"+id+"/members/B", "", "")
		},
		after: func(t *testing.T, c *client, k kind, id string, who caller, succeeded bool) {
			want := bStatus[k]
			if succeeded {
				want = ""
			}
			if got := c.adminMemberStatus(t, id, "B"); got != want {
				t.Errorf("%s/%s/delete membership of B: stored status %q, want %q", who.name, k, got, want)
			}
		},
		want: map[kind][4]outcome{
			// Non-owners are refused before the membership is looked up;
			// a caller without a project passes as the owner of owner-less
			// images (and then finds no membership).
			private:        {deleteDenied, imageNotFound, deleteDenied, imageNotFound},
			sharedNone:     {notMember, imageNotFound, notMember, imageNotFound},
			sharedPending:  {ok204, deleteDenied, ok204, imageNotFound},
			sharedAccepted: {ok204, deleteDenied, ok204, imageNotFound},
			sharedRejected: {ok204, deleteDenied, ok204, imageNotFound},
			public:         {deleteDenied, deleteDenied, deleteDenied, deleteDenied},
			community:      {deleteDenied, deleteDenied, deleteDenied, deleteDenied},
			ownerless:      {deleteDenied, deleteDenied, notMember, notMember},
		},
	},
}

func TestTenantIsolation(t *testing.T) {
	cfg := config.Default()
	cfg.Glimpse.DataDir = t.TempDir()
	cfg.PasteDeploy.Flavor = "noauth"
	srv, err := server.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer srv.Close()
	defer ts.Close()
	runIsolation(t, &client{base: ts.URL, hc: ts.Client()})
}

func runIsolation(t *testing.T, c *client) {
	// The read-only cells share one fixture per kind.
	shared := map[kind]string{}
	for _, k := range kinds {
		shared[k] = c.fixture(t, k)
	}

	for _, l := range listings {
		t.Run("list "+l.query, func(t *testing.T) {
			for i, who := range callers {
				got := c.listIDs(t, who, l.query)
				for _, k := range kinds {
					if in, want := got[shared[k]], l.want[k][i]; in != want {
						t.Errorf("caller %s, image %s, list %q: listed=%v, want listed=%v", who.name, k, l.query, in, want)
					}
				}
			}
		})
	}

	for _, o := range ops {
		t.Run(o.name, func(t *testing.T) {
			for _, k := range kinds {
				for i, who := range callers {
					want := o.want[k][i]
					if want.status == 0 {
						continue
					}
					id := shared[k]
					if o.mutating {
						id = c.fixture(t, k)
					}
					r := o.do(c, who, k, id)
					member := "B"
					if o.name == "show own membership" {
						member = who.project
					}
					checkOutcome(t, who, k, o.name, id, member, r, want)
					if o.after != nil {
						o.after(t, c, k, id, who, r.status == want.status && r.status < 300)
					}
				}
			}
		})
	}
}

func checkOutcome(t *testing.T, who caller, k kind, opName, id, member string, r response, want outcome) {
	t.Helper()
	if r.status != want.status {
		t.Errorf("caller %s, image %s, %s: got %d %q, want %d %q", who.name, k, opName, r.status, r.message(), want.status, expand(want.msg, id, member))
		return
	}
	if want.msg != "" {
		if got, w := r.message(), expand(want.msg, id, member); got != w {
			t.Errorf("caller %s, image %s, %s: got message %q, want %q", who.name, k, opName, got, w)
		}
	}
	if want.members != nil {
		var body struct {
			Members []struct {
				MemberID string `json:"member_id"`
				ImageID  string `json:"image_id"`
			} `json:"members"`
		}
		if err := json.Unmarshal(r.body, &body); err != nil {
			t.Errorf("caller %s, image %s, %s: body %q: %v", who.name, k, opName, r.body, err)
			return
		}
		got := []string{}
		for _, m := range body.Members {
			got = append(got, m.MemberID)
		}
		slices.Sort(got)
		if !slices.Equal(got, want.members) {
			t.Errorf("caller %s, image %s, %s: got members %q, want %q", who.name, k, opName, got, want.members)
		}
	}
}

func expand(msg, id, member string) string {
	return strings.NewReplacer("{id}", id, "{member}", member).Replace(msg)
}

// client sends requests as one of the callers.
type client struct {
	base string
	hc   *http.Client
}

type response struct {
	status int
	body   []byte
}

// message is the explanation of a JSON error body.
func (r response) message() string {
	var e struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(r.body, &e) != nil {
		return string(r.body)
	}
	msg, _, _ := strings.Cut(e.Message, "<br />")
	return msg
}

func (c *client) do(who caller, method, path, ctype, body string) response {
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		return response{status: -1, body: []byte(err.Error())}
	}
	req.Header.Set("X-Identity-Status", "Confirmed")
	if who.project != "" {
		req.Header.Set("X-Project-Id", who.project)
	}
	req.Header.Set("X-Roles", who.roles)
	req.Header.Set("Accept", "application/json")
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return response{status: -1, body: []byte(err.Error())}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{status: -1, body: []byte(err.Error())}
	}
	return response{status: resp.StatusCode, body: b}
}

// must sends a setup request and stops the test unless it answers want.
func (c *client) must(t *testing.T, want int, who caller, method, path, ctype, body string) response {
	t.Helper()
	r := c.do(who, method, path, ctype, body)
	if r.status != want {
		t.Fatalf("setup %s %s as %s: got %d %s, want %d", method, path, who.name, r.status, r.body, want)
	}
	return r
}

// fixture creates one image of kind k and returns its ID.
func (c *client) fixture(t *testing.T, k kind) string {
	t.Helper()
	creator, body := callerA, `{"name": "isolation", "visibility": "shared"}`
	switch k {
	case private:
		body = `{"name": "isolation", "visibility": "private"}`
	case community:
		body = `{"name": "isolation", "visibility": "community"}`
	case public:
		// publicize_image needs the admin role.
		creator, body = callerAdm, `{"name": "isolation", "visibility": "public", "owner": "A"}`
	case ownerless:
		creator, body = callerNP, `{"name": "isolation"}`
	}
	r := c.must(t, 201, creator, "POST", "/v2/images", "application/json", body)
	var img struct {
		ID    string  `json:"id"`
		Owner *string `json:"owner"`
	}
	if err := json.Unmarshal(r.body, &img); err != nil || img.ID == "" {
		t.Fatalf("setup create %s: body %s: %v", k, r.body, err)
	}
	if wantOwner := creator != callerNP; (img.Owner != nil) != wantOwner {
		t.Fatalf("setup create %s: owner %v in %s", k, img.Owner, r.body)
	}
	if status := bStatus[k]; status != "" {
		c.must(t, 200, callerA, "POST", "/v2/images/"+img.ID+"/members", "application/json", `{"member": "B"}`)
		c.must(t, 200, callerA, "POST", "/v2/images/"+img.ID+"/members", "application/json", `{"member": "C"}`)
		if status != "pending" {
			c.must(t, 200, callerB, "PUT", "/v2/images/"+img.ID+"/members/B", "application/json", `{"status": "`+status+`"}`)
		}
	}
	return img.ID
}

type imageBody struct {
	Name   string   `json:"name"`
	Status string   `json:"status"`
	Tags   []string `json:"tags"`
}

// adminImage is the stored image as an admin sees it.
func (c *client) adminImage(t *testing.T, id string) imageBody {
	t.Helper()
	r := c.must(t, 200, callerAdm, "GET", "/v2/images/"+id, "", "")
	var img imageBody
	if err := json.Unmarshal(r.body, &img); err != nil {
		t.Fatalf("admin GET %s: %v in %s", id, err, r.body)
	}
	return img
}

// adminMemberStatus is the stored status of a membership, "" when there
// is none.
func (c *client) adminMemberStatus(t *testing.T, id, member string) string {
	t.Helper()
	r := c.do(callerAdm, "GET", "/v2/images/"+id+"/members/"+member, "", "")
	if r.status == 404 {
		return ""
	}
	if r.status != 200 {
		t.Fatalf("admin GET member %s of %s: got %d %s, want 200 or 404", member, id, r.status, r.body)
	}
	var m struct {
		Status string `json:"status"`
	}
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("admin GET member %s of %s: %v in %s", member, id, err, r.body)
	}
	return m.Status
}

// listIDs returns the IDs of every image a caller lists with query,
// following the next links.
func (c *client) listIDs(t *testing.T, who caller, query string) map[string]bool {
	t.Helper()
	ids := map[string]bool{}
	q := url.Values{}
	if query != "" {
		var err error
		if q, err = url.ParseQuery(query); err != nil {
			t.Fatalf("bad query %q: %v", query, err)
		}
	}
	q.Set("limit", "1000")
	path := "/v2/images?" + q.Encode()
	for pages := 0; path != ""; pages++ {
		if pages > 1000 {
			t.Fatalf("list %q as %s: more than 1000 pages", query, who.name)
		}
		r := c.must(t, 200, who, "GET", path, "", "")
		var page struct {
			Images []struct {
				ID string `json:"id"`
			} `json:"images"`
			Next string `json:"next"`
		}
		if err := json.Unmarshal(r.body, &page); err != nil {
			t.Fatalf("list %q as %s: %v in %s", query, who.name, err, r.body)
		}
		for _, img := range page.Images {
			ids[img.ID] = true
		}
		path = page.Next
	}
	return ids
}

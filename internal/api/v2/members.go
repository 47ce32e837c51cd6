package v2

import (
	"encoding/json"
	"net/http"

	"glimpse/internal/api/wirejson"
	"glimpse/internal/image"
)

func (a *API) addMember(w http.ResponseWriter, r *http.Request) error {
	const op = "v2.addMember"
	body, err := readJSON(r.Body)
	if err != nil {
		return err
	}
	m, ok := body.(map[string]any)
	if !ok {
		if _, isList := body.([]any); isList {
			return image.E(op, image.Invalid, `Expected a member in the form: {"member": "image_id"}`)
		}
		return image.E(op, image.Invalid, "Unexpected body type. Expected list/dict.")
	}
	raw, ok := m["member"]
	if !ok {
		return image.E(op, image.Invalid, "Member to be added not specified")
	}
	var id string
	switch v := raw.(type) {
	case string:
		id = v
	case json.Number:
		// Glance accepts a number and stores its text.
		id = v.String()
	default:
		return image.E(op, image.Invalid, `Expected a member in the form: {"member": "image_id"}`)
	}
	if id == "" {
		return image.E(op, image.Invalid, "Member can't be empty")
	}
	// Glance stores member ids of any length.
	mem, err := a.ops.AddMember(r.Context(), caller(r), r.PathValue("id"), id)
	if err != nil {
		return err
	}
	writeUnicodeJSON(w, http.StatusOK, memberJSON(mem))
	return nil
}

func (a *API) listMembers(w http.ResponseWriter, r *http.Request) error {
	ms, err := a.ops.ListMembers(r.Context(), caller(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	items := make([][]byte, len(ms))
	for i, m := range ms {
		items[i] = memberJSON(m)
	}
	writeUnicodeJSON(w, http.StatusOK, wirejson.NewObject().RawBytes("members", wirejson.Array(items)).
		String("schema", "/v2/schemas/members").Bytes())
	return nil
}

func (a *API) showMember(w http.ResponseWriter, r *http.Request) error {
	m, err := a.ops.GetMember(r.Context(), caller(r), r.PathValue("id"), r.PathValue("member"))
	if err != nil {
		return err
	}
	writeUnicodeJSON(w, http.StatusOK, memberJSON(m))
	return nil
}

func (a *API) updateMember(w http.ResponseWriter, r *http.Request) error {
	const op = "v2.updateMember"
	body, err := readJSON(r.Body)
	if err != nil {
		return err
	}
	m, ok := body.(map[string]any)
	if !ok {
		return image.E(op, image.Invalid, `Expected a status in the form: {"status": "status"}`)
	}
	raw, ok := m["status"]
	if !ok {
		return image.E(op, image.Invalid, "Status not specified")
	}
	status, _ := raw.(string)
	switch status {
	case image.MemberPending, image.MemberAccepted, image.MemberRejected:
	default:
		return image.E(op, image.Invalid, `Incorrect request: Status must be "pending", "accepted" or "rejected".`)
	}
	mem, err := a.ops.UpdateMemberStatus(r.Context(), caller(r), r.PathValue("id"), r.PathValue("member"), status)
	if err != nil {
		return err
	}
	writeUnicodeJSON(w, http.StatusOK, memberJSON(mem))
	return nil
}

func (a *API) deleteMember(w http.ResponseWriter, r *http.Request) error {
	if err := a.ops.DeleteMember(r.Context(), caller(r), r.PathValue("id"), r.PathValue("member")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

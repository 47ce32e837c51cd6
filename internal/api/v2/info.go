package v2

import (
	"net/http"

	"glimpse/internal/api/wirejson"
	"glimpse/internal/image"
)

// storesInfo answers GET /v2/info/stores: the stores configured by name,
// the default one marked, http stores read-only.
func (a *API) storesInfo(w http.ResponseWriter, r *http.Request) error {
	return a.writeStores(w, false)
}

// storesDetail answers GET /v2/info/stores/detail, which adds each
// store's type and settings, for those stores_info_detail allows.
func (a *API) storesDetail(w http.ResponseWriter, r *http.Request) error {
	if len(a.cfg.Stores) > 0 {
		if err := a.ops.Authorize("v2.info", caller(r), "stores_info_detail"); err != nil {
			return err
		}
	}
	return a.writeStores(w, true)
}

func (a *API) writeStores(w http.ResponseWriter, detail bool) error {
	if len(a.cfg.Stores) == 0 {
		return image.E("v2.info", image.NotFound, "Multi backend is not supported at this site.")
	}
	items := make([][]byte, 0, len(a.cfg.Stores))
	for _, st := range a.cfg.Stores {
		o := wirejson.NewObject().String("id", st.ID)
		if st.Description != "" {
			o.String("description", st.Description)
		}
		if st.Default {
			o.String("default", "true")
		}
		if st.ReadOnly {
			o.String("read-only", "true")
		}
		if detail {
			o.String("type", st.Type)
			props := st.Properties
			if props == nil {
				props = []byte("{}")
			}
			o.RawBytes("properties", props)
		}
		items = append(items, o.Bytes())
	}
	writeJSON(w, http.StatusOK, wirejson.NewObject().RawBytes("stores", wirejson.Array(items)).Bytes())
	return nil
}

// usageInfo answers GET /v2/info/usage. Usage is counted against
// Keystone's unified limits ([DEFAULT] use_keystone_limits), which this
// build does not use: as Glance without them, the answer is empty.
func (a *API) usageInfo(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, []byte(`{"usage": {}}`))
	return nil
}

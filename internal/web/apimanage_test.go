package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

func init() {
	addAuthz(map[string]string{
		"GET /api/v1/verifications":              "api",
		"POST /api/v1/verifications/{id}/cancel": "api",
		"GET /api/v1/events":                     "api",
		"POST /api/v1/events/{id}/redeliver":     "api",
	})
}

// webhookEvents returns the verification.* events queued so far, in
// order: each event's type and data.
func (c *testConsole) webhookEvents() []struct {
	Type string
	Data map[string]any
} {
	c.t.Helper()
	query := `SELECT args::text FROM river_job WHERE kind = 'webhook_deliver' ORDER BY id`
	if c.env.DB.Dialect() == store.SQLite {
		query = `SELECT json(args) FROM river_job WHERE kind = 'webhook_deliver' ORDER BY id`
	}
	rows, err := c.env.DB.SQL().QueryContext(c.t.Context(), query)
	if err != nil {
		c.t.Fatal(err)
	}
	defer rows.Close()
	var out []struct {
		Type string
		Data map[string]any
	}
	for rows.Next() {
		var raw []byte
		if err := rows.Scan(&raw); err != nil {
			c.t.Fatal(err)
		}
		var args struct {
			Event struct {
				Type string         `json:"type"`
				Data map[string]any `json:"data"`
			} `json:"event"`
		}
		if err := json.Unmarshal(raw, &args); err != nil {
			c.t.Fatal(err)
		}
		out = append(out, struct {
			Type string
			Data map[string]any
		}{args.Event.Type, args.Event.Data})
	}
	return out
}

func decodeMap(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%q: %v", b, err)
	}
	return m
}

func TestMetadataAndReferenceAreKeptEchoedAndLimited(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		c := newTestConsole(t, dsn)
		key := c.apiKey()
		c.apiCall(key, http.MethodPut, "/api/v1/members/m-md", `{"email":"md@example.jp"}`)
		for name, body := range map[string]string{
			"too many keys":  `{"external_id":"m-md","metadata":{` + strings.TrimSuffix(strings.Repeat(`"k":"v",`, 1), ",") + manyKeys(21) + `}}`,
			"long key":       `{"external_id":"m-md","metadata":{"` + strings.Repeat("k", 41) + `":"v"}}`,
			"long value":     `{"external_id":"m-md","metadata":{"k":"` + strings.Repeat("v", 501) + `"}}`,
			"not a string":   `{"external_id":"m-md","metadata":{"k":1}}`,
			"long reference": `{"external_id":"m-md","client_reference_id":"` + strings.Repeat("r", 129) + `"}`,
		} {
			rec := c.apiCall(key, http.MethodPost, "/api/v1/verifications", body)
			if rec.Code != http.StatusBadRequest || decodeAPIError(t, rec).Error.Code != kakunin.EINVALID {
				t.Errorf("%s: %d %s, want 400", name, rec.Code, rec.Body)
			}
		}
		rec := c.apiCall(key, http.MethodPost, "/api/v1/verifications", `{"external_id":"m-md","metadata":{"plan":"gold","campaign":"winter"},"client_reference_id":"order-7"}`)
		if rec.Code != http.StatusCreated {
			t.Fatalf("create = %d %s", rec.Code, rec.Body)
		}
		created := decodeMap(t, rec.Body.Bytes())
		got := decodeMap(t, c.apiCall(key, http.MethodGet, rec.Header().Get("Location"), "").Body.Bytes())
		for _, v := range []map[string]any{created, got} {
			md, _ := v["metadata"].(map[string]any)
			if md["plan"] != "gold" || md["campaign"] != "winter" || v["client_reference_id"] != "order-7" {
				t.Fatalf("answer = %v, want the metadata and reference back", v)
			}
		}
		// A verification opened without them still carries both fields.
		c.apiCall(key, http.MethodPut, "/api/v1/members/m-bare", `{"email":"bare@example.jp"}`)
		bare := decodeMap(t, c.apiCall(key, http.MethodPost, "/api/v1/verifications", `{"external_id":"m-bare"}`).Body.Bytes())
		if md, ok := bare["metadata"].(map[string]any); !ok || len(md) != 0 || bare["client_reference_id"] != nil {
			t.Fatalf("bare = %v, want metadata {} and client_reference_id null", bare)
		}
		if _, ok := bare["client_reference_id"]; !ok {
			t.Fatal("client_reference_id missing, want null")
		}
	})
}

func manyKeys(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `,"k%d":"v"`, i)
	}
	return b.String()
}

func TestCancelEndsAnOpenVerificationKillsItsLinkAndImage(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		c := newTestConsole(t, dsn)
		key := c.apiKey()
		c.apiCall(key, http.MethodPut, "/api/v1/members/m-cx", `{"email":"cx@example.jp"}`)
		created := decodeMap(t, c.apiCall(key, http.MethodPost, "/api/v1/verifications", `{"external_id":"m-cx","metadata":{"k":"v"}}`).Body.Bytes())
		id, link := created["id"].(string), created["upload_url"].(string)
		rec := c.apiCall(key, http.MethodPost, "/api/v1/verifications/"+id+"/cancel", "")
		if rec.Code != http.StatusOK || decodeMap(t, rec.Body.Bytes())["status"] != "canceled" {
			t.Fatalf("cancel = %d %s", rec.Code, rec.Body)
		}
		path := strings.TrimPrefix(link, "https://kakunin.example.jp")
		if code, body := c.get("", path); code == http.StatusOK && strings.Contains(body, `type="file"`) {
			t.Fatal("the canceled link still offers the upload form")
		}
		again := c.apiCall(key, http.MethodPost, "/api/v1/verifications/"+id+"/cancel", "")
		if again.Code != http.StatusConflict {
			t.Fatalf("second cancel = %d, want 409", again.Code)
		}
		if rec := c.apiCall(key, http.MethodPost, "/api/v1/verifications/ver_nope/cancel", ""); rec.Code != http.StatusNotFound {
			t.Fatalf("unknown id = %d, want 404", rec.Code)
		}

		// A submitted one: its image is destroyed with it.
		docID := c.submitted("m-cx2", kakunin.DocPassport)
		d, err := c.env.DB.Document(t.Context(), docID)
		if err != nil {
			t.Fatal(err)
		}
		if rec := c.apiCall(key, http.MethodPost, "/api/v1/verifications/"+d.VerificationID+"/cancel", ""); rec.Code != http.StatusOK {
			t.Fatalf("cancel submitted = %d %s", rec.Code, rec.Body)
		}
		if d, err = c.env.DB.Document(t.Context(), docID); err != nil || d.DestroyedAt == nil || d.WrappedKey != nil {
			t.Fatalf("document after cancel = %+v, %v; want destroyed", d, err)
		}
		var types []string
		for _, ev := range c.webhookEvents() {
			types = append(types, ev.Type)
			if _, ok := ev.Data["metadata"]; !ok {
				t.Errorf("%s carries no metadata", ev.Type)
			}
		}
		want := "verification.canceled verification.submitted verification.canceled"
		if strings.Join(types, " ") != want {
			t.Fatalf("events = %v, want %s", types, want)
		}
	})
}

func TestListVerificationsPagesWithCursorsThatBelongToTheirListing(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		c := newTestConsole(t, dsn)
		key := c.apiKey()
		start := c.now
		for i := range 7 {
			ext := fmt.Sprintf("m-l%d", i%3)
			c.apiCall(key, http.MethodPut, "/api/v1/members/"+ext, `{"email":"`+ext+`@example.jp"}`)
			rec := c.apiCall(key, http.MethodPost, "/api/v1/verifications", `{"external_id":"`+ext+`"}`)
			if rec.Code == http.StatusOK { // the member's open one: end it to open another
				id := decodeMap(t, rec.Body.Bytes())["id"].(string)
				c.apiCall(key, http.MethodPost, "/api/v1/verifications/"+id+"/cancel", "")
				rec = c.apiCall(key, http.MethodPost, "/api/v1/verifications", `{"external_id":"`+ext+`"}`)
			}
			if rec.Code != http.StatusCreated {
				t.Fatalf("create %d = %d %s", i, rec.Code, rec.Body)
			}
			c.now = c.now.Add(time.Second)
			c.env.Clock.Set(c.now)
		}
		type page struct {
			Object string `json:"object"`
			Data   []struct {
				ID, ExternalID, Status, CreatedAt string
			} `json:"data"`
			HasMore      bool    `json:"has_more"`
			Limit        int     `json:"limit"`
			LimitClamped bool    `json:"limit_clamped"`
			Next         *string `json:"next_starting_after"`
		}
		get := func(query string) (int, page, *apiErrorBody) {
			rec := c.apiCall(key, http.MethodGet, "/api/v1/verifications?"+query, "")
			var p page
			if rec.Code != http.StatusOK {
				e := decodeAPIError(t, rec)
				return rec.Code, p, &e
			}
			json.Unmarshal(rec.Body.Bytes(), &p)
			return rec.Code, p, nil
		}
		// All of them, three at a time, newest first, each once.
		seen := map[string]bool{}
		var order []string
		q := url.Values{"limit": {"3"}}
		for pages := 0; ; pages++ {
			code, p, _ := get(q.Encode())
			if code != http.StatusOK || p.Object != "list" || p.Limit != 3 || pages > 5 {
				t.Fatalf("page %d = %d %+v", pages, code, p)
			}
			for _, v := range p.Data {
				if seen[v.ID] {
					t.Fatalf("%s listed twice", v.ID)
				}
				seen[v.ID] = true
				order = append(order, v.ID)
			}
			if !p.HasMore {
				if p.Next != nil {
					t.Fatal("last page has a next cursor")
				}
				break
			}
			q.Set("starting_after", *p.Next)
		}
		if len(order) != 7 {
			t.Fatalf("listed %d verifications, want 7", len(order))
		}
		// Filters: one member; one status; created after a time.
		if _, p, _ := get("external_id=m-l0&limit=100"); len(p.Data) != 3 {
			t.Fatalf("m-l0 has %d, want 3", len(p.Data))
		}
		if _, p, _ := get("status=canceled"); len(p.Data) != 4 || p.Data[0].Status != "canceled" {
			t.Fatalf("canceled = %+v, want 4", p.Data)
		}
		after := start.Add(4 * time.Second).UTC().Format(time.RFC3339)
		if _, p, _ := get("created_after=" + url.QueryEscape(after)); len(p.Data) != 2 {
			t.Fatalf("created after %s: %d, want 2", after, len(p.Data))
		}
		// Over the maximum: clamped, and the answer says so.
		if _, p, _ := get("limit=1000"); p.Limit != MaxPageLimit || !p.LimitClamped {
			t.Fatalf("limit=1000 answered limit %d clamped %v", p.Limit, p.LimitClamped)
		}
		// A cursor forged, altered, or from another listing: 400.
		_, first, _ := get("limit=2")
		other := url.Values{"limit": {"2"}, "status": {"awaiting_upload"}, "starting_after": {*first.Next}}
		for name, query := range map[string]string{
			"forged":          "starting_after=cur_Zm9vLjEuMg.AAAA",
			"not a cursor":    "starting_after=" + first.Data[1].ID,
			"altered":         "starting_after=" + url.QueryEscape(strings.Replace(*first.Next, "cur_", "cur_x", 1)),
			"another listing": other.Encode(),
			"bad limit":       "limit=0",
			"bad status":      "status=done",
			"bad time":        "created_after=yesterday",
		} {
			if code, _, e := get(query); code != http.StatusBadRequest || e.Error.Code != kakunin.EINVALID {
				t.Errorf("%s: %d, want 400 invalid", name, code)
			}
		}
	})
}

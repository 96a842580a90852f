package web

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/store/storetest"
	"github.com/kakunin/kakunin/internal/webhook"
)

type eventsPage struct {
	Data []struct {
		ID        string          `json:"id"`
		Type      string          `json:"type"`
		Timestamp string          `json:"timestamp"`
		Data      json.RawMessage `json:"data"`
		Delivery  struct {
			State      string `json:"state"`
			Attempts   int    `json:"attempts"`
			LastStatus *int   `json:"last_status"`
		} `json:"delivery"`
	} `json:"data"`
	HasMore bool    `json:"has_more"`
	Next    *string `json:"next_starting_after"`
}

func (c *testConsole) events(key, query string) eventsPage {
	c.t.Helper()
	rec := c.apiCall(key, http.MethodGet, "/api/v1/events?"+query, "")
	if rec.Code != http.StatusOK {
		c.t.Fatalf("GET /api/v1/events?%s = %d %s", query, rec.Code, rec.Body)
	}
	var p eventsPage
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		c.t.Fatal(err)
	}
	return p
}

// queuedDeliveries returns the delivery jobs in river_job, oldest first.
func (c *testConsole) queuedDeliveries() []webhook.DeliverArgs {
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
	var out []webhook.DeliverArgs
	for rows.Next() {
		var raw []byte
		var a webhook.DeliverArgs
		if err := rows.Scan(&raw); err != nil {
			c.t.Fatal(err)
		}
		if err := json.Unmarshal(raw, &a); err != nil {
			c.t.Fatal(err)
		}
		out = append(out, a)
	}
	return out
}

// A host whose endpoint is down for the whole retry schedule misses
// nothing: every event is listed with its state, and redelivered under the
// same webhook-id once the endpoint is back.
func TestAHostDownForEveryRetryCatchesUpThroughEvents(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		c := newTestConsole(t, dsn)
		key := c.apiKey()
		c.apiCall(key, http.MethodPut, "/api/v1/members/m-ev", `{"email":"ev@example.jp"}`)
		v := decodeMap(t, c.apiCall(key, http.MethodPost, "/api/v1/verifications", `{"external_id":"m-ev","metadata":{"k":"v"}}`).Body.Bytes())
		c.apiCall(key, http.MethodPost, "/api/v1/verifications/"+v["id"].(string)+"/cancel", "")
		c.submitted("m-ev2", "passport")
		jobs := c.queuedDeliveries()
		if len(jobs) != 2 {
			t.Fatalf("%d deliveries queued, want 2", len(jobs))
		}

		down := httptest.NewServer(http.NotFoundHandler())
		down.Close()
		secret := webhook.NewSecret()
		w, err := webhook.NewWorker(down.URL, secret, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		w.Events = c.env.DB
		for _, a := range jobs {
			for attempt := 1; attempt <= webhook.DefaultMaxAttempts; attempt++ {
				job := &river.Job[webhook.DeliverArgs]{JobRow: &rivertype.JobRow{Attempt: attempt, MaxAttempts: webhook.DefaultMaxAttempts}, Args: a}
				if err := w.Work(t.Context(), job); err == nil {
					t.Fatal("delivery to a closed endpoint succeeded")
				}
			}
		}

		all := c.events(key, "")
		if len(all.Data) != 2 || all.Data[0].Type != "verification.canceled" || all.Data[1].Type != "verification.submitted" {
			t.Fatalf("events = %+v, want canceled then submitted", all.Data)
		}
		for i, e := range all.Data {
			if e.ID != jobs[i].Event.ID || e.Delivery.State != store.EventFailed || e.Delivery.Attempts != webhook.DefaultMaxAttempts || e.Delivery.LastStatus != nil {
				t.Fatalf("event %d = %+v, want %s failed after %d attempts", i, e, jobs[i].Event.ID, webhook.DefaultMaxAttempts)
			}
			if !secondsTime.MatchString(e.Timestamp) {
				t.Fatalf("timestamp %q", e.Timestamp)
			}
		}
		var data map[string]any
		json.Unmarshal(all.Data[0].Data, &data)
		if data["verification_id"] != v["id"] || data["status"] != "canceled" {
			t.Fatalf("listed data = %v", data)
		}
		// Page by page, after the last one seen; and by type.
		first := c.events(key, "limit=1")
		if len(first.Data) != 1 || !first.HasMore || *first.Next != all.Data[0].ID {
			t.Fatalf("first page = %+v", first)
		}
		if rest := c.events(key, "after="+*first.Next); len(rest.Data) != 1 || rest.Data[0].ID != all.Data[1].ID || rest.HasMore {
			t.Fatalf("after %s = %+v", *first.Next, rest)
		}
		if only := c.events(key, "type=verification.submitted"); len(only.Data) != 1 || only.Data[0].ID != all.Data[1].ID {
			t.Fatalf("type filter = %+v", only)
		}
		if rec := c.apiCall(key, http.MethodGet, "/api/v1/events?after=evt_forged", ""); rec.Code != http.StatusBadRequest {
			t.Fatalf("after a forged id = %d, want 400", rec.Code)
		}

		// Redeliver: queued again under the same id, sent to the endpoint
		// now back, which verifies it and sees the listed webhook-id.
		rec := c.apiCall(key, http.MethodPost, "/api/v1/events/"+all.Data[0].ID+"/redeliver", "")
		if rec.Code != http.StatusAccepted || !strings.Contains(rec.Body.String(), `"state":"pending"`) {
			t.Fatalf("redeliver = %d %s", rec.Code, rec.Body)
		}
		if rec := c.apiCall(key, http.MethodPost, "/api/v1/events/evt_nope/redeliver", ""); rec.Code != http.StatusNotFound {
			t.Fatalf("redeliver unknown = %d, want 404", rec.Code)
		}
		jobs = c.queuedDeliveries()
		again := jobs[len(jobs)-1]
		if len(jobs) != 3 || again.Event.ID != all.Data[0].ID {
			t.Fatalf("redelivery job = %+v", again)
		}
		var gotID string
		var verified error
		up := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			gotID, verified = r.Header.Get(webhook.HeaderID), webhook.Verify(secret, r.Header, body, time.Now(), 0)
		}))
		defer up.Close()
		w.URL = up.URL
		if err := w.Work(t.Context(), &river.Job[webhook.DeliverArgs]{JobRow: &rivertype.JobRow{Attempt: 1}, Args: again}); err != nil {
			t.Fatal(err)
		}
		if gotID != all.Data[0].ID || verified != nil {
			t.Fatalf("receiver got webhook-id %q (verify %v), want %s", gotID, verified, all.Data[0].ID)
		}
		if e := c.events(key, "limit=1").Data[0]; e.Delivery.State != store.EventDelivered || *e.Delivery.LastStatus != 200 {
			t.Fatalf("after redelivery = %+v, want delivered 200", e.Delivery)
		}

		// Past the retention the log forgets.
		n, err := c.env.DB.SweepWebhookEvents(t.Context(), time.Now().Add(time.Hour)) // events are stamped by the wall clock
		if err != nil || n != 2 || len(c.events(key, "").Data) != 0 {
			t.Fatalf("sweep = %d, %v", n, err)
		}
	})
}

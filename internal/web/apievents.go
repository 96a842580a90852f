package web

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/webhook"
)

// eventJSON is one event of GET /api/v1/events: its webhook-id, the body
// as sent on the wire (type, timestamp, data) and how delivery went.
type eventJSON struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	Timestamp string          `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
	Delivery  deliveryJSON    `json:"delivery"`
}

type deliveryJSON struct {
	State         string   `json:"state"` // pending | delivered | failed | unsent
	Attempts      int      `json:"attempts"`
	LastStatus    *int     `json:"last_status"`
	LastAttemptAt *apiTime `json:"last_attempt_at"`
	DeliveredAt   *apiTime `json:"delivered_at"`
}

func toEventJSON(e *store.WebhookEvent) (eventJSON, error) {
	var wire struct {
		Type      string          `json:"type"`
		Timestamp string          `json:"timestamp"`
		Data      json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(e.Body, &wire); err != nil {
		return eventJSON{}, err
	}
	out := eventJSON{ID: e.ID, Type: wire.Type, Timestamp: wire.Timestamp, Data: wire.Data,
		Delivery: deliveryJSON{State: e.State, Attempts: e.Attempts}}
	if e.LastStatus != 0 {
		out.Delivery.LastStatus = &e.LastStatus
	}
	if e.LastAttemptAt != nil {
		t := apiTime(*e.LastAttemptAt)
		out.Delivery.LastAttemptAt = &t
	}
	if e.DeliveredAt != nil {
		t := apiTime(*e.DeliveredAt)
		out.Delivery.DeliveredAt = &t
	}
	return out, nil
}

// listEvents answers GET /api/v1/events?after=&type=&limit=: every event
// sent or tried, oldest first, after the event named by after (a
// webhook-id), of one type if asked.
func (s *Server) listEvents(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, clamped, err := pageLimit(q)
	if err != nil {
		return err
	}
	typ := q.Get("type")
	if len(typ) > 64 || strings.ContainsAny(typ, " \t\n") {
		return kakunin.Errorf(kakunin.EINVALID, "type must name an event type, e.g. verification.approved")
	}
	var afterSeq int64
	if after := q.Get("after"); after != "" {
		e, err := s.Verifications.DB.WebhookEvent(r.Context(), string(webhook.TargetHost), after)
		if kakunin.ErrorCode(err) == kakunin.ENOTFOUND {
			return kakunin.Errorf(kakunin.EINVALID, "after must be the id of a listed event (it may be past the retention)")
		}
		if err != nil {
			return err
		}
		afterSeq = e.Seq
	}
	events, more, err := s.Verifications.DB.WebhookEvents(r.Context(), string(webhook.TargetHost), afterSeq, typ, limit)
	if err != nil {
		return err
	}
	data := make([]eventJSON, 0, len(events))
	for _, e := range events {
		j, err := toEventJSON(e)
		if err != nil {
			return err
		}
		data = append(data, j)
	}
	out := listJSON{Object: "list", Data: data, HasMore: more, Limit: limit, LimitClamped: clamped}
	if more {
		out.NextStartingAfter = &events[len(events)-1].ID
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// redeliverEvent answers POST /api/v1/events/{id}/redeliver: the event is
// sent again under the same webhook-id, with a fresh retry schedule.
func (s *Server) redeliverEvent(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if len(id) > 64 {
		return kakunin.Errorf(kakunin.ENOTFOUND, "event not found")
	}
	e, err := webhook.Redeliver(r.Context(), s.Verifications.DB, s.Verifications.Jobs, id)
	if err != nil {
		return err
	}
	j, err := toEventJSON(e)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, j)
	return nil
}

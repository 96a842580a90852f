package webhook

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// Event is one thing the host platform is told about. ID travels in the
// webhook-id header, not the body, and stays the same on every retry so the
// receiver can de-duplicate.
type Event struct {
	ID        string
	Type      string // e.g. "verification.approved"
	Timestamp time.Time
	Data      json.RawMessage
}

// NewEvent returns an event of type typ carrying data, with a fresh random
// ID and the current time. The time is cut to whole seconds, as the body
// shows it, so every delivery attempt sends the same bytes.
func NewEvent(typ string, data any) (Event, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return Event{}, fmt.Errorf("encode %s event: %w", typ, err)
	}
	id := make([]byte, 16)
	rand.Read(id) // never fails since Go 1.24
	return Event{
		ID:        "evt_" + hex.EncodeToString(id),
		Type:      typ,
		Timestamp: time.Now().UTC().Truncate(time.Second),
		Data:      raw,
	}, nil
}

// wireEvent is the Standard Webhooks payload shape.
type wireEvent struct {
	Type      string          `json:"type"`
	Timestamp string          `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

// MarshalJSON writes the body sent to the host:
// {"type": …, "timestamp": RFC 3339, "data": {…}}.
func (e Event) MarshalJSON() ([]byte, error) {
	data := e.Data
	if len(bytes.TrimSpace(data)) == 0 {
		data = json.RawMessage(`{}`)
	}
	return json.Marshal(wireEvent{
		Type:      e.Type,
		Timestamp: e.Timestamp.UTC().Format(time.RFC3339),
		Data:      data,
	})
}

// UnmarshalJSON reads a body written by MarshalJSON. ID stays empty: it
// arrives in the webhook-id header.
func (e *Event) UnmarshalJSON(b []byte) error {
	var w wireEvent
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	ts, err := time.Parse(time.RFC3339, w.Timestamp)
	if err != nil {
		return fmt.Errorf("event timestamp: %w", err)
	}
	*e = Event{Type: w.Type, Timestamp: ts, Data: w.Data}
	return nil
}

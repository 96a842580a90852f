package audit

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/store"
)

// walkPage is how many rows a walk holds at once. Paging by seq keeps the
// memory flat for any chain length and releases the connection between
// pages, so a long verify does not hold SQLite's only connection.
const walkPage = 5000

func eventOf(r store.AuditRecord) (Event, error) {
	detail, err := decodeDetail(r.Detail)
	return Event{Seq: r.Seq, At: r.At, Action: r.Action, Actor: r.Actor, Subject: r.Subject,
		Origin: r.Origin, Detail: detail, Hash: r.Hash}, err
}

// walk calls f for every stored event with after < seq <= through, in seq
// order, with the row, the event it decodes to, and the error if its
// detail does not decode.
func walk(ctx context.Context, db *store.DB, after, through int64, f func(store.AuditRecord, Event, error) error) error {
	for after < through {
		recs, err := db.AuditRecords(ctx, after, through, walkPage)
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			return nil
		}
		for _, r := range recs {
			ev, derr := eventOf(r)
			if err := f(r, ev, derr); err != nil {
				return err
			}
		}
		after = recs[len(recs)-1].Seq
	}
	return nil
}

// Walk calls f for every event after seq after, up to the head when Walk
// starts, in seq order, without holding them all in memory. It does not
// check hashes (Verify does) and fails on a row whose detail is not a JSON
// object of strings.
func Walk(ctx context.Context, db *store.DB, after int64, f func(Event) error) error {
	head, _, err := db.AuditHead(ctx)
	if err != nil {
		return err
	}
	return walk(ctx, db, after, head, func(r store.AuditRecord, ev Event, derr error) error {
		if derr != nil {
			return fmt.Errorf("audit event %d: %w", r.Seq, derr)
		}
		return f(ev)
	})
}

// Filter selects events for List. Zero fields match everything; From is
// inclusive, To exclusive.
type Filter struct {
	From, To time.Time
	Action   string
	Actor    string
	Subject  string
	Origin   string
	// BeforeSeq pages backwards: only events with a smaller seq (pass the
	// last seq of the previous page); 0 starts at the newest.
	BeforeSeq int64
	Limit     int // default 100, at most 1000
}

// List returns the events matching f, newest first. An event whose stored
// detail is not a JSON object of strings (a tampered row) is listed with an
// empty Detail; Verify reports it.
func (l *Log) List(ctx context.Context, f Filter) ([]Event, error) {
	if l == nil || l.DB == nil {
		return nil, fmt.Errorf("list audit events: no audit log configured")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	if limit > 1000 {
		return nil, kakunin.Errorf(kakunin.EINVALID, "at most 1000 audit events per page")
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.To.After(f.From) {
		return nil, kakunin.Errorf(kakunin.EINVALID, "the end of the period must be after its start")
	}
	recs, err := l.DB.AuditRecordsNewest(ctx, store.AuditFilter{From: f.From, To: f.To, Action: f.Action, Actor: f.Actor,
		Subject: f.Subject, Origin: f.Origin, BeforeSeq: f.BeforeSeq, Limit: limit})
	if err != nil {
		return nil, err
	}
	out := make([]Event, len(recs))
	for i, r := range recs {
		out[i], _ = eventOf(r)
	}
	return out, nil
}

// ExportedEvent is one line of an export (JSON lines): the event as stored,
// with the hash of the event before it so that a reader can recompute the
// chain over a contiguous range (doc.go).
type ExportedEvent struct {
	Seq      int64             `json:"seq"`
	At       string            `json:"at"` // RFC 3339, UTC
	Action   string            `json:"action"`
	Actor    string            `json:"actor"`
	Subject  string            `json:"subject"`
	Origin   string            `json:"origin"`
	Detail   map[string]string `json:"detail"`
	Hash     string            `json:"hash"`      // hex
	PrevHash string            `json:"prev_hash"` // hex; "" when that event is gone
}

// Export writes the events with from <= at < to to w as JSON lines, in seq
// order, and returns how many it wrote. The caller records the export
// itself (action AuditExported) once it succeeded.
func Export(ctx context.Context, db *store.DB, from, to time.Time, w io.Writer) (int, error) {
	if !to.After(from) {
		return 0, kakunin.Errorf(kakunin.EINVALID, "the end of the export period must be after its start")
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	var n int
	var after int64
	var prevSeq int64 = -1
	var prev []byte
	for {
		recs, err := db.AuditRecordsBetween(ctx, from, to, after, walkPage)
		if err != nil {
			return n, fmt.Errorf("export audit events: %w", err)
		}
		for _, r := range recs {
			ev, err := eventOf(r)
			if err != nil {
				return n, fmt.Errorf("export audit event %d: %w (run kakunin audit verify)", r.Seq, err)
			}
			if r.Seq != prevSeq+1 {
				// The first event, or one after a gap in time order (events
				// of several replicas interleave): fetch its predecessor.
				if prev, err = prevHash(ctx, db, r.Seq); err != nil {
					return n, err
				}
			}
			line := ExportedEvent{Seq: ev.Seq, At: ev.At.UTC().Format(time.RFC3339Nano), Action: ev.Action, Actor: ev.Actor,
				Subject: ev.Subject, Origin: ev.Origin, Detail: ev.Detail, Hash: hex.EncodeToString(ev.Hash), PrevHash: hex.EncodeToString(prev)}
			if line.Detail == nil {
				line.Detail = map[string]string{}
			}
			if err := enc.Encode(line); err != nil {
				return n, fmt.Errorf("export audit events: %w", err)
			}
			n++
			prevSeq, prev = r.Seq, r.Hash
		}
		if len(recs) < walkPage {
			break
		}
		after = recs[len(recs)-1].Seq
	}
	if err := bw.Flush(); err != nil {
		return n, fmt.Errorf("export audit events: %w", err)
	}
	return n, nil
}

// Export writes the events of [from, to) to w as JSON lines (the package's
// Export, over this log's database).
func (l *Log) Export(ctx context.Context, from, to time.Time, w io.Writer) (int, error) {
	return Export(ctx, l.DB, from, to, w)
}

// Summary is how long the log is and how much of it a signed checkpoint
// covers.
type Summary struct {
	Events int64 // the head: events ever appended
	// Checkpoint is the newest signed checkpoint; nil while none is.
	Checkpoint *store.AuditCheckpointRecord
}

// Summary returns the log's length and newest checkpoint.
func (l *Log) Summary(ctx context.Context) (Summary, error) {
	head, _, err := l.DB.AuditHead(ctx)
	if err != nil {
		return Summary{}, err
	}
	sum := Summary{Events: head}
	cp, found, err := l.DB.LatestAuditCheckpoint(ctx)
	if err != nil {
		return Summary{}, err
	}
	if found {
		sum.Checkpoint = &cp
	}
	return sum, nil
}

func prevHash(ctx context.Context, db *store.DB, seq int64) ([]byte, error) {
	if seq == 1 {
		return Genesis(), nil
	}
	h, ok, err := db.AuditHashAt(ctx, seq-1)
	if err != nil || !ok {
		return nil, err
	}
	return h, nil
}

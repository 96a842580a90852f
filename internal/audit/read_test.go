package audit_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

func TestExportWritesTheEventsOfAPeriodAsJSONLines(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := openDB(t, dsn)
		l := newLog(db) // event i is at t0 + i+1 seconds
		var all []audit.Event
		for i := range 10 {
			evs := []audit.Event{event(i)}
			if err := l.Append(ctx, evs...); err != nil {
				t.Fatal(err)
			}
			all = append(all, evs[0])
		}
		var buf bytes.Buffer
		// [t0+4s, t0+8s): events 4..7, seq 4..7.
		n, err := audit.Export(ctx, db, t0.Add(4*time.Second), t0.Add(8*time.Second), &buf)
		if err != nil || n != 4 {
			t.Fatalf("export = %d, %v; want 4", n, err)
		}
		sc := bufio.NewScanner(&buf)
		var lines []audit.ExportedEvent
		for sc.Scan() {
			var e audit.ExportedEvent
			dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&e); err != nil {
				t.Fatalf("line %q: %v", sc.Text(), err)
			}
			lines = append(lines, e)
		}
		if len(lines) != 4 {
			t.Fatalf("%d lines, want 4", len(lines))
		}
		for i, e := range lines {
			want := all[3+i]
			if e.Seq != want.Seq || e.Action != want.Action || e.Actor != want.Actor || e.Subject != want.Subject ||
				e.Origin != want.Origin || e.Detail["task"] != want.Detail["task"] || e.Hash != hex.EncodeToString(want.Hash) ||
				e.PrevHash != hex.EncodeToString(all[2+i].Hash) {
				t.Fatalf("line %d = %+v, want event %+v", i, e, want)
			}
			at, err := time.Parse(time.RFC3339Nano, e.At)
			if err != nil || !at.Equal(want.At) || at.Location() != time.UTC {
				t.Fatalf("line %d at %q", i, e.At)
			}
			// The line is enough to recompute the hash.
			prev, _ := hex.DecodeString(e.PrevHash)
			ev := audit.Event{Seq: e.Seq, At: at, Action: e.Action, Actor: e.Actor, Subject: e.Subject, Origin: e.Origin, Detail: e.Detail}
			if hex.EncodeToString(audit.ChainHash(prev, ev)) != e.Hash {
				t.Fatalf("line %d: the hash does not recompute from the line", i)
			}
		}
		if _, err := audit.Export(ctx, db, t0, t0, &buf); kakunin.ErrorCode(err) != kakunin.EINVALID {
			t.Fatalf("empty period: %v", err)
		}
	})
}

func TestListFiltersAndPagesNewestFirst(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := openDB(t, dsn)
		l := newLog(db)
		appendN(t, l, 0, 30) // actor staff:stf_00(i%7)
		if err := l.Append(ctx, audit.Event{Action: audit.AuditExported, Actor: "cli", Subject: "audit"}); err != nil {
			t.Fatal(err)
		}

		got, err := l.List(ctx, audit.Filter{Limit: 3})
		if err != nil || len(got) != 3 || got[0].Seq != 31 || got[2].Seq != 29 || got[0].Action != audit.AuditExported {
			t.Fatalf("newest 3 = %v, %v", seqs(got), err)
		}
		if len(got[0].Hash) != audit.HashSize || got[1].Detail["task"] != "doc_00029" {
			t.Fatalf("listed event lacks its hash or detail: %+v", got[1])
		}
		got, _ = l.List(ctx, audit.Filter{Actor: "staff:stf_003", Limit: 2})
		if s := seqs(got); !equalInts(s, []int64{25, 18}) {
			t.Fatalf("actor filter = %v, want [25 18]", s)
		}
		got, _ = l.List(ctx, audit.Filter{Actor: "staff:stf_003", BeforeSeq: 18})
		if s := seqs(got); !equalInts(s, []int64{11, 4}) {
			t.Fatalf("next page = %v, want [11 4]", s)
		}
		got, _ = l.List(ctx, audit.Filter{From: t0.Add(10 * time.Second), To: t0.Add(13 * time.Second), Subject: "doc_00011"})
		if s := seqs(got); !equalInts(s, []int64{12}) {
			t.Fatalf("period and subject = %v, want [12]", s)
		}
		got, _ = l.List(ctx, audit.Filter{Action: audit.AuditExported, Origin: ""})
		if len(got) != 1 {
			t.Fatalf("action filter = %v", seqs(got))
		}
		if _, err := l.List(ctx, audit.Filter{Limit: 5000}); kakunin.ErrorCode(err) != kakunin.EINVALID {
			t.Fatalf("a 5000-event page: %v", err)
		}
	})
}

func seqs(evs []audit.Event) []int64 {
	var out []int64
	for _, e := range evs {
		out = append(out, e.Seq)
	}
	return out
}

func TestSummaryCountsTheEventsAndNamesTheNewestCheckpoint(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := openDB(t, dsn)
		l := newLog(db)
		if sum, err := l.Summary(ctx); err != nil || sum.Events != 0 || sum.Checkpoint != nil {
			t.Fatalf("empty log: %+v, %v", sum, err)
		}
		appendN(t, l, 0, 3)
		cp := &audit.Checkpointer{Log: quiet, DB: db, Signer: newSigner(t), Every: 1, Interval: time.Hour, Now: func() time.Time { return t0 }}
		if _, err := cp.Checkpoint(ctx, true); err != nil {
			t.Fatal(err)
		}
		appendN(t, l, 3, 2)
		sum, err := l.Summary(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if sum.Events != 5 || sum.Checkpoint == nil || sum.Checkpoint.Size != 3 || !sum.Checkpoint.At.Equal(t0) {
			t.Fatalf("summary %+v (checkpoint %+v), want 5 events and the checkpoint at 3", sum, sum.Checkpoint)
		}
	})
}

package audit_test

import (
	"context"
	"encoding/base64"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

// chain is a 30-event chain with signed checkpoints at 10, 20 and 30,
// stored and published to a file, as a tamper test finds it.
type chain struct {
	db     *store.DB
	signer *audit.Signer
	file   string
	events []audit.Event // by seq-1, as appended
}

func newChain(t *testing.T, dsn string) *chain {
	t.Helper()
	ctx := context.Background()
	c := &chain{db: openDB(t, dsn), signer: newSigner(t), file: filepath.Join(t.TempDir(), "published", "checkpoints.jsonl")}
	l := newLog(c.db)
	cp := &audit.Checkpointer{Log: quiet, DB: c.db, Signer: c.signer, Every: 10, Interval: time.Hour, File: c.file,
		Now: func() time.Time { return t0 }}
	for i := range 30 {
		evs := []audit.Event{event(i)}
		if err := l.Append(ctx, evs...); err != nil {
			t.Fatal(err)
		}
		c.events = append(c.events, evs[0])
		if (i+1)%10 == 0 {
			got, err := cp.Checkpoint(ctx, false)
			if err != nil || got == nil || got.Size != int64(i+1) {
				t.Fatalf("checkpoint at %d = %+v, %v", i+1, got, err)
			}
		}
	}
	rep := c.verify(t, true)
	mustOK(t, rep)
	if rep.Checkpoints != 3 || rep.Published != 3 || rep.LastCheckpoint != 30 {
		t.Fatalf("untouched chain: %+v", rep)
	}
	return c
}

func (c *chain) verify(t *testing.T, withFile bool) *audit.Report {
	t.Helper()
	opt := verifiers(t, c.signer)
	if withFile {
		opt.CheckpointFile = c.file
	}
	return verify(t, c.db, opt)
}

// rewrite replaces event seq by ev and recomputes every later hash and the
// head, as an attacker with write access to the database can.
func (c *chain) rewrite(t *testing.T, seq int64, ev audit.Event) {
	t.Helper()
	evs := append([]audit.Event(nil), c.events...)
	evs[seq-1] = ev
	prev := audit.Genesis()
	if seq > 1 {
		prev = c.events[seq-2].Hash
	}
	for i := seq - 1; i < int64(len(evs)); i++ {
		e := evs[i]
		e.Seq = i + 1
		e.At = c.events[i].At
		e.Hash = audit.ChainHash(prev, e)
		prev = e.Hash
		exec(t, c.db, `UPDATE audit_events SET actor = $1, subject = $2, hash = $3 WHERE seq = $4`, e.Actor, e.Subject, e.Hash, e.Seq)
	}
	exec(t, c.db, `UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1`, int64(len(evs)), prev)
}

func TestVerifyNamesTheFirstTamperedEvent(t *testing.T) {
	cases := []struct {
		name     string
		tamper   func(t *testing.T, c *chain)
		withFile bool
		kind     audit.ProblemKind
		seq      int64
		through  int64
	}{
		{
			name: "an edited field",
			tamper: func(t *testing.T, c *chain) {
				exec(t, c.db, `UPDATE audit_events SET subject = 'doc_innocent' WHERE seq = 15`)
			},
			kind: audit.Edited, seq: 15,
		},
		{
			name:   "an edited time",
			tamper: func(t *testing.T, c *chain) { exec(t, c.db, `UPDATE audit_events SET at = at + 1 WHERE seq = 7`) },
			kind:   audit.Edited, seq: 7,
		},
		{
			name: "an edited detail",
			tamper: func(t *testing.T, c *chain) {
				exec(t, c.db, `UPDATE audit_events SET detail = '{"n":"23","task":"doc_99999"}' WHERE seq = 24`)
			},
			kind: audit.Edited, seq: 24,
		},
		{
			name: "a detail that is no longer an object of strings",
			tamper: func(t *testing.T, c *chain) {
				exec(t, c.db, `UPDATE audit_events SET detail = '{"n":1}' WHERE seq = 3`)
			},
			kind: audit.Malformed, seq: 3,
		},
		{
			name: "an edit with every later hash recomputed is caught by the next checkpoint",
			tamper: func(t *testing.T, c *chain) {
				ev := c.events[14]
				ev.Subject = "doc_innocent"
				c.rewrite(t, 15, ev)
			},
			kind: audit.Rewritten, seq: 11, through: 20,
		},
		{
			name: "a rewrite of the first events names the chain's start",
			tamper: func(t *testing.T, c *chain) {
				ev := c.events[1]
				ev.Actor = "staff:stf_someone_else"
				c.rewrite(t, 2, ev)
			},
			kind: audit.Rewritten, seq: 1, through: 10,
		},
		{
			name:   "a deleted event",
			tamper: func(t *testing.T, c *chain) { exec(t, c.db, `DELETE FROM audit_events WHERE seq = 15`) },
			kind:   audit.Missing, seq: 15, through: 15,
		},
		{
			name:   "deleted first events",
			tamper: func(t *testing.T, c *chain) { exec(t, c.db, `DELETE FROM audit_events WHERE seq <= 2`) },
			kind:   audit.Missing, seq: 1, through: 2,
		},
		{
			// The attacker computes the inserted event's hash correctly: it
			// looks valid by itself, and the break shows at the next one.
			name: "an inserted event with the later ones shifted",
			tamper: func(t *testing.T, c *chain) {
				exec(t, c.db, `UPDATE audit_events SET seq = -seq - 1 WHERE seq >= 15`)
				exec(t, c.db, `UPDATE audit_events SET seq = -seq WHERE seq < 0`)
				ev := event(999)
				ev.Seq, ev.At, ev.Detail = 15, c.events[14].At, nil
				h := audit.ChainHash(c.events[13].Hash, ev)
				exec(t, c.db, `INSERT INTO audit_events (seq, at, action, actor, subject, origin, detail, hash)
					VALUES ($1, $2, $3, $4, $5, $6, '{}', $7)`, 15, ev.At.UnixMicro(), ev.Action, ev.Actor, ev.Subject, ev.Origin, h)
				exec(t, c.db, `UPDATE audit_head SET seq = 31 WHERE id = 1`)
			},
			kind: audit.ChainBroken, seq: 16,
		},
		{
			name: "two events swapped",
			tamper: func(t *testing.T, c *chain) {
				exec(t, c.db, `UPDATE audit_events SET seq = -12 WHERE seq = 17`)
				exec(t, c.db, `UPDATE audit_events SET seq = 17 WHERE seq = 12`)
				exec(t, c.db, `UPDATE audit_events SET seq = 12 WHERE seq = -12`)
			},
			kind: audit.ChainBroken, seq: 12,
		},
		{
			name: "two neighbours swapped",
			tamper: func(t *testing.T, c *chain) {
				exec(t, c.db, `UPDATE audit_events SET seq = -5 WHERE seq = 6`)
				exec(t, c.db, `UPDATE audit_events SET seq = 6 WHERE seq = 5`)
				exec(t, c.db, `UPDATE audit_events SET seq = 5 WHERE seq = -5`)
			},
			kind: audit.ChainBroken, seq: 5,
		},
		{
			name:   "a deleted tail, head left alone",
			tamper: func(t *testing.T, c *chain) { exec(t, c.db, `DELETE FROM audit_events WHERE seq > 25`) },
			kind:   audit.Truncated, seq: 26, through: 30,
		},
		{
			name: "a deleted tail with its stored checkpoints and the head moved back is caught by the published file",
			tamper: func(t *testing.T, c *chain) {
				exec(t, c.db, `DELETE FROM audit_events WHERE seq > 20`)
				exec(t, c.db, `DELETE FROM audit_checkpoints WHERE size > 20`)
				exec(t, c.db, `UPDATE audit_head SET seq = 20, hash = $1 WHERE id = 1`, c.events[19].Hash)
			},
			withFile: true,
			kind:     audit.Truncated, seq: 21, through: 30,
		},
		{
			name: "a forged checkpoint note",
			tamper: func(t *testing.T, c *chain) {
				var note string
				if err := c.db.SQL().QueryRowContext(context.Background(), `SELECT note FROM audit_checkpoints WHERE size = 20`).Scan(&note); err != nil {
					t.Fatal(err)
				}
				forged := strings.Replace(note, base64.StdEncoding.EncodeToString(c.events[19].Hash),
					base64.StdEncoding.EncodeToString(make([]byte, 32)), 1)
				if forged == note {
					t.Fatal("the note does not hold the chain hash in base64")
				}
				exec(t, c.db, `UPDATE audit_checkpoints SET note = $1 WHERE size = 20`, forged)
			},
			kind: audit.BadCheckpoint, seq: 20,
		},
		{
			name: "a rewritten chain re-signed with another key",
			tamper: func(t *testing.T, c *chain) {
				ev := c.events[14]
				ev.Subject = "doc_innocent"
				c.rewrite(t, 15, ev)
				exec(t, c.db, `DELETE FROM audit_checkpoints WHERE size >= 20`)
				other := newSigner(t)
				cp := &audit.Checkpointer{Log: quiet, DB: c.db, Signer: other, Every: 1, Now: func() time.Time { return t0 }}
				// The attacker's checkpointer cannot build on the real
				// checkpoint at 10: they must replace it too.
				if _, err := cp.Checkpoint(context.Background(), true); err == nil {
					t.Fatal("a checkpointer signed on top of another key's checkpoint")
				}
				exec(t, c.db, `DELETE FROM audit_checkpoints`)
				if got, err := cp.Checkpoint(context.Background(), true); err != nil || got == nil {
					t.Fatalf("attacker's checkpoint: %v", err)
				}
			},
			kind: audit.BadCheckpoint, seq: 30,
		},
		{
			name: "a head row that disagrees with the last event",
			tamper: func(t *testing.T, c *chain) {
				exec(t, c.db, `UPDATE audit_head SET hash = $1 WHERE id = 1`, make([]byte, 32))
			},
			kind: audit.HeadMismatch, seq: 30,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			storetest.Engines(t, func(t *testing.T, dsn string) {
				c := newChain(t, dsn)
				tc.tamper(t, c)
				rep := c.verify(t, tc.withFile)
				p := rep.First()
				if p == nil {
					t.Fatal("verify found nothing wrong")
				}
				t.Logf("report: %s", p)
				if p.Kind != tc.kind || p.Seq != tc.seq || p.Through != tc.through {
					t.Fatalf("first problem = %s (kind %q, seq %d..%d), want kind %q at %d..%d",
						p, p.Kind, p.Seq, p.Through, tc.kind, tc.seq, tc.through)
				}
			})
		})
	}
}

func TestATruncatedTailWithoutAPublishedCheckpointGoesUnnoticed(t *testing.T) {
	// doc.go's stated limit: someone who can write the database can drop
	// the events after the last checkpoint they can delete. This test
	// pins it, so that the documentation is changed with the behaviour.
	c := newChain(t, storetest.SQLiteDSN(t))
	exec(t, c.db, `DELETE FROM audit_events WHERE seq > 20`)
	exec(t, c.db, `DELETE FROM audit_checkpoints WHERE size > 20`)
	exec(t, c.db, `UPDATE audit_head SET seq = 20, hash = $1 WHERE id = 1`, c.events[19].Hash)
	if rep := c.verify(t, false); !rep.OK() || rep.Events != 20 {
		t.Fatalf("report = %+v", rep)
	}
	if rep := c.verify(t, true); rep.OK() {
		t.Fatal("the published checkpoint file did not catch the truncation")
	}
}

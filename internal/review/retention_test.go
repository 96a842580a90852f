package review_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

// Past its retention deadline a document leaves the queue at once, though
// the sweep that destroys it has not run: nobody is handed it.
func TestADocumentPastItsDeadlineIsNotHandedOutBeforeTheSweep(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		_, old := e.submit(sampleJPEG(t))
		e.Clock.Set(old.DestroyAfter.Add(-time.Hour))
		_, fresh := e.submit(sampleJPEG(t))
		e.Clock.Set(old.DestroyAfter) // due now; no sweep has run

		if got := e.doc(old.ID); got.DestroyedAt != nil {
			t.Fatal("the test needs the due document not yet destroyed")
		}
		if _, waiting, err := e.Review.Queue(e.ctx, alice); err != nil || waiting != 1 {
			t.Fatalf("waiting = %d, %v; want 1 (only the fresh document)", waiting, err)
		}
		if d := e.next(alice); d.ID != fresh.ID {
			t.Fatalf("handed out %s, want the fresh %s (the older one is past its deadline)", d.ID, fresh.ID)
		}
		if d, err := e.Review.Next(e.ctx, bob); err != nil || d != nil {
			t.Fatalf("Next(bob) = %v, %v; want nothing: the only other document is past its deadline", d, err)
		}
	})
}

// A task already assigned shows nothing once its deadline passes, whether
// or not the sweep has run, and the refused attempt is not counted as a read.
func TestAnImagePastItsDeadlineIsNeverShown(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		_, d := e.submit(sampleJPEG(t))
		e.next(alice)
		reviewer := &store.StaffRecord{ID: alice, Email: "alice@staff.example"}
		e.Clock.Set(d.DestroyAfter)

		if _, err := e.Review.Image(e.ctx, reviewer, d.ID); kakunin.ErrorCode(err) != kakunin.EGONE {
			t.Fatalf("Image past the deadline = %v, want EGONE", err)
		}
		if n, err := e.DB.CountReadsSince(e.ctx, alice, time.Time{}); err != nil || n != 0 {
			t.Fatalf("%d reads recorded, %v; want 0", n, err)
		}
		// The document service refuses on its own too, for any caller.
		if _, err := e.Documents.Open(e.ctx, e.doc(d.ID)); kakunin.ErrorCode(err) != kakunin.EGONE {
			t.Fatalf("Open past the deadline = %v, want EGONE", err)
		}
		e.Clock.Set(d.DestroyAfter.Add(-time.Second))
		if _, err := e.Documents.Open(e.ctx, e.doc(d.ID)); err != nil {
			t.Fatalf("Open a second before the deadline: %v", err)
		}
	})
}

// Twenty reviewers claiming at once, each until the queue is empty: on
// PostgreSQL too every claim either gets a document or finds the queue
// really empty, never "busy" (409), and no document is given twice.
func TestTwentyReviewersRacingNeverGetAConflictWhileWorkWaits(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		e.Review.MaxAssigned = 100
		const docs, reviewers = 60, 20
		for range docs {
			e.submit(sampleJPEG(t))
		}
		type claim struct {
			reviewer, doc string
			err           error
		}
		out := make(chan claim, docs+reviewers*4)
		start := make(chan struct{})
		done := make(chan struct{})
		for i := range reviewers {
			go func() {
				defer func() { done <- struct{}{} }()
				r := reviewerID(i)
				<-start
				for {
					d, err := e.Review.Next(e.ctx, r)
					if err != nil {
						out <- claim{reviewer: r, err: err}
						return
					}
					if d == nil {
						return
					}
					out <- claim{reviewer: r, doc: d.ID}
				}
			}()
		}
		close(start)
		for range reviewers {
			<-done
		}
		close(out)
		owner := map[string]string{}
		for c := range out {
			if c.err != nil {
				t.Errorf("Next(%s): %v", c.reviewer, c.err)
				continue
			}
			if prev, ok := owner[c.doc]; ok {
				t.Errorf("document %s given to %s and %s", c.doc, prev, c.reviewer)
			}
			owner[c.doc] = c.reviewer
		}
		if len(owner) != docs {
			t.Errorf("%d documents claimed, want all %d", len(owner), docs)
		}
	})
}

// reviewerID names one of the twenty reviewers newEnv creates.
func reviewerID(i int) string { return fmt.Sprintf("stf_%02d", i) }

package review_test

import (
	"context"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/intake"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

// Opening an image decodes it: a reviewer's read takes its share of the
// memory budget, and waits or is refused (busy) like an upload when there
// is none.
func TestOpeningAnImageTakesItsShareOfTheMemoryBudget(t *testing.T) {
	e := newEnv(t, storetest.SQLiteDSN(t))
	budget := intake.NewBudget(8 << 20)
	budget.Wait = 10 * time.Millisecond
	e.Documents.Limits.Budget = budget
	_, d := e.submit(samplePNG(t))
	_ = e.next(alice)
	hold, err := budget.AcquireWait(context.Background(), budget.Size())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Review.Image(e.ctx, e.staff(alice), d.ID); kakunin.ErrorCode(err) != kakunin.EUNAVAILABLE {
		t.Fatalf("with the budget held: %v, want EUNAVAILABLE", err)
	}
	hold()
	if _, err := e.Review.Image(e.ctx, e.staff(alice), d.ID); err != nil {
		t.Fatalf("with room: %v", err)
	}
	// The read gave its share back.
	release, err := budget.Acquire(context.Background(), budget.Size())
	if err != nil {
		t.Fatalf("the read kept part of the budget: %v", err)
	}
	release()
}

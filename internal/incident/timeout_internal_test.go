package incident

import (
	"testing"

	"github.com/kakunin/kakunin/internal/jobs"
)

// A job still running when River rescues it would run twice at once.
func TestWatchTimesOutBeforeItWouldBeRescued(t *testing.T) {
	if d := (&watchWorker{}).Timeout(nil); d <= 0 || d > jobs.MaxJobTimeout {
		t.Fatalf("timeout %s, want in (0, %s]", d, jobs.MaxJobTimeout)
	}
}

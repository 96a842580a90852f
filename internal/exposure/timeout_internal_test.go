package exposure

import (
	"testing"
	"time"

	"github.com/kakunin/kakunin/internal/jobs"
)

// A job still running when River rescues it would run twice at once.
func TestExposureJobsTimeOutBeforeTheyWouldBeRescued(t *testing.T) {
	for name, d := range map[string]time.Duration{
		"check": (&checkWorker{}).Timeout(nil),
		"prune": (&pruneWorker{}).Timeout(nil),
	} {
		if d <= 0 || d > jobs.MaxJobTimeout {
			t.Errorf("%s: timeout %s, want in (0, %s]", name, d, jobs.MaxJobTimeout)
		}
	}
}

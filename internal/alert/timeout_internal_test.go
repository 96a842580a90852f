package alert

import (
	"testing"
	"time"

	"github.com/kakunin/kakunin/internal/jobs"
)

// A job still running when River rescues it would run twice at once.
func TestAlertJobsTimeOutBeforeTheyWouldBeRescued(t *testing.T) {
	for name, d := range map[string]time.Duration{
		"fanout": (&fanoutWorker{}).Timeout(nil),
		"mail":   (&mailWorker{}).Timeout(nil),
	} {
		if d <= 0 || d > jobs.MaxJobTimeout {
			t.Errorf("%s: timeout %s, want in (0, %s]", name, d, jobs.MaxJobTimeout)
		}
	}
}

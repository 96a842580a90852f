package document_test

import (
	"testing"
	"time"

	"github.com/kakunin/kakunin/internal/document"
	"github.com/kakunin/kakunin/internal/jobs"
)

// A job still running when River rescues it would run twice at once.
func TestDocumentJobsTimeOutBeforeTheyWouldBeRescued(t *testing.T) {
	for name, d := range map[string]time.Duration{
		"destroy": (&document.DestroyWorker{}).Timeout(nil),
		"sweep":   (&document.SweepWorker{}).Timeout(nil),
		"verify":  (&document.VerifyWorker{}).Timeout(nil),
	} {
		if d <= 0 || d > jobs.MaxJobTimeout {
			t.Errorf("%s: timeout %s, want in (0, %s]", name, d, jobs.MaxJobTimeout)
		}
	}
}

package massmail

import (
	"context"
	"fmt"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/audit"
)

// FactsOf reads what the record says was done for inc: the first report to
// the PPC (the incident's own record) and the first rotation of the
// key-encryption key since the discovery (the audit log, which `kakunin
// keys rotate` writes). A nil log knows no rotation.
func FactsOf(ctx context.Context, log *audit.Log, inc *kakunin.Incident) (Facts, error) {
	f := Facts{ReportedToPPC: inc.PreliminaryReportedAt}
	if log == nil {
		return f, nil
	}
	evs, err := log.List(ctx, audit.Filter{From: inc.DiscoveredAt, Action: audit.KEKRotated, Limit: 1000})
	if err != nil {
		return f, fmt.Errorf("key rotations since incident %s: %w", inc.ID, err)
	}
	if n := len(evs); n > 0 {
		at := evs[n-1].At // newest first: the last is the first rotation
		f.KeysRotated = &at
	}
	return f, nil
}

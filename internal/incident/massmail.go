package incident

import (
	"context"
	"time"

	"github.com/kakunin/kakunin"
)

// The mass notification (internal/massmail) tells the desk when it starts and
// finishes, so the record follows what was done without the responder
// writing it twice.

// NotificationStarted moves the incident to "notifying" unless it is
// already there or beyond.
func (s *Service) NotificationStarted(ctx context.Context, id string) error {
	in, err := s.DB.Incident(ctx, id)
	if err != nil {
		return err
	}
	if in.Status.Rank() >= kakunin.IncidentNotifying.Rank() {
		return nil
	}
	_, err = s.Advance(ctx, id, kakunin.IncidentNotifying, "Mass notification of the affected members started.")
	return err
}

// NotificationFinished records that the affected individuals were
// notified at `at`, unless a date is already recorded (a responder's
// correction wins).
func (s *Service) NotificationFinished(ctx context.Context, id string, at time.Time) error {
	in, err := s.DB.Incident(ctx, id)
	if err != nil {
		return err
	}
	if in.IndividualsNotifiedAt != nil {
		return nil
	}
	_, err = s.RecordDone(ctx, id, MilestoneIndividuals, at)
	return err
}

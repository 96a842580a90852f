package incident

import (
	"context"
	"fmt"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/store"
)

// ExposedDocument is one of a member's documents an incident reached.
type ExposedDocument struct {
	Type kakunin.DocumentType `json:"type"`
	// Month is when it was submitted, "2006-01" in Japan time: what a
	// member is told, precise enough to recognise, no more.
	Month string `json:"month"`
	// Readable: the intruder could have seen the image (keys taken, or a
	// staff account that opened it), not only its ciphertext.
	Readable bool `json:"readable"`
}

// Exposure is what one incident means for one member.
type Exposure struct {
	IncidentID string            `json:"incident_id"`
	Affected   bool              `json:"affected"`
	Documents  []ExposedDocument `json:"documents,omitempty"`
}

// QueryOf is the scoping query an incident's record stands for. It fails
// while the window is not known.
func QueryOf(in *kakunin.Incident) (Query, error) {
	if in.WindowFrom.IsZero() || in.WindowTo.IsZero() {
		return Query{}, kakunin.Errorf(kakunin.ECONFLICT, "incident %s has no window yet", in.ID)
	}
	return Query{From: in.WindowFrom, To: in.WindowTo, KeysExposed: in.Held.Keys}.normalize()
}

// MemberExposure tells whether the incident reached memberID's documents,
// and which. Only the blob store holds images: an intruder without it (or
// a staff account) reached no image at all. A staff account reached the
// images it opened in the window.
func MemberExposure(ctx context.Context, db *store.DB, in *kakunin.Incident, memberID string) (*Exposure, error) {
	q, err := QueryOf(in)
	if err != nil {
		return nil, err
	}
	docs, err := db.MemberDocumentsInWindow(ctx, memberID, q.From, q.To)
	if err != nil {
		return nil, fmt.Errorf("exposure of incident %s: %w", in.ID, err)
	}
	ex := &Exposure{IncidentID: in.ID}
	for _, d := range docs {
		viaStore := in.Held.Blobs
		viaStaff := in.Held.StaffAccount && d.ReadByStaff
		if !viaStore && !viaStaff {
			continue
		}
		ex.Documents = append(ex.Documents, ExposedDocument{
			Type:     d.Type,
			Month:    d.ReceivedAt.In(kakunin.JST).Format("2006-01"),
			Readable: viaStaff || (viaStore && in.Held.Keys && in.Held.Database && d.ReadableWithKeys),
		})
	}
	ex.Affected = len(ex.Documents) > 0
	return ex, nil
}

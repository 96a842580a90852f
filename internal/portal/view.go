package portal

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/incident"
	"github.com/kakunin/kakunin/internal/verification"
)

// ExportFormat and ExportVersion name the export's schema
// (docs/member-export.md). A change that a reader of version 1 would
// misread takes a new version.
const (
	ExportFormat  = "kakunin-member-export"
	ExportVersion = 1
)

// View is everything the portal shows a member, and the export is this
// same value as JSON: the page and the copy cannot drift apart.
type View struct {
	Format        string         `json:"format"`
	Version       int            `json:"version"`
	GeneratedAt   time.Time      `json:"generated_at"`
	Member        MemberData     `json:"member"`
	Verifications []Verification `json:"verifications"`
	Documents     []Document     `json:"documents"`
	KeptFields    []KeptField    `json:"kept_fields"`
	Incidents     []Incident     `json:"incidents"`
}

// MemberData is the member's own record.
type MemberData struct {
	ID           string         `json:"id"`
	ExternalID   string         `json:"external_id"`
	Email        string         `json:"email"`
	Locale       kakunin.Locale `json:"locale"`
	RegisteredAt time.Time      `json:"registered_at"`
}

// Verification is one verification of the member.
type Verification struct {
	ID        string     `json:"id"`
	CreatedAt time.Time  `json:"created_at"`
	Method    string     `json:"method"` // "photo": a document image reviewed by staff
	Status    string     `json:"status"`
	Result    *Result    `json:"result,omitempty"`
	DecidedAt *time.Time `json:"decided_at,omitempty"`
}

// Result is the decision kept in the record. DecidedBy is a role, never a
// name or a staff ID.
type Result struct {
	Adult        *bool  `json:"adult,omitempty"` // nil: no decision about age was made
	DocumentType string `json:"document_type"`
	DocumentName string `json:"document_name,omitempty"`
	Issuer       string `json:"issuer,omitempty"`
	BirthDate    string `json:"birth_date,omitempty"`
	RejectReason string `json:"reject_reason,omitempty"`
	DecidedBy    string `json:"decided_by"`
}

// Document is one uploaded image's record. The image itself is never
// exported.
type Document struct {
	ID             string        `json:"id"`
	VerificationID string        `json:"verification_id"`
	Type           string        `json:"type"`
	ReceivedAt     time.Time     `json:"received_at"`
	Image          DocumentImage `json:"image"`
}

// DocumentImage says where the image stands: held until DestroyBy at the
// latest, or destroyed at DestroyedAt.
type DocumentImage struct {
	Exported    bool       `json:"exported"` // always false
	State       string     `json:"state"`    // held | destroyed
	DestroyBy   *time.Time `json:"destroy_by,omitempty"`
	DestroyedAt *time.Time `json:"destroyed_at,omitempty"`
}

// KeptField is one field of the verification record and why it is kept.
type KeptField struct {
	Field  string `json:"field"`
	Reason string `json:"reason"` // a reason code, written out by the catalogue (portal.reason.*)
}

// Incident is an incident that reached the member's documents.
type Incident struct {
	ID           string          `json:"id"`
	DiscoveredAt time.Time       `json:"discovered_at"`
	WindowFrom   time.Time       `json:"window_from"`
	WindowTo     time.Time       `json:"window_to"`
	Documents    []IncidentImage `json:"documents"`
	Notices      []Notice        `json:"notices"`
}

// IncidentImage is one document an incident reached.
type IncidentImage struct {
	Type     string `json:"type"`
	Month    string `json:"month"`
	Readable bool   `json:"readable"`
}

// Notice is a published notice about an incident.
type Notice struct {
	ID    string `json:"id"`
	URL   string `json:"url"`
	Title string `json:"title"` // in the member's language
}

// Why each field of the record is kept (portal.reason.* in the catalogue).
const (
	ReasonDatingSiteLaw = "dating_site_law" // the law obliges the operator to confirm age and keep the record
	ReasonContact       = "contact"         // to reach the member: sign-in links, incident notices
	ReasonOperator      = "operator"        // kept because the operator chose to (birth date)
	ReasonAnswer        = "answer"          // to tell the member and the host why, so they can try again
)

// keptFields lists the fields kakunin keeps, for every member alike.
func keptFields(keepsBirthDate bool) []KeptField {
	out := []KeptField{
		{"email", ReasonContact},
		{"adult", ReasonDatingSiteLaw},
		{"document_type", ReasonDatingSiteLaw},
		{"document_name", ReasonDatingSiteLaw},
		{"issuer", ReasonDatingSiteLaw},
		{"checked_at", ReasonDatingSiteLaw},
		{"decided_by", ReasonDatingSiteLaw},
		{"reject_reason", ReasonAnswer},
	}
	if keepsBirthDate {
		out = append(out, KeptField{"birth_date", ReasonOperator})
	}
	return out
}

// MemberView gathers what kakunin holds about memberID. It reads one
// member's rows only, each by that member's ID.
func (s *Service) MemberView(ctx context.Context, memberID string, lang kakunin.Locale, keepsBirthDate bool) (*View, error) {
	rec, err := s.DB.MemberByID(ctx, memberID)
	if err != nil {
		return nil, err
	}
	email, err := verification.OpenEmail(s.Keys, rec.EmailSealed)
	if err != nil {
		return nil, fmt.Errorf("member view: %w", err)
	}
	v := &View{Format: ExportFormat, Version: ExportVersion, GeneratedAt: s.now().UTC(),
		Member:        MemberData{ID: rec.ID, ExternalID: rec.ExternalID, Email: email, Locale: rec.Locale, RegisteredAt: rec.CreatedAt},
		Verifications: []Verification{}, Documents: []Document{}, KeptFields: keptFields(keepsBirthDate), Incidents: []Incident{}}
	vs, err := s.DB.VerificationsOfMember(ctx, rec.ID)
	if err != nil {
		return nil, err
	}
	for _, vr := range vs {
		out := Verification{ID: vr.ID, CreatedAt: vr.CreatedAt, Method: "photo", Status: string(vr.Status)}
		if r := vr.Result; r != nil {
			at := r.CheckedAt
			out.DecidedAt = &at
			out.Result = &Result{Adult: r.Adult, DocumentType: string(r.DocumentType), DocumentName: r.DocumentName, Issuer: r.Issuer,
				BirthDate: r.BirthDate, RejectReason: r.RejectReason, DecidedBy: s.roleOf(ctx, r.CheckedBy)}
		}
		v.Verifications = append(v.Verifications, out)
	}
	docs, err := s.DB.DocumentsOfMember(ctx, rec.ID)
	if err != nil {
		return nil, err
	}
	for _, d := range docs {
		img := DocumentImage{State: "held"}
		if d.DestroyedAt != nil {
			at := *d.DestroyedAt
			img.State, img.DestroyedAt = "destroyed", &at
		} else {
			by := d.DestroyAfter
			img.DestroyBy = &by
		}
		v.Documents = append(v.Documents, Document{ID: d.ID, VerificationID: d.VerificationID, Type: string(d.Type), ReceivedAt: d.ReceivedAt, Image: img})
	}
	if v.Incidents, err = s.incidents(ctx, rec.ID, lang); err != nil {
		return nil, err
	}
	return v, nil
}

// roleOf names who decided as a role: the member is owed the kind of
// person, not their name.
func (s *Service) roleOf(ctx context.Context, staffID string) string {
	if st, err := s.DB.StaffByID(ctx, staffID); err == nil {
		return string(st.Role)
	}
	return string(kakunin.RoleReviewer) // only reviewers decide
}

// incidents are the scoped incidents that reached memberID's documents,
// with their published notices (incident.MemberExposure, as the breach
// desk computes it).
func (s *Service) incidents(ctx context.Context, memberID string, lang kakunin.Locale) ([]Incident, error) {
	all, err := s.DB.ListIncidents(ctx)
	if err != nil {
		return nil, err
	}
	out := []Incident{}
	for _, in := range all {
		if !in.Status.Scoped() {
			continue
		}
		ex, err := incident.MemberExposure(ctx, s.DB, in, memberID)
		if kakunin.ErrorCode(err) == kakunin.ECONFLICT {
			continue // no window yet: nothing can be said
		}
		if err != nil {
			return nil, err
		}
		if !ex.Affected {
			continue
		}
		item := Incident{ID: in.ID, DiscoveredAt: in.DiscoveredAt, WindowFrom: in.WindowFrom, WindowTo: in.WindowTo, Notices: []Notice{}}
		for _, d := range ex.Documents {
			item.Documents = append(item.Documents, IncidentImage{Type: string(d.Type), Month: d.Month, Readable: d.Readable})
		}
		notices, err := s.DB.IncidentNotices(ctx, in.ID)
		if err != nil {
			return nil, err
		}
		for _, n := range notices {
			if n.PublishedAt == nil {
				continue
			}
			title := n.TitleJA
			if lang == kakunin.LocaleEN && n.TitleEN != "" {
				title = n.TitleEN
			}
			item.Notices = append(item.Notices, Notice{ID: n.ID, URL: strings.TrimSuffix(s.PublicURL, "/") + "/notices/" + n.ID, Title: title})
		}
		out = append(out, item)
	}
	return out, nil
}

// Export is MemberView for the download, audited: a copy of personal data
// left the service.
func (s *Service) Export(ctx context.Context, memberID string, lang kakunin.Locale, keepsBirthDate bool) (*View, error) {
	v, err := s.MemberView(ctx, memberID, lang, keepsBirthDate)
	if err != nil {
		return nil, err
	}
	err = s.Audit.Append(ctx, audit.Event{Action: audit.PortalExported, Actor: "member:" + memberID, Subject: memberID,
		Origin: audit.OriginFrom(ctx), Detail: map[string]string{"version": fmt.Sprint(ExportVersion)}})
	if err != nil {
		return nil, err
	}
	return v, nil
}

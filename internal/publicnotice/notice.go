// Package publicnotice keeps the public notices the breach desk writes in
// Japanese and English. A notice is a draft until published; edits to a
// published notice move its "last updated" time, which the public page
// shows. A notice may be about an incident: the incident's "last public
// update" is its published notices' newest change. A published notice can
// be unpublished (it becomes a draft again, and the public pages answer
// for it exactly as for an unknown ID); only drafts can be deleted. Every
// change is audited in the same transaction as the change itself.
package publicnotice

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/store"
)

// Limits on what a notice holds, in characters.
const (
	MaxTitle = 200
	MaxBody  = 20000
)

// Text is what a responder writes: a title and a plain-text body in each
// language, and optionally the incident the notice is about.
type Text struct {
	TitleJA, TitleEN string
	BodyJA, BodyEN   string
	IncidentID       string // "" for none
}

// Service creates, edits and publishes notices.
type Service struct {
	DB    *store.DB
	Audit *audit.Log
	Now   func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// Validate checks both titles (1–200 characters) and bodies (1–20,000),
// which must be valid UTF-8 without control characters other than
// newlines and tabs (titles: none at all).
func Validate(t Text) error {
	for _, f := range []struct {
		name, value string
		max         int
		multiline   bool
	}{
		{"title_ja", t.TitleJA, MaxTitle, false},
		{"title_en", t.TitleEN, MaxTitle, false},
		{"body_ja", t.BodyJA, MaxBody, true},
		{"body_en", t.BodyEN, MaxBody, true},
	} {
		if !utf8.ValidString(f.value) {
			return kakunin.Errorf(kakunin.EINVALID, "%s is not valid UTF-8", f.name)
		}
		if n := utf8.RuneCountInString(f.value); strings.TrimSpace(f.value) == "" || n > f.max {
			return kakunin.Errorf(kakunin.EINVALID, "%s must be 1 to %d characters", f.name, f.max)
		}
		for _, r := range f.value {
			if f.multiline && (r == '\n' || r == '\t' || r == '\r') {
				continue
			}
			if unicode.IsControl(r) {
				return kakunin.Errorf(kakunin.EINVALID, "%s holds a control character", f.name)
			}
		}
	}
	return nil
}

// normalize keeps line ends as "\n" only, whatever the browser sent.
func normalize(t Text) Text {
	nl := strings.NewReplacer("\r\n", "\n", "\r", "\n")
	return Text{TitleJA: strings.TrimSpace(t.TitleJA), TitleEN: strings.TrimSpace(t.TitleEN),
		BodyJA: nl.Replace(t.BodyJA), BodyEN: nl.Replace(t.BodyEN), IncidentID: strings.TrimSpace(t.IncidentID)}
}

// checkIncident refuses a notice about an incident that does not exist.
func checkIncident(ctx context.Context, tx *store.Tx, id string) error {
	if id == "" {
		return nil
	}
	if _, err := tx.Incident(ctx, id); kakunin.ErrorCode(err) == kakunin.ENOTFOUND {
		return kakunin.Errorf(kakunin.EINVALID, "no incident %s to link the notice to", id)
	} else if err != nil {
		return err
	}
	return nil
}

// Create stores a new draft.
func (s *Service) Create(ctx context.Context, t Text) (*store.Notice, error) {
	t = normalize(t)
	if err := Validate(t); err != nil {
		return nil, err
	}
	now := s.now()
	actor := audit.ActorFrom(ctx)
	n := &store.Notice{ID: kakunin.NewID("ntc"), TitleJA: t.TitleJA, TitleEN: t.TitleEN, BodyJA: t.BodyJA, BodyEN: t.BodyEN,
		CreatedBy: actor, CreatedAt: now, UpdatedAt: now, IncidentID: t.IncidentID}
	err := s.DB.WithTx(ctx, func(tx *store.Tx) error {
		if err := checkIncident(ctx, tx, t.IncidentID); err != nil {
			return err
		}
		if err := tx.InsertNotice(ctx, n); err != nil {
			return err
		}
		return s.Audit.AppendTx(ctx, tx, s.event(ctx, audit.NoticeCreated, n.ID, now))
	})
	if err != nil {
		return nil, fmt.Errorf("create notice: %w", err)
	}
	return n, nil
}

// Update replaces a notice's text and moves its updated time. A published
// notice stays published.
func (s *Service) Update(ctx context.Context, id string, t Text) (*store.Notice, error) {
	t = normalize(t)
	if err := Validate(t); err != nil {
		return nil, err
	}
	now := s.now()
	var n *store.Notice
	err := s.DB.WithTx(ctx, func(tx *store.Tx) error {
		var err error
		if n, err = tx.Notice(ctx, id); err != nil {
			return err
		}
		if err := checkIncident(ctx, tx, t.IncidentID); err != nil {
			return err
		}
		n.TitleJA, n.TitleEN, n.BodyJA, n.BodyEN, n.UpdatedAt = t.TitleJA, t.TitleEN, t.BodyJA, t.BodyEN, now
		n.IncidentID = t.IncidentID
		if err := tx.UpdateNotice(ctx, n); err != nil {
			return err
		}
		return s.Audit.AppendTx(ctx, tx, s.event(ctx, audit.NoticeUpdated, id, now))
	})
	if err != nil {
		return nil, fmt.Errorf("update notice %s: %w", id, err)
	}
	return n, nil
}

// Publish makes a draft public. Publishing a published notice changes
// nothing: its first publication time stays.
func (s *Service) Publish(ctx context.Context, id string) (*store.Notice, error) {
	now := s.now()
	var n *store.Notice
	err := s.DB.WithTx(ctx, func(tx *store.Tx) error {
		var err error
		if n, err = tx.Notice(ctx, id); err != nil {
			return err
		}
		if n.PublishedAt != nil {
			return nil
		}
		if _, err := tx.PublishNotice(ctx, id, now); err != nil {
			return err
		}
		n.PublishedAt = &now
		return s.Audit.AppendTx(ctx, tx, s.event(ctx, audit.NoticePublished, id, now))
	})
	if err != nil {
		return nil, fmt.Errorf("publish notice %s: %w", id, err)
	}
	return n, nil
}

// Unpublish takes a published notice off the public pages and the feed:
// it becomes a draft again, which can be edited, published again (with a
// new publication time) or deleted. Unpublishing a draft changes nothing.
func (s *Service) Unpublish(ctx context.Context, id string) (*store.Notice, error) {
	now := s.now()
	var n *store.Notice
	err := s.DB.WithTx(ctx, func(tx *store.Tx) error {
		var err error
		if n, err = tx.Notice(ctx, id); err != nil {
			return err
		}
		if n.PublishedAt == nil {
			return nil
		}
		if _, err := tx.UnpublishNotice(ctx, id); err != nil {
			return err
		}
		n.PublishedAt = nil
		return s.Audit.AppendTx(ctx, tx, s.event(ctx, audit.NoticeUnpublished, id, now))
	})
	if err != nil {
		return nil, fmt.Errorf("unpublish notice %s: %w", id, err)
	}
	return n, nil
}

// Delete removes a draft for good. A published notice is refused: the
// public may have read it, so it must be unpublished first, on purpose.
func (s *Service) Delete(ctx context.Context, id string) error {
	now := s.now()
	err := s.DB.WithTx(ctx, func(tx *store.Tx) error {
		n, err := tx.Notice(ctx, id)
		if err != nil {
			return err
		}
		if n.PublishedAt != nil {
			return kakunin.Errorf(kakunin.ECONFLICT, "notice %s is published: unpublish it before deleting it", id)
		}
		if ok, err := tx.DeleteNotice(ctx, id); err != nil {
			return err
		} else if !ok {
			return kakunin.Errorf(kakunin.ECONFLICT, "notice %s changed meanwhile", id)
		}
		return s.Audit.AppendTx(ctx, tx, s.event(ctx, audit.NoticeDeleted, id, now))
	})
	if err != nil {
		return fmt.Errorf("delete notice %s: %w", id, err)
	}
	return nil
}

// OfIncident returns the notices about an incident, drafts included, the
// most recently updated first.
func (s *Service) OfIncident(ctx context.Context, incidentID string) ([]*store.Notice, error) {
	return s.DB.IncidentNotices(ctx, incidentID)
}

// Get returns one notice, draft or published (for the console).
func (s *Service) Get(ctx context.Context, id string) (*store.Notice, error) {
	return s.DB.Notice(ctx, id)
}

// GetPublished returns one published notice; a draft is as unknown as an
// ID that never existed.
func (s *Service) GetPublished(ctx context.Context, id string) (*store.Notice, error) {
	n, err := s.DB.Notice(ctx, id)
	if err != nil {
		return nil, err
	}
	if n.PublishedAt == nil {
		return nil, kakunin.Errorf(kakunin.ENOTFOUND, "no such notice")
	}
	return n, nil
}

// List returns every notice, drafts included, the most recently updated
// first.
func (s *Service) List(ctx context.Context) ([]*store.Notice, error) {
	return s.DB.ListNotices(ctx)
}

// Published returns the published notices, the most recently updated first.
func (s *Service) Published(ctx context.Context) ([]*store.Notice, error) {
	return s.DB.PublishedNotices(ctx)
}

func (s *Service) event(ctx context.Context, action, id string, at time.Time) audit.Event {
	return audit.Event{At: at, Action: action, Actor: audit.ActorFrom(ctx), Subject: id, Origin: audit.OriginFrom(ctx)}
}

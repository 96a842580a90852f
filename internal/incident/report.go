package incident

import (
	"context"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/store"
)

// Draft is what the report to the PPC can be filled from: the record, the
// assessment, the scope of the window (nil while it is not known), the
// published notices and the timeline. The report form asks for overview,
// data items, number of people, cause, secondary damage, actions for
// individuals, publication, prevention and anything else of note; the
// items the desk cannot know (secondary damage, prevention) are left for
// the responder to fill in.
type Draft struct {
	Incident   *kakunin.Incident
	Assessment Assessment
	Scope      *Report // nil while the window is not known
	Published  []*store.Notice
	Timeline   []kakunin.IncidentUpdate
	Cause      Reason   // what the record says of the cause
	Held       []Reason // what the intruder may have held, one line each
	ComputedAt time.Time
}

// Draft gathers an incident's report draft.
func (s *Service) Draft(ctx context.Context, id string) (*Draft, error) {
	in, err := s.DB.Incident(ctx, id)
	if err != nil {
		return nil, err
	}
	items, err := s.DB.CertifierItems(ctx, id)
	if err != nil {
		return nil, err
	}
	facts, rep, err := s.Count(ctx, in)
	if err != nil {
		return nil, err
	}
	notices, err := s.DB.IncidentNotices(ctx, id)
	if err != nil {
		return nil, err
	}
	timeline, err := s.DB.IncidentUpdates(ctx, id)
	if err != nil {
		return nil, err
	}
	now := s.now()
	d := &Draft{Incident: in, Assessment: Assess(in, items, facts, now), Scope: rep, Timeline: timeline,
		Cause: Cause(in), Held: HeldLines(in.Held), ComputedAt: now}
	for _, n := range notices {
		if n.PublishedAt != nil {
			d.Published = append(d.Published, n)
		}
	}
	return d, nil
}

// Cause is what the record says of the cause, in both languages.
func Cause(in *kakunin.Incident) Reason {
	if in.Malicious {
		return Reason{
			JA: "不正の目的をもって行われたおそれがある事態（不正アクセス等）として記録されています。",
			EN: "Recorded as caused, or possibly caused, with a wrongful purpose (unauthorised access or similar).",
		}
	}
	return Reason{
		JA: "不正の目的によらない事故（誤操作、設定不備等）として記録されています。",
		EN: "Recorded as an accident without a wrongful purpose (a mistake, a misconfiguration or similar).",
	}
}

// HeldLines says what the intruder may have held, one line per part.
func HeldLines(h kakunin.IncidentHeld) []Reason {
	var out []Reason
	if h.Database {
		out = append(out, Reason{JA: "データベース（暗号化された項目と、暗号化されたデータ鍵）", EN: "The database (sealed fields and wrapped data keys)"})
	}
	if h.Blobs {
		out = append(out, Reason{JA: "ブロブストア（暗号化された書類画像）", EN: "The blob store (encrypted document images)"})
	}
	if h.Keys {
		out = append(out, Reason{JA: "鍵暗号化鍵とエポック鍵のファイル", EN: "The key-encryption keyset and the epoch key files"})
	}
	if h.StaffAccount {
		out = append(out, Reason{JA: "スタッフアカウント（閲覧は監査ログに記録）", EN: "A staff account (its reads are in the audit log)"})
	}
	if len(out) == 0 {
		out = append(out, Reason{JA: "まだ記録されていません", EN: "Not recorded yet"})
	}
	return out
}

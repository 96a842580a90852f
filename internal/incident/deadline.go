package incident

import (
	"fmt"
	"time"

	"github.com/kakunin/kakunin"
)

// The clock of an incident: what Japanese rules require of the business
// and by when, computed from the record alone so that it can be tested
// line by line and shown with its reasons.
//
// The rules (the README cites them):
//
//   - APPI (Act on the Protection of Personal Information) Art. 26(1): a
//     leak, loss or damage of personal data, or the possibility of one
//     (「おそれ」), that is likely to harm individuals' rights and
//     interests, as the Enforcement Rules define it, must be reported to
//     the Personal Information Protection Commission (PPC).
//   - Enforcement Rules Art. 7: the cases that are reportable, among them
//     (ii) personal data whose misuse may cause property damage, (iii) a
//     leak that may have been caused with a wrongful purpose (unauthorised
//     access), (iv) more than 1,000 people.
//   - Enforcement Rules Art. 8: a preliminary report "promptly" (速やかに;
//     the PPC guidelines say about 3–5 days), and a final report within 30
//     days of learning of it, 60 days in case (iii).
//   - APPI Art. 26(2), Enforcement Rules Art. 10: the people affected are
//     notified "promptly, according to the situation" when a report is
//     required.
//   - PPC Guidelines (General Rules) 3-5-3-1 ※: personal data protected by
//     advanced encryption whose key was not leaked is not "leaked" in the
//     sense of these rules.

// Obligation kinds. An obligation's Key is its kind, or for a certifier
// item "certifier:" and the item's ID: the watch job remembers alerts by it.
const (
	ObligationPreliminary = "ppc_preliminary"
	ObligationFinal       = "ppc_final"
	ObligationIndividuals = "individuals"
	ObligationCertifier   = "certifier"
)

// ObligationStatus is where one obligation stands.
type ObligationStatus string

const (
	StatusDone        ObligationStatus = "done"
	StatusDue         ObligationStatus = "due"
	StatusOverdue     ObligationStatus = "overdue"
	StatusNotRequired ObligationStatus = "not_required"
)

// Reason is a plain-language sentence in both languages.
type Reason struct {
	JA, EN string
}

// Text returns the reason in lang.
func (r Reason) Text(lang kakunin.Locale) string {
	if lang == kakunin.LocaleEN {
		return r.EN
	}
	return r.JA
}

// Obligation is one thing the business owes, by when, and why.
type Obligation struct {
	Key    string // ObligationPreliminary… or "certifier:" + item ID
	Kind   string // ObligationPreliminary, ObligationFinal, ObligationIndividuals or ObligationCertifier
	Text   string // a certifier item's text; "" for the others
	DueAt  time.Time
	DoneAt *time.Time
	Status ObligationStatus
	Reason Reason
}

// Facts are what the record alone does not say, counted from the window
// (Service.Count). Without them (Counted false) the assessment says what
// it does not know instead of guessing low.
type Facts struct {
	Counted    bool  // the window is known and was scoped
	People     int64 // distinct members with a document in the window
	StaffReads int64 // document images opened by staff in the window
}

// Assessment is whether a report is required, why, and every obligation.
type Assessment struct {
	// Required: the report to the PPC (and the notification of
	// individuals) is required, or presumed so while what the intruder
	// held is not recorded. False means "probably not required", with the
	// reasons: the responder decides, the desk only explains.
	Required    bool
	Verdict     Reason
	Reasons     []Reason
	Obligations []Obligation
}

// Overdue returns the obligations past due and not done.
func (a Assessment) Overdue() []Obligation {
	var out []Obligation
	for _, o := range a.Obligations {
		if o.Status == StatusOverdue {
			out = append(out, o)
		}
	}
	return out
}

// Deadline constants: the preliminary report is shown as due 5 days after
// discovery (the PPC's "about 3–5 days", read at its latest), the final
// one 30 or 60 days after.
const (
	PreliminaryWithin    = 5 * 24 * time.Hour
	FinalWithin          = 30 * 24 * time.Hour
	FinalWithinMalicious = 60 * 24 * time.Hour
	// ManyPeople is the "more than 1,000 people" of Enforcement Rules Art. 7(iv).
	ManyPeople = 1000
)

// Assess computes, from the record, the certifier's items, the facts
// counted from the window and now, whether a report is required and every
// obligation with its due date, status and reason.
func Assess(in *kakunin.Incident, items []kakunin.CertifierItem, f Facts, now time.Time) Assessment {
	a := Assessment{}
	a.Required, a.Verdict, a.Reasons = reportable(in, f)

	prelimDue := in.DiscoveredAt.Add(PreliminaryWithin)
	finalDue, finalWhy := in.DiscoveredAt.Add(FinalWithin), Reason{
		JA: "確報は、事態を知った日から30日以内に提出します（施行規則第8条第2項）。",
		EN: "The final report is due within 30 days of learning of the breach (Enforcement Rules Art. 8(2)).",
	}
	if in.Malicious {
		finalDue, finalWhy = in.DiscoveredAt.Add(FinalWithinMalicious), Reason{
			JA: "不正の目的（不正アクセス等）によるおそれがあるため、確報の期限は事態を知った日から60日以内です（施行規則第8条第2項）。",
			EN: "The breach may have been caused with a wrongful purpose (e.g. unauthorised access), so the final report is due within 60 days of learning of it, not 30 (Enforcement Rules Art. 8(2)).",
		}
	}
	a.Obligations = []Obligation{
		obligation(ObligationPreliminary, prelimDue, in.PreliminaryReportedAt, a.Required, now, Reason{
			JA: "速報は、事態を知った後「速やかに」提出します（施行規則第8条第1項）。個人情報保護委員会のガイドラインでは概ね3〜5日以内とされているため、発覚から5日後を期限として表示しています。",
			EN: "The preliminary report is due \"promptly\" after learning of the breach (Enforcement Rules Art. 8(1)): about 3–5 days per the PPC guidelines, shown as due 5 days after discovery.",
		}),
		obligation(ObligationFinal, finalDue, in.FinalReportedAt, a.Required, now, finalWhy),
		obligation(ObligationIndividuals, prelimDue, in.IndividualsNotifiedAt, a.Required, now, Reason{
			JA: "本人への通知は、状況に応じて速やかに行います（法第26条第2項、施行規則第10条）。速報と同じ期限で表示しています。",
			EN: "The people affected are to be notified \"promptly, according to the situation\" (APPI Art. 26(2), Enforcement Rules Art. 10); shown as due with the preliminary report.",
		}),
	}
	for _, it := range items {
		a.Obligations = append(a.Obligations, obligation(ObligationCertifier, it.DueAt, it.DoneAt, true, now, Reason{
			JA: "認証機関が指定した是正措置です。指定された期日までに完了します。",
			EN: "A corrective measure the certifier set, due on the date it gave.",
		}))
		o := &a.Obligations[len(a.Obligations)-1]
		o.Key, o.Text = ObligationCertifier+":"+it.ID, it.Text
	}
	return a
}

func obligation(kind string, due time.Time, done *time.Time, required bool, now time.Time, why Reason) Obligation {
	o := Obligation{Key: kind, Kind: kind, DueAt: due, DoneAt: done, Reason: why}
	switch {
	case done != nil:
		o.Status = StatusDone
	case !required:
		o.Status = StatusNotRequired
		o.Reason = Reason{
			JA: "おそらく不要です（上記の判断理由を参照）。事情が変われば期限が復活します。" + why.JA,
			EN: "Probably not required (see the reasoning above); the deadline comes back if the facts change. " + why.EN,
		}
	case now.After(due):
		o.Status = StatusOverdue
	default:
		o.Status = StatusDue
	}
	return o
}

// reportable decides, with reasons, whether the PPC report is required.
func reportable(in *kakunin.Incident, f Facts) (bool, Reason, []Reason) {
	h := in.Held
	why := []Reason{{
		JA: "本人確認書類の画像は、特定の個人を識別できる個人データです（法第2条第1項）。",
		EN: "Images of identity documents are personal data: they identify the person (APPI Art. 2(1)).",
	}}
	if !h.Database && !h.Blobs && !h.Keys && !h.StaffAccount {
		why = append(why, Reason{
			JA: "侵入者が何を保持したかがまだ記録されていません。報告義務は漏えいの「おそれ」にも及ぶため、判明するまでは報告が必要なものとして期限を表示しています。",
			EN: "What the intruder held is not recorded yet. The duty to report covers a possible leak too, so until it is known the deadlines run as if a report is required.",
		})
		return true, Reason{
			JA: "報告が必要なものとして扱っています（保持されたものが未記録）",
			EN: "Treated as reportable: what the intruder held is not recorded yet",
		}, why
	}

	viaStore := h.Database && h.Blobs && h.Keys
	viaStaff := h.StaffAccount && (!f.Counted || f.StaffReads > 0)
	if !viaStore && !viaStaff {
		switch {
		case !h.Keys:
			why = append(why, Reason{
				JA: "画像は書類ごとのデータ鍵で高度に暗号化されており、その鍵を守る鍵（鍵暗号化鍵・エポック鍵）は持ち出されていません。高度な暗号化等の秘匿化がされ、鍵が漏えいしていない場合は「漏えい」に当たらないとされています（個人情報保護委員会ガイドライン（通則編）3-5-3-1 ※）。",
				EN: "The images are protected by advanced encryption (a data key per document), and the keys that protect those keys (the key-encryption keyset and the epoch keys) were not taken. Data protected by advanced encryption whose key was not leaked is not \"leaked\" in the sense of the rules (PPC Guidelines, General Rules, 3-5-3-1 ※).",
			})
		default:
			missing := Reason{JA: "暗号化された画像（ブロブストア）", EN: "the encrypted images (the blob store)"}
			if h.Blobs {
				missing = Reason{JA: "暗号化されたデータ鍵（データベース）", EN: "the wrapped data keys (the database)"}
			}
			why = append(why, Reason{
				JA: "鍵は持ち出されましたが、" + missing.JA + "は保持されていないため、侵入者が復号できたものはありません。",
				EN: "The keys were taken, but not " + missing.EN + ", so nothing the intruder held could be decrypted.",
			})
		}
		if h.StaffAccount {
			why = append(why, Reason{
				JA: "スタッフアカウントが使われましたが、期間内に書類の画像は一度も開かれていません（閲覧ログ）。",
				EN: "A staff account was held, but it opened no document image in the window (read log).",
			})
		}
		why = append(why, Reason{
			JA: "これは規則に照らした判断の材料であり、決定ではありません。鍵や画像に届いた可能性があれば記録を更新してください。期限が復活します。判断の理由はタイムラインに残してください。",
			EN: "This is a reading of the rules, not a decision: if anything suggests the keys or the images were reached, update the record and the deadlines come back. Record the reasoning in the timeline.",
		})
		return false, Reason{
			JA: "報告はおそらく不要です（高度な暗号化、鍵は漏えいしていない）",
			EN: "Report probably not required: protected by advanced encryption, key not taken",
		}, why
	}

	if viaStore {
		why = append(why, Reason{
			JA: "データベース、暗号化された画像、鍵のすべてが保持されたため、画像は読めた可能性があります。",
			EN: "The database, the encrypted images and the keys were all held: the images could be read.",
		})
	}
	if viaStaff {
		s := Reason{
			JA: "スタッフアカウントが使われ、書類の画像が開かれた可能性があります。",
			EN: "A staff account was held, and it may have opened document images.",
		}
		if f.Counted {
			s = Reason{
				JA: fmt.Sprintf("スタッフアカウントが使われ、期間内に書類の画像が %s 回開かれています（閲覧ログ）。", kakunin.FormatCount(f.StaffReads)),
				EN: fmt.Sprintf("A staff account was held, and document images were opened %s in the window (read log).", plural(f.StaffReads, "time", "times")),
			}
		}
		why = append(why, s)
	}
	why = append(why, Reason{
		JA: "(ii) 財産的被害のおそれ: 該当します。本人確認書類の画像は、なりすましによる口座開設や借入れなどに悪用されるおそれがあります（施行規則第7条第2号）。",
		EN: "(ii) Property damage: applies. Identity-document images can be misused to open accounts or borrow in the person's name (Enforcement Rules Art. 7(ii)).",
	})
	if in.Malicious {
		why = append(why, Reason{
			JA: "(iii) 不正の目的: 該当します。不正アクセス等、不正の目的をもって行われたおそれがあります（施行規則第7条第3号）。",
			EN: "(iii) Wrongful purpose: applies. The breach may have been caused with a wrongful purpose, such as unauthorised access (Enforcement Rules Art. 7(iii)).",
		})
	} else {
		why = append(why, Reason{
			JA: "(iii) 不正の目的: 記録上は該当しません（事故として記録）。",
			EN: "(iii) Wrongful purpose: not recorded as such (recorded as an accident).",
		})
	}
	switch {
	case !f.Counted:
		why = append(why, Reason{
			JA: "(iv) 1,000人超: 期間が未確定のため、人数はまだ数えられません。",
			EN: "(iv) More than 1,000 people: not counted yet; the window is not known.",
		})
	case f.People > ManyPeople:
		why = append(why, Reason{
			JA: fmt.Sprintf("(iv) 1,000人超: 該当します。期間内に書類があった本人は %s 人です（施行規則第7条第4号）。", kakunin.FormatCount(f.People)),
			EN: fmt.Sprintf("(iv) More than 1,000 people: applies. %s had a document in the window (Enforcement Rules Art. 7(iv)).", plural(f.People, "person", "people")),
		})
	default:
		why = append(why, Reason{
			JA: fmt.Sprintf("(iv) 1,000人超: 該当しません。期間内に書類があった本人は %s 人です。", kakunin.FormatCount(f.People)),
			EN: fmt.Sprintf("(iv) More than 1,000 people: does not apply. %s had a document in the window.", plural(f.People, "person", "people")),
		})
	}
	return true, Reason{
		JA: "個人情報保護委員会への報告と本人への通知が必要です",
		EN: "A report to the PPC and notification of the people affected are required",
	}, why
}

// Staleness is what the public last heard of an incident.
type Staleness struct {
	Last   *time.Time // newest change of a published notice about it; nil: none
	Stale  bool
	Reason Reason
}

// PublicStatus says whether an incident's public notices are stale: an
// open incident whose newest published notice is older than staleAfter,
// or that has none once identified. A closed incident is never stale.
func PublicStatus(in *kakunin.Incident, last *time.Time, staleAfter time.Duration, now time.Time) Staleness {
	st := Staleness{Last: last}
	hours := fmt.Sprintf("%g", staleAfter.Hours())
	switch {
	case in.Status == kakunin.IncidentClosed:
		st.Reason = Reason{JA: "終了したインシデントです。", EN: "The incident is closed."}
	case last == nil && in.Status.Scoped():
		st.Stale = true
		st.Reason = Reason{
			JA: "影響範囲が特定されていますが、公表されたお知らせがありません。",
			EN: "The incident is identified, and no notice about it has been published.",
		}
	case last == nil:
		st.Reason = Reason{
			JA: "調査中で、まだお知らせは公表されていません。特定したら公表してください。",
			EN: "Still investigating; no notice published yet. Publish one once it is identified.",
		}
	case now.Sub(*last) > staleAfter:
		st.Stale = true
		st.Reason = Reason{
			JA: "最後の公表から " + hours + " 時間以上、お知らせが更新されていません。",
			EN: "No public update for more than " + hours + " hours.",
		}
	default:
		st.Reason = Reason{
			JA: hours + " 時間以内に公表されたお知らせがあります。",
			EN: "A notice was published or updated within the last " + hours + " hours.",
		}
	}
	return st
}

package alert

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode"

	"github.com/kakunin/kakunin/internal/mail"

	"github.com/kakunin/kakunin"
)

// alertWording is what an alert of one kind says, Japanese then English.
// The %s in a summary is the staff ID the alert is about.
type alertWording struct {
	subjectJA, subjectEN string
	summaryJA, summaryEN string
	actionJA, actionEN   string
}

var alertWordings = map[string]alertWording{
	KindReadQuotaExceeded: {
		subjectJA: "閲覧上限超過のためスタッフアカウントをロックしました",
		subjectEN: "Staff account locked: read quota exceeded",
		summaryJA: "スタッフ %s が本人確認書類の画像を閲覧上限を超えて開こうとしたため、アカウントをロックし、すべてのセッションを終了しました。",
		summaryEN: "Staff member %s tried to open more identity-document images than the read quota allows. The account has been locked and its sessions ended.",
		actionJA:  "監査ログでこのスタッフの閲覧履歴を確認してください。正当な業務であればロックを解除し、そうでなければ情報漏えいの可能性として対応してください。",
		actionEN:  "Check this staff member's reads in the audit log. If they were legitimate work, unlock the account; if not, handle this as a possible leak.",
	},
	KindStaffLocked: {
		subjectJA: "スタッフアカウントをロックしました",
		subjectEN: "Staff account locked",
		summaryJA: "スタッフ %s のアカウントをロックしました。",
		summaryEN: "The account of staff member %s has been locked.",
		actionJA:  "監査ログで理由を確認し、問題がなければ管理コンソールでロックを解除してください。",
		actionEN:  "Check the reason in the audit log and, if all is well, unlock the account in the console.",
	},
	KindLoginThrottled: {
		subjectJA: "スタッフのログイン試行を制限しています",
		subjectEN: "Staff sign-in attempts are being throttled",
		summaryJA: "ログインの失敗が上限に達したため、試行を遅らせています（対象のスタッフ: %s）。アカウントはロックしていません。",
		summaryEN: "Failed sign-ins reached a limit, so further attempts are being slowed down (staff member concerned: %s). No account has been locked.",
		actionJA:  "監査ログの staff.login_failed で発信元と対象を確認してください。パスワードの推測が疑われる場合は、該当するスタッフにパスワードの変更を依頼してください。",
		actionEN:  "Check staff.login_failed in the audit log for the origin and the account. If someone is guessing passwords, ask the staff member concerned to change theirs.",
	},
	KindIncidentOverdue: {
		subjectJA: "インシデント対応の期限を過ぎています",
		subjectEN: "Incident obligation overdue",
		summaryJA: "インシデントの対応期限（報告・通知・是正措置）を過ぎ、まだ完了として記録されていない項目があります。",
		summaryEN: "An obligation of an incident (a report, the notification of individuals or a corrective item) is past its due date and not recorded as done.",
		actionJA:  "コンソールのインシデント画面で期限と理由を確認し、対応するか、完了した日付を記録してください。この通知は完了するまで1日1回送られます。",
		actionEN:  "Open the incident in the console, check the deadline and its reasoning, and act on it or record the date it was done. This alert repeats once a day until then.",
	},
	KindIncidentNoticeStale: {
		subjectJA: "インシデントの公表が更新されていません",
		subjectEN: "No public update on an open incident",
		summaryJA: "対応中のインシデントについて、公表されたお知らせが一定時間以上更新されていません（または公表がありません）。",
		summaryEN: "An open incident has had no public update for longer than allowed (or has no published notice at all).",
		actionJA:  "コンソールでお知らせを書き、公表してください。進展がなくても「調査を継続しています」と伝えることが大切です。",
		actionEN:  "Write and publish a notice in the console. Even with no news, telling the public the investigation goes on matters.",
	},
}

// detailLabels name the Detail keys in use, in the order a reader wants
// them; other keys follow by name.
var detailLabels = []struct{ key, ja, en string }{
	{"reads", "閲覧数", "Reads"},
	{"quota", "上限", "Quota"},
	{"window", "集計期間", "Window"},
	{"refused_document", "拒否した書類", "Refused document"},
	{"reason", "理由", "Reason"},
	{"scope", "対象", "Scope"},
	{"attempts", "試行回数", "Attempts"},
	{"failures", "連続失敗回数", "Failures in a row"},
	{"max_delay", "最大待ち時間", "Longest delay"},
	{"incident", "インシデント", "Incident"},
	{"obligation", "項目", "Obligation"},
	{"due", "期限", "Due"},
	{"last_public_update", "最後の公表", "Last public update"},
	{"stale_after", "許容時間", "Allowed gap"},
}

// detailKeys returns the keys of detail, known ones first.
func detailKeys(detail map[string]string) []string {
	var keys []string
	for _, l := range detailLabels {
		if _, ok := detail[l.key]; ok {
			keys = append(keys, l.key)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(detail)) {
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	return keys
}

// alertMessage writes the mail of one alert to one admin. Staff are mostly
// Japanese, so Japanese comes first and English follows in full.
func alertMessage(a MailArgs, to string) mail.Message {
	al := a.Alert
	w, known := alertWordings[al.Kind]
	if !known {
		w = alertWording{
			subjectJA: "アラート: " + clean(al.Kind), subjectEN: "Alert: " + clean(al.Kind),
			summaryJA: "kakunin でアラートが発生しました（対象スタッフ: %s）。",
			summaryEN: "kakunin raised an alert (staff member: %s).",
			actionJA:  "監査ログで詳細を確認してください。",
			actionEN:  "Check the audit log for details.",
		}
	}
	staff := clean(al.StaffID)
	if staff == "" {
		staff = "-"
	}
	keys := detailKeys(al.Detail)

	var b strings.Builder
	whoJA, whoEN := "管理者", "administrator"
	if role := recipients(al); role != kakunin.RoleAdmin {
		whoJA, whoEN = roleNames[role].ja, roleNames[role].en
	}
	fmt.Fprintf(&b, "kakunin からの自動通知です。このメールは kakunin の%s全員に送られています。\n\n", whoJA)
	b.WriteString(summary(w.summaryJA, staff) + "\n\n")
	fmt.Fprintf(&b, "・種別: %s\n", clean(al.Kind))
	fmt.Fprintf(&b, "・対象スタッフ: %s\n", staff)
	fmt.Fprintf(&b, "・日時: %s\n", al.At.In(kakunin.JST).Format("2006年01月02日 15:04:05 JST"))
	for _, k := range keys {
		fmt.Fprintf(&b, "・%s: %s\n", label(k, true), clean(al.Detail[k]))
	}
	fmt.Fprintf(&b, "・アラートID: %s\n\n", a.AlertID)
	b.WriteString(w.actionJA + "\n\n")

	b.WriteString("----------------------------------------\n\n")
	fmt.Fprintf(&b, "This is an automatic notice from kakunin, sent to every kakunin %s.\n\n", whoEN)
	b.WriteString(summary(w.summaryEN, staff) + "\n\n")
	fmt.Fprintf(&b, "- Kind: %s\n", clean(al.Kind))
	fmt.Fprintf(&b, "- Staff member: %s\n", staff)
	fmt.Fprintf(&b, "- Time: %s\n", al.At.UTC().Format("2006-01-02 15:04:05 UTC"))
	for _, k := range keys {
		fmt.Fprintf(&b, "- %s: %s\n", label(k, false), clean(al.Detail[k]))
	}
	fmt.Fprintf(&b, "- Alert ID: %s\n\n", a.AlertID)
	b.WriteString(w.actionEN + "\n")

	return mail.Message{
		To:      []string{to},
		Subject: "[kakunin] " + w.subjectJA + " / " + w.subjectEN,
		Text:    b.String(),
		Headers: map[string]string{
			// RFC 3834: no vacation replies or read receipts to a robot.
			"Auto-Submitted":     "auto-generated",
			"X-Kakunin-Alert":    clean(al.Kind),
			"X-Kakunin-Alert-Id": a.AlertID,
		},
		// Stable across retries: a copy sent twice shows as one.
		ID: a.AlertID + "." + a.RecipientID,
	}
}

// roleNames name the recipients of an alert mailed to a role.
var roleNames = map[kakunin.Role]struct{ ja, en string }{
	kakunin.RoleAdmin:     {"管理者", "administrator"},
	kakunin.RoleResponder: {"インシデント対応担当者", "incident responder"},
	kakunin.RoleAuditor:   {"監査担当者", "auditor"},
	kakunin.RoleSupport:   {"サポート担当者", "support staff member"},
	kakunin.RoleReviewer:  {"審査担当者", "reviewer"},
}

// summary fills the staff ID into a summary that names one.
func summary(format, staff string) string {
	if strings.Contains(format, "%s") {
		return fmt.Sprintf(format, staff)
	}
	return format
}

func label(key string, japanese bool) string {
	for _, l := range detailLabels {
		if l.key == key && japanese {
			return l.ja
		} else if l.key == key {
			return l.en
		}
	}
	return clean(key)
}

// clean keeps a value on its line and short: Detail comes from the caller
// and ends up in a mail body.
func clean(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	if r := []rune(s); len(r) > 200 {
		s = string(r[:200]) + "…"
	}
	return s
}

package pages

import (
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
)

var (
	rejectReasons = []string{"unreadable", "wrong_document", "back_side", "expired_document", "incomplete", "other"}
	received      = time.Date(2026, 11, 25, 5, 5, 0, 0, time.UTC) // 14:05 JST
)

// page is one representative rendering of one template.
type page struct {
	name string
	data func(b Base) any
}

// representativePages returns every template with every code the server may pass, so a
// code whose message is missing fails a render in strict mode.
// moreRepresentativePages lets each area's test file add its pages' data
// (from an init function) without all editing one list.
var moreRepresentativePages []func(add func(name string, f func(b Base) any))

func representativePages() []page {
	var ps []page
	add := func(name string, f func(b Base) any) { ps = append(ps, page{name, f}) }
	for _, more := range moreRepresentativePages {
		more(add)
	}

	add("home", func(b Base) any { return Home{b} })
	for _, code := range []string{"", "missing_type", "missing_file", "unsupported", "too_large", "invalid", "gone", "internal"} {
		add("upload", func(b Base) any {
			return Upload{Base: b, Action: "/v/tok123", DocumentTypes: kakunin.DocumentTypes,
				Selected: kakunin.DocPassport, ErrorCode: code, ExpiresAt: received.Add(72 * time.Hour), MaxMB: 10}
		})
	}
	for _, reason := range []string{"", "state", "issuer", "cancelled", "provider", "code", "token", "claims", "decided", "unavailable"} {
		add("upload", func(b Base) any {
			return Upload{Base: b, Action: "/v/tok123", DocumentTypes: kakunin.DocumentTypes, ExpiresAt: received.Add(72 * time.Hour),
				MaxMB: 10, JPKIURL: "/v/tok123/jpki", JPKIRefused: reason, NoPhoto: reason == "claims"}
		})
		if reason != "" {
			add("jpki_refused", func(b Base) any { return JPKIRefused{Base: b, Reason: reason} })
		}
	}
	for _, st := range []kakunin.VerificationStatus{kakunin.StatusSubmitted, kakunin.StatusApproved, kakunin.StatusExpired} {
		add("upload_status", func(b Base) any { return UploadStatus{Base: b, Status: st} })
	}
	for _, r := range append(slices.Clone(rejectReasons), "") {
		add("upload_status", func(b Base) any {
			return UploadStatus{Base: b, Status: kakunin.StatusRejected, RejectReason: r}
		})
	}
	for _, r := range []string{"expired", "invalid"} {
		add("link_problem", func(b Base) any { return LinkProblem{Base: b, Reason: r} })
	}
	for _, code := range []string{"", "bad_credentials", "locked", "rate_limited"} {
		add("login", func(b Base) any { return Login{Base: b, Email: "reviewer@example.jp", ErrorCode: code} })
	}
	for _, code := range []string{"", "bad_code", "passkey"} {
		for _, passkey := range []bool{false, true} {
			add("totp", func(b Base) any { return TOTP{Base: b, ErrorCode: code, Passkey: passkey} })
		}
	}
	for _, code := range []string{"", "mismatch", "too_short", "bad_current"} {
		add("password", func(b Base) any { return ChangePassword{Base: b, ErrorCode: code, MinLength: 12} })
	}
	staff := func(b Base) Base {
		b.Staff = &StaffNav{Email: "reviewer@example.jp", Role: kakunin.RoleReviewer}
		return b
	}
	add("queue", func(b Base) any { return Queue{Base: staff(b)} })
	add("queue", func(b Base) any {
		var mine []Task
		var recent []Decision
		for i, d := range kakunin.DocumentTypes {
			mine = append(mine, Task{ID: "t" + string(rune('a'+i)), DocumentType: d, ReceivedAt: received})
			dec := Decision{DocumentType: d, ReceivedAt: received, Outcome: kakunin.StatusApproved, DecidedAt: received.Add(time.Hour)}
			if i%2 == 1 {
				dec.Outcome, dec.Reason = kakunin.StatusRejected, "back_side"
			}
			recent = append(recent, dec)
		}
		return &Queue{Base: staff(b), Mine: mine, Waiting: 3, Recent: recent, Decided: &recent[1]}
	})
	for _, code := range []string{"", "invalid_date", "outside_era", "missing_fields", "conflict"} {
		for _, keep := range []bool{false, true} {
			add("task", func(b Base) any {
				return TaskView{Base: staff(b), Task: Task{ID: "tsk_1", DocumentType: kakunin.DocMyNumberCard, ReceivedAt: received},
					ImageURL: "/console/images/tok_1", RejectReasons: rejectReasons, KeepBirthDate: keep,
					ErrorCode: code, DocumentName: "運転免許証", Issuer: "東京都公安委員会",
					Eras: []string{"reiwa", "heisei", "showa", "taisho", "western"}, BirthEra: "heisei", BirthYear: "2", BirthMonth: "4", BirthDay: "1"}
			})
		}
	}
	consolePages(add)
	noticePages(add)
	for _, role := range kakunin.Roles {
		add("error", func(b Base) any {
			b.Staff = &StaffNav{Email: "a@example.jp", Role: role}
			return Error{Base: b, Status: 403, Code: "forbidden"}
		})
	}
	for code, status := range map[string]int{"not_found": 404, "forbidden": 403, "unauthorized": 401, "internal": 500,
		"invalid": 400, "conflict": 409, "rate_limited": 429, "gone": 410} {
		add("error", func(b Base) any { return Error{Base: b, Status: status, Code: code} })
	}
	return ps
}

func baseFor(lang kakunin.Locale) Base {
	return Base{
		Lang: lang,
		LangLinks: []LangLink{
			{Lang: kakunin.LocaleJA, Label: "日本語", URL: "?lang=ja", Current: lang == kakunin.LocaleJA},
			{Lang: kakunin.LocaleEN, Label: "English", URL: "?lang=en", Current: lang == kakunin.LocaleEN},
		},
		Notice: "upload.protect.encrypted",
	}
}

// renderAll renders every representative page in both languages and
// returns the bodies keyed by "lang/name#i".
func renderAll(t *testing.T) map[string]string {
	t.Helper()
	r, err := newRenderer(true)
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]string)
	seen := make(map[string]bool)
	for _, lang := range locales {
		for i, p := range representativePages() {
			seen[p.name] = true
			rec := httptest.NewRecorder()
			if err := r.Render(rec, http.StatusOK, p.name, p.data(baseFor(lang))); err != nil {
				t.Fatalf("render %s #%d in %s: %v", p.name, i, lang, err)
			}
			out[fmt.Sprintf("%s/%s#%d", lang, p.name, i)] = rec.Body.String()
		}
	}
	for _, name := range pageNames {
		if !seen[name] {
			t.Errorf("no representative data for page %q", name)
		}
	}
	return out
}

func TestEveryPageRendersInBothLanguages(t *testing.T) {
	for key, body := range renderAll(t) {
		lang := key[:2]
		if !strings.Contains(body, `<html lang="`+lang+`">`) {
			t.Errorf("%s: no lang=%q on <html>", key, lang)
		}
		if strings.Contains(body, "no value") {
			t.Errorf("%s: a message template referred to a value it was not given", key)
		}
		if lang == "en" && regexp.MustCompile(`[ぁ-んァ-ヶ]`).MatchString(stripAllowedJapanese(body)) {
			t.Errorf("%s: Japanese text on an English page", key)
		}
	}
}

// stripAllowedJapanese removes what is Japanese on purpose in English pages:
// the language switcher's own label and the official document names that
// reviewers type as printed.
func stripAllowedJapanese(s string) string {
	for _, allowed := range []string{"日本語", "運転免許証", "日本国旅券", "健康保険証", "個人番号カード", "東京都公安委員会"} {
		s = strings.ReplaceAll(s, allowed, "")
	}
	return s
}

// passkeyScript is the one script tag a page may carry: passkey.js, from
// this origin, by URL (never inline).
var passkeyScript = regexp.MustCompile(`<script src="/static/passkey\.js\?v=[0-9a-f]{12}" defer></script>`)

// notificationScript is the other one: the notification page's updater.
var notificationScript = regexp.MustCompile(`<script src="/static/notification\.js\?v=[0-9a-f]{12}" defer></script>`)

func TestNoInlineStyleOrScript(t *testing.T) {
	for key, body := range renderAll(t) {
		lower := strings.ToLower(notificationScript.ReplaceAllString(passkeyScript.ReplaceAllString(body, ""), ""))
		for _, banned := range []string{"style=", "<script", "<style", "javascript:", " on"} {
			if banned == " on" {
				if regexp.MustCompile(`<[^>]+\son[a-z]+=`).MatchString(lower) {
					t.Errorf("%s: inline event handler", key)
				}
				continue
			}
			if strings.Contains(lower, banned) {
				t.Errorf("%s: contains %q, which the CSP forbids", key, banned)
			}
		}
	}
}

var (
	inputTag = regexp.MustCompile(`<input\b[^>]*>`)
	attrType = regexp.MustCompile(`\stype="([^"]*)"`)
	attrID   = regexp.MustCompile(`\sid="([^"]*)"`)
	attrDesc = regexp.MustCompile(`\saria-describedby="([^"]*)"`)
	anyID    = regexp.MustCompile(`\sid="([^"]*)"`)
)

func TestEveryInputHasALabel(t *testing.T) {
	for key, body := range renderAll(t) {
		for _, tag := range inputTag.FindAllString(body, -1) {
			typ := ""
			if m := attrType.FindStringSubmatch(tag); m != nil {
				typ = m[1]
			}
			if typ == "hidden" || typ == "submit" {
				continue
			}
			m := attrID.FindStringSubmatch(tag)
			if m == nil {
				t.Errorf("%s: input without id: %s", key, tag)
				continue
			}
			if !strings.Contains(body, `<label for="`+m[1]+`"`) {
				t.Errorf("%s: no <label for=%q>", key, m[1])
			}
		}
	}
}

func TestDescribedByPointsAtElements(t *testing.T) {
	for key, body := range renderAll(t) {
		ids := make(map[string]bool)
		for _, m := range anyID.FindAllStringSubmatch(body, -1) {
			if ids[m[1]] {
				t.Errorf("%s: duplicate id %q", key, m[1])
			}
			ids[m[1]] = true
		}
		for _, m := range attrDesc.FindAllStringSubmatch(body, -1) {
			for _, id := range strings.Fields(m[1]) {
				if !ids[id] {
					t.Errorf("%s: aria-describedby names missing id %q", key, id)
				}
			}
		}
	}
}

func TestErrorsAreAnnouncedAndLinked(t *testing.T) {
	for key, body := range renderAll(t) {
		if !strings.Contains(body, `class="alert"`) {
			continue
		}
		if !strings.Contains(body, `role="alert"`) {
			t.Errorf("%s: error shown without role=alert", key)
		}
	}
}

func TestUploadWarnsAgainstTheMyNumberBackSide(t *testing.T) {
	r, err := newRenderer(true)
	if err != nil {
		t.Fatal(err)
	}
	want := map[kakunin.Locale][]string{
		kakunin.LocaleJA: {"マイナンバーカードの裏面は撮影しないでください", "個人番号"},
		kakunin.LocaleEN: {"Never photograph the back of a My Number card", "Individual Number"},
	}
	for lang, phrases := range want {
		rec := httptest.NewRecorder()
		err := r.Render(rec, http.StatusOK, "upload", Upload{Base: Base{Lang: lang}, Action: "/v/x",
			DocumentTypes: kakunin.DocumentTypes, ExpiresAt: received, MaxMB: 10})
		if err != nil {
			t.Fatal(err)
		}
		body := rec.Body.String()
		for _, p := range phrases {
			if !strings.Contains(body, p) {
				t.Errorf("%s upload page lacks %q", lang, p)
			}
		}
		for _, f := range []string{`name="document_type"`, `name="document"`, `enctype="multipart/form-data"`,
			`accept="image/jpeg,image/png,image/webp"`, `action="/v/x"`} {
			if !strings.Contains(body, f) {
				t.Errorf("%s upload page lacks %s", lang, f)
			}
		}
	}
}

var literalT = regexp.MustCompile(`\bt\s+"([^"]+)"`)

func TestTemplatesNameOnlyKnownMessages(t *testing.T) {
	r, err := newRenderer(true)
	if err != nil {
		t.Fatal(err)
	}
	err = fs.WalkDir(templateFS, "templates", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		src, err := templateFS.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range literalT.FindAllStringSubmatch(string(src), -1) {
			for _, lang := range locales {
				if _, err := r.translate(lang, m[1], "MaxMB", 1, "Min", 1, "Count", 1, "Status", 1); err != nil {
					t.Errorf("%s: %v", path, err)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestRenderWritesNothingWhenATemplateFails(t *testing.T) {
	r, err := newRenderer(true)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	// An unknown error code has no message; strict mode makes that fail.
	err = r.Render(rec, http.StatusOK, "error", Error{Base: Base{Lang: kakunin.LocaleEN}, Code: "no_such_code"})
	if err == nil {
		t.Fatal("want an error for a missing message")
	}
	if rec.Body.Len() != 0 || rec.Header().Get("Content-Type") != "" {
		t.Errorf("half a page was written: %q", rec.Body.String())
	}
	if err := r.Render(rec, http.StatusOK, "nope", Home{}); err == nil {
		t.Error("want an error for an unknown page")
	}
}

func TestRenderSetsStatusAndContentType(t *testing.T) {
	r, err := New()
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	if err := r.Render(rec, http.StatusNotFound, "error", &Error{Base: Base{Lang: "fr"}, Status: 404, Code: "not_found"}); err != nil {
		t.Fatal(err)
	}
	if rec.Code != http.StatusNotFound {
		t.Errorf("status = %d", rec.Code)
	}
	if got := rec.Header().Get("Content-Type"); got != "text/html; charset=utf-8" {
		t.Errorf("Content-Type = %q", got)
	}
	if rec.Header().Get("Cache-Control") != "" {
		t.Error("cache headers are the server's job")
	}
	// An unsupported language falls back to Japanese.
	if !strings.Contains(rec.Body.String(), `<html lang="ja">`) {
		t.Error("unknown language did not fall back to ja")
	}
}

func TestDatesAreShownInJapanTime(t *testing.T) {
	r, err := New()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		lang kakunin.Locale
		want string
	}{
		{kakunin.LocaleJA, "2026年11月25日 14:05"},
		{kakunin.LocaleEN, "25 Nov 2026, 14:05 JST"},
	}
	for _, tt := range tests {
		if got := r.formatDateTime(tt.lang, received); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.lang, got, tt.want)
		}
	}
	if got := r.formatDate(kakunin.LocaleJA, received); got != "2026年11月25日" {
		t.Errorf("date ja = %q", got)
	}
	if got := r.formatDateTime(kakunin.LocaleEN, time.Time{}); got != "" {
		t.Errorf("zero time = %q, want empty", got)
	}
}

func TestTTranslatesForTheServer(t *testing.T) {
	r, err := New()
	if err != nil {
		t.Fatal(err)
	}
	if got := r.T(kakunin.LocaleEN, "upload.submit"); got != "Send securely" {
		t.Errorf("en = %q", got)
	}
	if got := r.T(kakunin.LocaleJA, "upload.submit"); got != "送信する" {
		t.Errorf("ja = %q", got)
	}
	if got := r.T(kakunin.LocaleEN, "no.such.id"); got != "no.such.id" {
		t.Errorf("missing = %q", got)
	}
}

func TestStaticServesTheStylesheet(t *testing.T) {
	h := Static()
	for path, want := range map[string]int{"/static/style.css": 200, "/static/": 404, "/static/nope.css": 404} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != want {
			t.Errorf("GET %s = %d, want %d", path, rec.Code, want)
		}
		if want == 200 && !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/css") {
			t.Errorf("GET %s Content-Type = %q", path, rec.Header().Get("Content-Type"))
		}
	}
	if _, err := fs.Stat(StaticFS(), "style.css"); err != nil {
		t.Error(err)
	}
}

// staffAs signs b in as a staff member with role.
func staffAs(b Base, role kakunin.Role) Base {
	b.Staff = &StaffNav{Email: string(role) + "@example.jp", Role: role}
	return b
}

// consolePages adds the pages of staff without a review queue: every role's
// start page, every code, empty and filled lists, and both kinds of report.
func consolePages(add func(string, func(Base) any)) {
	for _, role := range kakunin.Roles {
		add("console_home", func(b Base) any {
			return ConsoleHome{Base: staffAs(b, role), Links: []NavLink{
				{URL: "/console/verifications", LabelID: "section.verifications", HintID: "section.verifications.hint"},
				{URL: "/console/audit", LabelID: "section.audit", HintID: "section.audit.hint"},
				{URL: "/console/incident/scope", LabelID: "section.scope", HintID: "section.scope.hint"},
				{URL: "/console/staff", LabelID: "section.staff", HintID: "section.staff.hint"},
			}}
		})
	}
	add("console_home", func(b Base) any { return ConsoleHome{Base: staffAs(b, kakunin.RoleSupport)} })

	for _, code := range []string{"", "bad_code", "passkey"} {
		for _, passkey := range []bool{false, true} {
			add("reauth", func(b Base) any {
				return Reauth{Base: staffAs(b, kakunin.RoleAdmin), Next: "/console/staff", ErrorCode: code, Passkey: passkey}
			})
		}
	}

	add("passkeys", func(b Base) any { return PasskeyList{Base: staffAs(b, kakunin.RoleAuditor), MaxName: 60, Limit: 10} })
	for _, code := range []string{"", "name", "failed", "cancelled", "limit", "unavailable"} {
		add("passkeys", func(b Base) any {
			return PasskeyList{Base: staffAs(b, kakunin.RoleReviewer), Available: true, MaxName: 60, Limit: 10, ErrorCode: code}
		})
	}
	for _, notice := range []string{"notice.passkey_added", "notice.passkey_removed"} {
		add("passkeys", func(b Base) any {
			b = staffAs(b, kakunin.RoleReviewer)
			b.Notice = notice
			return PasskeyList{Base: b, Available: true, MaxName: 60, Limit: 10, Passkeys: []PasskeyRow{
				{ID: "pk_used", Name: "Work laptop", CreatedAt: received, LastUsedAt: &received},
				{ID: "pk_new", Name: "Security key", CreatedAt: received},
			}}
		})
	}

	locked := received.Add(-time.Hour)
	add("staff_list", func(b Base) any { return StaffList{Base: staffAs(b, kakunin.RoleAdmin)} })
	add("staff_list", func(b Base) any {
		b = staffAs(b, kakunin.RoleAdmin)
		b.Notice = "notice.unlocked"
		return StaffList{Base: b, Staff: []StaffRow{
			{ID: "stf_locked", Email: "reviewer@example.jp", Role: kakunin.RoleReviewer, LockedAt: &locked, FailedLogins: 5, CreatedAt: received},
			{ID: "stf_self", Email: "admin@example.jp", Role: kakunin.RoleAdmin, LockedAt: &locked, CreatedAt: received, Self: true},
			{ID: "stf_active", Email: "support@example.jp", Role: kakunin.RoleSupport, CreatedAt: received},
			{ID: "stf_me", Email: "admin2@example.jp", Role: kakunin.RoleAdmin, CreatedAt: received, Self: true},
		}}
	})

	yes, no := true, false
	var rows []VerificationRow
	for _, st := range []kakunin.VerificationStatus{kakunin.StatusAwaitingUpload, kakunin.StatusSubmitted, kakunin.StatusApproved, kakunin.StatusExpired} {
		rows = append(rows, VerificationRow{ID: "ver_" + string(st), ExternalID: "member-42", Status: st,
			CreatedAt: received, UpdatedAt: received, ExpiresAt: received.Add(72 * time.Hour)})
	}
	rows[2].Adult = &yes
	rows = append(rows, VerificationRow{ID: "ver_minor", ExternalID: "member-42", Status: kakunin.StatusApproved, Adult: &no,
		CreatedAt: received, UpdatedAt: received, MemberLeft: true})
	for _, r := range rejectReasons {
		rows = append(rows, VerificationRow{ID: "ver_" + r, ExternalID: "member-42", Status: kakunin.StatusRejected,
			RejectReason: r, CreatedAt: received, UpdatedAt: received})
	}
	for _, code := range []string{"", "not_found", "invalid"} {
		add("verification_lookup", func(b Base) any {
			return VerificationLookup{Base: staffAs(b, kakunin.RoleSupport), Query: "member-42", ErrorCode: code}
		})
	}
	add("verification_lookup", func(b Base) any { return VerificationLookup{Base: staffAs(b, kakunin.RoleSupport)} })
	add("verification_lookup", func(b Base) any {
		return VerificationLookup{Base: staffAs(b, kakunin.RoleSupport), Query: "member-42", Results: rows}
	})

	actions := []AuditAction{{"document.read", "Document image opened"}, {"review.approve", "Approved"}, {"staff.unlock", "Unlocked"}}
	events := []AuditRow{
		{Seq: 1042, At: received, Action: "document.read", ActionLabel: "Document image opened", Actor: "reviewer@example.jp", Subject: "doc_1", Origin: "3f9a0c",
			Detail: []KV{{"type", "passport"}, {"watermark", "wm_1"}}, Hash: "9c1e4b7a"},
		{Seq: 1041, At: received, Action: "retention.destroy", Hash: "0b3d5f71"},
	}
	for _, code := range []string{"", "invalid"} {
		add("audit_log", func(b Base) any {
			return AuditLog{Base: staffAs(b, kakunin.RoleAuditor), Actions: actions, ErrorCode: code,
				Filter: AuditFilter{From: "2026-11-25T00:00", To: "2026-11-26T00:00", Action: "staff.unlock", IP: "203.0.113.7"}}
		})
	}
	add("audit_log", func(b Base) any {
		return AuditLog{Base: staffAs(b, kakunin.RoleAuditor), Actions: actions, Events: events,
			OlderURL: "/console/audit?before=1041", ExportURL: "/console/audit/export", TotalEvents: 1042,
			CheckpointSize: 1024, CheckpointAt: &received}
	})

	for _, code := range []string{"", "invalid", "range"} {
		add("scope", func(b Base) any {
			return Scope{Base: staffAs(b, kakunin.RoleResponder), From: "2026-11-01T00:00", To: "2026-11-02T00:00", ErrorCode: code}
		})
	}
	for _, keys := range []bool{false, true} {
		add("scope", func(b Base) any {
			rep := &ScopeReport{From: received.Add(-24 * time.Hour), To: received, KeysExposed: keys,
				ComputedAt: received, Elapsed: 1500 * time.Millisecond, JSONURL: "/console/incident/scope.json?from=x"}
			if keys {
				rep.Elapsed = 40 * time.Millisecond
				rep.Existed, rep.Readable, rep.Members, rep.MembersLeftBefore, rep.MembersLeftSince = 12, 9, 10, 2, 1
				for _, d := range kakunin.DocumentTypes {
					rep.ByType = append(rep.ByType, ScopeType{Type: d, Existed: 3, Readable: 2})
				}
				rep.ReadsByStaff = []ScopeStaff{{StaffEmail: "reviewer@example.jp", Role: kakunin.RoleReviewer, Reads: 4}}
				rep.Reads = []ScopeRead{{StaffEmail: "reviewer@example.jp", Role: kakunin.RoleReviewer, DocumentID: "doc_1",
					DocumentType: kakunin.DocMyNumberCard, At: received, Origin: "3f9a0c"}}
				rep.ReadsTotal = 4
			}
			return Scope{Base: staffAs(b, kakunin.RoleAuditor), KeysExposed: keys, Report: rep}
		})
	}
	add("scope", func(b Base) any {
		rep := &ScopeReport{From: received.Add(-time.Hour), To: received, ComputedAt: received, Existed: 1, Members: 1,
			ByType: []ScopeType{{Type: kakunin.DocPassport, Existed: 1}},
			Reads: []ScopeRead{{StaffEmail: "reviewer@example.jp", Role: kakunin.RoleReviewer, DocumentID: "doc_2",
				DocumentType: kakunin.DocPassport, At: received}},
			ReadsByStaff: []ScopeStaff{{StaffEmail: "reviewer@example.jp", Role: kakunin.RoleReviewer, Reads: 1}},
			ReadsTotal:   1}
		return Scope{Base: staffAs(b, kakunin.RoleResponder), Report: rep}
	})
}

// noticePages adds the public notice pages and the responder's notice
// console, empty and filled, drafts and published. The sample text is
// ASCII so an English page holds no Japanese by accident.
func noticePages(add func(string, func(Base) any)) {
	view := func(lang kakunin.Locale) NoticeView {
		return NoticeView{ID: "ntc_1", Lang: lang, Title: "Unauthorised access <b>notice</b>",
			Paragraphs:  [][]string{{"First line.", "Second line."}, {"Another paragraph."}},
			PublishedAt: received, UpdatedAt: received.Add(time.Hour), URL: "/notices/ntc_1"}
	}
	add("notices_public", func(b Base) any { return NoticesPublic{Base: b, FeedURL: "/notices.atom?lang=ja"} })
	add("notices_public", func(b Base) any {
		second := view(b.Lang)
		second.ID = "ntc_2"
		return NoticesPublic{Base: b, Notices: []NoticeView{view(b.Lang), second}, FeedURL: "/notices.atom?lang=en"}
	})
	add("notice_public", func(b Base) any { return NoticePublic{Base: b, Item: view(b.Lang), FeedURL: "/notices.atom?lang=ja"} })

	form := NoticeForm{TitleJA: "Title ja", TitleEN: "Title en", BodyJA: "Body ja", BodyEN: "Body en", MaxTitle: 200, MaxBody: 20000}
	for _, code := range []string{"", "invalid"} {
		add("console_notices", func(b Base) any {
			return ConsoleNotices{Base: staffAs(b, kakunin.RoleResponder), Form: NoticeForm{MaxTitle: 200, MaxBody: 20000}, ErrorCode: code}
		})
	}
	add("console_notices", func(b Base) any {
		return ConsoleNotices{Base: staffAs(b, kakunin.RoleResponder), Form: form, Notices: []NoticeRow{
			{ID: "ntc_draft", TitleJA: "Draft ja", TitleEN: "Draft en", UpdatedAt: received},
			{ID: "ntc_pub", TitleJA: "Published ja", TitleEN: "Published en", PublishedAt: &received, UpdatedAt: received},
		}}
	})
	for _, published := range []*time.Time{nil, &received} {
		for _, code := range []string{"", "invalid"} {
			for _, notice := range []string{"", "notice.notice_created", "notice.notice_saved", "notice.notice_published"} {
				add("console_notice_edit", func(b Base) any {
					b = staffAs(b, kakunin.RoleResponder)
					b.Notice = notice
					return ConsoleNoticeEdit{Base: b, ID: "ntc_1", Form: form, PublishedAt: published, UpdatedAt: received,
						PreviewJA: view(kakunin.LocaleJA), PreviewEN: view(kakunin.LocaleEN), ErrorCode: code}
				})
			}
		}
	}
}

// renderOne renders one page strictly and returns its body.
func renderOne(t *testing.T, name string, data any) string {
	t.Helper()
	r, err := newRenderer(true)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	if err := r.Render(rec, http.StatusOK, name, data); err != nil {
		t.Fatal(err)
	}
	return rec.Body.String()
}

func TestStaffNavLeadsReviewersToTheQueueAndOthersToTheConsole(t *testing.T) {
	for _, role := range kakunin.Roles {
		body := renderOne(t, "console_home", ConsoleHome{Base: staffAs(Base{Lang: kakunin.LocaleEN}, role)})
		queue := strings.Contains(body, `<a href="/console">Review queue</a>`)
		console := strings.Contains(body, `<a href="/console">Console</a>`)
		if want := role == kakunin.RoleReviewer; queue != want || console == want {
			t.Errorf("%s: queue link %v, console link %v", role, queue, console)
		}
	}
}

func TestStaffListKeepsTheSignedInNavigation(t *testing.T) {
	// StaffList.Staff (the rows) hides Base.Staff; the layout must still
	// find who is signed in.
	body := renderOne(t, "staff_list", StaffList{Base: staffAs(Base{Lang: kakunin.LocaleEN}, kakunin.RoleAdmin),
		Staff: []StaffRow{{ID: "stf_1", Email: "someone@example.jp", Role: kakunin.RoleSupport, CreatedAt: received}}})
	for _, want := range []string{`class="staff-nav"`, "admin@example.jp", `action="/console/logout"`} {
		if !strings.Contains(body, want) {
			t.Errorf("staff list lacks %s", want)
		}
	}
}

func TestUnlockIsOfferedOnlyForOtherLockedAccounts(t *testing.T) {
	locked := received
	body := renderOne(t, "staff_list", StaffList{Base: staffAs(Base{Lang: kakunin.LocaleEN}, kakunin.RoleAdmin), Staff: []StaffRow{
		{ID: "stf_other", Email: "other@example.jp", Role: kakunin.RoleReviewer, LockedAt: &locked, CreatedAt: received},
		{ID: "stf_self", Email: "admin@example.jp", Role: kakunin.RoleAdmin, LockedAt: &locked, CreatedAt: received, Self: true},
		{ID: "stf_active", Email: "active@example.jp", Role: kakunin.RoleSupport, CreatedAt: received},
	}})
	if !strings.Contains(body, `action="/console/staff/stf_other/unlock"`) {
		t.Error("no unlock form for another's locked account")
	}
	for _, id := range []string{"stf_self", "stf_active"} {
		if strings.Contains(body, "/console/staff/"+id+"/unlock") {
			t.Errorf("unlock offered for %s", id)
		}
	}
}

func TestVerificationLookupShowsAdultAsYesNoOrNothing(t *testing.T) {
	yes, no := true, false
	body := renderOne(t, "verification_lookup", VerificationLookup{Base: Base{Lang: kakunin.LocaleEN}, Query: "m", Results: []VerificationRow{
		{ID: "ver_a", Status: kakunin.StatusApproved, Adult: &yes},
		{ID: "ver_b", Status: kakunin.StatusApproved, Adult: &no},
		{ID: "ver_c", Status: kakunin.StatusSubmitted},
	}})
	for _, want := range []string{"<td>Yes</td>", "<td>No</td>", `<td><span aria-hidden="true">—</span>`} {
		if !strings.Contains(body, want) {
			t.Errorf("lookup lacks %s", want)
		}
	}
}

func TestScopeReasoningFollowsWhatTheIntruderHeld(t *testing.T) {
	tests := []struct {
		keys      bool
		want, not string
	}{
		{false, "The intruder held ciphertext only", "must be treated as read"},
		{true, "must be treated as read", "The intruder held ciphertext only"},
	}
	for _, tt := range tests {
		body := renderOne(t, "scope", Scope{Base: Base{Lang: kakunin.LocaleEN}, KeysExposed: tt.keys,
			Report: &ScopeReport{From: received.Add(-time.Hour), To: received, KeysExposed: tt.keys, ComputedAt: received,
				Reads: []ScopeRead{{StaffEmail: "r@example.jp", Role: kakunin.RoleReviewer, DocumentID: "doc_1",
					DocumentType: kakunin.DocPassport, At: received}}, ReadsTotal: 7}})
		if !strings.Contains(body, tt.want) || strings.Contains(body, tt.not) {
			t.Errorf("keys exposed %v: wrong reasoning", tt.keys)
		}
		if !strings.Contains(body, "Showing the newest 1 of 7 reads.") {
			t.Errorf("keys exposed %v: a partial list of reads is not said to be partial", tt.keys)
		}
	}
}

func TestOnlyPagesOfferingAPasskeyLoadTheScript(t *testing.T) {
	b := staffAs(Base{Lang: kakunin.LocaleEN}, kakunin.RoleReviewer)
	tests := []struct {
		name   string
		data   any
		script bool
	}{
		{"totp", TOTP{Base: Base{Lang: kakunin.LocaleEN}}, false},
		{"totp", TOTP{Base: Base{Lang: kakunin.LocaleEN}, Passkey: true}, true},
		{"reauth", Reauth{Base: b, Next: "/console"}, false},
		{"reauth", Reauth{Base: b, Next: "/console", Passkey: true}, true},
		{"passkeys", PasskeyList{Base: b, MaxName: 60, Limit: 10}, false},
		{"passkeys", PasskeyList{Base: b, Available: true, MaxName: 60, Limit: 10}, true},
		{"console_home", ConsoleHome{Base: b}, false},
		{"login", Login{Base: Base{Lang: kakunin.LocaleEN}}, false},
	}
	for _, tt := range tests {
		body := renderOne(t, tt.name, tt.data)
		if got := len(passkeyScript.FindAllString(body, -1)); got != map[bool]int{false: 0, true: 1}[tt.script] {
			t.Errorf("%s %+v: %d passkey script tags", tt.name, tt.data, got)
		}
		// Whatever needs the script is hidden until the script reveals it,
		// and the no-JavaScript explanation is not.
		if tt.script && !regexp.MustCompile(`data-passkey-js hidden>`).MatchString(body) {
			t.Errorf("%s: the passkey controls are not hidden for browsers without JavaScript", tt.name)
		}
	}
	body := renderOne(t, "passkeys", PasskeyList{Base: b, Available: true, MaxName: 60, Limit: 10})
	if !strings.Contains(body, "<p data-passkey-nojs>Adding a passkey needs JavaScript") {
		t.Error("the passkeys page does not say, without JavaScript, that adding one needs it")
	}
}

func TestStaticServesThePasskeyScript(t *testing.T) {
	rec := httptest.NewRecorder()
	Static().ServeHTTP(rec, httptest.NewRequest("GET", "/static/passkey.js", nil))
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/javascript") {
		t.Errorf("GET /static/passkey.js = %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
}

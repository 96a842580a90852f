package web

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/samplecard"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

// submitted registers a member with one submitted document of type dt and
// returns the document's ID.
func (c *testConsole) submitted(extID string, dt kakunin.DocumentType) string {
	c.t.Helper()
	ctx := c.t.Context()
	img, err := samplecard.Render(samplecard.Card{Type: dt, Name: "SAMPLE", BirthDate: time.Date(1990, 1, 2, 0, 0, 0, 0, time.UTC), Issuer: "SAMPLE", Number: "1", Seed: 1})
	if err != nil {
		c.t.Fatal(err)
	}
	if _, _, err := c.env.Verifications.UpsertMember(ctx, extID, extID+"@example.jp", kakunin.LocaleJA); err != nil {
		c.t.Fatal(err)
	}
	v, _, err := c.env.Verifications.Create(ctx, extID)
	if err != nil {
		c.t.Fatal(err)
	}
	p, err := c.env.Documents.Store(ctx, v, bytes.NewReader(img))
	if err != nil {
		c.t.Fatal(err)
	}
	d, err := c.env.Documents.Commit(ctx, p, v, dt)
	if err != nil {
		c.t.Fatal(err)
	}
	return d.ID
}

// take claims the next task as the reviewer and checks it is docID.
func (c *testConsole) take(rev signedIn, docID string) {
	c.t.Helper()
	if rec := c.post(rev.token, "/console/tasks/next", ""); rec.Header().Get("Location") != "/console/tasks/"+docID {
		c.t.Fatalf("next: %d %s, want %s", rec.Code, rec.Header().Get("Location"), docID)
	}
}

func TestReviewersSeeTheOutcomeReasonAndTimeOfTheirDecisions(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		c := newTestConsole(t, dsn)
		rev := c.signIn(kakunin.RoleReviewer)
		licence := c.submitted("m-1", kakunin.DocDriversLicence)
		passport := c.submitted("m-2", kakunin.DocPassport)

		c.take(rev, licence)
		approveAt := c.now
		rec := c.post(rev.token, "/console/tasks/"+licence+"/approve", url.Values{"document_name": {"運転免許証"}, "issuer": {"東京都公安委員会"},
			"birth_era": {"heisei"}, "birth_year": {"2"}, "birth_month": {"4"}, "birth_day": {"12"}}.Encode())
		if rec.Code != http.StatusSeeOther {
			t.Fatalf("approve: %d\n%s", rec.Code, rec.Body.String())
		}
		// The confirmation says what was recorded.
		status, body := c.get(rev.token, rec.Header().Get("Location")+"&lang=en")
		if status != http.StatusOK {
			t.Fatalf("queue after approving: %d", status)
		}
		_, decided, ok := strings.Cut(body, `id="decided"`)
		decided, _, _ = strings.Cut(decided, "</div>")
		if !ok || !strings.Contains(decided, "Decision recorded") || !strings.Contains(decided, "Approved") ||
			!strings.Contains(decided, "licence") || !strings.Contains(decided, `datetime="`+strings.ReplaceAll(approveAt.In(kakunin.JST).Format(time.RFC3339), "+", "&#43;")) {
			t.Errorf("the confirmation does not say what was recorded:\n%s", decided)
		}

		c.now = c.now.Add(time.Minute)
		c.env.Clock.Set(c.now)
		c.take(rev, passport)
		rec = c.post(rev.token, "/console/tasks/"+passport+"/reject", url.Values{"reason": {"back_side"}}.Encode())
		if rec.Code != http.StatusSeeOther {
			t.Fatalf("reject: %d", rec.Code)
		}
		_, body = c.get(rev.token, rec.Header().Get("Location")+"&lang=en")
		_, decided, _ = strings.Cut(body, `id="decided"`)
		decided, _, _ = strings.Cut(decided, "</div>")
		if !strings.Contains(decided, "Rejected") || !strings.Contains(decided, "Back side photographed") || !strings.Contains(decided, "Passport") {
			t.Errorf("the rejection's confirmation:\n%s", decided)
		}
		// Recent decisions: newest first, each with outcome, reason, time.
		_, recent, _ := strings.Cut(body, `id="queue-recent"`)
		rows := strings.Split(recent, "<tr>")
		if len(rows) < 4 {
			t.Fatalf("recent decisions: %d rows\n%s", len(rows)-2, recent)
		}
		if r := rows[2]; !strings.Contains(r, "Rejected") || !strings.Contains(r, "Back side photographed") || !strings.Contains(r, "<time") {
			t.Errorf("newest decision row: %s", r)
		}
		if r := rows[3]; !strings.Contains(r, "Approved") || !strings.Contains(r, `datetime="`+strings.ReplaceAll(approveAt.In(kakunin.JST).Format(time.RFC3339), "+", "&#43;")) {
			t.Errorf("older decision row: %s", r)
		}
		// Another reviewer's decision is not said back to this one.
		other := c.signIn(kakunin.RoleReviewer)
		if _, body := c.get(other.token, "/console?decided="+passport); strings.Contains(body, `id="decided"`) || strings.Contains(body, "Rejected") {
			t.Error("another reviewer is shown this reviewer's decision")
		}
	})
}

func TestTheDateOfBirthIsTypedAsTheDocumentPrintsItAndConvertedOnTheServer(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		c := newTestConsole(t, dsn)
		c.srv.KeepBirthDate, c.env.Review.KeepBirthDate = true, true
		rev := c.signIn(kakunin.RoleReviewer)
		doc := c.submitted("m-1", kakunin.DocDriversLicence)
		c.take(rev, doc)
		status, body := c.get(rev.token, "/console/tasks/"+doc)
		for _, want := range []string{"<fieldset", "<legend>生年月日</legend>", `<select name="birth_era" id="birth_era" required>`,
			`<option value="heisei" selected>平成</option>`, `<option value="reiwa">令和</option>`, `<option value="western">西暦</option>`,
			`<label for="birth_year">年</label>`, `name="birth_month"`, `name="birth_day"`} {
			if status != http.StatusOK || !strings.Contains(body, want) {
				t.Errorf("task page lacks %q", want)
			}
		}
		if strings.Contains(body, `type="date"`) {
			t.Error("the browser's date control is still offered")
		}
		form := func(era, y, m, d string) string {
			return url.Values{"document_name": {"運転免許証"}, "issuer": {"東京都公安委員会"},
				"birth_era": {era}, "birth_year": {y}, "birth_month": {m}, "birth_day": {d}}.Encode()
		}
		for _, tc := range []struct{ era, y, m, d, msg string }{
			{"heisei", "32", "1", "1", "その年月日はこの元号の期間にありません"},
			{"showa", "64", "1", "8", "その年月日はこの元号の期間にありません"},
			{"heisei", "2", "2", "30", "その生年月日はありません"},
			{"meiji", "2", "2", "3", "その生年月日はありません"},
			{"heisei", "", "2", "3", "未入力の項目があります"},
		} {
			rec := c.post(rev.token, "/console/tasks/"+doc+"/approve", form(tc.era, tc.y, tc.m, tc.d))
			b := rec.Body.String()
			if rec.Code != http.StatusBadRequest || !strings.Contains(b, tc.msg) {
				t.Errorf("%s %s-%s-%s: %d, want the message %q", tc.era, tc.y, tc.m, tc.d, rec.Code, tc.msg)
			}
			if tc.y != "" && (!strings.Contains(b, `value="`+tc.y+`" required autocomplete="off" aria-invalid="true"`) && !strings.Contains(b, "未入力")) {
				t.Errorf("%s %s: the year is not refilled and marked", tc.era, tc.y)
			}
		}
		var n int
		if err := c.env.DB.SQL().QueryRowContext(t.Context(), `SELECT COUNT(*) FROM verifications WHERE checked_at IS NOT NULL`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("a refused date decided the verification (%d, %v)", n, err)
		}
		// 平成２年４月１２日, digits typed full-width: 1990-04-12.
		if rec := c.post(rev.token, "/console/tasks/"+doc+"/approve", form("heisei", "２", "４", "１２")); rec.Code != http.StatusSeeOther {
			t.Fatalf("approve: %d", rec.Code)
		}
		var birth string
		if err := c.env.DB.SQL().QueryRowContext(t.Context(), `SELECT birth_date FROM verifications`).Scan(&birth); err != nil || birth != "1990-04-12" {
			t.Errorf("stored date of birth %q (%v), want 1990-04-12", birth, err)
		}
	})
}

package e2e

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/massmail/massmailtest"
)

// The breach desk's day against the real binary, from the console only: a
// responder records an incident, learns its window, sees the deadlines,
// publishes a notice about it, writes, previews and starts the mass
// notification; the affected members (and only they, at their registered
// addresses) get the letter through a real SMTP server; the record moves
// to "notifying" and notes that individuals were notified; the report
// draft is there to print; a member's /check answer names the incident;
// and the audit chain still verifies.
func TestAResponderRunsTheBreachDayFromTheConsole(t *testing.T) {
	sink, smtpURL := startMailSink(t)
	in := startInstance(t, "", "--smtp-url", smtpURL, "--mail-from", "kakunin@example.test", "--check-spread", "0s")
	windowFrom := time.Now().Add(-time.Hour)

	// Two members sent a licence in the window (one reads Japanese, one
	// English); a third sent one and has left since (no address: skipped);
	// a fourth never sent anything.
	for _, ext := range []string{"ja1", "en1", "left1"} {
		_, uploadURL := newUploadLink(t, in, ext)
		if code, body := upload(t, uploadURL, "drivers_licence", sampleJPEG(t, int64(len(ext)))); code != http.StatusOK && code != http.StatusSeeOther {
			t.Fatalf("upload for %s: %d %s", ext, code, body)
		}
	}
	if code, _ := in.API("PUT", "/api/v1/members/en1", map[string]string{"email": "En.One@example.test", "locale": "en"}); code != http.StatusOK {
		t.Fatalf("member en1 switched to English: %d", code)
	}
	if code, _ := in.API("DELETE", "/api/v1/members/left1", nil); code != http.StatusNoContent && code != http.StatusOK {
		t.Fatalf("member left1 leaves: %d", code)
	}
	if code, _ := in.API("PUT", "/api/v1/members/none1", map[string]string{"email": "none1@example.test", "locale": "ja"}); code != http.StatusCreated {
		t.Fatalf("member none1: %d", code)
	}
	windowTo := time.Now().Add(time.Second)

	r := in.signIn(in.AddStaff("responder@example.test", "responder"))
	local := func(t time.Time) string { return t.In(kakunin.JST).Format("2006-01-02T15:04:05") }

	// 1. The incident, before anything is known but that it happened.
	resp := r.post("/console/incidents", url.Values{"title": {"Blob bucket readable from outside"},
		"summary": {"A researcher reported the bucket."}, "discovered_at": {local(time.Now())},
		"held_database": {"1"}, "held_blobs": {"1"}, "malicious": {"1"}})
	loc := resp.Header.Get("Location")
	m := regexp.MustCompile(`^/console/incidents/(inc_[A-Za-z0-9_-]+)\?done=created$`).FindStringSubmatch(loc)
	if resp.StatusCode != http.StatusSeeOther || m == nil {
		t.Fatalf("create incident: %d %q", resp.StatusCode, loc)
	}
	id := m[1]
	page := "/console/incidents/" + id

	// 2. The window is found; the incident is identified.
	resp = r.post(page, url.Values{"title": {"Blob bucket readable from outside"}, "summary": {"Window from the access logs."},
		"discovered_at": {local(time.Now())}, "window_from": {local(windowFrom)}, "window_to": {local(windowTo)},
		"held_database": {"1"}, "held_blobs": {"1"}, "malicious": {"1"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("record the window: %d", resp.StatusCode)
	}
	if resp = r.post(page+"/status", url.Values{"status": {"identified"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("identified: %d", resp.StatusCode)
	}
	code, body := r.get(page + "?lang=en")
	if code != http.StatusOK {
		t.Fatalf("incident page: %d", code)
	}
	for _, want := range []string{"Preliminary report to the PPC", "3-5-3-1", "/notification"} {
		if !strings.Contains(body, want) {
			t.Errorf("incident page lacks %q", want)
		}
	}

	// 3. A public notice about it.
	resp = r.post("/console/notices", url.Values{"title_ja": {"不正アクセスについて"}, "title_en": {"About unauthorised access"},
		"body_ja": {"調査中です。"}, "body_en": {"We are investigating."}, "incident_id": {id}})
	nm := regexp.MustCompile(`^/console/notices/(ntc_[A-Za-z0-9_-]+)\?done=created$`).FindStringSubmatch(resp.Header.Get("Location"))
	if nm == nil {
		t.Fatalf("create notice: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp = r.post("/console/notices/"+nm[1]+"/publish", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("publish notice: %d", resp.StatusCode)
	}
	if code, body := (&reviewer{t: t, in: in, client: browserless()}).get("/notices?lang=en"); code != http.StatusOK || !strings.Contains(body, "About unauthorised access") {
		t.Errorf("public notices page: %d", code)
	}

	// 4. The letter: written, previewed, started.
	def := massmailtest.Letter()
	resp = r.post(page+"/notification", url.Values{"subject_ja": {def.SubjectJA}, "body_ja": {def.BodyJA},
		"subject_en": {def.SubjectEN}, "body_en": {def.BodyEN}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("save the letter: %d", resp.StatusCode)
	}
	code, body = r.get(page + "/notification/preview?lang=en")
	if code != http.StatusOK || !strings.Contains(body, "licence") {
		t.Fatalf("preview: %d", code)
	}
	for _, addr := range []string{"ja1@", "En.One@", "left1@"} {
		if strings.Contains(body, addr) {
			t.Errorf("the preview shows a member's address (%s…)", addr)
		}
	}
	// The confirmation states the exact recipients; the count typed and
	// a second-factor code send.
	code, body = r.get(page + "/notification/confirm?action=start")
	if code != http.StatusOK || !strings.Contains(body, `<dd id="recipients-total"><strong>2</strong></dd>`) {
		t.Fatalf("confirmation: %d", code)
	}
	if resp = r.post(page+"/notification/start", url.Values{"count": {"2"}, "code": {r.laterCode()}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("start: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}

	// 5. Exactly the two reachable affected members get it, once each.
	waitFor(t, "the two letters", 30*time.Second, func() bool { return len(sink.all()) >= 2 })
	waitFor(t, "the campaign to finish", 30*time.Second, func() bool {
		_, body := r.get(page + "?lang=en")
		return strings.Contains(body, "Affected individuals notified")
	})
	got := map[string]string{}
	for _, mail := range sink.all() {
		got[strings.Join(mail.To, ",")] = mail.Data
	}
	if len(got) != 2 || got["ja1@example.test"] == "" || got["En.One@example.test"] == "" {
		t.Fatalf("letters went to %v", keys(got))
	}
	_, body = r.get(page + "/notification?lang=en")
	for _, want := range []string{"<svg", "role=\"img\""} {
		if !strings.Contains(body, want) {
			t.Errorf("progress page lacks %q", want)
		}
	}
	_, body = r.get(page + "?lang=en")
	// Only the steps after "notifying" are still offered.
	if strings.Contains(body, "Mark notifying") || !strings.Contains(body, "Mark monitoring") {
		t.Errorf("the incident did not move to notifying")
	}
	if code, body := r.get(page + "/report?lang=ja"); code != http.StatusOK || !strings.Contains(body, "本人の数") {
		t.Errorf("report draft: %d", code)
	}

	// 6. A member asks /check: the answer mail names the incident.
	before := len(sink.all())
	form := url.Values{"email": {"ja1@example.test"}}
	req, _ := http.NewRequest("POST", in.URL+"/check", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	cresp, err := http.DefaultClient.Do(req)
	if err != nil || cresp.StatusCode != http.StatusOK {
		t.Fatalf("check: %v %v", err, cresp)
	}
	cresp.Body.Close()
	waitFor(t, "the check's answer", 15*time.Second, func() bool { return len(sink.all()) > before })
	if answer := sink.all()[before]; answer.To[0] != "ja1@example.test" {
		t.Errorf("the answer went to %v", answer.To)
	}

	in.Stop()
	if out := in.CLI("audit", "verify"); !strings.Contains(out, "ok") {
		t.Errorf("audit verify after the day:\n%s", out)
	}
	for _, addr := range []string{"ja1@example.test", "En.One@example.test", "none1@example.test"} {
		if strings.Contains(in.logs.String(), addr) {
			t.Errorf("the server log holds %s", addr)
		}
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

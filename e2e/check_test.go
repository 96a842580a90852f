package e2e

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// The exposure check against the real binary: the form answers a member's
// and a stranger's address with the same bytes, the member alone gets a
// mail (at the registered address, through a real SMTP server), and the
// host's hand-off link shows the member's own answer, never cached.
func TestTheExposureCheckAnswersByMailAndTellsNobodyWhoIsAMember(t *testing.T) {
	sink, smtpURL := startMailSink(t)
	in := startInstance(t, "", "--smtp-url", smtpURL, "--mail-from", "kakunin@example.test", "--check-spread", "0s")
	if code, _ := in.API("PUT", "/api/v1/members/m1", map[string]string{"email": "Checked.Member@example.test", "locale": "en"}); code != http.StatusCreated {
		t.Fatalf("PUT member: %d", code)
	}
	post := func(addr string) (int, http.Header, string) {
		req, _ := http.NewRequest("POST", in.URL+"/check", strings.NewReader(url.Values{"email": {addr}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		resp.Header.Del("Date")
		resp.Header.Del("Request-Id") // one per response, by design
		return resp.StatusCode, resp.Header, string(b)
	}
	mc, mh, mb := post("checked.member@example.test")
	sc, sh, sb := post("nobody.there@example.test")
	if mc != http.StatusOK || sc != mc || mb != sb || len(mh) != len(sh) {
		t.Fatalf("member %d (%d bytes) vs stranger %d (%d bytes)", mc, len(mb), sc, len(sb))
	}
	for k := range mh {
		if strings.Join(mh[k], ",") != strings.Join(sh[k], ",") {
			t.Errorf("header %s: %q vs %q", k, mh[k], sh[k])
		}
	}
	if mh.Get("Cache-Control") != "no-store, private" {
		t.Errorf("Cache-Control %q", mh.Get("Cache-Control"))
	}

	// Both checks' jobs have ended: whatever the stranger's sent is at the
	// sink by now.
	in.waitJobsFinished(t, 15*time.Second, "exposure_check")
	mails := sink.all()
	if len(mails) != 1 || len(mails[0].To) != 1 || mails[0].To[0] != "Checked.Member@example.test" {
		t.Fatalf("mails: %+v", mails)
	}
	if !strings.Contains(mails[0].Data, "We know of no incident that affected your documents.") {
		t.Errorf("mail:\n%s", mails[0].Data)
	}

	code, link := in.API("POST", "/api/v1/members/m1/exposure-link", nil)
	if code != http.StatusOK {
		t.Fatalf("hand-off link: %d", code)
	}
	resp, err := http.Get(link["url"].(string))
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "Your exposure check") ||
		resp.Header.Get("Cache-Control") != "no-store, private" {
		t.Errorf("answer page: %d %q", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
	in.Stop()
	if strings.Contains(strings.ToLower(in.logs.String()), "checked.member") || strings.Contains(in.logs.String(), "nobody.there") {
		t.Error("the server log names a checked address")
	}
}

package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The members' portal against the real binary: /signin answers a member
// and a stranger alike, the member alone gets a one-time link by mail (a
// real SMTP server), the link opens /me once, the export is JSON without
// images, and nobody else gets in.
func TestAMemberSignsInByMailSeesTheirDataAndDownloadsIt(t *testing.T) {
	sink, smtpURL := startMailSink(t)
	in := startInstance(t, "", "--smtp-url", smtpURL, "--mail-from", "kakunin@example.test", "--check-spread", "0s")
	if code, _ := in.API("PUT", "/api/v1/members/p1", map[string]string{"email": "Portal.Member@example.test", "locale": "en"}); code != http.StatusCreated {
		t.Fatalf("PUT member: %d", code)
	}
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	send := func(c *http.Client, method, path string, form url.Values) (*http.Response, string) {
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, _ := http.NewRequest(method, in.URL+path, body)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	mr, mb := send(http.DefaultClient, "POST", "/signin", url.Values{"email": {"portal.member@example.test"}})
	sr, sb := send(http.DefaultClient, "POST", "/signin", url.Values{"email": {"nobody.here@example.test"}})
	if mr.StatusCode != http.StatusOK || sr.StatusCode != mr.StatusCode || mb != sb {
		t.Fatalf("member %d (%d bytes) vs stranger %d (%d bytes)", mr.StatusCode, len(mb), sr.StatusCode, len(sb))
	}
	in.waitJobsFinished(t, 15*time.Second, "portal_signin")
	mails := sink.all()
	if len(mails) != 1 || len(mails[0].To) != 1 || mails[0].To[0] != "Portal.Member@example.test" {
		t.Fatalf("mails: %+v", mails)
	}
	data := strings.ReplaceAll(mails[0].Data, "=\r\n", "")
	path := regexp.MustCompile(`/signin/[A-Za-z0-9_-]{43}`).FindString(data)
	if path == "" {
		t.Fatalf("no sign-in link in:\n%s", data)
	}

	if resp, body := send(client, "GET", path, nil); resp.StatusCode != http.StatusOK || !strings.Contains(body, `action="`+path+`/open"`) {
		t.Fatalf("GET link: %d", resp.StatusCode)
	}
	resp, page := send(client, "POST", path, url.Values{})
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Request.URL.Path, "/me/") || !strings.Contains(page, "Your data") ||
		!strings.Contains(page, "Portal.Member@example.test") || resp.Header.Get("Cache-Control") != "no-store, private" {
		t.Fatalf("portal: %d at %s, Cache-Control %q", resp.StatusCode, resp.Request.URL.Path, resp.Header.Get("Cache-Control"))
	}
	home := resp.Request.URL.Path // the session's own /me/{key}
	resp, export := send(client, "POST", home+"/export", url.Values{})
	var v struct {
		Format  string `json:"format"`
		Version int    `json:"version"`
		Member  struct {
			ExternalID string `json:"external_id"`
		} `json:"member"`
	}
	if err := json.Unmarshal([]byte(export), &v); err != nil || resp.StatusCode != http.StatusOK ||
		v.Format != "kakunin-member-export" || v.Version != 1 || v.Member.ExternalID != "p1" {
		t.Fatalf("export: %d %v %+v", resp.StatusCode, err, v)
	}

	// The link is spent; nobody without the session gets in.
	if resp, _ := send(http.DefaultClient, "POST", path, url.Values{}); resp.StatusCode != http.StatusNotFound {
		t.Errorf("the used link: %d", resp.StatusCode)
	}
	if resp, _ := send(http.DefaultClient, "GET", "/me", nil); resp.Request.URL.Path != "/signin" {
		t.Errorf("anonymous /me ended at %s", resp.Request.URL.Path)
	}
	if resp, _ := send(http.DefaultClient, "GET", home, nil); resp.Request.URL.Path != "/signin" {
		t.Errorf("anonymous at the member's page address ended at %s", resp.Request.URL.Path)
	}
	if resp, _ := send(client, "POST", "/signout", url.Values{}); resp.StatusCode != http.StatusOK {
		t.Errorf("sign-out: %d", resp.StatusCode)
	}
	if resp, _ := send(client, "GET", home, nil); resp.Request.URL.Path != "/signin" {
		t.Errorf("%s after sign-out ended at %s", home, resp.Request.URL.Path)
	}
	if resp, _ := send(client, "GET", "/me", nil); resp.Request.URL.Path != "/signin" {
		t.Errorf("/me after sign-out ended at %s", resp.Request.URL.Path)
	}
	in.Stop()
	if strings.Contains(strings.ToLower(in.logs.String()), "portal.member") || strings.Contains(in.logs.String(), "nobody.here") ||
		strings.Contains(in.logs.String(), path) {
		t.Error("the server log names an address or a link")
	}
}

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/webhook"
)

// mailSink is a real SMTP server that keeps what it is sent.
type mailSink struct {
	mu    sync.Mutex
	mails []sunkMail
}

type sunkMail struct {
	From string
	To   []string
	Data string
}

func (s *mailSink) NewSession(*smtp.Conn) (smtp.Session, error) { return &sinkSession{sink: s}, nil }

type sinkSession struct {
	sink *mailSink
	m    sunkMail
}

func (s *sinkSession) Mail(from string, _ *smtp.MailOptions) error { s.m.From = from; return nil }
func (s *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.m.To = append(s.m.To, to)
	return nil
}
func (s *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.m.Data = string(b)
	s.sink.mu.Lock()
	s.sink.mails = append(s.sink.mails, s.m)
	s.sink.mu.Unlock()
	s.m = sunkMail{}
	return nil
}
func (s *sinkSession) Reset()        { s.m = sunkMail{} }
func (s *sinkSession) Logout() error { return nil }

func (s *mailSink) all() []sunkMail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sunkMail{}, s.mails...)
}

// startMailSink runs a mailSink on a free local port and returns its
// smtp:// URL.
func startMailSink(t *testing.T) (*mailSink, string) {
	sink := &mailSink{}
	srv := smtp.NewServer(sink)
	srv.Addr = freeAddr(t)
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	go srv.ListenAndServe()
	t.Cleanup(func() { srv.Close() })
	waitFor(t, "the SMTP sink", 5*time.Second, func() bool {
		c, err := smtp.Dial(srv.Addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return sink, "smtp://" + srv.Addr + "?tls=none"
}

// tinyPNG is a distinct image of the smallest size intake accepts: quick
// to upload a thousand times.
func tinyPNG(i int) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, 320, 200))
	for y := range 200 {
		for x := range 320 {
			img.Set(x, y, color.NRGBA{byte(x), byte(y), byte(i), 255})
		}
	}
	img.Set(0, 0, color.NRGBA{byte(i), byte(i >> 8), 1, 255})
	var buf bytes.Buffer
	png.Encode(&buf, img)
	return buf.Bytes()
}

// submitMany makes n members each upload one document, with a few
// workers, as a busy day's members would.
func submitMany(t *testing.T, in *instance, n int) {
	t.Helper()
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			client := browserless()
			for {
				i := next.Add(1)
				if i > int64(n) || failed.Load() > 0 {
					return
				}
				if err := submitOne(client, in, int(i)); err != nil {
					if failed.Add(1) == 1 {
						t.Errorf("submission %d: %v", i, err)
					}
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
}

func submitOne(client *http.Client, in *instance, i int) error {
	call := func(method, path string, body any) (map[string]any, error) {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, in.URL+path, bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+in.APIKey)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		if resp.StatusCode >= 300 {
			return nil, fmt.Errorf("%s %s: %d %v", method, path, resp.StatusCode, out)
		}
		return out, nil
	}
	ext := fmt.Sprintf("bulk-%04d", i)
	if _, err := call("PUT", "/api/v1/members/"+ext, map[string]string{"email": ext + "@example.jp"}); err != nil {
		return err
	}
	v, err := call("POST", "/api/v1/verifications", map[string]string{"external_id": ext})
	if err != nil {
		return err
	}
	ct, body := uploadForm("drivers_licence", "card.png", tinyPNG(i))
	req, _ := http.NewRequest(http.MethodPost, v["upload_url"].(string), bytes.NewReader(body))
	req.Header.Set("Content-Type", ct)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		return fmt.Errorf("upload: %d", resp.StatusCode)
	}
	return nil
}

// TestAScriptReadingAThousandDocumentsIsStoppedAtTheQuota is the issue's
// script: one reviewer account tries to read 1,000 documents, one after
// another, as fast as the console lets it. The quota (60 an hour) stops it
// at the 61st: the account locks, the admins get a mail, the alert webhook
// fires, the audit log holds every read and the lock, and only an admin's
// unlock lets the reviewer back in.
func TestAScriptReadingAThousandDocumentsIsStoppedAtTheQuota(t *testing.T) {
	sink, smtpURL := startMailSink(t)
	hooks := &hookReceiver{secret: webhook.NewSecret()}
	hookServer := httptest.NewServer(hooks)
	defer hookServer.Close()
	published := filepath.Join(t.TempDir(), "checkpoints.jsonl") // "another host"
	in := startInstance(t, "", "--read-quota", "60", "--smtp-url", smtpURL, "--mail-from", "kakunin@example.jp",
		"--alert-webhook-url", hookServer.URL, "--alert-webhook-secret", hooks.secret,
		"--audit-checkpoint-every", "500", "--audit-checkpoint-file", published)
	const documents = 1000
	start := time.Now()
	submitMany(t, in, documents)
	t.Logf("%d documents submitted in %v", documents, time.Since(start).Round(time.Millisecond))

	admin := in.AddStaff("admin@example.jp", "admin")
	in.AddStaff("admin2@example.jp", "admin")
	in.AddStaff("other-reviewer@example.jp", "reviewer")
	script := in.signIn(in.AddStaff("script@example.jp", "reviewer"))

	read, stoppedAt := 0, 0
	for i := 1; i <= documents; i++ {
		resp := script.post("/console/tasks/next", nil)
		loc := resp.Header.Get("Location")
		if !strings.HasPrefix(loc, "/console/tasks/") {
			stoppedAt = i
			break
		}
		id := strings.TrimPrefix(loc, "/console/tasks/")
		status, body := script.get(script.imageURL(id))
		if status != http.StatusOK {
			if status != http.StatusForbidden {
				t.Fatalf("read %d: status %d", i, status)
			}
			stoppedAt = i
			break
		}
		if !strings.HasPrefix(body, "\xff\xd8") {
			t.Fatalf("read %d is not a JPEG", i)
		}
		read++
		if r := script.post("/console/tasks/"+id+"/reject", url.Values{"reason": {"other"}}); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("reject %d: %d", i, r.StatusCode)
		}
	}
	if read != 60 || stoppedAt != 61 {
		t.Fatalf("the script read %d images and was stopped at attempt %d; want 60 and 61", read, stoppedAt)
	}

	// The session is over and the account cannot sign in again.
	if status, loc := script.get("/console"); status != http.StatusSeeOther || loc != "/console/login" {
		t.Fatalf("the locked reviewer's session still works: %d %s", status, loc)
	}
	relogin := browserless()
	resp, _ := relogin.PostForm(in.URL+"/console/login", url.Values{"email": {"script@example.jp"}, "password": {"a new long password 2026"}})
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("the locked account signed in: %d", resp.StatusCode)
	}
	resp.Body.Close()

	// The admins were mailed, and only they; the alert webhook fired.
	// One mail per admin, each its own job, enqueued by the fan-out job:
	// once all of them have ended, a third, wrongly addressed mail would be
	// at the sink.
	in.waitJobsFinished(t, 90*time.Second, "alert_fanout", "alert_mail") // behind a thousand uploads' decodes and webhooks
	var to []string
	for _, m := range sink.all() {
		to = append(to, m.To...)
		if !strings.Contains(m.Data, "script@example.jp") && !strings.Contains(m.Data, "stf_") {
			t.Errorf("the alert mail does not say whose account locked:\n%s", m.Data)
		}
	}
	if strings.Join(to, ",") != "admin@example.jp,admin2@example.jp" && strings.Join(to, ",") != "admin2@example.jp,admin@example.jp" {
		t.Errorf("alert mailed to %v, want the two admins", to)
	}
	waitFor(t, "the alert webhook", 15*time.Second, func() bool { return hooks.find("alert.staff.read_quota_exceeded") != nil })

	// The audit log holds the 60 reads, the refusal and the lock, and
	// verifies.
	export := in.CLI("audit", "export", "--from", start.Add(-time.Minute).UTC().Format(time.RFC3339), "--to", time.Now().Add(time.Minute).UTC().Format(time.RFC3339))
	// Identifiers and keyed hashes only: no address of a member or of
	// staff, no client address.
	if strings.Contains(export, "@") || strings.Contains(export, "127.0.0.1") {
		t.Error("the audit log holds an e-mail or client address")
	}
	counts := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(export), "\n") {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("export line %q: %v", line, err)
		}
		counts[ev["action"].(string)]++
	}
	if counts["document.read"] != 60 || counts["staff.read_quota_exceeded"] != 1 || counts["staff.locked"] != 1 || counts["document.decided"] != 60 {
		t.Errorf("audit export counts %v", counts)
	}
	if out := in.CLI("audit", "verify"); !strings.Contains(out, "ok") {
		t.Errorf("audit verify: %s", out)
	}

	// An admin unlocks the account from the console (asking for the
	// second factor again once the window has passed is covered by the
	// authorization test); the reviewer can sign in again.
	a := in.signIn(admin)
	status, page := a.get("/console/staff")
	if status != http.StatusOK || !strings.Contains(page, "script@example.jp") {
		t.Fatalf("staff list: %d", status)
	}
	id := staffIDOf(t, page, "script@example.jp")
	if r := a.post("/console/staff/"+id+"/unlock", nil); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/console/staff?unlocked=1" {
		t.Fatalf("unlock: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	resp, _ = relogin.PostForm(in.URL+"/console/login", url.Values{"email": {"script@example.jp"}, "password": {"a new long password 2026"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("unlocked account cannot sign in: %d", resp.StatusCode)
	}
	resp.Body.Close()

	// The responder's question, from the command line: in the window,
	// 1,000 documents existed as ciphertext, none readable without the
	// keys, and one account read 60 of them.
	scopeOut := in.CLI("incident", "scope", "--from", start.Add(-time.Minute).UTC().Format(time.RFC3339),
		"--to", time.Now().Add(time.Minute).UTC().Format(time.RFC3339), "--json")
	var scope struct {
		Documents struct{ Existing, Readable int64 }
		Members   struct{ Total int64 }
		Staff     []struct {
			Email string
			Reads int64
		}
	}
	if err := json.Unmarshal([]byte(scopeOut), &scope); err != nil {
		t.Fatalf("scope JSON: %v\n%s", err, scopeOut)
	}
	if scope.Documents.Existing != documents || scope.Documents.Readable != 0 || scope.Members.Total != documents ||
		len(scope.Staff) != 1 || scope.Staff[0].Email != "script@example.jp" || scope.Staff[0].Reads != 60 {
		t.Errorf("scope %+v", scope)
	}

	// Signed checkpoints reached the file and the alert webhook; the chain
	// verifies against the file. Then someone with the database edits one
	// read out of history: verify names it and fails.
	waitFor(t, "a published checkpoint", 15*time.Second, func() bool { return hooks.find("audit.checkpoint") != nil })
	in.Stop()
	if out := in.CLI("audit", "verify", "--checkpoints", published); !strings.Contains(out, "ok: ") || !strings.Contains(out, "published") {
		t.Fatalf("verify against the published checkpoints: %s", out)
	}
	db, _, err := store.OpenSQL(t.Context(), filepath.Join(in.Data, "kakunin.db"))
	if err != nil {
		t.Fatal(err)
	}
	var seq int64
	if err := db.QueryRow(`SELECT MIN(seq) FROM audit_events WHERE action = 'document.read'`).Scan(&seq); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE audit_events SET actor = 'staff:stf_someone_else' WHERE seq = $1`, seq); err != nil {
		t.Fatal(err)
	}
	db.Close()
	cmd := exec.Command(kakuninBin, append([]string{"audit", "verify", "--checkpoints", published}, in.cliFlags()...)...)
	out, err := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(string(out), fmt.Sprintf("first bad event %d", seq)) {
		t.Fatalf("verify of an edited chain: exit %d (%v)\n%s", code, err, out)
	}
}

// staffIDOf finds the unlock form of an address on the staff page.
func staffIDOf(t *testing.T, page, email string) string {
	t.Helper()
	i := strings.Index(page, email)
	if i < 0 {
		t.Fatalf("%s not on the page", email)
	}
	rest := page[i:]
	j := strings.Index(rest, "/console/staff/")
	if j < 0 {
		t.Fatalf("no unlock form after %s", email)
	}
	id, _, _ := strings.Cut(rest[j+len("/console/staff/"):], "/unlock")
	return id
}

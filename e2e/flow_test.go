package e2e

import (
	"bytes"
	"encoding/json"
	"image/jpeg"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kakunin/kakunin/internal/webhook"
)

// hookReceiver is the host platform's webhook endpoint.
type hookReceiver struct {
	mu     sync.Mutex
	secret string
	events []map[string]any
	bad    int
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := webhook.Verify(h.secret, r.Header, body, time.Now(), 0); err != nil {
		h.bad++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var ev map[string]any
	json.Unmarshal(body, &ev)
	h.events = append(h.events, ev)
}

func (h *hookReceiver) find(typ string) map[string]any {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, e := range h.events {
		if e["type"] == typ {
			return e
		}
	}
	return nil
}

func TestTheHostMemberAndReviewerCompleteAVerification(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		hooks := &hookReceiver{secret: webhook.NewSecret()}
		hookServer := httptest.NewServer(hooks)
		defer hookServer.Close()
		in := startInstance(t, dsn, "--webhook-url", hookServer.URL, "--webhook-secret", hooks.secret)

		// The host registers a member: created, then updated.
		status, m := in.API("PUT", "/api/v1/members/user-42", map[string]string{"email": "hanako@example.test", "locale": "ja"})
		if status != http.StatusCreated || m["external_id"] != "user-42" {
			t.Fatalf("create member: %d %v", status, m)
		}
		status, _ = in.API("PUT", "/api/v1/members/user-42", map[string]string{"email": "hanako@example.test", "locale": "en"})
		if status != http.StatusOK {
			t.Fatalf("update member: %d", status)
		}

		// The host opens a verification and hands the link to the member.
		status, v := in.API("POST", "/api/v1/verifications", map[string]string{"external_id": "user-42"})
		if status != http.StatusCreated || v["status"] != "awaiting_upload" || v["expires_at"] == nil {
			t.Fatalf("create verification: %d %v", status, v)
		}
		id, uploadURL := v["id"].(string), v["upload_url"].(string)
		if !strings.HasPrefix(uploadURL, in.URL+"/u/") {
			t.Fatalf("upload_url %q", uploadURL)
		}

		// The member's page is personal: never cacheable.
		resp, err := http.Get(uploadURL)
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "no-store, private" || !bytes.Contains(page, []byte(`lang="en"`)) {
			t.Fatalf("upload page: %d %q", resp.StatusCode, resp.Header.Get("Cache-Control"))
		}

		// The member uploads; the answer is a redirect to the status page.
		if status, body := upload(t, uploadURL, "drivers_licence", sampleJPEG(t, 1)); status != http.StatusSeeOther {
			t.Fatalf("upload: %d %s", status, body)
		}
		// The link is single-use.
		if status, _ := upload(t, uploadURL, "drivers_licence", sampleJPEG(t, 2)); status != http.StatusConflict {
			t.Fatalf("second upload on a used link: %d", status)
		}
		if _, v = in.API("GET", "/api/v1/verifications/"+id, nil); v["status"] != "submitted" || v["result"] != nil {
			t.Fatalf("after upload: %v", v)
		}

		// A reviewer signs in, takes the task and sees the watermarked image.
		acct := in.AddStaff("reviewer@example.test", "reviewer")
		rv := in.signIn(acct)
		task := rv.takeNext()
		imageURL := rv.imageURL(task)
		resp, err = rv.client.Get(in.URL + imageURL)
		if err != nil {
			t.Fatal(err)
		}
		img, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/jpeg" || resp.Header.Get("Cache-Control") != "no-store, private" {
			t.Fatalf("image: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"))
		}
		if _, err := jpeg.Decode(bytes.NewReader(img)); err != nil {
			t.Fatalf("image does not decode: %v", err)
		}
		// The URL served one read; another reviewer cannot use a fresh
		// one, nor open the task; the old fixed URL is gone.
		if status, _ := rv.get(imageURL); status != http.StatusNotFound {
			t.Fatalf("the image URL served a second read: %d", status)
		}
		other := in.signIn(in.AddStaff("other@example.test", "reviewer"))
		if status, _ := other.get(rv.imageURL(task)); status != http.StatusNotFound {
			t.Fatalf("another reviewer read the image: %d", status)
		}
		if status, _ := other.get("/console/tasks/" + task); status != http.StatusNotFound {
			t.Fatalf("another reviewer opened the task: %d", status)
		}
		if status, _ := rv.get("/console/tasks/" + task + "/image"); status != http.StatusNotFound {
			t.Fatalf("the old fixed image URL answered: %d", status)
		}

		resp2 := rv.post("/console/tasks/"+task+"/approve", url.Values{"document_name": {"運転免許証"}, "issuer": {"東京都公安委員会"}, "birth_date": {"1990-01-02"}})
		if resp2.StatusCode != http.StatusSeeOther {
			t.Fatalf("approve: %d", resp2.StatusCode)
		}

		// The host sees the result and receives a signed webhook.
		_, v = in.API("GET", "/api/v1/verifications/"+id, nil)
		res, _ := v["result"].(map[string]any)
		if v["status"] != "approved" || res == nil || res["adult"] != true || res["document_type"] != "drivers_licence" || res["issuer"] != "東京都公安委員会" {
			t.Fatalf("result: %v", v)
		}
		if _, kept := res["birth_date"]; kept {
			t.Fatal("the date of birth was kept without the operator enabling it")
		}
		waitFor(t, "the approval webhook", 15*time.Second, func() bool { return hooks.find("verification.approved") != nil })
		ev := hooks.find("verification.approved")
		data, _ := ev["data"].(map[string]any)
		if data["verification_id"] != id || data["external_id"] != "user-42" {
			t.Fatalf("webhook data: %v", ev)
		}
		if hooks.bad != 0 {
			t.Fatalf("%d webhooks failed signature verification", hooks.bad)
		}

		// Retention defaults to "at once": the ciphertext disappears.
		waitFor(t, "the image to be destroyed", 15*time.Second, func() bool { return len(blobFiles(t, in.Data)) == 0 })
		if status, _ := rv.get("/console/tasks/" + task); status != http.StatusNotFound {
			t.Fatalf("decided task still served: %d", status)
		}

		// The member leaves: 204, and the record stays readable.
		if status, _ := in.API("DELETE", "/api/v1/members/user-42", nil); status != http.StatusNoContent {
			t.Fatalf("delete member: %d", status)
		}
		if _, v = in.API("GET", "/api/v1/verifications/"+id, nil); v["status"] != "approved" {
			t.Fatalf("record after the member left: %v", v)
		}
	})
}

// blobFiles lists document ciphertext files (not temp files) under data.
func blobFiles(t testing.TB, data string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(filepath.Join(data, "blobs"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasSuffix(p, ".tmp") {
			out = append(out, p)
		}
		return nil
	})
	return out
}

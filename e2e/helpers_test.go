package e2e

import (
	"bytes"
	"encoding/binary"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/auth"
	"github.com/kakunin/kakunin/internal/samplecard"
)

// sampleJPEG renders a SAMPLE card.
func sampleJPEG(t testing.TB, seed int64) []byte {
	t.Helper()
	b, err := samplecard.Render(samplecard.Card{Type: kakunin.DocDriversLicence, Name: "SAMPLE HANAKO",
		BirthDate: time.Date(1990, 1, 2, 0, 0, 0, 0, time.UTC), Issuer: "SAMPLE", Number: "SAMPLE-1", Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// withEXIF inserts an APP1 EXIF segment carrying marker right after SOI,
// as a phone camera would (GPS position and all).
func withEXIF(jpeg []byte, marker string) []byte {
	payload := append([]byte("Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08GPS:"), marker...)
	seg := []byte{0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(payload)+2))
	out := append([]byte{}, jpeg[:2]...)
	out = append(out, seg...)
	out = append(out, payload...)
	return append(out, jpeg[2:]...)
}

// uploadForm builds the member form's multipart body.
func uploadForm(docType string, filename string, file []byte) (string, []byte) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if docType != "" {
		mw.WriteField("document_type", docType)
	}
	if file != nil {
		w, _ := mw.CreateFormFile("document", filename)
		w.Write(file)
	}
	mw.Close()
	return mw.FormDataContentType(), buf.Bytes()
}

// upload posts the member's form to an upload URL and returns the status
// and body.
func upload(t testing.TB, uploadURL, docType string, file []byte) (int, string) {
	t.Helper()
	ct, body := uploadForm(docType, "card.jpg", file)
	req, _ := http.NewRequest(http.MethodPost, uploadURL, bytes.NewReader(body))
	req.Header.Set("Content-Type", ct)
	resp, err := browserless().Do(req)
	if err != nil {
		t.Fatalf("upload: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// reviewer is a signed-in console session.
type reviewer struct {
	t      testing.TB
	in     *instance
	client *http.Client
}

// signIn walks the console's sign-in: password, TOTP code, and the first
// sign-in's password change.
func (in *instance) signIn(acct staffAccount) *reviewer {
	t := in.t
	t.Helper()
	r := &reviewer{t: t, in: in, client: browserless()}
	resp := r.post("/console/login", url.Values{"email": {acct.Email}, "password": {acct.Password}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/login/totp" {
		t.Fatalf("password step: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	code, _ := auth.CurrentTOTP(acct.Secret, time.Now())
	resp = r.post("/console/login/totp", url.Values{"code": {code}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console" {
		t.Fatalf("totp step: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if status, loc := r.get("/console"); status != http.StatusSeeOther || loc != "/console/password" {
		t.Fatalf("first sign-in was not sent to change its password: %d %s", status, loc)
	}
	newPassword := "a new long password 2026"
	resp = r.post("/console/password", url.Values{"current_password": {acct.Password}, "new_password": {newPassword}, "confirm_password": {newPassword}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("password change: %d", resp.StatusCode)
	}
	return r
}

func (r *reviewer) post(path string, form url.Values) *http.Response {
	r.t.Helper()
	resp, err := r.client.PostForm(r.in.URL+path, form)
	if err != nil {
		r.t.Fatalf("POST %s: %v", path, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// get returns the status and redirect target (or body) of a GET.
func (r *reviewer) get(path string) (int, string) {
	r.t.Helper()
	resp, err := r.client.Get(r.in.URL + path)
	if err != nil {
		r.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	if loc := resp.Header.Get("Location"); loc != "" {
		return resp.StatusCode, loc
	}
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// takeNext claims the next task and returns its ID.
func (r *reviewer) takeNext() string {
	r.t.Helper()
	resp := r.post("/console/tasks/next", nil)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/console/tasks/") {
		r.t.Fatalf("take next: %d %s", resp.StatusCode, loc)
	}
	return strings.TrimPrefix(loc, "/console/tasks/")
}

// imageURL opens the task page and returns the single-use image URL it
// was given (a new one each time the page is opened).
func (r *reviewer) imageURL(task string) string {
	r.t.Helper()
	status, page := r.get("/console/tasks/" + task)
	if status != http.StatusOK {
		r.t.Fatalf("task page %s: %d", task, status)
	}
	_, rest, ok := strings.Cut(page, `<img src="`)
	if !ok {
		r.t.Fatalf("task page %s has no image", task)
	}
	u, _, _ := strings.Cut(rest, `"`)
	return u
}

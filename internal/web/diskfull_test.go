package web

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/alert"
	"github.com/kakunin/kakunin/internal/catalogue"
	"github.com/kakunin/kakunin/internal/samplecard"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

func init() {
	addAuthz(map[string]string{"GET /readyz": "public"})
}

// Issue 17 item 5: an upload that meets a full disk gets 507 and the
// member's own words (not a generic 500), the operator is alerted once, and
// /readyz says the replica is not ready.
func TestAnUploadOnAFullDiskAnswers507AlertsOnceAndFailsReadiness(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		c := newTestConsole(t, dsn)
		ctx := context.Background()
		raised := 0
		full := &alert.DiskFull{Now: func() time.Time { return c.now }, Log: c.srv.Log,
			Raise: func(context.Context) error { raised++; return nil }}
		c.srv.Documents.OnNoSpace = full.Noticed
		c.srv.Ready = []ReadyCheck{{Name: "database", Check: c.env.DB.Ping}, {Name: "blobs", Check: c.env.Blobs.Ping}, {Name: "storage", Check: full.Ready}}
		ready := func() (int, string) {
			rec := httptest.NewRecorder()
			c.h.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
			return rec.Code, rec.Body.String()
		}
		if code, body := ready(); code != 200 {
			t.Fatalf("readyz before: %d %s", code, body)
		}
		img, err := samplecard.Render(samplecard.Card{Type: kakunin.DocDriversLicence, Name: "SAMPLE", BirthDate: time.Date(1990, 1, 2, 0, 0, 0, 0, time.UTC), Issuer: "SAMPLE", Number: "1", Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		c.env.Blobs.FailWritesWith(syscall.ENOSPC)
		cat := catalogue.Default()
		for i, lang := range []kakunin.Locale{kakunin.LocaleJA, kakunin.LocaleEN} {
			if _, _, err := c.env.Verifications.UpsertMember(ctx, "ext-full-"+string(lang), "full"+string(lang)+"@example.jp", lang); err != nil {
				t.Fatal(err)
			}
			_, link, err := c.env.Verifications.Create(ctx, "ext-full-"+string(lang))
			if err != nil {
				t.Fatal(err)
			}
			var body bytes.Buffer
			mw := multipart.NewWriter(&body)
			mw.WriteField("document_type", "drivers_licence")
			fw, _ := mw.CreateFormFile("document", "card.jpg")
			fw.Write(img)
			mw.Close()
			req := httptest.NewRequest("POST", strings.TrimPrefix(link, c.srv.PublicURL), &body)
			req.Header.Set("Content-Type", mw.FormDataContentType())
			req.Header.Set("Sec-Fetch-Site", "same-origin")
			rec := httptest.NewRecorder()
			c.h.ServeHTTP(rec, req)
			if rec.Code != http.StatusInsufficientStorage {
				t.Fatalf("upload %d on a full disk: %d, want 507", i, rec.Code)
			}
			want, err := cat.Localize(lang, catalogue.M("upload.error.storage_full"))
			if err != nil {
				t.Fatal(err)
			}
			if page := rec.Body.String(); !strings.Contains(page, htmlEscaped(want)) {
				t.Errorf("%s page does not say the storage is full (%q)", lang, want)
			}
		}
		if raised != 1 {
			t.Errorf("%d alerts for two refused uploads, want 1", raised)
		}
		if code, body := ready(); code != http.StatusServiceUnavailable || !strings.Contains(body, "storage") {
			t.Fatalf("readyz on a full disk: %d %q, want 503 naming storage", code, body)
		}
		// There is room again: a minute later the replica is ready.
		c.env.Blobs.FailWritesWith(nil)
		c.now = c.now.Add(2 * time.Minute)
		if code, body := ready(); code != 200 {
			t.Fatalf("readyz after room came back: %d %s", code, body)
		}
	})
}

// /readyz fails when the database is gone; /healthz (liveness) does not.
func TestReadinessFailsWithoutTheDatabaseWhileLivenessHolds(t *testing.T) {
	c := newTestConsole(t, storetest.SQLiteDSN(t))
	c.srv.Ready = []ReadyCheck{{Name: "database", Check: c.env.DB.Ping}, {Name: "blobs", Check: c.env.Blobs.Ping}}
	c.env.DB.Close()
	rec := httptest.NewRecorder()
	c.h.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "database") || strings.Contains(rec.Body.String(), "blobs") {
		t.Fatalf("readyz without the database: %d %q", rec.Code, rec.Body.String())
	}
	rec = httptest.NewRecorder()
	c.h.ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	if rec.Code != 200 {
		t.Fatalf("healthz: %d", rec.Code)
	}
}

func htmlEscaped(s string) string {
	return strings.NewReplacer("'", "&#39;", `"`, "&#34;", "&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

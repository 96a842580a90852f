package web

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/auth"
	"github.com/kakunin/kakunin/internal/samplecard"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

// The reviewer's image lives at a URL made for one read by one session:
// behind a cache that ignores Vary, no key can ever match for anyone else
// (issue 17 #12: a fixed /console/tasks/{doc}/image was served from cache
// to an anonymous visitor).
func TestTheImageURLServesOneReadToTheSessionItWasMadeFor(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		c := newTestConsole(t, dsn)
		ctx := t.Context()
		img, err := samplecard.Render(samplecard.Card{Type: kakunin.DocDriversLicence, Name: "SAMPLE", BirthDate: time.Date(1990, 1, 2, 0, 0, 0, 0, time.UTC), Issuer: "SAMPLE", Number: "1", Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.env.Verifications.UpsertMember(ctx, "m-1", "m1@example.jp", kakunin.LocaleJA); err != nil {
			t.Fatal(err)
		}
		v, _, err := c.env.Verifications.Create(ctx, "m-1")
		if err != nil {
			t.Fatal(err)
		}
		p, err := c.env.Documents.Store(ctx, v, bytes.NewReader(img))
		if err != nil {
			t.Fatal(err)
		}
		d, err := c.env.Documents.Commit(ctx, p, v, kakunin.DocDriversLicence)
		if err != nil {
			t.Fatal(err)
		}
		rev := c.signIn(kakunin.RoleReviewer)
		if rec := c.post(rev.token, "/console/tasks/next", ""); rec.Header().Get("Location") != "/console/tasks/"+d.ID {
			t.Fatalf("next: %d %s", rec.Code, rec.Header().Get("Location"))
		}
		// The same reviewer signed in a second time: another session.
		other := c.secondSession(rev)

		first, second := c.imageURL(rev.token, d.ID), c.imageURL(rev.token, d.ID)
		if first == second || !strings.HasPrefix(first, "/console/images/") || strings.Contains(first, d.ID) {
			t.Fatalf("image URLs %q and %q: want a fresh one per page, naming no document", first, second)
		}
		// Another session is refused, and does not spend the URL.
		if rec := c.do(other, http.MethodGet, first, nil); rec.Code != http.StatusNotFound || rec.Header().Get("Content-Type") == "image/jpeg" {
			t.Errorf("another session fetching the URL: %d", rec.Code)
		}
		if rec := c.do("", http.MethodGet, first, nil); rec.Code == http.StatusOK {
			t.Errorf("no session fetching the URL: %d", rec.Code)
		}
		rec := c.do(rev.token, http.MethodGet, first, nil)
		if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "image/jpeg" {
			t.Fatalf("the session's own fetch: %d %s", rec.Code, rec.Header().Get("Content-Type"))
		}
		if cc := rec.Header().Get("Cache-Control"); cc != "no-store, private" {
			t.Errorf("Cache-Control %q", cc)
		}
		if rec := c.do(rev.token, http.MethodGet, first, nil); rec.Code != http.StatusNotFound {
			t.Errorf("a second fetch of the same URL: %d", rec.Code)
		}
		// Expired: the second page's URL, after its time.
		c.now = c.now.Add(3 * time.Minute)
		c.env.Clock.Set(c.now)
		if rec := c.do(rev.token, http.MethodGet, second, nil); rec.Code != http.StatusNotFound {
			t.Errorf("an expired URL: %d", rec.Code)
		}
		// The old fixed URL is gone.
		if rec := c.do(rev.token, http.MethodGet, "/console/tasks/"+d.ID+"/image", nil); rec.Code != http.StatusNotFound {
			t.Errorf("the old fixed URL: %d", rec.Code)
		}
		// Only the one fetch was a read.
		reads, err := c.env.DB.CountReadsSince(ctx, rev.staffID, c.now.Add(-time.Hour))
		if err != nil || reads != 1 {
			t.Errorf("%d reads recorded (%v), want 1", reads, err)
		}
	})
}

// secondSession signs in.staffID in again and returns the new session's
// token.
func (c *testConsole) secondSession(in signedIn) string {
	c.t.Helper()
	ctx := context.Background()
	half, err := c.staff.Login(ctx, in.email, "a long enough password")
	if err != nil {
		c.t.Fatal(err)
	}
	code, _ := auth.CurrentTOTP(in.secret, c.now.Add(30*time.Second))
	token, err := c.staff.VerifyTOTP(ctx, half, code)
	if err != nil {
		c.t.Fatal(err)
	}
	return token
}

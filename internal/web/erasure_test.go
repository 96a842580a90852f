package web

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/erasure"
	"github.com/kakunin/kakunin/internal/mail"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

func init() {
	addAuthz(map[string]string{
		"GET /me/{key}/erasure":               "member",
		"POST /me/{key}/erasure":              "member",
		"POST /me/{key}/erasure/receipt/{id}": "member",
		"GET /erasure/confirm/{token}":        "public",
		"POST /erasure/confirm/{token}/open":  "public",
	})
}

// erasureMail records the erasure service's mails.
type erasureMail struct {
	mu   sync.Mutex
	msgs []mail.Message
}

func (m *erasureMail) Send(_ context.Context, msgs ...mail.Message) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.msgs = append(m.msgs, msgs...)
	return nil
}

var testErasureMail = map[*testConsole]*erasureMail{}

// newTestErasure is the test console's erasure service, signing with a
// checkpoint key of its own.
func newTestErasure(c *testConsole) *erasure.Service {
	signer, err := audit.LoadOrCreateSigner(filepath.Join(c.t.TempDir(), "audit.key"), "kakunin/kakunin.example.jp/inst_web")
	if err != nil {
		c.t.Fatal(err)
	}
	cp := &audit.Checkpointer{DB: c.env.DB, Signer: signer, Log: c.srv.Log, Now: func() time.Time { return c.now }}
	mb := &erasureMail{}
	testErasureMail[c] = mb
	return &erasure.Service{DB: c.env.DB, Keys: c.env.Vault, Docs: c.env.Documents, Audit: c.env.Audit, Signer: signer, Jobs: c.env.Jobs,
		Mailer: mb, BaseURL: c.srv.PublicURL, Now: func() time.Time { return c.now }, Log: c.srv.Log,
		Checkpoint: func(ctx context.Context) error { _, err := cp.Checkpoint(ctx, true); return err }}
}

func (c *checkFixture) lastErasureMail(t *testing.T) mail.Message {
	t.Helper()
	mb := testErasureMail[c.testConsole]
	mb.mu.Lock()
	defer mb.mu.Unlock()
	if len(mb.msgs) == 0 {
		t.Fatal("nothing mailed")
	}
	return mb.msgs[len(mb.msgs)-1]
}

// The request flow through the member pages, and every erasure URL of
// each member tried with the other member's session, a staff session and
// none: only the owner gets anything.
func TestErasureRequestsAndReceiptsBelongToTheirMemberOnly(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		c := newCheckFixture(t, dsn)
		b, _ := c.addSecondMember(t)
		aSession, bSession := c.signInMember(t, "ext-check"), c.signInMember(t, "ext-other")

		if rec := c.memberReq(aSession, http.MethodGet, memberHome(aSession)+"/erasure"); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `action="`+memberHome(aSession)+`/erasure"`) ||
			rec.Header().Get("Cache-Control") != "no-store, private" {
			t.Fatalf("GET /me/erasure: %d %q", rec.Code, rec.Header().Get("Cache-Control"))
		}
		if rec := c.memberReq(aSession, http.MethodPost, memberHome(aSession)+"/erasure"); rec.Code != http.StatusOK {
			t.Fatalf("POST /me/erasure: %d", rec.Code)
		}
		// Flooding: one open request.
		for range 3 {
			if rec := c.memberReq(aSession, http.MethodPost, memberHome(aSession)+"/erasure"); rec.Code != http.StatusConflict {
				t.Fatalf("second request: %d", rec.Code)
			}
		}
		msg := c.lastErasureMail(t)
		if msg.To[0] != "Member.One@example.jp" {
			t.Errorf("confirmation to %v", msg.To)
		}
		_, link, _ := strings.Cut(msg.Text, c.srv.PublicURL)
		link, _, _ = strings.Cut(link, "\n")
		// A GET shows the button only; forged and reused links get the same 404.
		if rec := c.memberReq("", http.MethodGet, link); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `action="`+link+`/open"`) {
			t.Fatalf("GET confirm: %d", rec.Code)
		}
		forged := link[:len(link)-4] + "AAAA"
		if rec := c.memberReq("", http.MethodPost, forged+"/open"); rec.Code != http.StatusNotFound {
			t.Errorf("forged link: %d", rec.Code)
		}
		if rec := c.memberReq("", http.MethodPost, link+"/open"); rec.Code != http.StatusOK {
			t.Fatalf("confirm: %d", rec.Code)
		}
		if rec := c.memberReq("", http.MethodPost, link+"/open"); rec.Code != http.StatusNotFound {
			t.Errorf("reused link: %d", rec.Code)
		}
		reqs, err := c.env.DB.ErasureRequestsOfMember(context.Background(), c.member.ID)
		if err != nil || len(reqs) != 1 || reqs[0].State != erasure.Verified {
			t.Fatalf("requests %+v %v", reqs, err)
		}
		id := reqs[0].ID
		receipt, err := c.srv.Erasure.Complete(context.Background(), id, erasure.Actor{Role: "support", Audit: "staff:stf_t"})
		if err != nil {
			t.Fatal(err)
		}
		// A's session ended with the erasure (the member left): the receipt
		// reached them by mail; a new sign-in is not possible, the mail is theirs.
		if m := c.lastErasureMail(t); !strings.Contains(m.Text, string(receipt)) || m.To[0] != "Member.One@example.jp" {
			t.Errorf("receipt mail %+v", m)
		}
		for who, try := range map[string]struct{ session, home string }{
			"B with A's URL": {bSession, memberHome(aSession)}, "B at their own URL": {bSession, memberHome(bSession)},
			"anonymous": {"", memberHome(aSession)}, "A after erasure": {aSession, memberHome(aSession)},
		} {
			rec := c.memberReq(try.session, http.MethodPost, try.home+"/erasure/receipt/"+id)
			if rec.Code == http.StatusOK || strings.Contains(rec.Body.String(), "kakunin erasure receipt") {
				t.Errorf("%s got A's receipt: %d", who, rec.Code)
			}
		}
		// B's own page shows nothing of A's.
		rec := c.memberReq(bSession, http.MethodGet, memberHome(bSession)+"/erasure")
		if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), id) {
			t.Errorf("B's page: %d, shows A's request: %v", rec.Code, strings.Contains(rec.Body.String(), id))
		}
		_ = b
	})
}

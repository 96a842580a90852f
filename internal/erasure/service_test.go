package erasure_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/brand"
	"github.com/kakunin/kakunin/internal/erasure"
	"github.com/kakunin/kakunin/internal/mail"
	"github.com/kakunin/kakunin/internal/samplecard"
	"github.com/kakunin/kakunin/internal/servicetest"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/store/storetest"
	"github.com/kakunin/kakunin/internal/vault"
	"github.com/kakunin/kakunin/internal/webhook"
)

type mailbox struct {
	mu   sync.Mutex
	msgs []mail.Message
}

func (m *mailbox) Send(_ context.Context, msgs ...mail.Message) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.msgs = append(m.msgs, msgs...)
	return nil
}

func (m *mailbox) last(t *testing.T) mail.Message {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.msgs) == 0 {
		t.Fatal("nothing mailed")
	}
	return m.msgs[len(m.msgs)-1]
}

type countingEraser struct{ calls []string }

func (c *countingEraser) EraseMember(_ context.Context, tx *store.Tx, memberID string) (string, int64, error) {
	c.calls = append(c.calls, memberID)
	return "inquiry_body", 4, nil
}

type env struct {
	*servicetest.Env
	svc    *erasure.Service
	mail   *mailbox
	eraser *countingEraser
}

func newEnv(t *testing.T, dsn string) *env {
	e := &env{Env: servicetest.New(t, dsn, servicetest.Options{}), mail: &mailbox{}, eraser: &countingEraser{}}
	signer, err := audit.LoadOrCreateSigner(filepath.Join(t.TempDir(), "audit.key"), "kakunin/kakunin.test/inst_test")
	if err != nil {
		t.Fatal(err)
	}
	cp := &audit.Checkpointer{DB: e.DB, Signer: signer, Log: e.Log, Now: e.Clock.Now}
	e.svc = &erasure.Service{DB: e.DB, Keys: e.Vault, Docs: e.Documents, Audit: e.Audit, Signer: signer, Jobs: e.Jobs, Mailer: e.mail,
		BaseURL: "https://kakunin.test", Brand: brand.Brand{Operator: "株式会社サンプル", Service: "SampleMatch"}, Erasers: []erasure.Eraser{e.eraser}, Now: e.Clock.Now, Log: e.Log,
		Checkpoint: func(ctx context.Context) error { _, err := cp.Checkpoint(ctx, true); return err }}
	return e
}

var sampleImage = sync.OnceValues(func() ([]byte, error) {
	return samplecard.Render(samplecard.Card{Type: kakunin.DocDriversLicence, Name: "SATO HANAKO", BirthDate: time.Date(1990, 4, 1, 0, 0, 0, 0, time.UTC),
		Issuer: "TOKYO PREFECTURAL POLICE (SAMPLE)", Number: "SAMPLE-0000-1234", Seed: 1})
})

// member is a member with one uploaded image waiting for review.
func (e *env) member(t *testing.T, email string) (*store.MemberRecord, *store.DocumentRecord) {
	t.Helper()
	ctx := t.Context()
	sealed, err := e.Vault.SealField(vault.PurposeMemberEmail, []byte(email))
	if err != nil {
		t.Fatal(err)
	}
	now := e.Clock.Now()
	m := &store.MemberRecord{ID: kakunin.NewID("mem"), ExternalID: kakunin.NewID("ext"), EmailSealed: sealed,
		EmailIndex: e.Vault.BlindIndex(vault.PurposeMemberEmailIndex, []byte(email)), Locale: kakunin.LocaleEN, CreatedAt: now, UpdatedAt: now}
	if err := e.DB.InsertMember(ctx, m); err != nil {
		t.Fatal(err)
	}
	v := &kakunin.Verification{ID: kakunin.NewID("ver"), MemberID: m.ID, ExternalID: m.ExternalID,
		Status: kakunin.StatusAwaitingUpload, ExpiresAt: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now}
	if err := e.DB.InsertVerification(ctx, v); err != nil {
		t.Fatal(err)
	}
	img, err := sampleImage()
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.Documents.Store(ctx, v, bytes.NewReader(img))
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.Documents.Commit(ctx, p, v, kakunin.DocDriversLicence)
	if err != nil {
		t.Fatal(err)
	}
	return m, d
}

func confirmToken(t *testing.T, msg mail.Message) string {
	t.Helper()
	_, after, ok := strings.Cut(msg.Text, "/me/erasure/confirm/")
	if !ok {
		t.Fatalf("no confirmation link in %q", msg.Text)
	}
	tok, _, _ := strings.Cut(after, "\n")
	return tok
}

func webhookTypes(e *env) []string {
	var out []string
	for _, j := range e.Jobs.All() {
		if a, ok := j.Args.(webhook.DeliverArgs); ok {
			out = append(out, a.Event.Type)
		}
	}
	return out
}

// The whole request, from the portal to the receipt: every image is
// destroyed, the address and the other personal records are gone, the
// registered Eraser ran, the receipt verifies with the key alone, and the
// host heard of both ends.
func TestAPortalRequestEndsInAVerifiableReceipt(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		ctx := t.Context()
		e := newEnv(t, dsn)
		m, d := e.member(t, "hanako@example.jp")
		other, otherDoc := e.member(t, "taro@example.jp")
		// An exposure check of the member's address left a record.
		if _, err := e.DB.TakeRateHit(ctx, "address", m.EmailIndex, 10, time.Hour, "chk_1", e.Clock.Now()); err != nil {
			t.Fatal(err)
		}
		r, err := e.svc.Request(ctx, m.ID, erasure.ViaPortal, erasure.Actor{Role: "member", Audit: "member:" + m.ID}, "")
		if err != nil {
			t.Fatal(err)
		}
		if r.DueAt.Sub(r.CreatedAt) != erasure.DefaultDeadline {
			t.Errorf("deadline %v", r.DueAt.Sub(r.CreatedAt))
		}
		// Flooding: one open request at a time.
		for range 5 {
			if _, err := e.svc.Request(ctx, m.ID, erasure.ViaPortal, erasure.Actor{Role: "member", Audit: "member:" + m.ID}, ""); kakunin.ErrorCode(err) != kakunin.ECONFLICT {
				t.Fatalf("second open request: %v", err)
			}
		}
		msg := e.mail.last(t)
		if msg.To[0] != "hanako@example.jp" {
			t.Errorf("confirmation mailed to %v", msg.To)
		}
		if msg.FromName != "SampleMatch (株式会社サンプル)" || !strings.Contains(msg.Text[strings.LastIndex(msg.Text, "\n-- \n"):], "株式会社サンプル") {
			t.Errorf("confirmation not signed by the operator: %q\n%s", msg.FromName, msg.Text)
		}
		tok := confirmToken(t, msg)
		// A forged link, and a completion before confirmation, do nothing.
		if _, err := e.svc.Confirm(ctx, strings.Repeat("A", len(tok))); kakunin.ErrorCode(err) != kakunin.EUNAUTHORIZED {
			t.Errorf("forged link: %v", err)
		}
		if _, err := e.svc.Complete(ctx, r.ID, erasure.Actor{Role: "support", Audit: "staff:stf_x"}); kakunin.ErrorCode(err) != kakunin.ECONFLICT {
			t.Errorf("complete unverified: %v", err)
		}
		if _, err := e.svc.Confirm(ctx, tok); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Confirm(ctx, tok); kakunin.ErrorCode(err) != kakunin.EUNAUTHORIZED {
			t.Errorf("reused link: %v", err)
		}
		e.Clock.Add(time.Hour)
		receipt, err := e.svc.Complete(ctx, r.ID, erasure.Actor{Role: "support", Audit: "staff:stf_x"})
		if err != nil {
			t.Fatal(err)
		}
		v, err := e.svc.Signer.Verifiers()
		if err != nil {
			t.Fatal(err)
		}
		rc, cp, err := erasure.Open(receipt, v)
		if err != nil {
			t.Fatalf("receipt does not verify: %v\n%s", err, receipt)
		}
		got := map[string]int64{}
		for _, c := range rc.Erased {
			got[c.Kind] = c.N
		}
		if got["document_image"] != 1 || got["sealed_address"] != 1 || got["inquiry_body"] != 4 || got["exposure_check_record"] != 1 {
			t.Errorf("erased counts %v\n%s", got, receipt)
		}
		if len(rc.Kept) != 1 || rc.Kept[0].Kind != "verification_record" || rc.Kept[0].N != 1 {
			t.Errorf("kept %+v", rc.Kept)
		}
		var states []string
		for _, s := range rc.Timeline {
			states = append(states, s.State+"/"+s.Actor)
		}
		if strings.Join(states, " ") != "received/member verified/member in_progress/support completed/system" {
			t.Errorf("timeline %v", states)
		}
		if cp.Size < rc.LastEvent {
			t.Errorf("checkpoint %d does not cover %d", cp.Size, rc.LastEvent)
		}
		// What the receipt says happened.
		doc, err := e.DB.Document(ctx, d.ID)
		if err != nil || doc.DestroyedAt == nil {
			t.Errorf("the image was not destroyed: %+v %v", doc, err)
		}
		if doc, _ := e.DB.Document(ctx, otherDoc.ID); doc.DestroyedAt != nil {
			t.Error("another member's image was destroyed")
		}
		after, _ := e.DB.MemberByID(ctx, m.ID)
		if after.EmailSealed != nil || after.EmailIndex != nil || after.DeletedAt == nil {
			t.Errorf("the address is still held: %+v", after)
		}
		if n, _ := e.DB.CountRateHits(ctx, "address", m.EmailIndex); n != 0 {
			t.Errorf("%d exposure records left", n)
		}
		if len(e.eraser.calls) != 1 || e.eraser.calls[0] != m.ID {
			t.Errorf("eraser calls %v", e.eraser.calls)
		}
		// Mailed to the address the member had; downloadable by them only.
		if rm := e.mail.last(t); rm.To[0] != "hanako@example.jp" || !strings.Contains(rm.Text, string(receipt)) {
			t.Errorf("receipt mail: %+v", rm)
		} else if rm.FromName != "SampleMatch (株式会社サンプル)" || !strings.Contains(rm.Text[strings.LastIndex(rm.Text, "\n-- \n"):], "株式会社サンプル") {
			t.Errorf("receipt not signed by the operator: %q", rm.FromName)
		}
		if b, err := e.svc.ReceiptOf(ctx, m.ID, r.ID); err != nil || !bytes.Equal(b, receipt) {
			t.Errorf("owner download: %v", err)
		}
		if _, err := e.svc.ReceiptOf(ctx, other.ID, r.ID); kakunin.ErrorCode(err) != kakunin.ENOTFOUND {
			t.Errorf("another member's download: %v", err)
		}
		if wh := strings.Join(webhookTypes(e), " "); !strings.Contains(wh, "member.erasure_requested") || !strings.Contains(wh, "member.erased") {
			t.Errorf("webhooks %s", wh)
		}
		// A new request after completion is allowed (one open at a time).
		if _, err := e.svc.Request(ctx, m.ID, erasure.ViaSupport, erasure.Actor{Role: "support", Audit: "staff:stf_x"}, "host confirmed external id by phone"); err != nil {
			t.Errorf("request after completion: %v", err)
		}
	})
}

// Support on a member's behalf must say how identity was checked; an
// admin may refuse only for a reason the law allows.
func TestSupportRequestsAndRefusals(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		ctx := t.Context()
		e := newEnv(t, dsn)
		m, _ := e.member(t, "hanako@example.jp")
		support := erasure.Actor{Role: "support", Audit: "staff:stf_s"}
		if _, err := e.svc.Request(ctx, m.ID, erasure.ViaSupport, support, "  "); kakunin.ErrorCode(err) != kakunin.EINVALID {
			t.Errorf("no identity note: %v", err)
		}
		r, err := e.svc.Request(ctx, m.ID, erasure.ViaSupport, support, "called back on the number the host holds")
		if err != nil {
			t.Fatal(err)
		}
		admin := erasure.Actor{Role: "admin", Audit: "staff:stf_a"}
		if err := e.svc.Refuse(ctx, r.ID, admin, "we_do_not_feel_like_it", ""); kakunin.ErrorCode(err) != kakunin.EINVALID {
			t.Errorf("made-up reason: %v", err)
		}
		if err := e.svc.Refuse(ctx, r.ID, admin, "legal_hold", "hold 2026-17"); err != nil {
			t.Fatal(err)
		}
		got, _ := e.DB.ErasureRequest(ctx, r.ID)
		if got.State != erasure.Refused || got.RefusalReason != "legal_hold" {
			t.Errorf("refused request: %+v", got)
		}
		if err := e.svc.Verify(ctx, r.ID, support, "again"); kakunin.ErrorCode(err) != kakunin.ECONFLICT {
			t.Errorf("verify refused: %v", err)
		}
		steps, _ := e.DB.ErasureSteps(ctx, r.ID)
		if len(steps) != 2 || steps[0].Note != "called back on the number the host holds" || steps[1].State != erasure.Refused {
			t.Errorf("history %+v", steps)
		}
		var actions []string
		audit.Walk(ctx, e.DB, 0, func(ev audit.Event) error { actions = append(actions, ev.Action); return nil })
		if !strings.Contains(strings.Join(actions, " "), "erasure.requested erasure.refused") {
			t.Errorf("audit %v", actions)
		}
	})
}

package exposure_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/exposure"
	"github.com/kakunin/kakunin/internal/mail"
	"github.com/kakunin/kakunin/internal/servicetest"
	"github.com/kakunin/kakunin/internal/store"
)

const publicURL = "https://kakunin.example.jp"

// The incident of the fixtures: discovered 22 November 2026, its window
// 1–20 November (UTC).
var (
	windowFrom = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	windowTo   = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	discovered = time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC)
)

type fixture struct {
	env *servicetest.Env
	svc *exposure.Service
}

func newFixture(t *testing.T, dsn string) *fixture {
	t.Helper()
	env := servicetest.New(t, dsn, servicetest.Options{})
	svc := &exposure.Service{DB: env.DB, Keys: env.Vault, Jobs: env.Jobs, Audit: env.Audit, PublicURL: publicURL,
		Now: env.Clock.Now, Log: env.Log}
	return &fixture{env: env, svc: svc}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// member registers a member through the host's API path.
func (f *fixture) member(t *testing.T, ext, email string, locale kakunin.Locale) *kakunin.Member {
	t.Helper()
	m, _, err := f.env.Verifications.UpsertMember(context.Background(), ext, email, locale)
	must(t, err)
	return m
}

// document stores a document of memberID received at, with its epoch
// noted: readable to whoever holds the database, blobs and keys.
func (f *fixture) document(t *testing.T, memberID string, typ kakunin.DocumentType, at time.Time) {
	t.Helper()
	ctx := context.Background()
	db := f.env.DB
	v := &kakunin.Verification{ID: kakunin.NewID("ver"), MemberID: memberID, Status: kakunin.StatusSubmitted,
		ExpiresAt: at.Add(24 * time.Hour), CreatedAt: at.Add(-time.Minute), UpdatedAt: at}
	must(t, db.InsertVerification(ctx, v))
	r := &store.DocumentRecord{BlobKey: "documents/" + v.ID}
	r.ID, r.VerificationID, r.MemberID, r.Type = kakunin.NewID("doc"), v.ID, memberID, typ
	r.ContentType, r.Size, r.Width, r.Height = "image/jpeg", 1000, 640, 480
	r.Epoch = at.Format(time.DateOnly)
	r.WrappedKey, r.ReceivedAt, r.DestroyAfter = []byte("wrapped"), at, at.Add(7*24*time.Hour)
	_, err := db.NoteEpoch(ctx, r.Epoch, at.Add(-time.Hour))
	must(t, err)
	must(t, db.InsertDocument(ctx, r))
}

// incident records an incident over the fixture window.
func (f *fixture) incident(t *testing.T, status kakunin.IncidentStatus, held kakunin.IncidentHeld) *kakunin.Incident {
	t.Helper()
	in := &kakunin.Incident{ID: kakunin.NewID("inc"), Title: "test", DiscoveredAt: discovered, WindowFrom: windowFrom,
		WindowTo: windowTo, Held: held, Status: status, CreatedBy: "cli", CreatedAt: discovered, UpdatedAt: discovered}
	must(t, f.env.DB.InsertIncident(context.Background(), in))
	return in
}

// check submits a check from origin and returns the job it enqueued.
func (f *fixture) check(t *testing.T, origin, typed string, lang kakunin.Locale) exposure.CheckArgs {
	t.Helper()
	before := len(f.env.Jobs.All())
	must(t, f.svc.Check(audit.WithOrigin(context.Background(), origin), typed, lang))
	jobs := f.env.Jobs.All()
	if len(jobs) != before+1 {
		t.Fatalf("check enqueued %d jobs, want 1", len(jobs)-before)
	}
	args, ok := jobs[len(jobs)-1].Args.(exposure.CheckArgs)
	if !ok {
		t.Fatalf("job is %T, want exposure.CheckArgs", jobs[len(jobs)-1].Args)
	}
	return args
}

// recorder is a Mailer that keeps what it is given; fail, when set, is
// returned (once per message) instead of accepting.
type recorder struct {
	mu   sync.Mutex
	msgs []mail.Message
	fail []error
}

func (r *recorder) Send(ctx context.Context, msgs ...mail.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.fail) > 0 {
		err := r.fail[0]
		r.fail = r.fail[1:]
		return err
	}
	r.msgs = append(r.msgs, msgs...)
	return nil
}

func (r *recorder) all() []mail.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]mail.Message{}, r.msgs...)
}

var errTemporary = &mail.SendError{Session: &mail.Failure{Stage: "session"}, Total: 1}

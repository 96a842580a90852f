package review_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/samplecard"
	"github.com/kakunin/kakunin/internal/servicetest"
	"github.com/kakunin/kakunin/internal/store"
)

// env is the review service, with the document and verification services
// it works with, over a real database. Jobs land in river_job too, so a test
// can see that a decision and its jobs commit or roll back together.
type env struct {
	*servicetest.Env
	t   *testing.T
	ctx context.Context
}

// start is 2026-11-24 18:00 in Japan.
var start = servicetest.Start

const retainAfterDecision = 24 * time.Hour

func newEnv(t *testing.T, dsn string) *env {
	t.Helper()
	e := &env{Env: servicetest.New(t, dsn, servicetest.Options{Queue: true}), t: t, ctx: t.Context()}
	e.Review.RetainAfterDecision = retainAfterDecision
	e.Verifications.LinkTTL = time.Hour
	// The reviewers the tests name exist as staff, as they do in service:
	// Next locks the reviewer's row.
	ids := []string{alice, bob}
	for i := range 20 {
		ids = append(ids, fmt.Sprintf("stf_%02d", i))
	}
	for _, id := range ids {
		err := e.DB.InsertStaff(e.ctx, &store.StaffRecord{ID: id, Email: id + "@example.jp", Role: kakunin.RoleReviewer,
			PasswordHash: "unused", TOTPSealed: []byte{0}, CreatedAt: start})
		if err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// submit registers a member, opens a verification and uploads img for it.
// The clock moves a second after each, so uploads queue in order.
func (e *env) submit(img []byte) (*kakunin.Verification, *store.DocumentRecord) {
	e.t.Helper()
	ext := kakunin.NewID("ext")
	if _, _, err := e.Verifications.UpsertMember(e.ctx, ext, ext+"@example.jp", kakunin.LocaleJA); err != nil {
		e.t.Fatal(err)
	}
	v, _, err := e.Verifications.Create(e.ctx, ext)
	if err != nil {
		e.t.Fatal(err)
	}
	p, err := e.Documents.Store(e.ctx, v, bytes.NewReader(img))
	if err != nil {
		e.t.Fatal(err)
	}
	d, err := e.Documents.Commit(e.ctx, p, v, kakunin.DocDriversLicence)
	if err != nil {
		e.t.Fatal(err)
	}
	// The upload's verification.submitted webhook is the verification
	// package's to test; these tests count the jobs a decision makes.
	if _, err := e.DB.SQL().ExecContext(e.ctx, `DELETE FROM river_job WHERE kind = 'webhook_deliver'`); err != nil {
		e.t.Fatal(err)
	}
	e.Jobs.Reset()
	e.Clock.Add(time.Second)
	return v, d
}

func (e *env) verification(id string) *kakunin.Verification {
	e.t.Helper()
	v, err := e.DB.Verification(e.ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}

func (e *env) doc(id string) *store.DocumentRecord {
	e.t.Helper()
	d, err := e.DB.Document(e.ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return d
}

// next claims the next task for reviewer and fails the test if there is none.
func (e *env) next(reviewer string) *store.DocumentRecord {
	e.t.Helper()
	d, err := e.Review.Next(e.ctx, reviewer)
	if err != nil || d == nil {
		e.t.Fatalf("Next(%s) = %v, %v; want a task", reviewer, d, err)
	}
	return d
}

// riverJobs counts the durable jobs by kind.
func (e *env) riverJobs() map[string]int {
	e.t.Helper()
	rows, err := e.DB.SQL().QueryContext(e.ctx, `SELECT kind, COUNT(*) FROM river_job GROUP BY kind`)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			e.t.Fatal(err)
		}
		out[k] = n
	}
	if err := rows.Err(); err != nil {
		e.t.Fatal(err)
	}
	return out
}

// unchanged checks that a submitted verification assigned to reviewer is
// exactly as before a refused decision: undecided, still the reviewer's task,
// no job enqueued.
func (e *env) unchanged(v *kakunin.Verification, d *store.DocumentRecord, reviewer string) {
	e.t.Helper()
	got := e.verification(v.ID)
	if got.Status != kakunin.StatusSubmitted || got.Result != nil {
		e.t.Errorf("verification changed: status %s, result %+v", got.Status, got.Result)
	}
	gd := e.doc(d.ID)
	if gd.DecidedAt != nil || gd.ReviewerID != reviewer || !gd.DestroyAfter.Equal(d.DestroyAfter) {
		e.t.Errorf("document changed: decided %v, reviewer %q, destroy_after %v", gd.DecidedAt, gd.ReviewerID, gd.DestroyAfter)
	}
	if _, err := e.Review.Task(e.ctx, reviewer, d.ID); err != nil {
		e.t.Errorf("the task is no longer the reviewer's: %v", err)
	}
	if calls := e.Jobs.All(); len(calls) != 0 {
		e.t.Errorf("%d jobs enqueued", len(calls))
	}
	if n := e.riverJobs(); len(n) != 0 {
		e.t.Errorf("river_job holds %v", n)
	}
}

var samples = sync.OnceValues(func() ([][]byte, error) {
	card := samplecard.Card{Type: kakunin.DocDriversLicence, Name: "SATO HANAKO", BirthDate: time.Date(1990, 4, 1, 0, 0, 0, 0, time.UTC),
		Issuer: "TOKYO PREFECTURAL POLICE (SAMPLE)", Number: "SAMPLE-0000-1234", Seed: 1}
	j, err := samplecard.Render(card)
	if err != nil {
		return nil, err
	}
	card.Seed = 2
	p, err := samplecard.RenderPNG(card)
	if err != nil {
		return nil, err
	}
	return [][]byte{j, p}, nil
})

func sampleJPEG(t *testing.T) []byte {
	t.Helper()
	s, err := samples()
	if err != nil {
		t.Fatal(err)
	}
	return s[0]
}

func samplePNG(t *testing.T) []byte {
	t.Helper()
	s, err := samples()
	if err != nil {
		t.Fatal(err)
	}
	return s[1]
}

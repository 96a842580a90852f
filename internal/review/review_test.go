package review_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image/jpeg"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/document"
	"github.com/kakunin/kakunin/internal/review"
	"github.com/kakunin/kakunin/internal/servicetest"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/store/storetest"
	"github.com/kakunin/kakunin/internal/verification"
	"github.com/kakunin/kakunin/internal/webhook"
)

const alice, bob = "stf_alice", "stf_bob"

func TestTwoReviewersNeverGetTheSameDocument(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		_, d1 := e.submit(sampleJPEG(t))
		_, d2 := e.submit(sampleJPEG(t))
		_, d3 := e.submit(sampleJPEG(t))

		a1, b1, a2 := e.next(alice), e.next(bob), e.next(alice)
		if a1.ID != d1.ID || b1.ID != d2.ID || a2.ID != d3.ID {
			t.Fatalf("tasks = %s, %s, %s; want the oldest first: %s, %s, %s", a1.ID, b1.ID, a2.ID, d1.ID, d2.ID, d3.ID)
		}
		if d, err := e.Review.Next(e.ctx, bob); err != nil || d != nil {
			t.Fatalf("Next on an empty queue = %v, %v; want nil, nil", d, err)
		}
		mine, waiting, err := e.Review.Queue(e.ctx, alice)
		if err != nil || len(mine) != 2 || waiting != 0 {
			t.Fatalf("Queue(alice) = %d tasks, %d waiting, %v; want 2, 0", len(mine), waiting, err)
		}
	})
}

func TestReviewersClaimingAtOnceNeverShareADocument(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		e.Review.MaxAssigned = 10
		const docs, reviewers = 6, 12
		for range docs {
			e.submit(sampleJPEG(t))
		}
		var mu sync.Mutex
		owner := map[string]string{}
		var wg sync.WaitGroup
		for i := range reviewers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := fmt.Sprintf("stf_%02d", i)
				d, err := e.Review.Next(e.ctx, r)
				if err != nil {
					if kakunin.ErrorCode(err) != kakunin.ECONFLICT {
						t.Errorf("Next(%s): %v", r, err)
					}
					return
				}
				if d == nil {
					return
				}
				mu.Lock()
				defer mu.Unlock()
				if prev, ok := owner[d.ID]; ok {
					t.Errorf("document %s given to %s and %s", d.ID, prev, r)
				}
				owner[d.ID] = r
			}()
		}
		wg.Wait()
		for id, r := range owner {
			if got := e.doc(id).ReviewerID; got != r {
				t.Errorf("document %s is assigned to %q in the database, %q was told it is theirs", id, got, r)
			}
		}
		_, waiting, err := e.Review.Queue(e.ctx, "stf_none")
		if err != nil || len(owner)+waiting != docs {
			t.Errorf("%d claimed + %d waiting, want %d documents (%v)", len(owner), waiting, docs, err)
		}
	})
}

func TestATaskIsInvisibleToEveryoneButItsReviewer(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		v, d := e.submit(sampleJPEG(t))
		e.next(alice)

		if got, err := e.Review.Task(e.ctx, alice, d.ID); err != nil || got.ID != d.ID {
			t.Fatalf("Task(alice) = %v, %v", got, err)
		}
		if _, err := e.Review.Task(e.ctx, bob, d.ID); kakunin.ErrorCode(err) != kakunin.ENOTFOUND {
			t.Errorf("Task(bob) = %v, want ENOTFOUND", err)
		}
		for _, id := range []string{"doc_unknown", strings.Repeat("x", 65), ""} {
			if _, err := e.Review.Task(e.ctx, alice, id); kakunin.ErrorCode(err) != kakunin.ENOTFOUND {
				t.Errorf("Task(%q) = %v, want ENOTFOUND", id, err)
			}
		}
		if _, err := e.Review.Image(e.ctx, &store.StaffRecord{ID: bob, Email: "bob@staff.example"}, d.ID); kakunin.ErrorCode(err) != kakunin.ENOTFOUND {
			t.Errorf("Image(bob) = %v, want ENOTFOUND", err)
		}
		if err := e.Review.Approve(e.ctx, bob, d.ID, review.Approval{DocumentName: "運転免許証", Issuer: "東京都公安委員会", BirthDate: "1990-04-01"}); kakunin.ErrorCode(err) != kakunin.ENOTFOUND {
			t.Errorf("Approve(bob) = %v, want ENOTFOUND", err)
		}
		if err := e.Review.Reject(e.ctx, bob, d.ID, "unreadable"); kakunin.ErrorCode(err) != kakunin.ENOTFOUND {
			t.Errorf("Reject(bob) = %v, want ENOTFOUND", err)
		}
		if err := e.Review.Release(e.ctx, bob, d.ID); kakunin.ErrorCode(err) != kakunin.ENOTFOUND {
			t.Errorf("Release(bob) = %v, want ENOTFOUND", err)
		}
		e.unchanged(v, d, alice)
	})
}

func TestAReviewerHoldsAtMostMaxAssignedTasksAndReleaseGivesOneBack(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		_, d1 := e.submit(sampleJPEG(t))
		e.submit(sampleJPEG(t))
		_, d3 := e.submit(sampleJPEG(t))
		e.next(alice)
		e.next(alice)

		if d, err := e.Review.Next(e.ctx, alice); kakunin.ErrorCode(err) != kakunin.ECONFLICT || d != nil {
			t.Fatalf("third Next with MaxAssigned 2 = %v, %v; want ECONFLICT", d, err)
		}
		if _, waiting, _ := e.Review.Queue(e.ctx, alice); waiting != 1 {
			t.Fatalf("%d waiting after a refused Next, want 1", waiting)
		}

		if err := e.Review.Release(e.ctx, alice, d1.ID); err != nil {
			t.Fatalf("release: %v", err)
		}
		if _, err := e.Review.Task(e.ctx, alice, d1.ID); kakunin.ErrorCode(err) != kakunin.ENOTFOUND {
			t.Errorf("a released task is still alice's: %v", err)
		}
		if got := e.next(bob); got.ID != d1.ID {
			t.Errorf("bob got %s, want the released %s", got.ID, d1.ID)
		}
		if got := e.next(alice); got.ID != d3.ID {
			t.Errorf("alice got %s, want %s", got.ID, d3.ID)
		}
		if err := e.Review.Release(e.ctx, alice, d1.ID); kakunin.ErrorCode(err) != kakunin.ENOTFOUND {
			t.Errorf("releasing a task given to someone else = %v, want ENOTFOUND", err)
		}
	})
}

// decisionJobs checks that a decision enqueued exactly the image's
// destruction at destroyAt and the host's webhook of the new status, in one
// transaction, and that both were committed to river_job.
func decisionJobs(t *testing.T, e *env, v *kakunin.Verification, d *store.DocumentRecord, status kakunin.VerificationStatus, destroyAt time.Time) {
	t.Helper()
	calls := e.Jobs.All()
	if len(calls) != 2 {
		t.Fatalf("%d jobs enqueued, want 2 (destroy, webhook)", len(calls))
	}
	destroy, ok := calls[0].Args.(document.DestroyArgs)
	if !ok || destroy.DocumentID != d.ID {
		t.Errorf("first job = %#v, want DestroyArgs for %s", calls[0].Args, d.ID)
	}
	if calls[0].Opts == nil || !calls[0].Opts.ScheduledAt.Equal(destroyAt) {
		t.Errorf("destroy job options = %+v, want ScheduledAt %v", calls[0].Opts, destroyAt)
	}
	hook, ok := calls[1].Args.(webhook.DeliverArgs)
	if !ok || hook.Event.Type != "verification."+string(status) {
		t.Fatalf("second job = %#v, want a verification.%s webhook", calls[1].Args, status)
	}
	var data verification.EventData
	if err := json.Unmarshal(hook.Event.Data, &data); err != nil {
		t.Fatal(err)
	}
	if data.VerificationID != v.ID || data.Status != string(status) || data.Result == nil {
		t.Errorf("webhook data = %+v, want %s %s with its result", data, v.ID, status)
	}
	if calls[0].Tx == nil || calls[0].Tx != calls[1].Tx {
		t.Error("the destroy job and the webhook were enqueued in different transactions")
	}
	if got := e.riverJobs(); got["document_destroy"] != 1 || got[webhook.DeliverKind] != 1 || len(got) != 2 {
		t.Errorf("river_job kinds = %v, want one document_destroy and one %s", got, webhook.DeliverKind)
	}
	gd := e.doc(d.ID)
	if gd.DecidedAt == nil || !gd.DecidedAt.Equal(e.Clock.Now()) || !gd.DestroyAfter.Equal(destroyAt) {
		t.Errorf("document decided_at %v destroy_after %v, want %v and %v", gd.DecidedAt, gd.DestroyAfter, e.Clock.Now(), destroyAt)
	}
}

func TestApproveRecordsTheResultAndSchedulesDestructionAndWebhookTogether(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		v, d := e.submit(sampleJPEG(t))
		e.next(alice)
		e.Clock.Add(time.Minute)
		now := e.Clock.Now()
		name := strings.Repeat("運", 100) // 100 characters is the limit, counted in characters

		err := e.Review.Approve(e.ctx, alice, d.ID, review.Approval{DocumentName: "  " + name + " ", Issuer: "東京都公安委員会", BirthDate: " 1990-04-01 "})
		if err != nil {
			t.Fatalf("approve: %v", err)
		}
		got := e.verification(v.ID)
		want := &kakunin.Result{Adult: kakunin.Bool(true), Method: kakunin.MethodPhoto, DocumentType: kakunin.DocDriversLicence, DocumentName: name, Issuer: "東京都公安委員会",
			CheckedAt: now, CheckedBy: alice}
		if got.Status != kakunin.StatusApproved || got.Result == nil || !reflect.DeepEqual(got.Result, want) {
			t.Fatalf("verification = %s %+v, want approved %+v", got.Status, got.Result, want)
		}
		decisionJobs(t, e, v, d, kakunin.StatusApproved, now.Add(retainAfterDecision))

		// Deciding twice fails and changes nothing.
		e.Jobs.Reset()
		if err := e.Review.Approve(e.ctx, alice, d.ID, review.Approval{DocumentName: "x", Issuer: "y", BirthDate: "2015-01-01"}); err == nil {
			t.Error("a second Approve succeeded")
		}
		if err := e.Review.Reject(e.ctx, alice, d.ID, "other"); err == nil {
			t.Error("Reject after Approve succeeded")
		}
		if again := e.verification(v.ID); again.Status != kakunin.StatusApproved || !reflect.DeepEqual(again.Result, want) {
			t.Errorf("a second decision changed the result: %s %+v", again.Status, again.Result)
		}
		if len(e.Jobs.All()) != 0 {
			t.Errorf("a refused decision enqueued %d jobs", len(e.Jobs.All()))
		}
	})
}

func TestApproveOfAMinorRecordsNotAdult(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		// now is 2026-11-24 in Japan: born 2008-11-26 turns 18 in two days.
		v, d := e.submit(sampleJPEG(t))
		e.next(alice)
		if err := e.Review.Approve(e.ctx, alice, d.ID, review.Approval{DocumentName: "運転免許証", Issuer: "東京都公安委員会", BirthDate: "2008-11-26"}); err != nil {
			t.Fatal(err)
		}
		if got := e.verification(v.ID); got.Status != kakunin.StatusApproved || got.Result.Adult == nil || *got.Result.Adult {
			t.Fatalf("verification = %s adult=%v, want approved, not adult", got.Status, got.Result.Adult)
		}
	})
}

// TestOnlyUnderAgeRejectionsDecideAge: a host branching on result.adult
// must not read a bad photo as a minor. under_age records adult false;
// every other reason records no age at all (NULL, no "adult" in JSON).
func TestOnlyUnderAgeRejectionsDecideAge(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		for _, reason := range []string{review.ReasonUnderAge, "unreadable", "wrong_document", "expired_document"} {
			v, d := e.submit(sampleJPEG(t))
			e.next(alice)
			if err := e.Review.Reject(e.ctx, alice, d.ID, reason); err != nil {
				t.Fatalf("Reject(%s) = %v", reason, err)
			}
			got := e.verification(v.ID)
			js, _ := json.Marshal(got.Result)
			if reason == review.ReasonUnderAge {
				if got.Result.Adult == nil || *got.Result.Adult || !strings.Contains(string(js), `"adult":false`) {
					t.Fatalf("under_age result = %s, want adult false", js)
				}
				continue
			}
			if got.Result.Adult != nil || strings.Contains(string(js), "adult") {
				t.Fatalf("%s result = %s, want no adult field", reason, js)
			}
		}
	})
}

func TestTheBirthDateIsKeptOnlyWhenTheOperatorEnablesIt(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		for _, keep := range []bool{false, true} {
			e.Review.KeepBirthDate = keep
			v, d := e.submit(sampleJPEG(t))
			e.next(alice)
			if err := e.Review.Approve(e.ctx, alice, d.ID, review.Approval{DocumentName: "パスポート", Issuer: "外務省", BirthDate: "1990-04-01"}); err != nil {
				t.Fatal(err)
			}
			want := ""
			if keep {
				want = "1990-04-01"
			}
			if got := e.verification(v.ID).Result.BirthDate; got != want {
				t.Errorf("KeepBirthDate=%v: birth date stored = %q, want %q", keep, got, want)
			}
		}
	})
}

func TestABadApprovalIsInvalidAndChangesNothing(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		v, d := e.submit(sampleJPEG(t))
		e.next(alice)
		// now is 2026-11-24 18:00 in Japan.
		ok := review.Approval{DocumentName: "運転免許証", Issuer: "東京都公安委員会", BirthDate: "1990-04-01"}
		with := func(f func(*review.Approval)) review.Approval { a := ok; f(&a); return a }
		cases := map[string]review.Approval{
			"missing name":            with(func(a *review.Approval) { a.DocumentName = "" }),
			"blank name":              with(func(a *review.Approval) { a.DocumentName = " \t\n" }),
			"missing issuer":          with(func(a *review.Approval) { a.Issuer = "" }),
			"name of 101 characters":  with(func(a *review.Approval) { a.DocumentName = strings.Repeat("運", 101) }),
			"issuer of 101 letters":   with(func(a *review.Approval) { a.Issuer = strings.Repeat("a", 101) }),
			"name not UTF-8":          with(func(a *review.Approval) { a.DocumentName = "licence \xff\xfe" }),
			"missing birth date":      with(func(a *review.Approval) { a.BirthDate = "" }),
			"birth date tomorrow":     with(func(a *review.Approval) { a.BirthDate = "2026-11-25" }),
			"birth date next century": with(func(a *review.Approval) { a.BirthDate = "2126-01-01" }),
			"month 13":                with(func(a *review.Approval) { a.BirthDate = "1990-13-01" }),
			"30 February":             with(func(a *review.Approval) { a.BirthDate = "1990-02-30" }),
			"slashes":                 with(func(a *review.Approval) { a.BirthDate = "1990/04/01" }),
			"day first":               with(func(a *review.Approval) { a.BirthDate = "01-04-1990" }),
			"with a time":             with(func(a *review.Approval) { a.BirthDate = "1990-04-01T00:00:00Z" }),
			"before 1900":             with(func(a *review.Approval) { a.BirthDate = "1899-12-31" }),
			"bidi override in issuer": with(func(a *review.Approval) { a.Issuer = "東京都\u202e会員委" }),
			"newline inside a name":   with(func(a *review.Approval) { a.DocumentName = "運転\n免許証" }),
		}
		for name, a := range cases {
			t.Run(name, func(t *testing.T) {
				if err := e.Review.Approve(e.ctx, alice, d.ID, a); kakunin.ErrorCode(err) != kakunin.EINVALID {
					t.Fatalf("Approve = %v, want EINVALID", err)
				}
				e.unchanged(v, d, alice)
			})
		}
	})
}

func TestADecisionWhoseWebhookCannotBeEnqueuedChangesNothing(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		v, d := e.submit(sampleJPEG(t))
		e.next(alice)
		e.Jobs.Refuse(webhook.DeliverKind)
		err := e.Review.Approve(e.ctx, alice, d.ID, review.Approval{DocumentName: "運転免許証", Issuer: "東京都公安委員会", BirthDate: "1990-04-01"})
		if !errors.Is(err, servicetest.ErrRefused) {
			t.Fatalf("Approve = %v, want the enqueue error", err)
		}
		// The destroy job was enqueued before the webhook failed: it must
		// have been rolled back with the decision.
		e.Jobs.Reset()
		e.unchanged(v, d, alice)
	})
}

func TestRejectStoresAKnownReasonAndRefusesAnUnknownOne(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		v, d := e.submit(sampleJPEG(t))
		e.next(alice)
		for _, reason := range []string{"", "blurry", "Unreadable", "unreadable "} {
			if err := e.Review.Reject(e.ctx, alice, d.ID, reason); kakunin.ErrorCode(err) != kakunin.EINVALID {
				t.Errorf("Reject(%q) = %v, want EINVALID", reason, err)
			}
		}
		e.unchanged(v, d, alice)

		now := e.Clock.Now()
		if err := e.Review.Reject(e.ctx, alice, d.ID, "back_side"); err != nil {
			t.Fatalf("reject: %v", err)
		}
		got := e.verification(v.ID)
		want := kakunin.Result{Method: kakunin.MethodPhoto, DocumentType: kakunin.DocDriversLicence, RejectReason: "back_side", CheckedAt: now, CheckedBy: alice}
		if got.Status != kakunin.StatusRejected || got.Result == nil || *got.Result != want {
			t.Fatalf("verification = %s %+v, want rejected %+v", got.Status, got.Result, want)
		}
		decisionJobs(t, e, v, d, kakunin.StatusRejected, now.Add(retainAfterDecision))
	})
}

func TestTheImageIsAWatermarkedJPEGForTheAssignedReviewerOnly(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		_, d := e.submit(samplePNG(t))
		e.next(alice)
		reviewer := &store.StaffRecord{ID: alice, Email: "alice@staff.example"}

		img, err := e.Review.Image(e.ctx, reviewer, d.ID)
		if err != nil {
			t.Fatalf("image: %v", err)
		}
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(img))
		if err != nil {
			t.Fatalf("the image is not a JPEG: %v", err)
		}
		if cfg.Width != d.Width || cfg.Height != d.Height {
			t.Errorf("image is %dx%d, want the document's %dx%d", cfg.Width, cfg.Height, d.Width, d.Height)
		}
		plain, err := e.Documents.Open(e.ctx, e.doc(d.ID))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(img, plain) {
			t.Error("the reviewer got the stored image, not a watermarked copy")
		}

		if _, err := e.Review.Image(e.ctx, &store.StaffRecord{ID: bob, Email: "bob@staff.example"}, d.ID); kakunin.ErrorCode(err) != kakunin.ENOTFOUND {
			t.Errorf("Image for another reviewer = %v, want ENOTFOUND", err)
		}

		if err := e.Documents.Destroy(e.ctx, d.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Review.Image(e.ctx, reviewer, d.ID); kakunin.ErrorCode(err) != kakunin.ENOTFOUND && kakunin.ErrorCode(err) != kakunin.EGONE {
			t.Errorf("Image of a destroyed document = %v, want ENOTFOUND or EGONE", err)
		}
	})
}

func TestADecidedTaskLeavesTheReviewersQueue(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		_, d := e.submit(sampleJPEG(t))
		e.next(alice)
		if err := e.Review.Reject(e.ctx, alice, d.ID, "unreadable"); err != nil {
			t.Fatal(err)
		}
		mine, waiting, err := e.Review.Queue(e.ctx, alice)
		if err != nil || len(mine) != 0 || waiting != 0 {
			t.Errorf("Queue after the decision = %d mine, %d waiting, %v; want 0, 0", len(mine), waiting, err)
		}
		if _, err := e.Review.Image(e.ctx, &store.StaffRecord{ID: alice, Email: "alice@staff.example"}, d.ID); kakunin.ErrorCode(err) != kakunin.ENOTFOUND {
			t.Errorf("Image after the decision = %v, want ENOTFOUND", err)
		}
		if err := e.Review.Release(e.ctx, alice, d.ID); kakunin.ErrorCode(err) != kakunin.ENOTFOUND {
			t.Errorf("Release after the decision = %v, want ENOTFOUND", err)
		}
	})
}

func TestOneReviewerAskingManyTimesAtOnceStillHoldsAtMostMaxAssigned(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		e.Review.MaxAssigned = 1
		const n = 16
		for range n {
			e.submit(sampleJPEG(t))
		}
		var wg sync.WaitGroup
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := e.Review.Next(e.ctx, alice); err != nil && kakunin.ErrorCode(err) != kakunin.ECONFLICT {
					t.Errorf("Next: %v", err)
				}
			}()
		}
		wg.Wait()
		mine, _, err := e.Review.Queue(e.ctx, alice)
		if err != nil {
			t.Fatal(err)
		}
		if len(mine) > 1 {
			t.Fatalf("concurrent Next calls gave one reviewer %d tasks with MaxAssigned 1", len(mine))
		}
		if len(mine) != 1 {
			t.Errorf("reviewer holds %d tasks, want 1", len(mine))
		}
	})
}

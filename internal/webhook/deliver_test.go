package webhook_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/kakunin/kakunin/internal/jobs"
	"github.com/kakunin/kakunin/internal/jobs/jobstest"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/store/storetest"
	"github.com/kakunin/kakunin/internal/webhook"
)

// personal stands in for personal data inside a payload; it must never
// appear in an error or a log line.
const personal = "hanako@example.jp"

// quiet drops the worker's logs.
var quiet = slog.New(slog.DiscardHandler)

func newEvent(t *testing.T) webhook.Event {
	t.Helper()
	ev, err := webhook.NewEvent("verification.approved", map[string]any{"external_id": "m-42", "email": personal})
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func job(ev webhook.Event) *river.Job[webhook.DeliverArgs] {
	return &river.Job[webhook.DeliverArgs]{JobRow: &rivertype.JobRow{Attempt: 1}, Args: webhook.DeliverArgs{Event: ev}}
}

func TestEventBodyHasTheStandardWebhooksShape(t *testing.T) {
	ev := webhook.Event{
		ID:        "evt_1",
		Type:      "verification.approved",
		Timestamp: time.Date(2026, 11, 25, 9, 30, 0, 0, time.FixedZone("JST", 9*3600)),
		Data:      json.RawMessage(`{"adult": true}`),
	}
	body, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"verification.approved","timestamp":"2026-11-25T00:30:00Z","data":{"adult":true}}`
	if string(body) != want {
		t.Fatalf("body = %s, want %s", body, want)
	}
}

func TestNewEventHasRandomIDAndWholeSecondTime(t *testing.T) {
	a, b := newEvent(t), newEvent(t)
	if !strings.HasPrefix(a.ID, "evt_") || len(a.ID) != len("evt_")+32 {
		t.Fatalf("ID = %q, want evt_ and 32 hex digits", a.ID)
	}
	if a.ID == b.ID {
		t.Fatal("two events got the same ID")
	}
	if a.Timestamp.Nanosecond() != 0 {
		t.Fatalf("Timestamp %v has a fraction the body would drop", a.Timestamp)
	}
}

func TestDeliverArgsKeepTheEventIDThroughTheJobTable(t *testing.T) {
	ev := newEvent(t)
	stored, err := json.Marshal(webhook.DeliverArgs{Event: ev})
	if err != nil {
		t.Fatal(err)
	}
	var back webhook.DeliverArgs
	if err := json.Unmarshal(stored, &back); err != nil {
		t.Fatal(err)
	}
	if back.Event.ID != ev.ID || back.Event.Type != ev.Type || !back.Event.Timestamp.Equal(ev.Timestamp) {
		t.Fatalf("round trip = %+v, want %+v", back.Event, ev)
	}
	b1, _ := json.Marshal(ev)
	b2, _ := json.Marshal(back.Event)
	if !bytes.Equal(b1, b2) {
		t.Fatalf("body changed through the job table:\n%s\n%s", b1, b2)
	}
}

func TestWorkerWithoutURLCompletesAndSaysSo(t *testing.T) {
	var logs bytes.Buffer
	w, err := webhook.NewWorker("", "", slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Work(t.Context(), job(newEvent(t))); err != nil {
		t.Fatalf("Work = %v, want the job completed", err)
	}
	if !strings.Contains(logs.String(), "no webhook URL configured") {
		t.Fatalf("log = %q, want it to say no URL is configured", logs.String())
	}
	if strings.Contains(logs.String(), personal) {
		t.Fatalf("log carries the payload: %q", logs.String())
	}
}

func TestWorkerDoesNotFollowRedirects(t *testing.T) {
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere.Add(1) }))
	defer other.Close()
	host := httptest.NewServer(http.RedirectHandler(other.URL, http.StatusTemporaryRedirect))
	defer host.Close()

	w, err := webhook.NewWorker(host.URL, webhook.NewSecret(), quiet)
	if err != nil {
		t.Fatal(err)
	}
	err = w.Work(t.Context(), job(newEvent(t)))
	if err == nil || !strings.Contains(err.Error(), "307") {
		t.Fatalf("Work = %v, want a failure naming status 307", err)
	}
	if n := elsewhere.Load(); n != 0 {
		t.Fatalf("redirect target received %d requests, want 0", n)
	}
}

func TestWorkerErrorsCarryNoBodyAndNoURL(t *testing.T) {
	host := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.WriteHeader(http.StatusBadGateway)
		w.Write(body) // a careless receiver echoing the payload back
	}))
	defer host.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	for _, endpoint := range []string{host.URL + "/hook?token=s3cr3t", closed.URL + "/hook?token=s3cr3t"} {
		w, err := webhook.NewWorker(endpoint, webhook.NewSecret(), quiet)
		if err != nil {
			t.Fatal(err)
		}
		err = w.Work(t.Context(), job(newEvent(t)))
		if err == nil {
			t.Fatalf("Work to %s succeeded, want an error", endpoint)
		}
		if msg := err.Error(); strings.Contains(msg, personal) || strings.Contains(msg, "s3cr3t") {
			t.Fatalf("error %q leaks the payload or the URL", msg)
		}
	}
}

func TestNewWorkerRefusesBadConfiguration(t *testing.T) {
	for _, c := range []struct{ url, secret string }{
		{"ftp://host/hook", webhook.NewSecret()},
		{"/relative", webhook.NewSecret()},
		{"https://host/hook", "not-a-secret"},
	} {
		if _, err := webhook.NewWorker(c.url, c.secret, quiet); err == nil {
			t.Errorf("NewWorker(%q, …) succeeded, want an error", c.url)
		}
	}
}

type delivery struct {
	id     string
	status int
	verify error
	body   []byte
}

// TestEventIsRedeliveredAfterAFailureWithTheSameID drives the whole path:
// enqueue in a transaction, River picks the job up, the receiver fails the
// first attempt, River retries, and the receiver gets a verifiable event
// under the same webhook-id both times.
func TestEventIsRedeliveredAfterAFailureWithTheSameID(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		ctx := t.Context()
		secret := webhook.NewSecret()
		got := make(chan delivery, 8)
		var calls atomic.Int32
		host := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			status := http.StatusOK
			if calls.Add(1) == 1 {
				status = http.StatusInternalServerError
			}
			w.WriteHeader(status)
			got <- delivery{
				id:     r.Header.Get(webhook.HeaderID),
				status: status,
				verify: webhook.Verify(secret, r.Header, body, time.Now(), time.Minute),
				body:   body,
			}
		}))
		defer host.Close()

		// store.Open migrates: the event log's table is there.
		sdb, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer sdb.Close()
		db, dialect := sdb.SQL(), sdb.Dialect()
		log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
		if err := jobs.Migrate(ctx, db, dialect, log); err != nil {
			t.Fatal(err)
		}
		worker, err := webhook.NewWorker(host.URL, secret, log)
		if err != nil {
			t.Fatal(err)
		}
		workers := river.NewWorkers()
		river.AddWorker(workers, worker)
		q, err := jobs.New(ctx, db, dialect, workers, jobs.Config{Log: log, FetchPollInterval: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if err := q.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer func() {
			stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			q.Stop(stopCtx)
		}()

		ev := newEvent(t)
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := webhook.Enqueue(ctx, q, tx, ev); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}

		var ds []delivery
		deadline := time.After(20 * time.Second) // River's first back-off is about a second
		for len(ds) < 2 {
			select {
			case d := <-got:
				ds = append(ds, d)
			case <-deadline:
				t.Fatalf("got %d deliveries before the deadline, want 2", len(ds))
			}
		}
		for i, d := range ds {
			if d.verify != nil {
				t.Errorf("delivery %d: signature does not verify: %v", i+1, d.verify)
			}
			if d.id != ev.ID {
				t.Errorf("delivery %d: webhook-id %q, want %q", i+1, d.id, ev.ID)
			}
		}
		if ds[0].status != http.StatusInternalServerError || ds[1].status != http.StatusOK {
			t.Fatalf("statuses %d, %d; want 500 then 200", ds[0].status, ds[1].status)
		}
		var received webhook.Event
		if err := json.Unmarshal(ds[1].body, &received); err != nil {
			t.Fatalf("body: %v", err)
		}
		if received.Type != ev.Type || !received.Timestamp.Equal(ev.Timestamp) || !strings.Contains(string(received.Data), "m-42") {
			t.Fatalf("received %+v, want %+v", received, ev)
		}
		if !bytes.Equal(ds[0].body, ds[1].body) {
			t.Fatal("the retry sent a different body")
		}
	})
}

// TestDeliveryRunningAtACrashIsRescuedUnderTheSameID: the process was
// killed after the receiver got the event but before the job was marked
// done. After a restart the job is rescued within minutes and sent again
// under the same webhook-id, so a receiver that keeps the IDs it has seen
// (as Standard Webhooks asks) acts on the event exactly once.
func TestDeliveryRunningAtACrashIsRescuedUnderTheSameID(t *testing.T) {
	if testing.Short() {
		t.Skip("waits seconds for River's rescuer or scheduler; skipped under -short")
	}
	storetest.Engines(t, func(t *testing.T, dsn string) {
		ctx := t.Context()
		secret := webhook.NewSecret()
		got := make(chan string, 8)
		host := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			got <- r.Header.Get(webhook.HeaderID)
		}))
		defer host.Close()

		// store.Open migrates: the event log's table is there.
		sdb, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer sdb.Close()
		db, dialect := sdb.SQL(), sdb.Dialect()
		log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
		if err := jobs.Migrate(ctx, db, dialect, log); err != nil {
			t.Fatal(err)
		}
		worker, err := webhook.NewWorker(host.URL, secret, log)
		if err != nil {
			t.Fatal(err)
		}
		insertOnly, err := jobs.New(ctx, db, dialect, nil, jobs.Config{Log: log})
		if err != nil {
			t.Fatal(err)
		}
		ev := newEvent(t)
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := webhook.Enqueue(ctx, insertOnly, tx, ev); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		// The attempt the crash interrupted: the receiver has the event.
		if err := worker.Work(ctx, job(ev)); err != nil {
			t.Fatal(err)
		}
		if n, err := jobstest.Crash(ctx, db, dialect, webhook.DeliverKind, jobs.RescueStuckJobsAfter+30*time.Second); err != nil || n != 1 {
			t.Fatalf("crash: %d jobs, %v", n, err)
		}

		workers := river.NewWorkers()
		river.AddWorker(workers, worker)
		q, err := jobs.New(ctx, db, dialect, workers, jobs.Config{Log: log, FetchPollInterval: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if err := q.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer func() {
			stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			q.Stop(stopCtx)
		}()

		seen := map[string]int{}
		deadline := time.After(20 * time.Second)
		for len(seen) == 0 || seen[ev.ID] < 2 {
			select {
			case id := <-got:
				seen[id]++
			case <-deadline:
				t.Fatalf("deliveries by id %v before the deadline; want the crashed one and its rescue", seen)
			}
		}
		if len(seen) != 1 {
			t.Fatalf("deliveries by id %v: the rescue must reuse the event's id %s", seen, ev.ID)
		}
		// The rescued attempt finished the job: nothing is left to send again.
		waitState(t, db, webhook.DeliverKind, "completed")
	})
}

func waitState(t *testing.T, db *sql.DB, kind, state string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var got string
		if err := db.QueryRowContext(t.Context(), "SELECT state FROM river_job WHERE kind = '"+kind+"'").Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got == state {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s is %s, want %s", kind, got, state)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestDeliveryTimesOutBeforeItWouldBeRescued(t *testing.T) {
	w, err := webhook.NewWorker("", "", quiet)
	if err != nil {
		t.Fatal(err)
	}
	if d := w.Timeout(nil); d <= 0 || d > jobs.MaxJobTimeout {
		t.Fatalf("timeout %s, want in (0, %s]", d, jobs.MaxJobTimeout)
	}
}

package alert_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/riverqueue/river"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/alert"
	"github.com/kakunin/kakunin/internal/jobs"
	"github.com/kakunin/kakunin/internal/mail"
	"github.com/kakunin/kakunin/internal/mail/mailtest"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/store/storetest"
	"github.com/kakunin/kakunin/internal/webhook"
)

// hookReceiver is a webhook endpoint that keeps the events it verifies.
type hookReceiver struct {
	*httptest.Server
	secret string

	mu       sync.Mutex
	events   []webhook.Event
	unsigned int
}

func newHookReceiver(t *testing.T) *hookReceiver {
	t.Helper()
	h := &hookReceiver{secret: webhook.NewSecret()}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		defer h.mu.Unlock()
		if webhook.Verify(h.secret, r.Header, body, time.Now(), time.Minute) != nil {
			h.unsigned++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var ev webhook.Event
		if err := json.Unmarshal(body, &ev); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		h.events = append(h.events, ev)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookReceiver) Events() []webhook.Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]webhook.Event{}, h.events...)
}

// alertEnv is a database with staff, a job queue working the alert and
// webhook jobs, an SMTP server and two webhook endpoints: the host's, which
// must never see an alert, and the alert endpoint.
type alertEnv struct {
	db      *store.DB
	queue   *jobs.Queue
	smtp    *mailtest.Server
	host    *hookReceiver
	alerts  *hookReceiver
	logs    *mailtest.SyncBuffer
	staff   map[string]*store.StaffRecord // by name
	started bool
}

type envOptions struct {
	server   mailtest.Config
	disabled bool     // mail disabled: no SMTP URL
	staff    []string // names to create; default: everyone in defaultStaff
}

// defaultStaff are the staff of a test: two active admins, a locked admin
// and a reviewer. Only the first two may receive alerts.
var defaultStaff = []string{"admin-a", "admin-b", "admin-locked", "reviewer"}

const from = "kakunin@example.jp"

func newAlertEnv(t *testing.T, dsn string, o envOptions) *alertEnv {
	t.Helper()
	ctx := t.Context()
	e := &alertEnv{logs: &mailtest.SyncBuffer{}, staff: map[string]*store.StaffRecord{}}
	log := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))

	var err error
	if e.db, err = store.Open(ctx, dsn); err != nil {
		t.Fatal(err)
	}
	e.db.UseStaffEmails(storetest.StaffEmails{})
	t.Cleanup(func() { e.db.Close() })
	quiet := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	if err := jobs.Migrate(ctx, e.db.SQL(), e.db.Dialect(), quiet); err != nil {
		t.Fatal(err)
	}
	names := o.staff
	if names == nil {
		names = defaultStaff
	}
	for _, name := range names {
		e.addStaff(t, name)
	}

	url := ""
	if !o.disabled {
		e.smtp = mailtest.Start(t, o.server)
		url = e.smtp.URL("smtp", "", "")
	}
	mailer, err := mail.NewSMTPMailer(url, from, log, mail.WithTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	e.host, e.alerts = newHookReceiver(t), newHookReceiver(t)
	hook, err := webhook.NewRoutingWorker(
		webhook.Endpoint{URL: e.host.URL, Secret: e.host.secret},
		webhook.Endpoint{URL: e.alerts.URL, Secret: e.alerts.secret}, log)
	if err != nil {
		t.Fatal(err)
	}
	workers := river.NewWorkers()
	alert.Register(workers, mailer, e.db, log)
	river.AddWorker(workers, hook)
	e.queue, err = jobs.New(ctx, e.db.SQL(), e.db.Dialect(), workers, jobs.Config{Log: quiet, FetchPollInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !e.started {
			return
		}
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		e.queue.Stop(stopCtx)
	})
	return e
}

// addStaff creates a staff member; the name says the role and whether the
// account is locked. The address is name@example.jp.
func (e *alertEnv) addStaff(t *testing.T, name string) *store.StaffRecord {
	t.Helper()
	role := kakunin.RoleReviewer
	if strings.HasPrefix(name, "admin") {
		role = kakunin.RoleAdmin
	}
	rec := &store.StaffRecord{ID: kakunin.NewID("stf"), Email: name + "@example.jp", Role: role,
		PasswordHash: "x", TOTPSealed: []byte{0}, CreatedAt: time.Now().UTC()}
	if strings.Contains(name, "locked") {
		at := time.Now().UTC()
		rec.LockedAt = &at
	}
	if err := e.db.InsertStaff(t.Context(), rec); err != nil {
		t.Fatal(err)
	}
	e.staff[name] = rec
	return rec
}

func (e *alertEnv) start(t *testing.T) {
	t.Helper()
	if err := e.queue.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.started = true
}

func quotaAlert(staffID string) alert.Alert {
	return alert.Alert{Kind: alert.KindReadQuotaExceeded, StaffID: staffID, At: time.Now(),
		Detail: map[string]string{"reads": "50", "quota": "50", "window": "1h0m0s", "refused_document": "doc_x"}}
}

// raise raises a in a transaction of its own and commits it, or rolls it
// back when commit is false.
func (e *alertEnv) raise(t *testing.T, a alert.Alert, commit bool) {
	t.Helper()
	ctx := t.Context()
	tx, err := e.db.SQL().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := alert.Raise(ctx, e.queue, tx, a); err != nil {
		tx.Rollback()
		t.Fatalf("Raise: %v", err)
	}
	if !commit {
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
		return
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// settle waits until every job in the queue is completed: the fan-out
// queues the mail jobs before it completes, so nothing is left to happen.
func (e *alertEnv) settle(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second) // River's first retry comes after about a second
	for {
		var total, open int
		err := e.db.SQL().QueryRowContext(t.Context(),
			`SELECT COUNT(*), COALESCE(SUM(CASE WHEN state <> 'completed' THEN 1 ELSE 0 END), 0) FROM river_job`).Scan(&total, &open)
		if err != nil {
			t.Fatal(err)
		}
		if total > 0 && open == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d jobs still not completed", open, total)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (e *alertEnv) jobCount(t *testing.T) int {
	t.Helper()
	var n int
	if err := e.db.SQL().QueryRowContext(t.Context(), `SELECT COUNT(*) FROM river_job`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// jobErrors returns the errors River recorded for the alert mail jobs, as
// stored.
func (e *alertEnv) jobErrors(t *testing.T) string {
	t.Helper()
	q := `SELECT COALESCE(CAST(errors AS TEXT), '') FROM river_job WHERE kind = 'alert_mail'`
	if e.db.Dialect() == store.SQLite {
		q = `SELECT COALESCE(json(errors), '') FROM river_job WHERE kind = 'alert_mail'`
	}
	rows, err := e.db.SQL().QueryContext(t.Context(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var all []string
	for rows.Next() {
		var s sql.NullString
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		all = append(all, s.String)
	}
	return strings.Join(all, "\n")
}

// recipients returns the mailtest.Envelope recipients of every mail received.
func (e *alertEnv) recipients() []string {
	var to []string
	for _, m := range e.smtp.Mails() {
		to = append(to, mailtest.Lower(m.To)...)
	}
	slices.Sort(to)
	return to
}

// noAddressIn fails t if s holds any staff address.
func (e *alertEnv) noAddressIn(t *testing.T, what, s string) {
	t.Helper()
	for _, rec := range e.staff {
		if strings.Contains(s, rec.Email) {
			t.Fatalf("%s carries the address %s:\n%s", what, rec.Email, s)
		}
	}
}

func TestAlertIsMailedToEveryActiveAdminAndPostedToTheAlertEndpoint(t *testing.T) {
	t.Parallel()
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := newAlertEnv(t, dsn, envOptions{})
		e.start(t)
		reviewer := e.staff["reviewer"]
		e.raise(t, quotaAlert(reviewer.ID), true)
		e.settle(t)

		if got, want := e.recipients(), []string{"admin-a@example.jp", "admin-b@example.jp"}; !slices.Equal(got, want) {
			t.Fatalf("mailed to %v, want %v (not the reviewer, not the locked admin)", got, want)
		}
		for _, m := range e.smtp.Mails() {
			if len(m.To) != 1 {
				t.Fatalf("one mail went to %d addresses; each admin gets their own", len(m.To))
			}
			msg := mailtest.Parse(t, m.Data)
			const subject = "[kakunin] 閲覧上限超過のためスタッフアカウントをロックしました / Staff account locked: read quota exceeded"
			if msg.Subject != subject {
				t.Errorf("subject = %q, want %q", msg.Subject, subject)
			}
			if to := msg.Header.Get("To"); !strings.Contains(to, m.To[0]) {
				t.Errorf("To header %q is not the recipient's own address", to)
			}
			ja, en := strings.Index(msg.Body, "閲覧上限"), strings.Index(msg.Body, "read quota")
			if ja < 0 || en < 0 || ja > en {
				t.Errorf("body is not Japanese then English:\n%s", msg.Body)
			}
			for _, want := range []string{reviewer.ID, "alr_", "上限: 50", "Quota: 50", "doc_x"} {
				if !strings.Contains(msg.Body, want) {
					t.Errorf("body lacks %q:\n%s", want, msg.Body)
				}
			}
			if !strings.Contains(string(m.Data), reviewer.ID) {
				t.Errorf("the raw message does not show the staff ID; its ASCII should stay readable:\n%s", m.Data)
			}
			if strings.Contains(msg.Body, reviewer.Email) {
				t.Errorf("body names the reviewer by address; staff IDs only")
			}
			if msg.Header.Get("Auto-Submitted") != "auto-generated" || msg.Header.Get("Message-Id") == "" || msg.Header.Get("Date") == "" {
				t.Errorf("headers lack Auto-Submitted, Message-ID or Date: %v", msg.Header)
			}
		}

		if n := len(e.host.Events()); n != 0 {
			t.Fatalf("the host's endpoint got %d alert events, want 0", n)
		}
		evs := e.alerts.Events()
		if len(evs) != 1 || evs[0].Type != "alert.staff.read_quota_exceeded" {
			t.Fatalf("alert endpoint got %+v, want one alert.staff.read_quota_exceeded", evs)
		}
		var data struct {
			AlertID string            `json:"alert_id"`
			Kind    string            `json:"kind"`
			StaffID string            `json:"staff_id"`
			Detail  map[string]string `json:"detail"`
		}
		if err := json.Unmarshal(evs[0].Data, &data); err != nil {
			t.Fatal(err)
		}
		if data.StaffID != reviewer.ID || data.Kind != alert.KindReadQuotaExceeded || data.Detail["quota"] != "50" || !strings.HasPrefix(data.AlertID, "alr_") {
			t.Fatalf("event data = %s", evs[0].Data)
		}
		e.noAddressIn(t, "the event", string(evs[0].Data))
		e.noAddressIn(t, "the log", e.logs.String())
	})
}

func TestRecipientsAreTheAdminsAtSendTimeNotAtRaiseTime(t *testing.T) {
	t.Parallel()
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := newAlertEnv(t, dsn, envOptions{})
		e.raise(t, quotaAlert(e.staff["reviewer"].ID), true)
		// Between the raise and the sending, admin-b is locked and a new
		// admin joins.
		_, err := e.db.SQL().ExecContext(t.Context(), `UPDATE staff SET locked_at = $1 WHERE id = $2`, time.Now().UnixMicro(), e.staff["admin-b"].ID)
		if err != nil {
			t.Fatal(err)
		}
		e.addStaff(t, "admin-new")
		e.start(t)
		e.settle(t)
		if got, want := e.recipients(), []string{"admin-a@example.jp", "admin-new@example.jp"}; !slices.Equal(got, want) {
			t.Fatalf("mailed to %v, want %v", got, want)
		}
	})
}

func TestARolledBackAlertSendsNothing(t *testing.T) {
	t.Parallel()
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := newAlertEnv(t, dsn, envOptions{})
		e.start(t)
		e.raise(t, quotaAlert(e.staff["reviewer"].ID), false)
		if n := e.jobCount(t); n != 0 {
			t.Fatalf("%d jobs left by a rolled-back transaction, want 0", n)
		}
		// A committed alert after it goes through alone.
		e.raise(t, alert.Alert{Kind: alert.KindStaffLocked, StaffID: e.staff["reviewer"].ID}, true)
		e.settle(t)
		mails := e.smtp.Mails()
		if len(mails) != 2 {
			t.Fatalf("%d mails, want 2 (the committed alert to two admins)", len(mails))
		}
		for _, m := range mails {
			if s := mailtest.Parse(t, m.Data).Subject; !strings.Contains(s, "Staff account locked") || strings.Contains(s, "quota") {
				t.Fatalf("mail %q is not the committed alert", s)
			}
		}
		if evs := e.alerts.Events(); len(evs) != 1 || evs[0].Type != "alert.staff.locked" {
			t.Fatalf("alert endpoint got %+v, want only alert.staff.locked", evs)
		}
	})
}

func TestATemporaryRefusalIsRetriedUntilTheMailIsAccepted(t *testing.T) {
	t.Parallel()
	storetest.Engines(t, func(t *testing.T, dsn string) {
		var mu sync.Mutex
		refused := 0
		e := newAlertEnv(t, dsn, envOptions{server: mailtest.Config{Rcpt: func(to string) error {
			mu.Lock()
			defer mu.Unlock()
			if to == "admin-a@example.jp" && refused == 0 {
				refused++
				return mailtest.Refuse(451, smtp.EnhancedCode{4, 2, 2}, to) // mailbox full, for now
			}
			return nil
		}}})
		e.start(t)
		e.raise(t, quotaAlert(e.staff["reviewer"].ID), true)
		e.settle(t)

		if got, want := e.recipients(), []string{"admin-a@example.jp", "admin-b@example.jp"}; !slices.Equal(got, want) {
			t.Fatalf("mailed to %v, want each admin once: %v", got, want)
		}
		var attempts []int
		rows, err := e.db.SQL().QueryContext(t.Context(), `SELECT attempt FROM river_job WHERE kind = 'alert_mail' ORDER BY attempt`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var n int
			rows.Scan(&n)
			attempts = append(attempts, n)
		}
		rows.Close()
		if !slices.Equal(attempts, []int{1, 2}) {
			t.Fatalf("mail job attempts = %v, want [1 2]: only admin-a's job retried", attempts)
		}
		errs := e.jobErrors(t)
		if !strings.Contains(errs, "451") {
			t.Fatalf("recorded job errors %q do not show the 451", errs)
		}
		e.noAddressIn(t, "the recorded job errors", errs)
		e.noAddressIn(t, "the log", e.logs.String())
	})
}

func TestAPermanentRefusalOfOneAdminDoesNotBlockTheOthers(t *testing.T) {
	t.Parallel()
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := newAlertEnv(t, dsn, envOptions{server: mailtest.Config{Rcpt: func(to string) error {
			if to == "admin-a@example.jp" {
				return mailtest.Refuse(550, smtp.EnhancedCode{5, 1, 1}, to)
			}
			return nil
		}}})
		e.start(t)
		e.raise(t, quotaAlert(e.staff["reviewer"].ID), true)
		e.settle(t) // every job completed: the refusal is not retried

		if got := e.recipients(); !slices.Equal(got, []string{"admin-b@example.jp"}) {
			t.Fatalf("mailed to %v, want admin-b only", got)
		}
		logs := e.logs.String()
		if !strings.Contains(logs, "refused for good") || !strings.Contains(logs, e.staff["admin-a"].ID) {
			t.Fatalf("log does not name admin-a's staff ID as refused:\n%s", logs)
		}
		e.noAddressIn(t, "the log", logs)
	})
}

func TestAnAlertWithNoAdminToMailCompletesWithAWarning(t *testing.T) {
	t.Parallel()
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := newAlertEnv(t, dsn, envOptions{staff: []string{"reviewer", "admin-locked"}})
		e.start(t)
		e.raise(t, quotaAlert(e.staff["reviewer"].ID), true)
		e.settle(t)
		if n := len(e.smtp.Mails()); n != 0 {
			t.Fatalf("%d mails sent, want 0", n)
		}
		if !strings.Contains(e.logs.String(), "level=WARN") || !strings.Contains(e.logs.String(), "no active admin") {
			t.Fatalf("log has no warning about the missing admin:\n%s", e.logs.String())
		}
		if n := len(e.alerts.Events()); n != 1 {
			t.Fatalf("alert endpoint got %d events, want 1 all the same", n)
		}
	})
}

func TestAlertsCompleteWhenMailIsDisabled(t *testing.T) {
	t.Parallel()
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := newAlertEnv(t, dsn, envOptions{disabled: true})
		e.start(t)
		e.raise(t, quotaAlert(e.staff["reviewer"].ID), true)
		e.settle(t)
		if !strings.Contains(e.logs.String(), "mail disabled") {
			t.Fatalf("log does not say mail is disabled:\n%s", e.logs.String())
		}
		e.noAddressIn(t, "the log", e.logs.String())
		if n := len(e.alerts.Events()); n != 1 {
			t.Fatalf("alert endpoint got %d events, want 1", n)
		}
	})
}

func TestRaiseAlertRefusesABadKindOrNoTransaction(t *testing.T) {
	for _, kind := range []string{"", "Staff Locked", "staff.", ".staff", "staff/locked"} {
		if err := alert.Raise(t.Context(), nil, &sql.Tx{}, alert.Alert{Kind: kind}); err == nil {
			t.Errorf("Raise(kind %q) succeeded, want an error", kind)
		}
	}
	if err := alert.Raise(t.Context(), nil, nil, alert.Alert{Kind: alert.KindStaffLocked}); err == nil {
		t.Error("Raise without a transaction succeeded, want an error")
	}
}

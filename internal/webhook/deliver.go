package webhook

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/kakunin/kakunin/internal/jobs"
	"github.com/kakunin/kakunin/internal/store"
)

// DeliverKind is the River job kind of a webhook delivery. Stored jobs refer
// to it, so it must never change.
const DeliverKind = "webhook_deliver"

// DefaultMaxAttempts is how often a delivery is tried. With River's
// back-off (attempt⁴ seconds) twenty attempts span about six days, long
// enough to outlast a host's weekend outage.
const DefaultMaxAttempts = 20

// requestTimeout bounds one delivery attempt so that a host that hangs does
// not hold a worker.
const requestTimeout = 10 * time.Second

// Target names the endpoint a delivery goes to. It is kept in the job
// table, so its values must never change.
type Target string

const (
	// TargetHost is the host platform's endpoint (--webhook-url): what it
	// needs to know about its members' verifications.
	TargetHost Target = "host"
	// TargetAlerts is the operator's alert endpoint (--alert-webhook-url):
	// locked accounts and other alerts meant for the people running
	// kakunin, who are not necessarily the host's developers.
	TargetAlerts Target = "alerts"
)

// DeliverArgs is the job that sends one event.
type DeliverArgs struct {
	Event Event
	// Target is where the event goes; "" means TargetHost, which is also
	// what jobs stored before targets existed are read as.
	Target Target
}

// Kind implements river.JobArgs.
func (DeliverArgs) Kind() string { return DeliverKind }

// InsertOpts gives every delivery DefaultMaxAttempts, however it is enqueued.
func (DeliverArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: DefaultMaxAttempts}
}

// storedArgs is how DeliverArgs sits in the job table: the wire body plus
// the ID, which the body leaves out but every retry must reuse. A host
// delivery leaves target out, so its row reads the same as before targets
// existed.
type storedArgs struct {
	ID     string `json:"id"`
	Event  Event  `json:"event"`
	Target Target `json:"target,omitempty"`
}

func (a DeliverArgs) MarshalJSON() ([]byte, error) {
	s := storedArgs{ID: a.Event.ID, Event: a.Event, Target: a.Target}
	if s.Target == TargetHost {
		s.Target = ""
	}
	return json.Marshal(s)
}

func (a *DeliverArgs) UnmarshalJSON(b []byte) error {
	var s storedArgs
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	s.Event.ID = s.ID
	if s.Target == "" {
		s.Target = TargetHost
	}
	a.Event, a.Target = s.Event, s.Target
	return nil
}

// Enqueuer puts a job in the caller's transaction; *jobs.Queue is one.
type Enqueuer interface {
	InsertTx(ctx context.Context, tx *sql.Tx, args river.JobArgs, opts *river.InsertOpts) error
}

// The queue the service runs is an Enqueuer.
var _ Enqueuer = (*jobs.Queue)(nil)

// Enqueue schedules delivery of ev to the host inside tx, so the event is
// sent if and only if the change it reports commits.
func Enqueue(ctx context.Context, q Enqueuer, tx *sql.Tx, ev Event) error {
	return EnqueueTo(ctx, q, tx, TargetHost, ev)
}

// EnqueueTo is Enqueue for the endpoint named by target.
func EnqueueTo(ctx context.Context, q Enqueuer, tx *sql.Tx, target Target, ev Event) error {
	if ev.ID == "" || ev.Type == "" {
		return errors.New("enqueue webhook: event needs an ID and a type (use NewEvent)")
	}
	if target != TargetHost && target != TargetAlerts {
		return fmt.Errorf("enqueue webhook: unknown target %q", target)
	}
	// The event log (GET /api/v1/events) gets the event in the same
	// transaction as its delivery job.
	body, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("enqueue webhook: %w", err)
	}
	if err := store.InsertWebhookEventTx(ctx, tx, ev.ID, string(target), ev.Type, body, ev.Timestamp); err != nil {
		return err
	}
	return q.InsertTx(ctx, tx, DeliverArgs{Event: ev, Target: target}, nil)
}

// Redeliver sends a logged event of the host again, with the same
// webhook-id and body, as a new delivery job with a full retry schedule.
func Redeliver(ctx context.Context, db *store.DB, q Enqueuer, id string) (*store.WebhookEvent, error) {
	var out *store.WebhookEvent
	err := db.WithTx(ctx, func(tx *store.Tx) error {
		e, err := tx.WebhookEvent(ctx, string(TargetHost), id)
		if err != nil {
			return err
		}
		var ev Event
		if err := json.Unmarshal(e.Body, &ev); err != nil {
			return fmt.Errorf("redeliver %s: %w", id, err)
		}
		ev.ID = e.ID
		if err := tx.SetEventState(ctx, id, store.EventPending); err != nil {
			return err
		}
		e.State, out = store.EventPending, e
		return q.InsertTx(ctx, tx.SQL(), DeliverArgs{Event: ev, Target: TargetHost}, nil)
	})
	return out, err
}

// Worker sends DeliverArgs jobs to the endpoint of their target: the
// host's, or the operator's alert endpoint. Any answer but 2xx, or no
// answer, fails the attempt and River retries it later.
type Worker struct {
	river.WorkerDefaults[DeliverArgs]
	URL         string       // the host's endpoint; "" completes host jobs unsent
	Secret      string       // whsec_ secret shared with the host
	AlertURL    string       // the alert endpoint; "" completes alert jobs unsent
	AlertSecret string       // whsec_ secret shared with the alert receiver
	Client      *http.Client // nil means NewHTTPClient()
	Log         *slog.Logger
	// Events, when set, has each attempt recorded in the event log.
	Events *store.DB
	// Secrets, when set, gives the active signing secrets of a target
	// stored by kakunin webhook-secret rotate (SecretRing.Active); each
	// delivery is signed with all of them. None stored: the Endpoint's.
	Secrets func(ctx context.Context, target Target) ([]string, error)
}

// Endpoint is where one target's events are posted and the secret they
// are signed with.
type Endpoint struct {
	URL    string
	Secret string
}

// NewWorker returns a Worker for the host's url and secret only: alert
// deliveries are dropped with an info log. Use NewRoutingWorker to send
// them somewhere.
func NewWorker(endpoint, secret string, log *slog.Logger) (*Worker, error) {
	return NewRoutingWorker(Endpoint{URL: endpoint, Secret: secret}, Endpoint{}, log)
}

// NewRoutingWorker returns a Worker that posts host deliveries to host and
// alert deliveries to alerts, checking both now rather than at the first
// delivery. An empty URL is allowed: that target's events are then dropped
// with an info log rather than piling up. An alert never falls back to the
// host's endpoint here: whether it should is the configuration's decision
// (--alert-webhook-url defaults to --webhook-url there).
func NewRoutingWorker(host, alerts Endpoint, log *slog.Logger) (*Worker, error) {
	if log == nil {
		return nil, errors.New("webhook: no logger")
	}
	if err := checkEndpoint(host); err != nil {
		return nil, err
	}
	if err := checkEndpoint(alerts); err != nil {
		return nil, fmt.Errorf("alert %w", err)
	}
	return &Worker{URL: host.URL, Secret: host.Secret, AlertURL: alerts.URL, AlertSecret: alerts.Secret,
		Client: NewHTTPClient(), Log: log}, nil
}

func checkEndpoint(e Endpoint) error {
	if e.URL == "" {
		return nil
	}
	u, err := url.Parse(e.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return errors.New("webhook: URL must be an absolute http or https URL")
	}
	_, err = decodeSecret(e.Secret)
	return err
}

// endpoint returns where a delivery to target goes. An unknown target
// (a job written by a newer version) is an error, not a guess: sending an
// alert to the host, or the reverse, would hand it to the wrong people.
func (w *Worker) endpoint(target Target) (Endpoint, error) {
	switch target {
	case TargetHost, "":
		return Endpoint{URL: w.URL, Secret: w.Secret}, nil
	case TargetAlerts:
		return Endpoint{URL: w.AlertURL, Secret: w.AlertSecret}, nil
	}
	return Endpoint{}, fmt.Errorf("unknown webhook target %q", target)
}

// NewHTTPClient returns the client deliveries use: a 10s limit per attempt,
// and redirects not followed, since a signed request re-sent to wherever a
// redirect points could hand the event to someone other than the host.
func NewHTTPClient() *http.Client {
	return &http.Client{
		Timeout: requestTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// Timeout bounds a whole attempt, request and bookkeeping, well inside
// the rescue time (jobs.MaxJobTimeout): an attempt still running when its
// job is rescued would be delivered twice at once.
func (w *Worker) Timeout(*river.Job[DeliverArgs]) time.Duration { return 3 * requestTimeout }

// Work makes one delivery attempt. It signs at the time of the attempt, so
// a retry hours later still passes the receiver's timestamp tolerance; the
// ID and body are the same every time.
func (w *Worker) Work(ctx context.Context, job *river.Job[DeliverArgs]) error {
	ev := job.Args.Event
	target := job.Args.Target
	if target == "" {
		target = TargetHost
	}
	to, err := w.endpoint(target)
	if err != nil {
		return fmt.Errorf("webhook %s: %w", ev.ID, err)
	}
	if to.URL == "" {
		msg := "no webhook URL configured"
		if target == TargetAlerts {
			msg = "no alert webhook URL configured"
		}
		w.Log.InfoContext(ctx, msg, "event_id", ev.ID, "event_type", ev.Type, "target", string(target))
		w.record(ctx, job, 0, nil)
		return nil
	}
	status, err := w.send(ctx, job, target, to)
	w.record(ctx, job, status, err)
	return err
}

// record notes an attempt in the event log, if the worker keeps one. A
// failure to note it is logged, not returned: the delivery itself counts.
func (w *Worker) record(ctx context.Context, job *river.Job[DeliverArgs], status int, sendErr error) {
	if w.Events == nil {
		return
	}
	state := store.EventDelivered
	switch {
	case status == 0 && sendErr == nil:
		state = store.EventUnsent
	case sendErr != nil:
		state = store.EventPending
		max := job.MaxAttempts
		if max == 0 {
			max = DefaultMaxAttempts
		}
		if job.Attempt >= max {
			state = store.EventFailed
		}
	}
	if err := w.Events.RecordEventAttempt(context.WithoutCancel(ctx), job.Args.Event.ID, status, state, time.Now()); err != nil {
		w.Log.ErrorContext(ctx, "webhook attempt not logged", "event_id", job.Args.Event.ID, "err", err)
	}
}

// secretsOf returns every active secret of target: those Secrets gives
// (rotation's), or the configured one while rotation has stored none.
func (w *Worker) secretsOf(ctx context.Context, target Target, configured string) ([]string, error) {
	if w.Secrets != nil {
		stored, err := w.Secrets(ctx, target)
		if err != nil {
			return nil, err
		}
		if len(stored) > 0 {
			return stored, nil
		}
	}
	if configured == "" {
		return nil, nil
	}
	return []string{configured}, nil
}

// send makes the HTTP request of one attempt and returns the receiver's
// status (0 for none).
func (w *Worker) send(ctx context.Context, job *river.Job[DeliverArgs], target Target, to Endpoint) (int, error) {
	ev := job.Args.Event
	body, err := json.Marshal(ev)
	if err != nil {
		return 0, fmt.Errorf("encode webhook %s: %w", ev.ID, err)
	}
	now := time.Now()
	secrets, err := w.secretsOf(ctx, target, to.Secret)
	if err != nil {
		return 0, fmt.Errorf("webhook %s: signing secrets: %w", ev.ID, err)
	}
	// Standard Webhooks: several signatures, space-separated, one per
	// active secret, so a receiver knowing any one of them accepts it.
	sigs := make([]string, 0, len(secrets))
	for _, secret := range secrets {
		sig, err := Sign(secret, ev.ID, now, body)
		if err != nil {
			return 0, fmt.Errorf("sign webhook %s: %w", ev.ID, err)
		}
		sigs = append(sigs, sig)
	}
	if len(sigs) == 0 {
		return 0, fmt.Errorf("webhook %s: no signing secret", ev.ID)
	}
	sig := strings.Join(sigs, " ")
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, to.URL, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("webhook %s: build request: %w", ev.ID, errors.New("invalid URL"))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderID, ev.ID)
	req.Header.Set(HeaderTimestamp, fmt.Sprint(now.Unix()))
	req.Header.Set(HeaderSignature, sig)

	client := w.Client
	if client == nil {
		client = NewHTTPClient()
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("webhook %s: %w", ev.ID, withoutURL(err))
	}
	// Read a little of the body so the connection can be reused; never
	// keep or log it.
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("webhook %s: receiver answered %d", ev.ID, resp.StatusCode)
	}
	w.Log.DebugContext(ctx, "webhook delivered", "event_id", ev.ID, "event_type", ev.Type, "target", string(target),
		"status", resp.StatusCode, "attempt", job.Attempt)
	return resp.StatusCode, nil
}

// withoutURL drops the request URL from a transport error: River stores and
// logs job errors, and a webhook URL may carry a token in its path or query.
func withoutURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return errors.New("request timed out")
		}
		return ue.Err
	}
	return err
}

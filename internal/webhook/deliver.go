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
	"time"

	"github.com/riverqueue/river"

	"github.com/kakunin/kakunin/internal/jobs"
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

// DeliverArgs is the job that sends one event.
type DeliverArgs struct {
	Event Event
}

// Kind implements river.JobArgs.
func (DeliverArgs) Kind() string { return DeliverKind }

// InsertOpts gives every delivery DefaultMaxAttempts, however it is enqueued.
func (DeliverArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: DefaultMaxAttempts}
}

// storedArgs is how DeliverArgs sits in the job table: the wire body plus
// the ID, which the body leaves out but every retry must reuse.
type storedArgs struct {
	ID    string `json:"id"`
	Event Event  `json:"event"`
}

func (a DeliverArgs) MarshalJSON() ([]byte, error) {
	return json.Marshal(storedArgs{ID: a.Event.ID, Event: a.Event})
}

func (a *DeliverArgs) UnmarshalJSON(b []byte) error {
	var s storedArgs
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	s.Event.ID = s.ID
	a.Event = s.Event
	return nil
}

// Enqueue schedules delivery of ev inside tx, so the event is sent if and
// only if the change it reports commits.
func Enqueue(ctx context.Context, q *jobs.Queue, tx *sql.Tx, ev Event) error {
	if ev.ID == "" || ev.Type == "" {
		return errors.New("enqueue webhook: event needs an ID and a type (use NewEvent)")
	}
	return q.InsertTx(ctx, tx, DeliverArgs{Event: ev}, nil)
}

// Worker sends DeliverArgs jobs to the host's endpoint. Any answer but 2xx,
// or no answer, fails the attempt and River retries it later.
type Worker struct {
	river.WorkerDefaults[DeliverArgs]
	URL    string       // the host's endpoint; "" completes jobs unsent
	Secret string       // whsec_ secret shared with the host
	Client *http.Client // nil means NewHTTPClient()
	Logger *slog.Logger // nil means slog.Default()
}

// NewWorker returns a Worker for url and secret, checking both now rather
// than at the first delivery. An empty url is allowed: events are then
// dropped with an info log rather than piling up.
func NewWorker(endpoint, secret string, logger *slog.Logger) (*Worker, error) {
	if endpoint != "" {
		u, err := url.Parse(endpoint)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, errors.New("webhook: URL must be an absolute http or https URL")
		}
		if _, err := decodeSecret(secret); err != nil {
			return nil, err
		}
	}
	return &Worker{URL: endpoint, Secret: secret, Client: NewHTTPClient(), Logger: logger}, nil
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

// Work makes one delivery attempt. It signs at the time of the attempt, so
// a retry hours later still passes the receiver's timestamp tolerance; the
// ID and body are the same every time.
func (w *Worker) Work(ctx context.Context, job *river.Job[DeliverArgs]) error {
	logger := w.Logger
	if logger == nil {
		logger = slog.Default()
	}
	ev := job.Args.Event
	if w.URL == "" {
		logger.InfoContext(ctx, "no webhook URL configured", "event_id", ev.ID, "event_type", ev.Type)
		return nil
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode webhook %s: %w", ev.ID, err)
	}
	now := time.Now()
	sig, err := Sign(w.Secret, ev.ID, now, body)
	if err != nil {
		return fmt.Errorf("sign webhook %s: %w", ev.ID, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook %s: build request: %w", ev.ID, errors.New("invalid URL"))
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
		return fmt.Errorf("webhook %s: %w", ev.ID, withoutURL(err))
	}
	// Read a little of the body so the connection can be reused; never
	// keep or log it.
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("webhook %s: receiver answered %d", ev.ID, resp.StatusCode)
	}
	logger.DebugContext(ctx, "webhook delivered", "event_id", ev.ID, "event_type", ev.Type, "status", resp.StatusCode, "attempt", job.Attempt)
	return nil
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

package massmail

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/brand"
	"github.com/kakunin/kakunin/internal/incident"
	"github.com/kakunin/kakunin/internal/mail"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/vault"
)

// Opener unseals a member's address: the vault.
type Opener interface {
	OpenField(purpose string, ciphertext []byte) ([]byte, error)
}

// Limiter throttles sending: WaitN blocks until n more messages may go.
// *rate.Limiter is one; tests give their own clock.
type Limiter interface {
	WaitN(ctx context.Context, n int) error
	Burst() int
}

// NewLimiter returns a Limiter letting perSecond messages a second through,
// in bursts of at most one second's worth; nil (no throttle) when
// perSecond is 0 or less.
func NewLimiter(perSecond float64) Limiter {
	if perSecond <= 0 {
		return nil
	}
	return rate.NewLimiter(rate.Limit(perSecond), max(1, int(math.Ceil(perSecond))))
}

// Retry schedule defaults.
const (
	DefaultMaxAttempts = 10
	FirstRetry         = time.Minute
	MaxRetry           = 6 * time.Hour
)

// Backoff is how long to wait before attempt+1 after attempt failed
// (attempt counts from 1): FirstRetry doubling each time up to MaxRetry,
// spread by ±25% so that rows failed together do not all come back in the
// same second. jitter is in [0, 1).
func Backoff(attempt int, jitter float64) time.Duration {
	d := MaxRetry
	if attempt < 20 {
		d = min(FirstRetry<<max(attempt-1, 0), MaxRetry)
	}
	d = time.Duration(float64(d) * (0.75 + 0.5*jitter))
	return min(d, MaxRetry)
}

// Sender enqueues started campaigns and sends their mail. Run runs it;
// EnqueueOnce and SendOnce are its steps, for tests and tools.
type Sender struct {
	// Brand is the From name and the signature of every letter.
	Brand  brand.Brand
	DB     *store.DB
	Keys   Opener
	Mailer mail.Mailer
	// Limiter throttles all of this Sender's connections together; nil
	// sends as fast as the server takes it. With several replicas, each
	// has its own.
	Limiter Limiter
	// Connections is how many SMTP sessions send at once (default 1).
	Connections int
	// Batch is the most messages claimed and sent in one SMTP session
	// (default 100); with a Limiter, at most its burst.
	Batch int
	// MaxAttempts: a message still refused for a temporary reason after
	// this many attempts is failed (default DefaultMaxAttempts).
	MaxAttempts int
	// Lease is how long a claimed batch is held before another sender may
	// take it (default 10 minutes: longer than any SMTP session).
	Lease time.Duration
	// Poll is how often an idle sender looks for work (default 5 s).
	Poll time.Duration
	// EnqueueBatch is the rows inserted per transaction (default 10,000).
	EnqueueBatch int
	Now          func() time.Time
	Jitter       func() float64 // in [0, 1); default math/rand
	Audit        *audit.Log
	Log          *slog.Logger // required
	// PublicURL and Contact fill {{.NoticesURL}} and {{.Contact}}.
	PublicURL string
	Contact   string
	// OnEnqueue, when set, is told of enqueuing progress (the benchmark
	// prints it).
	OnEnqueue func(campaignID string, enqueued, target int64)
	// OnFinish, when set, is told that an incident's campaign has nothing
	// left to send (serve records on the incident that its members were
	// notified). An error is logged: the campaign is finished regardless.
	OnFinish func(ctx context.Context, incidentID string, at time.Time) error

	mu        sync.Mutex
	templates map[string]*templates // by campaign ID: a started campaign's text never changes
}

func (s *Sender) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Sender) lease() time.Duration {
	if s.Lease > 0 {
		return s.Lease
	}
	return 10 * time.Minute
}

func (s *Sender) batch() int {
	n := s.Batch
	if n <= 0 {
		n = 100
	}
	if s.Limiter != nil {
		n = min(n, s.Limiter.Burst())
	}
	return max(n, 1)
}

func (s *Sender) maxAttempts() int {
	if s.MaxAttempts > 0 {
		return s.MaxAttempts
	}
	return DefaultMaxAttempts
}

func (s *Sender) jitter() float64 {
	if s.Jitter != nil {
		return s.Jitter()
	}
	return rand.Float64()
}

// Run enqueues and sends until ctx ends, with Connections sessions at once,
// then returns once the batches in flight are recorded.
func (s *Sender) Run(ctx context.Context) {
	poll := s.Poll
	if poll <= 0 {
		poll = 5 * time.Second
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for ctx.Err() == nil {
			did, err := s.EnqueueOnce(ctx)
			if err != nil && ctx.Err() == nil {
				s.Log.ErrorContext(ctx, "notification: enqueue failed", "error", err)
			}
			if !did || err != nil {
				sleep(ctx, poll)
			}
		}
	})
	workers := max(s.Connections, 1)
	if s.Mailer == nil {
		// Marking mail sent that went nowhere would be worse than not
		// sending: rows wait until a mail server is configured.
		s.Log.WarnContext(ctx, "notification: no mail server (--smtp-url): campaigns are enqueued but not sent")
		workers = 0
	}
	for range workers {
		wg.Go(func() {
			pause := time.Duration(0)
			for ctx.Err() == nil {
				n, err := s.SendOnce(ctx)
				switch {
				case errors.Is(err, errSession):
					// The server is unreachable or refuses the session:
					// wait before trying the next batch, longer each time.
					pause = min(max(2*pause, 10*time.Second), 5*time.Minute)
					s.Log.WarnContext(ctx, "notification: mail server unavailable", "error", err, "retry_in", pause.String())
					sleep(ctx, pause)
				case err != nil:
					if ctx.Err() == nil {
						s.Log.ErrorContext(ctx, "notification: send failed", "error", err)
					}
					sleep(ctx, poll)
				case n == 0:
					pause = 0
					sleep(ctx, poll)
				default:
					pause = 0
				}
			}
		})
	}
	wg.Wait()
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// EnqueueOnce writes the outbox rows of one started campaign not yet fully
// enqueued, if any, and reports whether it found one. Rows go in batched
// transactions; the campaign's enqueue lease is renewed with each, so a
// sender that dies leaves the rest to another once the lease runs out,
// and rows already written are not written twice.
func (s *Sender) EnqueueOnce(ctx context.Context) (bool, error) {
	now := s.now()
	c, err := s.DB.ClaimEnqueue(ctx, now, now.Add(s.lease()))
	if err != nil || c == nil {
		return false, err
	}
	inc, err := s.DB.Incident(ctx, c.IncidentID)
	if err != nil {
		return true, err
	}
	q, err := incident.QueryOf(inc)
	if err != nil {
		return true, err
	}
	// On SQLite the scope query holds the one connection while it runs:
	// collect the IDs first (some 50 MB for 1.7 million), then insert.
	var ids []string
	if err := s.DB.ScopeMemberIDs(ctx, q.From, q.To, func(id string) error { ids = append(ids, id); return nil }); err != nil {
		return true, fmt.Errorf("enqueue campaign %s: %w", c.ID, err)
	}
	if err := s.DB.SetCampaignTarget(ctx, c.ID, int64(len(ids))); err != nil {
		return true, err
	}
	per := s.EnqueueBatch
	if per <= 0 {
		per = 10_000
	}
	enqueued := c.Enqueued
	for len(ids) > 0 {
		n := min(per, len(ids))
		now := s.now()
		added, err := s.DB.EnqueueNotifications(ctx, c.ID, ids[:n], now, now.Add(s.lease()))
		if err != nil {
			return true, fmt.Errorf("enqueue campaign %s: %w", c.ID, err)
		}
		enqueued += added
		ids = ids[n:]
		if s.OnEnqueue != nil {
			s.OnEnqueue(c.ID, enqueued, enqueued+int64(len(ids)))
		}
	}
	if err := s.DB.FinishEnqueue(ctx, c.ID, s.now()); err != nil {
		return true, err
	}
	s.Log.InfoContext(ctx, "notification: campaign enqueued", "campaign", c.ID, "incident", c.IncidentID, "rows", enqueued)
	return true, s.finishIfDone(ctx, c.ID)
}

// errSession marks a batch none of which reached the server.
var errSession = errors.New("no SMTP session")

// SendOnce sends one batch of due messages of the oldest sending campaign
// that has any, and returns how many rows it settled or rescheduled (0:
// nothing was due). A batch the server could not take at all is retried
// later and reported with an error wrapping errSession.
func (s *Sender) SendOnce(ctx context.Context) (int, error) {
	campaigns, err := s.DB.ActiveCampaigns(ctx)
	if err != nil {
		return 0, err
	}
	for _, c := range campaigns {
		now := s.now()
		rows, err := s.DB.ClaimNotifications(ctx, c.ID, now, now.Add(s.lease()), s.batch())
		if err != nil {
			return 0, err
		}
		if len(rows) == 0 {
			if err := s.finishIfDone(ctx, c.ID); err != nil {
				return 0, err
			}
			continue
		}
		return len(rows), s.send(ctx, c, rows)
	}
	return 0, nil
}

func (s *Sender) templatesOf(c *store.Campaign) (*templates, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ts, ok := s.templates[c.ID]; ok {
		return ts, nil
	}
	ts, err := parse(TextOf(c))
	if err != nil {
		return nil, err
	}
	if s.templates == nil {
		s.templates = map[string]*templates{}
	}
	s.templates[c.ID] = ts
	return ts, nil
}

// MessageID is the stable Message-ID (left of the @) of a campaign's mail
// to a member: the same on every attempt, so that a copy sent twice (a
// crash after the server accepted it, before it was recorded) shows as
// one. It is a hash, so it says nothing about the member or how many
// were written to.
func MessageID(campaignID, memberID string) string {
	sum := sha256.Sum256([]byte("kakunin-notification/v1\x00" + campaignID + "\x00" + memberID))
	return "n." + hex.EncodeToString(sum[:16])
}

// send writes, throttles, sends and records one claimed batch.
func (s *Sender) send(ctx context.Context, c *store.Campaign, rows []store.Notification) error {
	ts, err := s.templatesOf(c)
	if err != nil {
		return fmt.Errorf("campaign %s: %w", c.ID, err)
	}
	inc, err := s.DB.Incident(ctx, c.IncidentID)
	if err != nil {
		return err
	}
	facts, err := FactsOf(ctx, s.Audit, inc)
	if err != nil {
		return err
	}
	noticesURL := strings.TrimRight(s.PublicURL, "/") + "/notices"
	outcomes := make([]store.NotificationOutcome, 0, len(rows))
	var msgs []mail.Message
	var sending []int // index in outcomes of each message
	for _, r := range rows {
		o := store.NotificationOutcome{ID: r.ID}
		if r.Left {
			// A member who left has no address any more: nothing to send.
			o.State = store.NotificationSkipped
			outcomes = append(outcomes, o)
			continue
		}
		msg, err := s.compose(ctx, ts, inc, facts, r, noticesURL)
		if err != nil {
			// A mail that cannot be written will not be written later
			// either; the error names the row, not the member's data.
			s.Log.ErrorContext(ctx, "notification: cannot write message", "campaign", c.ID, "row", r.ID, "error", err)
			o.State = store.NotificationFailed
			outcomes = append(outcomes, o)
			continue
		}
		msgs = append(msgs, msg)
		sending = append(sending, len(outcomes))
		outcomes = append(outcomes, o)
	}
	var sendErr error
	if len(msgs) > 0 {
		if s.Limiter != nil {
			if err := s.Limiter.WaitN(ctx, len(msgs)); err != nil {
				// Stopping: the rows stay claimed and come back when the lease ends.
				return fmt.Errorf("throttle: %w", err)
			}
		}
		sendErr = s.Mailer.Send(ctx, msgs...)
	}
	var se *mail.SendError
	if sendErr != nil && !errors.As(sendErr, &se) {
		se = &mail.SendError{Session: &mail.Failure{Stage: "send"}, Total: len(msgs)}
	}
	for i, oi := range sending {
		o := &outcomes[oi]
		f, failed := mail.Failure{}, false
		if se != nil {
			f, failed = se.Failed(i)
		}
		attempt := rows[oi].Attempts + 1
		switch {
		case !failed:
			o.State = store.NotificationSent
		case f.Permanent && f.Code >= 500 && (f.Stage == "RCPT TO" || f.Stage == "DATA"):
			o.State, o.Code, o.Enhanced = store.NotificationBounced, f.Code, f.Enhanced
		case f.Permanent || attempt >= s.maxAttempts():
			o.State, o.Code, o.Enhanced = store.NotificationFailed, f.Code, f.Enhanced
		default:
			o.State, o.Code, o.Enhanced = store.NotificationPending, f.Code, f.Enhanced
			o.Retry = s.now().Add(Backoff(attempt, s.jitter()))
		}
	}
	// Record even when stopping: what the server accepted must be marked
	// sent now, or it is sent again.
	counts, err := s.DB.RecordOutcomes(context.WithoutCancel(ctx), c.ID, s.now(), outcomes)
	if err != nil {
		return err
	}
	s.Log.DebugContext(ctx, "notification: batch", "campaign", c.ID, "sent", counts.Sent, "bounced", counts.Bounced,
		"failed", counts.Failed, "skipped", counts.Skipped)
	if se != nil && se.Session != nil {
		return fmt.Errorf("campaign %s: %w: %s", c.ID, errSession, se.Session)
	}
	return nil
}

// compose writes one member's message: the address is unsealed here, used
// for this message only, and never logged.
func (s *Sender) compose(ctx context.Context, ts *templates, inc *kakunin.Incident, facts Facts, r store.Notification, noticesURL string) (mail.Message, error) {
	addr, err := s.Keys.OpenField(vault.PurposeMemberEmail, r.EmailSealed)
	if err != nil {
		return mail.Message{}, fmt.Errorf("unseal address: %w", err)
	}
	ex, err := incident.MemberExposure(ctx, s.DB, inc, r.MemberID)
	if err != nil {
		return mail.Message{}, err
	}
	lang := r.Locale
	if lang != kakunin.LocaleEN {
		lang = kakunin.LocaleJA
	}
	subject, body, err := ts.render(lang, letterFor(lang, inc, facts, ex, noticesURL, s.Contact))
	if err != nil {
		return mail.Message{}, err
	}
	return s.Brand.Sign(mail.Message{To: []string{string(addr)}, Subject: subject, Text: body, ID: MessageID(r.CampaignID, r.MemberID),
		Headers: map[string]string{"Auto-Submitted": "auto-generated", "Content-Language": string(lang)}}, lang), nil
}

// finishIfDone marks a campaign done when nothing is left to send, and
// audits it.
func (s *Sender) finishIfDone(ctx context.Context, campaignID string) error {
	now := s.now()
	done, err := s.DB.FinishCampaignIfDone(ctx, campaignID, now)
	if err != nil || !done {
		return err
	}
	c, err := s.DB.Campaign(ctx, campaignID)
	if err != nil {
		return err
	}
	s.Log.InfoContext(ctx, "notification: campaign finished", "campaign", c.ID, "sent", c.Sent, "bounced", c.Bounced,
		"failed", c.Failed, "skipped", c.Skipped)
	if s.OnFinish != nil {
		if err := s.OnFinish(ctx, c.IncidentID, now); err != nil {
			s.Log.ErrorContext(ctx, "notification: recording the finished campaign on its incident", "campaign", c.ID, "err", err)
		}
	}
	if s.Audit == nil {
		return nil
	}
	return s.Audit.Append(ctx, audit.Event{At: now, Action: audit.NotificationFinished, Actor: "system", Subject: c.ID,
		Detail: map[string]string{"incident": c.IncidentID, "sent": strconv.FormatInt(c.Sent, 10),
			"bounced": strconv.FormatInt(c.Bounced, 10), "failed": strconv.FormatInt(c.Failed, 10),
			"skipped": strconv.FormatInt(c.Skipped, 10)}})
}

// Package bymail is the request side of every public form whose answer goes
// only to a registered address, never to the screen: the /check exposure
// check and the portal's sign-in today, the contact form next. Such a
// request does no membership look-up: it takes one hit of the client's
// limit, queues the durable job that will look the address up and mail
// the answer, and appends the audit event, all in one transaction. So its
// result and its work are the same for a member and a stranger
// (invariant 6); the job's delay is spread at random so that the mail's
// timing says nothing either.
package bymail

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/riverqueue/river"

	"github.com/kakunin/kakunin/internal/alert"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/store"
)

// Request is one accepted public request.
type Request struct {
	Scope       string        // the rate-limit scope of the client's requests
	Limit       int           // requests one client may make per Window
	Window      time.Duration //
	Job         river.JobArgs // the job that looks up and mails the answer
	MaxAttempts int           // of the job
	Spread      time.Duration // the job runs at a random moment within this long
	Event       audit.Event   // appended with the job; its Origin is the request's
}

// ErrLimited is returned when the client has made Limit requests within
// Window; nothing was queued or recorded.
var ErrLimited = errors.New("rate limited")

// Enqueue commits r's rate hit, job and audit event together, or none, in
// a transaction of its own. A server shares transactions between
// concurrent requests through a Committer instead.
func Enqueue(ctx context.Context, db *store.DB, jobs alert.Enqueuer, log *audit.Log, now time.Time, r Request) error {
	origin := audit.OriginFrom(ctx)
	return db.WithTx(ctx, func(tx *store.Tx) error {
		return enqueueTx(ctx, tx, jobs, log, origin, now, r)
	})
}

func enqueueTx(ctx context.Context, tx *store.Tx, jobs alert.Enqueuer, log *audit.Log, origin string, now time.Time, r Request) error {
	ok, err := tx.TakeRateHit(ctx, r.Scope, []byte("origin:"+origin), r.Limit, r.Window, "", now)
	if err != nil {
		return fmt.Errorf("rate limit: %w", err)
	}
	if !ok {
		return ErrLimited
	}
	if err := jobs.InsertTx(ctx, tx.SQL(), r.Job, insertOpts(now, r)); err != nil {
		return fmt.Errorf("queue %s: %w", r.Job.Kind(), err)
	}
	ev := r.Event
	ev.Origin = origin
	return log.AppendTx(ctx, tx, ev)
}

func randomDuration(upTo time.Duration) time.Duration {
	n, err := rand.Int(rand.Reader, big.NewInt(int64(upTo)))
	if err != nil {
		return 0
	}
	return time.Duration(n.Int64())
}

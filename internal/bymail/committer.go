package bymail

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"github.com/kakunin/kakunin/internal/alert"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/store"
)

// Committer commits concurrent requests together: while Run is running, the
// requests that arrive while one transaction commits share the next one,
// each inside a savepoint of its own, so that one fsync answers many
// clients (group commit, as the audit log does for its events). Each
// request still commits or rolls back whole and alone: a refused or failed
// request rolls back to its savepoint and leaves nothing, and the others in
// its transaction go on. Without Run, Enqueue commits each request in a
// transaction of its own, as the package-level Enqueue does.
//
// The public forms need it because a request's answer waits for its commit
// (nothing acknowledged may be lost) and SQLite commits one transaction at
// a time, each with an fsync: without sharing, a burst of checks during an
// incident is bounded by the disk's fsync rate.
type Committer struct {
	DB    *store.DB
	Jobs  alert.Enqueuer
	Audit *audit.Log
	// MaxBatch bounds the requests one transaction takes (default 256).
	MaxBatch int
	// Workers is how many transactions may be open at once. SQLite has
	// one writer, so one (the default there) is best; on PostgreSQL a
	// transaction's statements wait for the network one after another,
	// so several overlap their round trips (default 4).
	Workers int

	mu      sync.Mutex
	reqs    chan *pending // nil unless Run is accepting
	stopped chan struct{} // closed when that Run stops accepting
}

type pending struct {
	origin string
	now    time.Time
	r      Request
	done   chan error
}

const (
	defaultMaxBatch        = 256
	defaultPostgresWorkers = 4
)

// Enqueue commits r's rate hit, job and audit event together, or none,
// returning ErrLimited when the client reached its limit. It waits for the
// commit.
func (c *Committer) Enqueue(ctx context.Context, now time.Time, r Request) error {
	c.mu.Lock()
	reqs, stopped := c.reqs, c.stopped
	c.mu.Unlock()
	if reqs != nil {
		p := &pending{origin: audit.OriginFrom(ctx), now: now, r: r, done: make(chan error, 1)}
		// reqs is unbuffered: once sent, the committer owns the request
		// and will answer it; wait for the answer even if ctx ends, as the
		// request may have committed.
		select {
		case reqs <- p:
			return <-p.done
		case <-stopped:
		case <-ctx.Done():
			return fmt.Errorf("queue request: %w", ctx.Err())
		}
	}
	return Enqueue(ctx, c.DB, c.Jobs, c.Audit, now, r)
}

// Run is the group committer. When ctx ends it finishes the transaction in
// hand and returns; Enqueue then commits alone again, so requests on a
// stopping server are not lost. Only one Run per Committer at a time.
func (c *Committer) Run(ctx context.Context) error {
	reqs, stopped := make(chan *pending), make(chan struct{})
	c.mu.Lock()
	if c.reqs != nil {
		c.mu.Unlock()
		return errors.New("bymail committer: already running")
	}
	c.reqs, c.stopped = reqs, stopped
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.reqs, c.stopped = nil, nil
		c.mu.Unlock()
		close(stopped)
	}()
	txctx := context.WithoutCancel(ctx)
	max := c.MaxBatch
	if max <= 0 {
		max = defaultMaxBatch
	}
	workers := c.Workers
	if workers <= 0 {
		workers = 1
		if c.DB.Dialect() == store.Postgres {
			workers = defaultPostgresWorkers
		}
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() { c.gather(ctx, txctx, reqs, max) })
	}
	wg.Wait()
	return nil
}

// gather takes the requests waiting, up to max, and commits them, until
// ctx ends.
func (c *Committer) gather(ctx, txctx context.Context, reqs <-chan *pending, max int) {
	var batch []*pending
	for {
		batch = batch[:0]
		select {
		case <-ctx.Done():
			return
		case p := <-reqs:
			batch = append(batch, p)
		}
	more:
		for len(batch) < max {
			select {
			case p := <-reqs:
				batch = append(batch, p)
			default:
				break more
			}
		}
		c.commit(txctx, batch)
	}
}

// manyEnqueuer is a queue that takes many jobs in one insert (jobs.Queue).
type manyEnqueuer interface {
	InsertManyTx(ctx context.Context, tx *sql.Tx, params []river.InsertManyParams) error
}

// commit writes batch in one transaction: each request's rate hit inside a
// savepoint of its own, so that a refused request leaves nothing; then the
// accepted requests' jobs in one insert and their audit events in one
// append. When the transaction fails (a job the queue refuses, the commit,
// a lost connection), every request in it is retried alone, so that one
// cause cannot fail strangers' requests it has nothing to do with.
func (c *Committer) commit(ctx context.Context, batch []*pending) {
	// Take the clients' limit rows in one order in every transaction, so
	// that two open at once (PostgreSQL) cannot each hold a row the other
	// waits for.
	slices.SortStableFunc(batch, func(a, b *pending) int {
		return cmp.Or(cmp.Compare(a.r.Scope, b.r.Scope), cmp.Compare(a.origin, b.origin))
	})
	errs := make([]error, len(batch))
	err := c.DB.WithTx(ctx, func(tx *store.Tx) error {
		var accepted []*pending
		for i, p := range batch {
			if _, err := tx.SQL().ExecContext(ctx, "SAVEPOINT bymail_request"); err != nil {
				return fmt.Errorf("savepoint: %w", err)
			}
			ok, err := tx.TakeRateHit(ctx, p.r.Scope, []byte("origin:"+p.origin), p.r.Limit, p.r.Window, "", p.now)
			switch {
			case err != nil:
				errs[i] = fmt.Errorf("rate limit: %w", err)
			case !ok:
				errs[i] = ErrLimited
			default:
				accepted = append(accepted, p)
			}
			// A rolled-back savepoint stays open: release it either way,
			// so that savepoints do not pile up in a long transaction.
			if errs[i] != nil {
				if _, err := tx.SQL().ExecContext(ctx, "ROLLBACK TO SAVEPOINT bymail_request"); err != nil {
					return fmt.Errorf("savepoint: %w", err)
				}
			}
			if _, err := tx.SQL().ExecContext(ctx, "RELEASE SAVEPOINT bymail_request"); err != nil {
				return fmt.Errorf("savepoint: %w", err)
			}
		}
		if len(accepted) == 0 {
			return nil
		}
		if many, ok := c.Jobs.(manyEnqueuer); ok {
			params := make([]river.InsertManyParams, len(accepted))
			for i, p := range accepted {
				params[i] = river.InsertManyParams{Args: p.r.Job, InsertOpts: insertOpts(p.now, p.r)}
			}
			if err := many.InsertManyTx(ctx, tx.SQL(), params); err != nil {
				return err
			}
		} else {
			for _, p := range accepted {
				if err := c.Jobs.InsertTx(ctx, tx.SQL(), p.r.Job, insertOpts(p.now, p.r)); err != nil {
					return fmt.Errorf("queue %s: %w", p.r.Job.Kind(), err)
				}
			}
		}
		evs := make([]audit.Event, len(accepted))
		for i, p := range accepted {
			evs[i] = p.r.Event
			evs[i].Origin = p.origin
		}
		return c.Audit.AppendTx(ctx, tx, evs...)
	})
	for i, p := range batch {
		if err != nil {
			errs[i] = Enqueue(audit.WithOrigin(ctx, p.origin), c.DB, c.Jobs, c.Audit, p.now, p.r)
		}
		p.done <- errs[i]
	}
}

func insertOpts(now time.Time, r Request) *river.InsertOpts {
	opts := &river.InsertOpts{MaxAttempts: r.MaxAttempts}
	if r.Spread > 0 {
		opts.ScheduledAt = now.Add(randomDuration(r.Spread))
	}
	return opts
}

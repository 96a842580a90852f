package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/kakunin/kakunin/internal/store"
)

// Checkpointer signs checkpoints of the chain's head: once Every events
// follow the last checkpoint, or once Interval has passed since it (since
// the first event, before the first checkpoint) while there are new events. Run it from serve; on several replicas each may run
// one (they share the signing key): a checkpoint of a size already stored
// is dropped, so each size is stored, written to File and published once.
type Checkpointer struct {
	DB     *store.DB
	Signer *Signer
	// Verifiers are the keys the last stored checkpoint may be signed
	// with; default Signer's own. After a key rotation, list the old key
	// too (LoadVerifiers of a file holding both), or the Checkpointer
	// refuses to build on the old key's last checkpoint.
	Verifiers note.Verifiers

	Every    int           // events per checkpoint (default 1000)
	Interval time.Duration // at least this often while there are new events (default 1m)
	Poll     time.Duration // how often the head is read (default 1s, at most Interval)

	// File, when set, receives every checkpoint this process stores (JSON
	// lines, see AppendCheckpointFile). Keep it off the database host.
	File string
	// Publish, when set, is called with every checkpoint this process
	// stores, after File. An error is logged; the checkpoint stays stored.
	Publish func(ctx context.Context, cp Checkpoint) error

	Log *slog.Logger // required
	Now func() time.Time

	initOnce sync.Once
	nudge    chan struct{}
	lastSize atomic.Int64 // size of the last checkpoint seen, for Nudge
}

func (c *Checkpointer) init() {
	c.initOnce.Do(func() { c.nudge = make(chan struct{}, 1) })
}

// Nudge tells Run the head moved to head, so that it signs without waiting
// for the next poll when Every events are due. It never blocks: set
// Log.OnCommit to it.
func (c *Checkpointer) Nudge(head int64) {
	c.init()
	if head-c.lastSize.Load() < int64(c.every()) {
		return
	}
	select {
	case c.nudge <- struct{}{}:
	default:
	}
}

func (c *Checkpointer) every() int {
	if c.Every > 0 {
		return c.Every
	}
	return 1000
}

func (c *Checkpointer) interval() time.Duration {
	if c.Interval > 0 {
		return c.Interval
	}
	return time.Minute
}

func (c *Checkpointer) now() time.Time {
	if c.Now != nil {
		return c.Now().UTC()
	}
	return time.Now().UTC()
}

// Run signs checkpoints until ctx ends, then signs a last one covering the
// events appended before the stop, and returns nil. Errors (a database
// that is down, a chain that does not extend the last checkpoint) are
// logged and retried at the next poll.
func (c *Checkpointer) Run(ctx context.Context) error {
	if c.DB == nil || c.Signer == nil {
		return errors.New("audit checkpointer: DB and Signer are required")
	}
	c.init()
	poll := c.Poll
	if poll <= 0 {
		poll = time.Second
	}
	poll = min(poll, c.interval())
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			if _, err := c.Checkpoint(final, true); err != nil {
				c.Log.Error("audit checkpoint at shutdown", "err", err)
			}
			return nil
		case <-t.C:
		case <-c.nudge:
		}
		if _, err := c.Checkpoint(ctx, false); err != nil && ctx.Err() == nil {
			c.Log.Error("audit checkpoint", "err", err)
		}
	}
}

// Checkpoint signs the head when a checkpoint is due, or whenever there are
// events after the last checkpoint if force is set. It returns the
// checkpoint this call stored, or nil.
func (c *Checkpointer) Checkpoint(ctx context.Context, force bool) (*Checkpoint, error) {
	verifiers := c.Verifiers
	if verifiers == nil {
		var err error
		if verifiers, err = c.Signer.Verifiers(); err != nil {
			return nil, err
		}
	}
	last := Checkpoint{Hash: Genesis()}
	rec, ok, err := c.DB.LatestAuditCheckpoint(ctx)
	if err != nil {
		return nil, err
	}
	if ok {
		// Trust only a checkpoint this key signed: a forged row must not
		// become the base the next signature vouches for.
		if last, err = OpenCheckpoint(rec.Note, verifiers); err != nil {
			return nil, fmt.Errorf("latest stored checkpoint (size %d) does not verify with the checkpointer's keys: %w", rec.Size, err)
		}
		if last.Size != rec.Size {
			return nil, fmt.Errorf("stored checkpoint row %d holds a checkpoint of size %d", rec.Size, last.Size)
		}
	}
	c.lastSize.Store(last.Size)
	head, headHash, err := c.DB.AuditHead(ctx)
	if err != nil {
		return nil, err
	}
	switch {
	case head < last.Size:
		return nil, fmt.Errorf("the audit chain's head (%d) is behind its last checkpoint (%d): events were removed", head, last.Size)
	case head == last.Size:
		if !bytes.Equal(headHash, last.Hash) {
			return nil, fmt.Errorf("the audit chain's head at %d differs from its checkpoint: the chain was rewritten", head)
		}
		return nil, nil
	}
	since := last.Time
	if !ok {
		// No checkpoint yet: the interval runs from the first event.
		first, err := c.DB.AuditRecords(ctx, 0, 1, 1)
		if err != nil {
			return nil, err
		}
		if len(first) == 1 {
			since = first[0].At
		}
	}
	now := c.now()
	due := force || head-last.Size >= int64(c.every()) || now.Sub(since) >= c.interval()
	if !due {
		return nil, nil
	}
	if err := extends(ctx, c.DB, last, head, headHash); err != nil {
		return nil, err
	}
	cp, err := SignCheckpoint(c.Signer, head, headHash, now)
	if err != nil {
		return nil, err
	}
	inserted, err := c.DB.InsertAuditCheckpoint(ctx, store.AuditCheckpointRecord{Size: cp.Size, At: cp.Time, Note: cp.Note})
	if err != nil {
		return nil, err
	}
	if !inserted {
		return nil, nil // another replica signed this head first
	}
	c.lastSize.Store(cp.Size)
	c.Log.Info("audit checkpoint signed", "size", cp.Size)
	var errs []error
	if c.File != "" {
		if err := AppendCheckpointFile(c.File, cp); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Publish != nil {
		if err := c.Publish(ctx, cp); err != nil {
			errs = append(errs, fmt.Errorf("publish audit checkpoint %d: %w", cp.Size, err))
		}
	}
	return &cp, errors.Join(errs...)
}

// extends recomputes the events after the checkpoint last up to head and
// checks that they chain from it to headHash: the Checkpointer signs only a
// chain that grew, never one that was rewritten behind its back.
func extends(ctx context.Context, db *store.DB, last Checkpoint, head int64, headHash []byte) error {
	prev, want := last.Hash, last.Size+1
	err := walk(ctx, db, last.Size, head, func(r store.AuditRecord, ev Event, derr error) error {
		if r.Seq != want {
			return fmt.Errorf("audit event %d is missing", want)
		}
		if derr != nil {
			return fmt.Errorf("audit event %d: %w", r.Seq, derr)
		}
		h := ChainHash(prev, ev)
		if !bytes.Equal(h, r.Hash) {
			return fmt.Errorf("audit event %d does not chain from the checkpoint at %d", r.Seq, last.Size)
		}
		prev, want = h, want+1
		return nil
	})
	if err != nil {
		return fmt.Errorf("refusing to sign a checkpoint at %d: %w", head, err)
	}
	if want != head+1 || !bytes.Equal(prev, headHash) {
		return fmt.Errorf("refusing to sign a checkpoint at %d: the chain does not lead to the head", head)
	}
	return nil
}

package alert

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// DiskFull remembers that storage ran out and tells the operator, once: a
// full disk refuses every upload, and an alert per refusal would bury the
// one that matters. Each replica raises at most one alert per Every.
type DiskFull struct {
	Raise func(ctx context.Context) error // enqueues the KindStorageFull alert
	Every time.Duration                   // default one hour
	Now   func() time.Time
	Log   *slog.Logger
	// Free reports the space left where blobs are written (ok false: not
	// known, as on S3); Need is the least /readyz accepts (two of the
	// largest uploads).
	Free func() (free int64, ok bool)
	Need int64

	mu        sync.Mutex
	fullAt    time.Time // last refusal; zero: none since Clear
	alertedAt time.Time
}

// Noticed records a refused upload and raises the alert if none was raised
// within Every. A failed raise (the database's disk is full too) is logged
// and tried again at the next refusal.
func (d *DiskFull) Noticed(ctx context.Context) {
	every := d.Every
	if every <= 0 {
		every = time.Hour
	}
	d.mu.Lock()
	now := d.Now()
	d.fullAt = now
	due := d.alertedAt.IsZero() || now.Sub(d.alertedAt) >= every
	if due {
		d.alertedAt = now
	}
	d.mu.Unlock()
	if !due || d.Raise == nil {
		return
	}
	if err := d.Raise(context.WithoutCancel(ctx)); err != nil {
		d.Log.Error("raise storage-full alert", "err", err)
		d.mu.Lock()
		d.alertedAt = time.Time{}
		d.mu.Unlock()
	}
}

// FullSince says when storage last refused an upload, if it has since the
// last Clear.
func (d *DiskFull) FullSince() (time.Time, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.fullAt, !d.fullAt.IsZero()
}

// Clear forgets the refusal: there is room again.
func (d *DiskFull) Clear() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.fullAt = time.Time{}
}

// recoverAfter is how long after the last refusal a store whose free space
// is not known (S3), or looks sufficient, is reported not ready.
const recoverAfter = time.Minute

// Ready is the /readyz check "storage": not ready while the disk has less
// than Need free, or within a minute of a refused upload.
func (d *DiskFull) Ready(ctx context.Context) error {
	if d.Free != nil {
		if free, ok := d.Free(); ok && free < d.Need {
			return fmt.Errorf("%d bytes free for blobs, below the %d needed", free, d.Need)
		}
	}
	if at, full := d.FullSince(); full {
		if d.Now().Sub(at) < recoverAfter {
			return fmt.Errorf("an upload was refused for lack of space at %s", at.UTC().Format(time.RFC3339))
		}
		d.Clear()
	}
	return nil
}

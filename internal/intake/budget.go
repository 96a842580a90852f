package intake

import (
	"context"
	"errors"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/kakunin/kakunin"
)

// Budget bounds the memory that uploads and decodes hold at once, in bytes,
// whatever the number of clients: each upload holds UploadCost while it
// streams (plus its size for a WebP, which is rewritten in memory), each
// full decode holds its DecodeCost. When the budget stays exhausted for
// Wait, an upload is refused with EUNAVAILABLE (the web layer answers 503
// with Retry-After) rather than let memory grow until the process is
// killed.
type Budget struct {
	sem  *semaphore.Weighted
	size int64
	// Wait is how long an upload waits for room before it is refused.
	Wait time.Duration
}

// UploadCost is what one upload holds while it streams: this package's
// read buffer, header prefix and tee buffer, and the encrypting writer's
// 1 MiB plaintext and ciphertext segments, with room for the HTTP and
// multipart buffers around them.
const UploadCost = 3 << 20

// NewBudget returns a budget of size bytes; uploads wait up to 30 s for
// room: waiting holds a connection, not memory, and spares an honest upload
// a refusal.
func NewBudget(size int64) *Budget {
	return &Budget{sem: semaphore.NewWeighted(size), size: size, Wait: 30 * time.Second}
}

// Size is the whole budget in bytes.
func (b *Budget) Size() int64 { return b.size }

// errBusy is the refusal when the budget has no room.
var errBusy = kakunin.Errorf(kakunin.EUNAVAILABLE, "busy")

// Acquire takes n bytes, waiting up to Wait for them, and returns the
// function that gives them back. A nil Budget bounds nothing. More than the
// whole budget is clamped to it, so a request always can proceed alone.
func (b *Budget) Acquire(ctx context.Context, n int64) (release func(), err error) {
	if b == nil {
		return func() {}, nil
	}
	wctx, cancel := context.WithTimeout(ctx, b.Wait)
	defer cancel()
	release, err = b.AcquireWait(wctx, n)
	if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		return nil, errBusy
	}
	return release, err
}

// AcquireWait takes n bytes, waiting as long as ctx allows: for background
// work that may queue (the decode jobs).
func (b *Budget) AcquireWait(ctx context.Context, n int64) (release func(), err error) {
	if b == nil {
		return func() {}, nil
	}
	n = min(max(n, 1), b.size)
	if err := b.sem.Acquire(ctx, n); err != nil {
		return nil, err
	}
	return func() { b.sem.Release(n) }, nil
}

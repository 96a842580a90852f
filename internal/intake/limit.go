package intake

import (
	"context"
	"fmt"
	"io"

	"github.com/kakunin/kakunin"
)

// limitReader reads at most max+1 bytes from r and fails with ETOOLARGE once
// more than max arrive, so an oversize upload costs at most max+1 bytes of
// reading. It also stops when ctx is done, which is how a cancelled request
// ends a Sanitize that is waiting on a slow client.
type limitReader struct {
	ctx  context.Context
	r    io.Reader
	max  int64
	read int64
}

func newLimitReader(ctx context.Context, r io.Reader, max int64) *limitReader {
	return &limitReader{ctx: ctx, r: r, max: max}
}

func (l *limitReader) Read(p []byte) (int, error) {
	if err := l.ctx.Err(); err != nil {
		return 0, err
	}
	if l.read > l.max {
		return 0, tooManyBytes(l.max)
	}
	// Ask for one byte beyond the limit, never more: that byte is what
	// tells "exactly max" from "over max".
	if room := l.max + 1 - l.read; int64(len(p)) > room {
		p = p[:room]
	}
	n, err := l.r.Read(p)
	l.read += int64(n)
	if l.read > l.max {
		// Withhold the extra byte: the caller must never see data past
		// the limit, only the error.
		return n - int(l.read-l.max), tooManyBytes(l.max)
	}
	return n, err
}

func tooManyBytes(max int64) error {
	return kakunin.Errorf(kakunin.ETOOLARGE, "the file is larger than %s; please upload a smaller photo", formatBytes(max))
}

func formatBytes(n int64) string {
	const mib = 1 << 20
	if n >= mib && n%mib == 0 {
		return fmt.Sprintf("%d MiB", n/mib)
	}
	return fmt.Sprintf("%d bytes", n)
}

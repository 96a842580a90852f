package intake

import (
	"bufio"
	"io"
)

// peekSome returns up to max bytes already read ahead by br, reading more
// only when none are buffered. The caller writes them on and then discards
// them, so data is copied through without a second buffer.
func peekSome(br *bufio.Reader, max int64) ([]byte, error) {
	if br.Buffered() == 0 {
		if _, err := br.Peek(1); err != nil {
			return nil, err
		}
	}
	return br.Peek(int(min(int64(br.Buffered()), max)))
}

// copyN copies exactly n bytes from br to w. Unlike io.CopyN it keeps read
// errors (a damaged or oversize upload) apart from write errors (w's own,
// or the validator's verdict), so each is reported as what it is.
func copyN(w io.Writer, br *bufio.Reader, n int64, what string) error {
	for n > 0 {
		buf, err := peekSome(br, n)
		if err != nil {
			return readErr(what, err)
		}
		if _, err := w.Write(buf); err != nil {
			return err
		}
		br.Discard(len(buf)) // cannot fail: the bytes are buffered
		n -= int64(len(buf))
	}
	return nil
}

// skipN drops n bytes of the upload; they still count against MaxBytes.
func skipN(br *bufio.Reader, n int64, what string) error {
	for n > 0 {
		d, err := br.Discard(int(min(n, readBufferSize)))
		n -= int64(d)
		if err != nil {
			return readErr(what, err)
		}
	}
	return nil
}

package intake

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
)

// Decode fully decodes a sanitised image read from r (as Sanitize wrote
// it), to refuse a file whose structure is sound but whose pixels are not:
// a corrupt entropy-coded scan, a bad deflate stream. It returns EINVALID
// ("damaged") for such a file, and ctx's error or a read error as they are.
// Its memory is what DecodeCost said for this image; callers hold that much
// of a budget while it runs.
func Decode(ctx context.Context, r io.Reader) error {
	cr := &ctxReader{ctx: ctx, r: r}
	br := bufio.NewReaderSize(cr, readBufferSize)
	f, err := sniff(br)
	if cr.err != nil {
		return cr.err
	}
	if err != nil {
		return err
	}
	if err := safeDecode(f, br); err != nil {
		// A failure to read (the blob store, the decryption, a cancelled
		// context) says nothing about the image: it is returned as it is,
		// for the caller to retry, never taken for a damaged file.
		if cr.err != nil {
			return fmt.Errorf("read image: %w", cr.err)
		}
		return fmt.Errorf("%w (%v)", damaged(), err)
	}
	return nil
}

// DecodeCost returns the bytes a full decode of the sanitised image whose
// first bytes are head would allocate, as Sanitize estimated when it took
// the image; head should be the first 256 KiB or the whole file.
func DecodeCost(head []byte) (int64, error) {
	f, err := sniff(bufio.NewReader(bytes.NewReader(head)))
	if err != nil {
		return 0, err
	}
	_, cost, err := decodeCost(f, head)
	if err != nil {
		return 0, damaged()
	}
	return cost, nil
}

// HeadLen is how many leading bytes DecodeCost needs at most.
const HeadLen = configPrefix

// ctxReader stops at ctx's end and remembers the first error other than
// io.EOF that reading met.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
	err error
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		c.err = err
		return 0, err
	}
	n, err := c.r.Read(p)
	if err != nil && err != io.EOF && c.err == nil {
		c.err = err
	}
	return n, err
}

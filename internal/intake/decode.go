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
	br := bufio.NewReaderSize(&ctxReader{ctx: ctx, r: r}, readBufferSize)
	f, err := sniff(br)
	if err != nil {
		return err
	}
	if err := safeDecode(f, br); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
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

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

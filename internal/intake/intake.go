package intake

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/kakunin/kakunin"
)

// Limits bounds what Sanitize accepts. A zero field takes its default.
type Limits struct {
	MaxBytes            int64 // default 20 MiB (of the upload as received)
	MaxPixels           int64 // default 50 megapixels
	MinWidth, MinHeight int   // default 300 x 200: smaller cannot show a legible ID
	// MaxDecodeBytes bounds what a full decode of the image may allocate,
	// estimated from its header (bytes per pixel differ by format, depth
	// and layout). Default 200 MiB, a 50-megapixel image at 4 bytes.
	MaxDecodeBytes int64
	// DecodeInline makes Sanitize also fully decode the image while it
	// streams, and refuse it if that fails. Without it only the
	// structure is checked and the caller decodes later (see Decode).
	DecodeInline bool
	// Budget, when set, is held for the upload's buffers while it streams
	// (and for the decode with DecodeInline); see Budget.
	Budget *Budget
}

// DefaultLimits returns the limits used for identity-document photos.
func DefaultLimits() Limits {
	return Limits{
		MaxBytes:  20 << 20,
		MaxPixels: 50_000_000,
		MinWidth:  300,
		MinHeight: 200,

		MaxDecodeBytes: 200 << 20,
	}
}

// withDefaults fills each zero field from DefaultLimits, so that a caller
// overriding one limit does not switch the others off.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxBytes <= 0 {
		l.MaxBytes = d.MaxBytes
	}
	if l.MaxPixels <= 0 {
		l.MaxPixels = d.MaxPixels
	}
	if l.MinWidth <= 0 {
		l.MinWidth = d.MinWidth
	}
	if l.MinHeight <= 0 {
		l.MinHeight = d.MinHeight
	}
	if l.MaxDecodeBytes <= 0 {
		l.MaxDecodeBytes = d.MaxDecodeBytes
	}
	return l
}

// Info describes a sanitised image.
type Info struct {
	ContentType   string // "image/jpeg", "image/png", "image/webp"
	Width, Height int    // as stored, before Orientation is applied
	Size          int64  // bytes written to w
	// Orientation is the EXIF Orientation (1–8, TIFF tag 274) the upload
	// stated, read before its EXIF was dropped, so the image can be shown
	// upright. It is 1 when absent, unknown or malformed, and for PNG.
	Orientation int
	// DecodeCost is the estimated bytes a full decode allocates (see
	// Limits.MaxDecodeBytes): the weight of its Decode in a memory budget.
	DecodeCost int64
}

// readBufferSize is the read-ahead over the upload. It is small and fixed;
// the byte limit is enforced underneath it, so read-ahead never goes past
// MaxBytes+1.
const readBufferSize = 32 << 10

// Sanitize reads an upload from r and writes a copy without metadata to w
// while it reads (w is normally an encrypting writer, so nothing is buffered
// whole except a WebP file, bounded by MaxBytes).
//
// It returns kakunin errors: EUNSUPPORTED for a type it does not take,
// ETOOLARGE over MaxBytes or MaxPixels (checked from the header before any
// full decode, so a decompression bomb is refused cheaply), EINVALID for
// truncated or corrupt data or a too-small image. On error the caller
// discards what was written to w.
func Sanitize(ctx context.Context, r io.Reader, w io.Writer, lim Limits) (Info, error) {
	lim = lim.withDefaults()
	br := bufio.NewReaderSize(newLimitReader(ctx, r, lim.MaxBytes), readBufferSize)

	f, err := sniff(br)
	if err != nil {
		return Info{}, err
	}

	release, err := lim.Budget.Acquire(ctx, streamCost(f, br, lim))
	if err != nil {
		return Info{}, err
	}
	defer release()

	v := newValidator(ctx, f, w, lim)
	defer v.releaseDecode()
	// abort is a no-op once finish has run; on every other path it stops
	// the decoding goroutine and waits for it.
	defer v.abort()

	orientation, err := f.strip(br, v)
	if err != nil {
		return Info{}, err
	}
	cfg, err := v.finish()
	if err != nil {
		return Info{}, err
	}
	return Info{ContentType: f.contentType, Width: cfg.Width, Height: cfg.Height, Size: v.written, Orientation: orientation, DecodeCost: v.cost}, nil
}

// streamCost is what an upload of format f holds while it streams: the
// fixed buffers, and for WebP the whole file, whose size RIFF states (the
// byte limit caps it, whatever the header claims).
func streamCost(f format, br *bufio.Reader, lim Limits) int64 {
	cost := int64(UploadCost)
	if f.contentType == "image/webp" {
		head, _ := br.Peek(8)
		if len(head) == 8 {
			cost += min(int64(binary.LittleEndian.Uint32(head[4:8]))+8, lim.MaxBytes)
		}
	}
	return cost
}

// damaged is the one message for any truncated or corrupt file: the member
// can do nothing with more detail than "take or export the photo again".
func damaged() error {
	return kakunin.Errorf(kakunin.EINVALID, "the file is incomplete or damaged; please take or export the photo again")
}

// readErr turns an error met while reading the upload into what Sanitize
// returns: running out of data is a damaged file; a limit or a cancelled
// context keeps its own error, with context.
func readErr(what string, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return damaged()
	}
	return fmt.Errorf("read %s: %w", what, err)
}

package intake

import (
	"bytes"
	"fmt"
	"image"
	"io"

	"github.com/kakunin/kakunin"
)

// configPrefix is how much of the stripped stream is held back to read the
// image header. Every accepted format states its dimensions within the
// first few kilobytes, after at most an ICC profile.
const configPrefix = 256 << 10

// validator is the io.Writer the strippers write to. It holds back the
// first configPrefix bytes until image.DecodeConfig has checked the
// dimensions against the limits, so a decompression bomb is refused before
// anything allocates its pixels. From then on it tees every byte to w and,
// through an io.Pipe, to a goroutine that fully decodes the image: a
// damaged file is refused without ever being held whole in memory.
type validator struct {
	f       format
	w       io.Writer
	lim     Limits
	written int64 // bytes written to w

	prefix  []byte // nil once the decoder has started
	started bool
	cfg     image.Config
	pw      *io.PipeWriter
	done    chan error // the decoder's verdict; buffered so it never blocks
	closed  bool
	err     error  // the first refusal; every later Write returns it
	pending []byte // small writes gathered into one tee (see teeBuffer)
}

// teeBuffer is how many bytes are gathered before they go to the decoder
// and to w. The JPEG stripper writes entropy-coded data in pieces of a few
// dozen bytes; each would cost a goroutine hand-off through the pipe
// (measured by bench/intake: about a fifth of intake time).
const teeBuffer = 32 << 10

func newValidator(f format, w io.Writer, lim Limits) *validator {
	return &validator{f: f, w: w, lim: lim, prefix: make([]byte, 0, 4096), pending: make([]byte, 0, teeBuffer+4096)}
}

func (v *validator) Write(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.write(p)
	v.err = err
	return n, err
}

func (v *validator) write(p []byte) (int, error) {
	n := 0
	if !v.started {
		n = min(len(p), configPrefix-len(v.prefix))
		v.prefix = append(v.prefix, p[:n]...)
		if len(v.prefix) < configPrefix {
			return n, nil
		}
		if err := v.start(); err != nil {
			return n, err
		}
	}
	if n == len(p) {
		return n, nil
	}
	v.pending = append(v.pending, p[n:]...)
	if len(v.pending) >= teeBuffer {
		if err := v.flush(); err != nil {
			return n, err
		}
	}
	return len(p), nil
}

// flush tees the gathered bytes.
func (v *validator) flush() error {
	if len(v.pending) == 0 {
		return nil
	}
	_, err := v.tee(v.pending)
	v.pending = v.pending[:0]
	return err
}

// start checks the header held in prefix, launches the decoder and sends
// the prefix on.
func (v *validator) start() error {
	v.started = true
	cfg, err := safeDecodeConfig(v.f, v.prefix)
	if err != nil {
		return damaged()
	}
	if err := v.lim.check(cfg); err != nil {
		return err
	}
	v.cfg = cfg

	pr, pw := io.Pipe()
	v.pw, v.done = pw, make(chan error, 1)
	go func() {
		err := safeDecode(v.f, pr)
		if err == nil {
			// A decoder may stop before the stream ends (WebP after its
			// image chunk); drain so the writer never blocks.
			_, err = io.Copy(io.Discard, pr)
		}
		pr.CloseWithError(err) // unblocks a pending Write at once
		v.done <- err
	}()

	prefix := v.prefix
	v.prefix = nil
	_, err = v.tee(prefix)
	return err
}

// tee sends p to the decoder first, so that nothing it has refused reaches
// w, then to w.
func (v *validator) tee(p []byte) (int, error) {
	if _, err := v.pw.Write(p); err != nil {
		return 0, damaged()
	}
	n, err := v.w.Write(p)
	v.written += int64(n)
	if err != nil {
		return n, fmt.Errorf("write sanitized image: %w", err)
	}
	return n, nil
}

// finish is called once the stripper has written everything. It checks the
// header of a file shorter than configPrefix, then waits for the decoder's
// verdict.
func (v *validator) finish() (image.Config, error) {
	if !v.started {
		if err := v.start(); err != nil {
			return image.Config{}, err
		}
	}
	if err := v.flush(); err != nil {
		v.abort()
		return image.Config{}, err
	}
	v.closed = true
	v.pw.Close()
	if err := <-v.done; err != nil {
		return image.Config{}, damaged()
	}
	return v.cfg, nil
}

// abort stops the decoder, if it runs, and waits until it has returned, so
// no goroutine outlives Sanitize. It does nothing after finish.
func (v *validator) abort() {
	if !v.started || v.closed || v.pw == nil {
		return
	}
	v.closed = true
	v.pw.CloseWithError(io.ErrClosedPipe)
	<-v.done
}

// check refuses an image whose header states too many pixels (before any
// pixel is allocated) or too few to show a legible document. The minimum
// is checked in either orientation: a card photographed upright is as
// legible as one photographed across.
func (l Limits) check(cfg image.Config) error {
	w, h := int64(cfg.Width), int64(cfg.Height)
	if w <= 0 || h <= 0 {
		return damaged()
	}
	if w*h > l.MaxPixels {
		return kakunin.Errorf(kakunin.ETOOLARGE,
			"the image is %d×%d pixels, more than the %s accepted; please upload a smaller photo",
			w, h, formatPixels(l.MaxPixels))
	}
	minW, minH := int64(l.MinWidth), int64(l.MinHeight)
	if (w < minW || h < minH) && (w < minH || h < minW) {
		return kakunin.Errorf(kakunin.EINVALID,
			"the image is only %d×%d pixels, too small to read; please upload a photo of at least %d×%d pixels",
			w, h, l.MinWidth, l.MinHeight)
	}
	return nil
}

func formatPixels(n int64) string {
	if n >= 1_000_000 && n%1_000_000 == 0 {
		return fmt.Sprintf("%d megapixels", n/1_000_000)
	}
	return fmt.Sprintf("%d pixels", n)
}

// safeDecodeConfig and safeDecode turn a decoder panic into an error: a
// crafted upload must cost one refused request, not the whole process.
func safeDecodeConfig(f format, prefix []byte) (cfg image.Config, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("decode %s header: panic: %v", f.contentType, r)
		}
	}()
	return f.decodeConfig(bytes.NewReader(prefix))
}

func safeDecode(f format, r io.Reader) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("decode %s: panic: %v", f.contentType, r)
		}
	}()
	_, err = f.decode(r)
	return err
}

package intake

import (
	"context"
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
// first configPrefix bytes until the header has been checked against the
// limits (dimensions and the memory a decode would take), so a
// decompression bomb is refused before anything allocates its pixels. From
// then on it tees every byte to w and, through an io.Pipe each, to the
// goroutines that check the stream: the structural check always, and the
// full decode when Limits.DecodeInline asks for it. A damaged file is
// refused without ever being held whole in memory.
type validator struct {
	ctx     context.Context
	f       format
	w       io.Writer
	lim     Limits
	written int64 // bytes written to w

	prefix   []byte // nil once the checkers have started
	started  bool
	cfg      image.Config
	cost     int64 // estimated bytes a full decode allocates
	checkers []*checker
	closed   bool
	err      error  // the first refusal; every later Write returns it
	pending  []byte // small writes gathered into one tee (see teeBuffer)
	release  func() // gives back the budget an inline decode holds
}

func (v *validator) releaseDecode() {
	if v.release != nil {
		v.release()
		v.release = nil
	}
}

// checker is one goroutine reading the stripped stream through a pipe.
type checker struct {
	pw   *io.PipeWriter
	done chan error // its verdict; buffered so it never blocks
}

func startChecker(check func(io.Reader) error) *checker {
	pr, pw := io.Pipe()
	c := &checker{pw: pw, done: make(chan error, 1)}
	go func() {
		err := check(pr)
		if err == nil {
			// A checker may stop before the stream ends (the WebP
			// decoder after its image chunk); drain so the writer never
			// blocks.
			_, err = io.Copy(io.Discard, pr)
		}
		pr.CloseWithError(err) // unblocks a pending Write at once
		c.done <- err
	}()
	return c
}

// teeBuffer is how many bytes are gathered before they go to the checkers
// and to w. The JPEG stripper writes entropy-coded data in pieces of a few
// dozen bytes; each would cost a goroutine hand-off through the pipe
// (measured by bench/intake: about a fifth of intake time).
const teeBuffer = 32 << 10

func newValidator(ctx context.Context, f format, w io.Writer, lim Limits) *validator {
	return &validator{ctx: ctx, f: f, w: w, lim: lim, prefix: make([]byte, 0, 4096), pending: make([]byte, 0, teeBuffer+4096)}
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

// start checks the header held in prefix, launches the checkers and sends
// the prefix on.
func (v *validator) start() error {
	v.started = true
	cfg, cost, err := decodeCost(v.f, v.prefix)
	if err != nil {
		return damaged()
	}
	if err := v.lim.check(cfg, cost); err != nil {
		return err
	}
	v.cfg, v.cost = cfg, cost

	f := v.f
	v.checkers = append(v.checkers, startChecker(func(r io.Reader) error { return safeCheck(f, r) }))
	if v.lim.DecodeInline {
		// The decode allocates its pixels: it waits for room in the
		// budget like any other.
		release, err := v.lim.Budget.Acquire(v.ctx, cost)
		if err != nil {
			return err
		}
		v.release = release
		v.checkers = append(v.checkers, startChecker(func(r io.Reader) error { return safeDecode(f, r) }))
	}

	prefix := v.prefix
	v.prefix = nil
	_, err = v.tee(prefix)
	return err
}

// tee sends p to the checkers first, so that nothing they have refused
// reaches w, then to w.
func (v *validator) tee(p []byte) (int, error) {
	for _, c := range v.checkers {
		if _, err := c.pw.Write(p); err != nil {
			return 0, damaged()
		}
	}
	n, err := v.w.Write(p)
	v.written += int64(n)
	if err != nil {
		return n, fmt.Errorf("write sanitized image: %w", err)
	}
	return n, nil
}

// finish is called once the stripper has written everything. It checks the
// header of a file shorter than configPrefix, then waits for the checkers'
// verdicts.
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
	failed := false
	for _, c := range v.checkers {
		c.pw.Close()
	}
	for _, c := range v.checkers {
		if err := <-c.done; err != nil {
			failed = true
		}
	}
	if failed {
		return image.Config{}, damaged()
	}
	return v.cfg, nil
}

// abort stops the checkers, if they run, and waits until they have
// returned, so no goroutine outlives Sanitize. It does nothing after
// finish.
func (v *validator) abort() {
	if !v.started || v.closed {
		return
	}
	v.closed = true
	for _, c := range v.checkers {
		c.pw.CloseWithError(io.ErrClosedPipe)
	}
	for _, c := range v.checkers {
		<-c.done
	}
}

// check refuses an image whose header states too many pixels, or a decode
// that would allocate more than MaxDecodeBytes (before any pixel is
// allocated), or too few pixels to show a legible document. The minimum
// is checked in either orientation: a card photographed upright is as
// legible as one photographed across.
func (l Limits) check(cfg image.Config, cost int64) error {
	w, h := int64(cfg.Width), int64(cfg.Height)
	if w <= 0 || h <= 0 {
		return damaged()
	}
	if w*h > l.MaxPixels {
		return kakunin.Errorf(kakunin.ETOOLARGE,
			"the image is %d×%d pixels, more than the %s accepted; please upload a smaller photo",
			w, h, formatPixels(l.MaxPixels))
	}
	if cost > l.MaxDecodeBytes {
		return kakunin.Errorf(kakunin.ETOOLARGE,
			"the image is %d×%d pixels in a form that needs %s of memory to check, more than the %s accepted; please upload a smaller photo or a JPEG",
			w, h, formatBytes(roundMiB(cost)), formatBytes(l.MaxDecodeBytes))
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

func roundMiB(n int64) int64 { return (n + 1<<20 - 1) &^ (1<<20 - 1) }

// safeCheck and safeDecode turn a panic into an error: a crafted upload
// must cost one refused request, not the whole process.
func safeCheck(f format, r io.Reader) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("check %s structure: panic: %v", f.contentType, r)
		}
	}()
	return checkStructure(f, r)
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

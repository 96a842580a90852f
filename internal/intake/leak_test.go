package intake

import (
	"bytes"
	"context"
	"errors"
	"io"
	"runtime"
	"testing"
	"time"
)

// settledGoroutines waits, boundedly, for goroutines that have already
// delivered their result to exit, and returns how many remain. It asserts
// nothing about time: it only gives finished goroutines a chance to leave.
func settledGoroutines(want int) int {
	n := runtime.NumGoroutine()
	for i := 0; i < 200 && n > want; i++ {
		runtime.Gosched()
		time.Sleep(time.Millisecond)
		n = runtime.NumGoroutine()
	}
	return n
}

func TestSanitizeLeavesNoGoroutineBehindOnAnyPath(t *testing.T) {
	jpg := encodeJPEG(t, testImage(800, 600, 255), 90) // longer than the prefix
	broken := bytes.Clone(jpg)
	for i := len(jpg) / 2; i < len(jpg)/2+64; i++ {
		broken[i] = 0xFF
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	paths := []struct {
		name string
		ctx  context.Context
		r    io.Reader
		w    io.Writer
		lim  Limits
	}{
		{"success", context.Background(), bytes.NewReader(jpg), io.Discard, Limits{}},
		{"truncated after the decoder started", context.Background(), bytes.NewReader(jpg[:len(jpg)*3/4]), io.Discard, Limits{}},
		{"decoder refuses mid-stream", context.Background(), bytes.NewReader(broken), io.Discard, Limits{}},
		{"over MaxBytes after the decoder started", context.Background(), bytes.NewReader(jpg), io.Discard, Limits{MaxBytes: int64(len(jpg)) - 10}},
		{"writer fails", context.Background(), bytes.NewReader(jpg), failingWriter{errors.New("disk full")}, Limits{}},
		{"context cancelled", ctx, bytes.NewReader(jpg), io.Discard, Limits{}},
		{"reader fails mid-stream", context.Background(), io.MultiReader(bytes.NewReader(jpg[:len(jpg)*3/4]), errReader{}), io.Discard, Limits{}},
	}
	for _, p := range paths {
		t.Run(p.name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			Sanitize(p.ctx, p.r, p.w, p.lim)
			if after := settledGoroutines(before); after > before {
				t.Errorf("%d goroutines before Sanitize, %d after", before, after)
			}
		})
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

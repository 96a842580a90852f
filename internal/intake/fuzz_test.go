package intake

import (
	"bytes"
	"context"
	"io"
	"runtime"
	"testing"

	"github.com/kakunin/kakunin"
)

// FuzzSanitize checks, for any upload: no panic, no goroutine left behind,
// every refusal is a kakunin error with a 4xx code (never "internal"), and
// a sanitised file is a fixed point: sanitising it again changes nothing.
// Seeds are in testdata/fuzz/FuzzSanitize.
func FuzzSanitize(f *testing.F) {
	// Small limits keep each run fast; MinWidth/MinHeight 1 lets tiny
	// seeds reach the full decode.
	lim := Limits{MaxBytes: 64 << 10, MaxPixels: 512 * 512, MinWidth: 1, MinHeight: 1}
	f.Fuzz(func(t *testing.T, in []byte) {
		before := runtime.NumGoroutine()
		var out bytes.Buffer
		info, err := Sanitize(context.Background(), bytes.NewReader(in), &out, lim)
		if after := settledGoroutines(before); after > before {
			t.Fatalf("%d goroutines before Sanitize, %d after", before, after)
		}
		if err != nil {
			if code := kakunin.ErrorCode(err); code == kakunin.EINTERNAL {
				t.Fatalf("bad input gave an internal error: %v", err)
			}
			return
		}
		if info.Size != int64(out.Len()) {
			t.Fatalf("Info.Size = %d, wrote %d", info.Size, out.Len())
		}
		var again bytes.Buffer
		info2, err := Sanitize(context.Background(), bytes.NewReader(out.Bytes()), &again, lim)
		if err != nil {
			t.Fatalf("sanitised output refused: %v", err)
		}
		if info2 != info || !bytes.Equal(again.Bytes(), out.Bytes()) {
			t.Fatalf("second pass changed the output: %+v -> %+v", info, info2)
		}
	})
}

func BenchmarkSanitizeJPEG1MB(b *testing.B) {
	_, in := jpegWithMetadata(b, testImage(1200, 900, 255)) // about 0.96 MB
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Sanitize(context.Background(), bytes.NewReader(in), io.Discard, DefaultLimits()); err != nil {
			b.Fatal(err)
		}
	}
}

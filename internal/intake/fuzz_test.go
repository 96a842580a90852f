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
// every refusal is a kakunin error with a 4xx code (never "internal"), the
// orientation is one of 1–8, and a sanitised file is a fixed point:
// sanitising it again changes nothing but the orientation, which left with
// the EXIF and so reads 1.
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
		if info.Orientation < 1 || info.Orientation > 8 {
			t.Fatalf("Info.Orientation = %d, want 1–8", info.Orientation)
		}
		var again bytes.Buffer
		info2, err := Sanitize(context.Background(), bytes.NewReader(out.Bytes()), &again, lim)
		if err != nil {
			t.Fatalf("sanitised output refused: %v", err)
		}
		// The orientation is read from EXIF, which the first pass dropped:
		// it must not survive into the output, and nothing else may change.
		if info2.Orientation != 1 {
			t.Fatalf("sanitised output still states orientation %d", info2.Orientation)
		}
		info2.Orientation = info.Orientation
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

// FuzzOrientation checks the EXIF parser on any block: no panic, a value
// of 1–8, the same answer with or without the "Exif\0\0" header, and a tag
// found stays found when bytes are appended (so no read ran past the end
// and happened to land on something). Seeds are in
// testdata/fuzz/FuzzOrientation.
func FuzzOrientation(f *testing.F) {
	f.Fuzz(func(t *testing.T, in []byte) {
		got := exifOrientation(in)
		if got < 1 || got > 8 {
			t.Fatalf("orientation %d, want 1–8", got)
		}
		if !bytes.HasPrefix(in, []byte(exifHeader)) {
			if with := exifOrientation(append([]byte(exifHeader), in...)); with != got {
				t.Fatalf("orientation %d with the Exif header, %d without", with, got)
			}
		}
		if got != 1 {
			if longer := exifOrientation(append(bytes.Clone(in), 0xFF, 0xFF, 0xFF, 0xFF)); longer != got {
				t.Fatalf("orientation %d, but %d once bytes are appended", got, longer)
			}
		}
	})
}

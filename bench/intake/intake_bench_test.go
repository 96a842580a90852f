package main

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"sync"
	"testing"

	"github.com/kakunin/kakunin/internal/intake"
)

// benchInputs are the Go benchmarks' inputs: 16 distinct ~1 MB photos, made
// once per test binary (making one costs more than storing it). Benchmarks
// cycle through them; nothing in the measured path caches by content.
var benchInputs = sync.OnceValues(func() ([]input, error) {
	ins, _, err := prepareInputs(16, 1_000_000, 1)
	return ins, err
})

func inputsFor(b *testing.B) []input {
	b.Helper()
	ins, err := benchInputs()
	if err != nil {
		b.Fatal(err)
	}
	mean, _, _ := sizes(ins)
	b.SetBytes(int64(mean))
	return ins
}

// BenchmarkRawWriteFsync1MB is the baseline: create, write, fsync the file,
// fsync the directory, close, in the same temp filesystem as the intake.
func BenchmarkRawWriteFsync1MB(b *testing.B) {
	ins := inputsFor(b)
	w, err := openRawWriter(b.TempDir() + "/raw")
	if err != nil {
		b.Fatal(err)
	}
	defer w.close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := w.write(fmt.Sprintf("img-%08d", i), ins[i%len(ins)].jpeg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIntake1MB is the upload handler's path: document.Service.Store
// (sanitise with a full decode, streaming encryption, blob write and fsync)
// then Commit (an SQLite transaction, synchronous=FULL) on a verification
// opened for it beforehand, outside the timer.
func BenchmarkIntake1MB(b *testing.B) {
	ins := inputsFor(b)
	ctx := context.Background()
	e, err := openEnv(ctx, b.TempDir(), "")
	if err != nil {
		b.Fatal(err)
	}
	defer e.close()
	members, err := e.members(ctx, b.N)
	if err != nil {
		b.Fatal(err)
	}
	vs, err := e.awaitingUpload(ctx, members)
	if err != nil {
		b.Fatal(err)
	}
	if err := warmUp(ctx, e, ins[0]); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		in := ins[i%len(ins)]
		if err := storeAndCommit(ctx, e.documents, in, vs[i]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeThroughPipe separates the decoder's own cost from the cost
// of how the sanitiser feeds it: the same bytes decoded from memory, and
// through an io.Pipe in 32 KiB writes and in the sizes the sanitiser
// actually writes (about 70 bytes each for a noisy photo).
func BenchmarkDecodeThroughPipe(b *testing.B) {
	ins, err := benchInputs()
	if err != nil {
		b.Fatal(err)
	}
	mean, _, _ := sizes(ins)
	writes := make([][]int, len(ins))
	for i, in := range ins {
		var r sizeRecorder
		if _, err := intake.Sanitize(context.Background(), bytes.NewReader(in.jpeg), &r, intake.DefaultLimits()); err != nil {
			b.Fatal(err)
		}
		writes[i] = r.sizes
	}
	b.Run("memory", func(b *testing.B) {
		b.SetBytes(int64(mean))
		for i := 0; i < b.N; i++ {
			if _, err := jpeg.Decode(bytes.NewReader(ins[i%len(ins)].jpeg)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("pipe-32KiB-writes", func(b *testing.B) {
		b.SetBytes(int64(mean))
		for i := 0; i < b.N; i++ {
			in := ins[i%len(ins)].jpeg
			if err := decodeThroughPipe(in, fixedWrites(len(in), 32<<10)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("pipe-sanitiser-writes", func(b *testing.B) {
		b.SetBytes(int64(mean))
		for i := 0; i < b.N; i++ {
			if err := decodeThroughPipe(ins[i%len(ins)].jpeg, writes[i%len(ins)]); err != nil {
				b.Fatal(err)
			}
		}
	})
}

type sizeRecorder struct{ sizes []int }

func (r *sizeRecorder) Write(p []byte) (int, error) {
	r.sizes = append(r.sizes, len(p))
	return len(p), nil
}

func fixedWrites(total, size int) []int {
	var ws []int
	for ; total > 0; total -= size {
		ws = append(ws, min(total, size))
	}
	return ws
}

// decodeThroughPipe decodes b on another goroutine, fed through an io.Pipe
// in writes of the given sizes, as the sanitiser's validator does.
func decodeThroughPipe(b []byte, writes []int) error {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := jpeg.Decode(pr)
		if err == nil {
			_, err = io.Copy(io.Discard, pr)
		}
		pr.CloseWithError(err)
		done <- err
	}()
	off := 0
	for _, n := range writes {
		n = min(n, len(b)-off)
		if _, err := pw.Write(b[off : off+n]); err != nil {
			break
		}
		off += n
	}
	pw.Write(b[off:])
	pw.Close()
	return <-done
}

// The tests below are quick checks that the benchmark measures what it
// says; they time nothing.

func TestParseSizeReadsDecimalAndBinaryUnits(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
	}{
		{"1MB", 1_000_000}, {"1.5MB", 1_500_000}, {"800KB", 800_000},
		{"1MiB", 1 << 20}, {"512KiB", 512 << 10}, {"250000", 250_000}, {"2 MB", 2_000_000},
	} {
		got, err := parseSize(c.in)
		if err != nil || got != c.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "MB", "-1MB", "1GBX", "one"} {
		if _, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q) succeeded; want an error", bad)
		}
	}
}

func TestFlagsRefuseAPostgresRunWithoutADatabase(t *testing.T) {
	if _, err := parseFlags([]string{"-engine", "postgres"}); err == nil {
		t.Error("-engine postgres without -database was accepted")
	}
	if _, err := parseFlags([]string{"-database", "postgres://x/y"}); err == nil {
		t.Error("-database with the default sqlite engine was accepted")
	}
	opt, err := parseFlags(nil)
	if err != nil || opt.n != 100 || opt.size != 1_000_000 || opt.concurrency != 1 {
		t.Errorf("defaults = %+v, %v", opt, err)
	}
}

// A small photo (fixed noise, no calibration) keeps this test quick; the
// path it takes is the one the benchmark times.
// smallPhotographer draws its cards once for every test that needs photos
// (it only reads them afterwards).
var smallPhotographer = sync.OnceValues(func() (*photographer, error) {
	p, err := newPhotographer(image.Pt(1200, 756))
	if err == nil {
		p.noise = 9
	}
	return p, err
})

func smallPhotos(t *testing.T, n int) []input {
	t.Helper()
	p, err := smallPhotographer()
	if err != nil {
		t.Fatal(err)
	}
	ins := make([]input, n)
	for i := range ins {
		if ins[i], err = p.photo(int64(i + 1)); err != nil {
			t.Fatal(err)
		}
	}
	return ins
}

func TestInputsAreDistinctJPEGsTheSanitiserAccepts(t *testing.T) {
	ins := smallPhotos(t, 3)
	for i, in := range ins {
		for j := range i {
			if bytes.Equal(in.jpeg, ins[j].jpeg) {
				t.Errorf("inputs %d and %d are identical", j, i)
			}
		}
		info, err := intake.Sanitize(context.Background(), bytes.NewReader(in.jpeg), io.Discard, intake.DefaultLimits())
		if err != nil {
			t.Fatalf("input %d refused: %v", i, err)
		}
		if info.ContentType != "image/jpeg" || info.Width != 1200 || info.Height != 756 {
			t.Errorf("input %d sanitised as %+v", i, info)
		}
	}
}

func TestIntakeStoresADocumentThatOpensToTheSanitisedBytes(t *testing.T) {
	ctx := context.Background()
	in := smallPhotos(t, 1)[0]
	e, err := openEnv(ctx, t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer e.close()
	members, err := e.members(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	vs, err := e.awaitingUpload(ctx, members)
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.documents.Store(ctx, vs[0], bytes.NewReader(in.jpeg))
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.documents.Commit(ctx, p, vs[0], in.typ)
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.documents.Open(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	if _, err := intake.Sanitize(ctx, bytes.NewReader(in.jpeg), &want, intake.DefaultLimits()); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Errorf("stored document opens to %d bytes, want the %d sanitised bytes", len(got), want.Len())
	}
	if err := e.raw.write("check", in.jpeg); err != nil {
		t.Errorf("raw baseline write: %v", err)
	}
}

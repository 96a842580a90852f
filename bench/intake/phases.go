package main

import (
	"bytes"
	"context"
	"fmt"
	"image/jpeg"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/document"
	"github.com/kakunin/kakunin/internal/intake"
)

// phase is one measured batch: every input once, through op, by conc
// workers. prepare runs first, untimed, and returns the op.
type phase struct {
	name    string
	conc    int
	prepare func(ctx context.Context) (op func(ctx context.Context, i int) error, err error)
}

// result is a phase's wall time over the whole batch.
type result struct {
	name    string
	conc    int
	images  int
	bytes   int64
	elapsed time.Duration
	cpu     time.Duration // process CPU time (user+system) over the batch
}

func (r result) imagesPerSec() float64 { return float64(r.images) / r.elapsed.Seconds() }
func (r result) mbPerSec() float64     { return float64(r.bytes) / 1e6 / r.elapsed.Seconds() }

// msPerImage is wall time per image; with conc workers, images overlap.
func (r result) msPerImage() float64 { return r.elapsed.Seconds() * 1000 / float64(r.images) }

// cpuMsPerImage is the CPU time spent per image, on all cores together.
func (r result) cpuMsPerImage() float64 { return r.cpu.Seconds() * 1000 / float64(r.images) }

// cores is how many CPUs the batch kept busy on average.
func (r result) cores() float64 { return r.cpu.Seconds() / r.elapsed.Seconds() }

// runBatch calls op for every index in [0, n) from conc goroutines and
// returns the wall and CPU time of the whole batch: one reading of each on
// either side, no per-operation sampling.
func runBatch(ctx context.Context, n, conc int, op func(ctx context.Context, i int) error) (wall, cpu time.Duration, err error) {
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start, cpu0 := time.Now(), cpuTime()
	for range conc {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := op(ctx, i); err != nil {
					once.Do(func() { firstErr = fmt.Errorf("image %d: %w", i, err) })
					cancel()
					return
				}
			}
		})
	}
	wg.Wait()
	return time.Since(start), cpuTime() - cpu0, firstErr
}

func runPhase(ctx context.Context, p phase, ins []input) (result, error) {
	op, err := p.prepare(ctx)
	if err != nil {
		return result{}, fmt.Errorf("%s: prepare: %w", p.name, err)
	}
	runtime.GC() // each phase starts from the same heap, not the last one's garbage
	elapsed, cpu, err := runBatch(ctx, len(ins), p.conc, op)
	if err != nil {
		return result{}, fmt.Errorf("%s: %w", p.name, err)
	}
	var total int64
	for _, in := range ins {
		total += int64(len(in.jpeg))
	}
	return result{name: p.name, conc: p.conc, images: len(ins), bytes: total, elapsed: elapsed, cpu: cpu}, nil
}

// Phase names, as printed.
const (
	phaseRaw      = "raw write+fsync (baseline)"
	phaseSanitise = "sanitise only -> io.Discard"
	phaseDecode   = "  ref: image/jpeg.Decode alone"
	phaseSeal     = "encrypt only -> io.Discard"
	phaseStore    = "Store (sanitise+encrypt+blob fsync)"
	phaseCommit   = "Commit (DB transaction)"
	phaseIntake   = "intake: Store+Commit"
)

// phases builds the benchmark's phases over e and ins. Store and Commit are
// measured as two batches (every Store, then every Commit of what was stored)
// to split the cost; "intake" is the upload handler's real sequence, a Store
// then its Commit for each image.
func phases(e *env, ins []input, members []string) (raw, decode, sanitise, seal, store, commit, full func(conc int) phase) {
	raw = func(conc int) phase {
		return phase{phaseRaw, conc, func(ctx context.Context) (func(context.Context, int) error, error) {
			// Files of earlier raw batches are deleted first, untimed,
			// so every batch creates names in an equally small directory.
			if err := clearDir(e.raw.dir.Name()); err != nil {
				return nil, err
			}
			return func(_ context.Context, i int) error {
				return e.raw.write(fmt.Sprintf("img-%06d", i), ins[i].jpeg)
			}, nil
		}}
	}
	// decode is a reference, not a part of kakunin: the standard decoder
	// alone on the same bytes, which the sanitiser runs on every upload.
	decode = func(conc int) phase {
		return phase{phaseDecode, conc, func(context.Context) (func(context.Context, int) error, error) {
			return func(_ context.Context, i int) error {
				_, err := jpeg.Decode(bytes.NewReader(ins[i].jpeg))
				return err
			}, nil
		}}
	}
	sanitise = func(conc int) phase {
		return phase{phaseSanitise, conc, func(context.Context) (func(context.Context, int) error, error) {
			return func(ctx context.Context, i int) error {
				_, err := intake.Sanitize(ctx, bytes.NewReader(ins[i].jpeg), io.Discard, e.limits)
				return err
			}, nil
		}}
	}
	seal = func(conc int) phase {
		return phase{phaseSeal, conc, func(context.Context) (func(context.Context, int) error, error) {
			return func(ctx context.Context, i int) error { return e.sealOnly(ctx, ins[i].jpeg) }, nil
		}}
	}
	// pending carries the uploads of a Store batch to the Commit batch
	// after it.
	var pending []*document.Pending
	store = func(conc int) phase {
		return phase{phaseStore, conc, func(context.Context) (func(context.Context, int) error, error) {
			pending = make([]*document.Pending, len(ins))
			return func(ctx context.Context, i int) error {
				p, err := e.documents.Store(ctx, nil, bytes.NewReader(ins[i].jpeg))
				pending[i] = p
				return err
			}, nil
		}}
	}
	commit = func(conc int) phase {
		return phase{phaseCommit, conc, func(ctx context.Context) (func(context.Context, int) error, error) {
			if pending == nil {
				return nil, fmt.Errorf("no Store batch before this Commit batch")
			}
			ps := pending
			pending = nil
			vs, err := e.awaitingUpload(ctx, members)
			if err != nil {
				return nil, err
			}
			return func(ctx context.Context, i int) error {
				_, err := e.documents.Commit(ctx, ps[i], vs[i], ins[i].typ)
				return err
			}, nil
		}}
	}
	full = func(conc int) phase {
		return phase{phaseIntake, conc, func(ctx context.Context) (func(context.Context, int) error, error) {
			vs, err := e.awaitingUpload(ctx, members)
			if err != nil {
				return nil, err
			}
			return func(ctx context.Context, i int) error {
				return storeAndCommit(ctx, e.documents, ins[i], vs[i])
			}, nil
		}}
	}
	return
}

// storeAndCommit is what the upload handler does with one upload.
func storeAndCommit(ctx context.Context, docs *document.Service, in input, v *kakunin.Verification) error {
	p, err := docs.Store(ctx, v, bytes.NewReader(in.jpeg))
	if err != nil {
		return err
	}
	_, err = docs.Commit(ctx, p, v, in.typ)
	return err
}

func clearDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, en := range entries {
		if err := os.Remove(filepath.Join(dir, en.Name())); err != nil {
			return err
		}
	}
	return nil
}

// writeCounter counts the writes the sanitiser makes to its output.
type writeCounter struct{ writes, bytes int }

func (w *writeCounter) Write(p []byte) (int, error) {
	w.writes++
	w.bytes += len(p)
	return len(p), nil
}

// sanitiserWrites reports how many Write calls the sanitiser makes for one
// input, and their mean size. The validator sends each of them on to the
// decoding goroutine through an io.Pipe, which hands over one write at a
// time, so their number is a cost of its own.
func sanitiserWrites(ctx context.Context, e *env, in input) (writes int, mean float64, err error) {
	var w writeCounter
	if _, err := intake.Sanitize(ctx, bytes.NewReader(in.jpeg), &w, e.limits); err != nil {
		return 0, 0, err
	}
	return w.writes, float64(w.bytes) / float64(w.writes), nil
}

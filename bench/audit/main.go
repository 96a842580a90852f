// Command audit measures kakunin's audit log on a temporary SQLite database,
// each figure next to its baseline in the same run, and prints the ratios:
//
//  1. appends/s with group commit (Log.Run), from many concurrent writers;
//
//  2. appends/s with one transaction per event (Append without Run), the
//     same writers: what the log would cost without group commit;
//
//  3. Verify over the whole chain against sha256sum(1) over a file of the
//     very bytes the chain hashes (doc.go's canonical encoding).
//
//     go run ./bench/audit [-n 200000] [-baseline-n N] [-concurrency 64] [-data DIR] [-keep]
package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/store"
)

type options struct {
	n           int
	baselineN   int
	concurrency int
	data        string
	keep        bool
	cpuprofile  string
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	opt, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "audit bench:", err)
		os.Exit(2)
	}
	if err := run(ctx, opt, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "audit bench:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (options, error) {
	var opt options
	fs := flag.NewFlagSet("audit", flag.ContinueOnError)
	fs.IntVar(&opt.n, "n", 200_000, "events appended with group commit (and verified)")
	fs.IntVar(&opt.baselineN, "baseline-n", 20_000, "events appended one transaction each (the baseline; each costs an fsync)")
	fs.IntVar(&opt.concurrency, "concurrency", 64, "concurrent writers in both append phases")
	fs.StringVar(&opt.data, "data", "", "directory in which to create the benchmark's database (default: the system temp dir); put it on the disk you care about")
	fs.BoolVar(&opt.keep, "keep", false, "keep the database afterwards")
	fs.StringVar(&opt.cpuprofile, "cpuprofile", "", "write a CPU profile of the verify phase to this file")
	if err := fs.Parse(args); err != nil {
		return opt, err
	}
	if fs.NArg() > 0 {
		return opt, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if opt.n < 1 || opt.baselineN < 1 || opt.concurrency < 1 {
		return opt, errors.New("-n, -baseline-n and -concurrency must be at least 1")
	}
	return opt, nil
}

// result is one measured phase.
type result struct {
	name    string
	events  int
	bytes   int64
	elapsed time.Duration
	note    string
}

func (r result) eventsPerSec() float64 { return float64(r.events) / r.elapsed.Seconds() }
func (r result) mbPerSec() float64     { return float64(r.bytes) / 1e6 / r.elapsed.Seconds() }

func run(ctx context.Context, opt options, stdout io.Writer) error {
	dir, err := os.MkdirTemp(opt.data, "kakunin-audit-bench-")
	if err != nil {
		return err
	}
	if !opt.keep {
		defer os.RemoveAll(dir)
	}
	db, err := store.Open(ctx, filepath.Join(dir, "kakunin.db"))
	if err != nil {
		return err
	}
	defer db.Close()
	signer, err := audit.LoadOrCreateSigner(filepath.Join(dir, "keys", "audit-signer.key"), audit.CheckpointOrigin)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "command:  go run ./bench/audit -n %d -baseline-n %d -concurrency %d\n", opt.n, opt.baselineN, opt.concurrency)
	fmt.Fprintf(stdout, "machine:  %d CPUs (GOMAXPROCS %d), %s/%s, %s\n", runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, runtime.Version())
	fmt.Fprintf(stdout, "database: SQLite (WAL, synchronous=FULL) in %s\n\n", dir)

	// 1. Group commit: the committer runs, as in serve.
	var commits atomic.Int64
	l := &audit.Log{DB: db, Now: time.Now, OnCommit: func(int64) { commits.Add(1) }}
	runCtx, stopRun := context.WithCancel(ctx)
	stopped := make(chan error, 1)
	go func() { stopped <- l.Run(runCtx) }()
	group, err := appendPhase(ctx, l, 0, opt.n, opt.concurrency)
	stopRun()
	if rerr := <-stopped; err == nil {
		err = rerr
	}
	if err != nil {
		return err
	}
	group.name = fmt.Sprintf("append, group commit, %d writers", opt.concurrency)
	group.note = fmt.Sprintf("%d transactions, %.1f events each", commits.Load(), float64(opt.n)/float64(commits.Load()))

	// 2. The same writers, one transaction per event: Run is stopped, so
	// each Append commits on its own.
	commits.Store(0)
	single, err := appendPhase(ctx, l, opt.n, opt.baselineN, opt.concurrency)
	if err != nil {
		return err
	}
	single.name = fmt.Sprintf("append, one tx per event, %d writers", opt.concurrency)
	single.note = fmt.Sprintf("%d transactions", commits.Load())

	// A checkpoint over the whole chain, so that Verify checks a signature
	// as it would in production.
	cp := &audit.Checkpointer{DB: db, Signer: signer, Log: slog.New(slog.DiscardHandler)}
	if _, err := cp.Checkpoint(ctx, true); err != nil {
		return err
	}

	// 3. Verify against sha256sum over the same canonical bytes.
	canon := filepath.Join(dir, "canonical.bin")
	lens, size, err := writeCanonical(ctx, db, canon)
	total := len(lens)
	if err != nil {
		return err
	}
	vs, err := signer.Verifiers()
	if err != nil {
		return err
	}
	if opt.cpuprofile != "" {
		pf, err := os.Create(opt.cpuprofile)
		if err != nil {
			return err
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
	}
	start := time.Now()
	rep, err := audit.Verify(ctx, db, audit.VerifyOptions{Verifiers: vs})
	pprof.StopCPUProfile()
	if err != nil {
		return err
	}
	ver := result{name: "verify whole chain (audit.Verify)", events: int(rep.Events), bytes: size, elapsed: time.Since(start)}
	if !rep.OK() || rep.Events != int64(total) {
		return fmt.Errorf("verify: %d events, problems %v", rep.Events, rep.Problems)
	}
	ver.note = fmt.Sprintf("%d checkpoint", rep.Checkpoints)

	sum, err := sha256sum(ctx, canon, total, size)
	if err != nil {
		return err
	}
	mem, err := hashInMemory(canon, lens)
	if err != nil {
		return err
	}

	rows := []result{group, single, ver, sum, mem}
	fmt.Fprintf(stdout, "%-42s %8s %9s %11s %8s\n", "phase", "events", "seconds", "events/s", "MB/s")
	for _, r := range rows {
		fmt.Fprintf(stdout, "%-42s %8d %9.3f %11.0f %8.1f  %s\n", r.name, r.events, r.elapsed.Seconds(), r.eventsPerSec(), r.mbPerSec(), r.note)
	}
	fmt.Fprintf(stdout, "\ncanonical bytes: %d events, %.1f MB, %.0f bytes/event (what the chain hashes; the file sha256sum reads)\n",
		total, float64(size)/1e6, float64(size)/float64(total))
	fmt.Fprintf(stdout, "ratio group commit / one tx per event: %.1fx (%.0f vs %.0f events/s)\n",
		group.eventsPerSec()/single.eventsPerSec(), group.eventsPerSec(), single.eventsPerSec())
	fmt.Fprintf(stdout, "ratio verify / sha256sum:              %.3fx (%.1f vs %.1f MB/s; 1/%.0f)\n",
		ver.mbPerSec()/sum.mbPerSec(), ver.mbPerSec(), sum.mbPerSec(), sum.mbPerSec()/ver.mbPerSec())
	return nil
}

// appendPhase appends count events (numbered from first) from writers
// goroutines, one event per Append call, as request handlers do.
func appendPhase(ctx context.Context, l *audit.Log, first, count, writers int) (result, error) {
	var next atomic.Int64
	next.Store(int64(first))
	end := int64(first + count)
	var size atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, writers)
	start := time.Now()
	for range writers {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= end {
					return
				}
				evs := []audit.Event{benchEvent(int(i))}
				if err := l.Append(ctx, evs...); err != nil {
					errc <- err
					return
				}
				size.Add(int64(len(audit.Canonical(make([]byte, audit.HashSize), evs[0]))))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errc)
	if err := <-errc; err != nil {
		return result{}, err
	}
	return result{events: count, bytes: size.Load(), elapsed: elapsed}, nil
}

// benchEvent looks like a document read: kakunin-shaped identifiers and a
// 32-byte keyed hash as origin.
func benchEvent(i int) audit.Event {
	doc := fmt.Sprintf("doc_%022d", i)
	return audit.Event{Action: audit.DocumentRead, Actor: fmt.Sprintf("staff:stf_%022d", i%40), Subject: doc,
		Origin: fmt.Sprintf("%064x", i*2654435761),
		Detail: map[string]string{"task": doc, "verification": fmt.Sprintf("ver_%022d", i), "type": "drivers_licence"}}
}

// writeCanonical writes the canonical bytes of every event to path (not
// timed) and returns each event's length and their total.
func writeCanonical(ctx context.Context, db *store.DB, path string) ([]int, int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	prev := audit.Genesis()
	var lens []int
	var size int64
	err = audit.Walk(ctx, db, 0, func(ev audit.Event) error {
		b := audit.Canonical(prev, ev)
		prev = ev.Hash
		lens = append(lens, len(b))
		size += int64(len(b))
		_, err := w.Write(b)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	if err := w.Flush(); err != nil {
		return nil, 0, err
	}
	return lens, size, f.Sync()
}

// sha256sum times the real sha256sum binary over the file: the cost of
// hashing the same bytes with nothing else to do. The file was just
// written, so it is read from the page cache, as Verify's pages mostly are.
func sha256sum(ctx context.Context, path string, events int, size int64) (result, error) {
	bin, err := exec.LookPath("sha256sum")
	if err != nil {
		return result{}, fmt.Errorf("sha256sum not found: %w", err)
	}
	start := time.Now()
	out, err := exec.CommandContext(ctx, bin, path).Output()
	elapsed := time.Since(start)
	if err != nil {
		return result{}, fmt.Errorf("sha256sum: %w", err)
	}
	if len(out) < 64 {
		return result{}, fmt.Errorf("sha256sum printed %q", out)
	}
	return result{name: "sha256sum over the canonical bytes", events: events, bytes: size, elapsed: elapsed,
		note: "one process, one pass, page cache"}, nil
}

// hashInMemory is a reference row: SHA-256 in Go over each event's
// canonical bytes, from memory: the hashing Verify does, without the
// database and the decoding.
func hashInMemory(path string, lens []int) (result, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return result{}, err
	}
	start := time.Now()
	var sink byte
	off := 0
	for _, n := range lens {
		h := sha256.Sum256(b[off : off+n])
		sink ^= h[0]
		off += n
	}
	elapsed := time.Since(start)
	if sink == 0 && off != len(b) {
		return result{}, errors.New("canonical lengths do not add up")
	}
	return result{name: "ref: Go SHA-256 per event, from memory", events: len(lens), bytes: int64(len(b)), elapsed: elapsed,
		note: "no database, no decoding"}, nil
}

// Command intake measures kakunin's upload intake against the cheapest
// durable store of the same bytes, in one run on one filesystem, and prints
// the ratio, with the intake's cost split into its parts.
//
//	go run ./bench/intake [-n 100] [-size 1MB] [-concurrency C]
//	                      [-engine sqlite|postgres -database URL] [-data DIR] [-keep] [-cpuprofile FILE]
//
// The inputs are synthetic phone photos of SAMPLE cards (internal/samplecard
// drawn onto a larger canvas, with lighting and sensor noise so that a JPEG
// is as large, and as costly to decode, as a photo), one per image, all
// distinct. Every phase runs the whole batch and is timed as a whole.
package main

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"
)

type options struct {
	n           int
	size        int64
	sizeText    string
	concurrency int
	engine      string
	database    string
	data        string
	keep        bool
	cpuprofile  string
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	opt, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "intake:", err)
		os.Exit(2)
	}
	if err := run(ctx, opt, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "intake:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (options, error) {
	var opt options
	fs := flag.NewFlagSet("intake", flag.ContinueOnError)
	fs.IntVar(&opt.n, "n", 100, "images per phase (each a distinct input)")
	fs.StringVar(&opt.sizeText, "size", "1MB", "target size of each input JPEG (KB, MB = 10^3, 10^6 bytes; KiB, MiB)")
	fs.IntVar(&opt.concurrency, "concurrency", 1, "also run every phase with this many workers (the full intake and the baseline always also run with 2)")
	fs.StringVar(&opt.engine, "engine", "sqlite", "database engine: sqlite (a file in the data directory) or postgres (needs -database)")
	fs.StringVar(&opt.database, "database", "", "postgres:// URL for -engine postgres; the benchmark works in a schema of its own and drops it")
	fs.StringVar(&opt.data, "data", "", "directory in which to create the benchmark's data directory (default: the system temp dir); put it on the disk you care about")
	fs.BoolVar(&opt.keep, "keep", false, "keep the data directory afterwards")
	fs.StringVar(&opt.cpuprofile, "cpuprofile", "", "write a CPU profile of the measured phases (not the set-up) to this file")
	if err := fs.Parse(args); err != nil {
		return opt, err
	}
	if fs.NArg() > 0 {
		return opt, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var err error
	if opt.size, err = parseSize(opt.sizeText); err != nil {
		return opt, err
	}
	switch {
	case opt.n < 1 || opt.n > 100_000:
		return opt, errors.New("-n must be between 1 and 100000")
	case opt.size < 50_000 || opt.size > 20_000_000:
		return opt, errors.New("-size must be between 50KB and 20MB (the server refuses uploads over 20 MiB)")
	case opt.concurrency < 1 || opt.concurrency > 64:
		return opt, errors.New("-concurrency must be between 1 and 64")
	case opt.engine == "sqlite" && opt.database != "":
		return opt, errors.New("-database is for -engine postgres; SQLite always uses a file in the data directory")
	case opt.engine == "postgres" && opt.database == "":
		return opt, errors.New("-engine postgres needs -database postgres://…")
	case opt.engine != "sqlite" && opt.engine != "postgres":
		return opt, fmt.Errorf("-engine must be sqlite or postgres, not %q", opt.engine)
	}
	return opt, nil
}

// parseSize reads "1MB", "1.5MB", "800KB", "1MiB" or a number of bytes.
func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   float64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"KB", 1e3}, {"MB", 1e6}, {"B", 1}}
	num, mult := strings.TrimSpace(s), 1.0
	for _, u := range units {
		if v, ok := strings.CutSuffix(num, u.suffix); ok {
			num, mult = strings.TrimSpace(v), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f <= 0 {
		return 0, fmt.Errorf("-size %q: want a size such as 1MB, 800KB or 1MiB", s)
	}
	return int64(f * mult), nil
}

// command is the invocation that reproduces this run, with any password in
// the database URL hidden.
func command(opt options) string {
	args := []string{"go", "run", "./bench/intake",
		"-n", strconv.Itoa(opt.n), "-size", opt.sizeText, "-concurrency", strconv.Itoa(opt.concurrency), "-engine", opt.engine}
	if opt.database != "" {
		db := opt.database
		if u, err := url.Parse(db); err == nil {
			db = u.Redacted()
		}
		args = append(args, "-database", db)
	}
	if opt.data != "" {
		args = append(args, "-data", opt.data)
	}
	return strings.Join(args, " ")
}

func run(ctx context.Context, opt options, stdout, stderr io.Writer) error {
	started := time.Now()
	fmt.Fprintf(stdout, "kakunin intake benchmark, %s\n", started.UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(stdout, "command:  %s\n", command(opt))
	fmt.Fprintf(stdout, "machine:  %s/%s, %s, %d CPUs (%s), GOMAXPROCS %d, load average %s\n",
		runtime.GOOS, runtime.GOARCH, runtime.Version(), runtime.NumCPU(), cpuModel(), runtime.GOMAXPROCS(0), loadAverage())

	e, err := openEnv(ctx, opt.data, opt.database)
	if err != nil {
		return err
	}
	if opt.keep {
		defer e.close()
	} else {
		defer e.remove()
	}
	fsName := filesystem(e.dir)
	engine := "sqlite (WAL, synchronous=FULL, one connection)"
	if opt.engine == "postgres" {
		engine = "postgres (a schema of its own, dropped afterwards)"
	}
	fmt.Fprintf(stdout, "data dir: %s (%s); database: %s; blobs: file:// with fsync\n", e.dir, fsName, engine)
	if fsName == "tmpfs" {
		fmt.Fprintln(stderr, "intake: warning: the data directory is on tmpfs, where fsync costs nothing; pass -data DIR on a real disk")
	}

	t := time.Now()
	ins, ph, err := prepareInputs(opt.n+1, opt.size, 0)
	if err != nil {
		return err
	}
	warm, ins := ins[0], ins[1:]
	mean, lo, hi := sizes(ins)
	fmt.Fprintf(stdout, "inputs:   %d distinct SAMPLE-card photos, JPEG q%d %dx%d, noise ±%d; mean %.2f MB (min %.2f, max %.2f; target %.2f); made in %.1fs, untimed\n",
		len(ins), photoQuality, ph.canvas.X, ph.canvas.Y, ph.noise, mean/1e6, float64(lo)/1e6, float64(hi)/1e6, float64(opt.size)/1e6, time.Since(t).Seconds())

	members, err := e.members(ctx, len(ins))
	if err != nil {
		return err
	}
	// Warm-up, untimed: the first Store creates the day's epoch key and
	// the first write of each kind pays for opening files and pages.
	if err := warmUp(ctx, e, warm); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}

	raw, decode, sanitise, seal, store, commit, full := phases(e, ins, members)
	// The baseline runs three times, first, in the middle and last, and the
	// median batch is the baseline: fsync's cost drifts with whatever else
	// the disk is doing, and the ratio should not hang on one short batch.
	plan := []phase{raw(1), sanitise(1), decode(1), seal(1), store(1), commit(1), raw(1), full(1)}
	if c := opt.concurrency; c > 1 {
		plan = append(plan, raw(c), sanitise(c), decode(c), seal(c), store(c), commit(c), full(c))
	}
	if opt.concurrency != 2 {
		plan = append(plan, raw(2), full(2))
	}
	plan = append(plan, raw(1))

	if opt.cpuprofile != "" {
		f, err := os.Create(opt.cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	var results, rawBatches []result
	for _, p := range plan {
		fmt.Fprintf(stderr, "  %-36s C=%d ...", p.name, p.conc)
		r, err := runPhase(ctx, p, ins)
		if err != nil {
			fmt.Fprintln(stderr)
			return err
		}
		fmt.Fprintf(stderr, " %.1fs\n", r.elapsed.Seconds())
		if r.name == phaseRaw && r.conc == 1 {
			rawBatches = append(rawBatches, r)
			if len(rawBatches) > 1 {
				continue
			}
		}
		results = append(results, r)
	}
	results[0] = median(rawBatches)
	var batches []string
	for _, r := range rawBatches {
		batches = append(batches, fmt.Sprintf("%.2f", r.msPerImage()))
	}
	fmt.Fprintf(stdout, "baseline: raw batches at C=1 (first, middle, last): %s ms/img; the median one is the baseline\n", strings.Join(batches, ", "))
	if writes, mean, err := sanitiserWrites(ctx, e, ins[0]); err == nil {
		fmt.Fprintf(stdout, "sanitiser: %d Write calls for image 0, mean %.0f bytes each, each also handed through an io.Pipe to the decoder\n", writes, mean)
	}
	fmt.Fprintln(stdout)
	printTable(stdout, results)
	fmt.Fprintln(stdout)
	for _, r := range results {
		if r.name == phaseIntake {
			x := r.imagesPerSec() / results[0].imagesPerSec()
			fmt.Fprintf(stdout, "ratio, C=%d: kakunin intake %.1f MB/s vs raw write+fsync %.1f MB/s = %.3fx (1/%.0f)\n",
				r.conc, r.mbPerSec(), results[0].mbPerSec(), x, 1/x)
		}
	}
	fmt.Fprintf(stdout, "\nMB = 10^6 bytes of input JPEG. ms/img = batch wall time / images (with C>1 images overlap);\n")
	fmt.Fprintf(stdout, "CPU ms = process CPU time (user+sys, all threads) / images; cores = CPU time / wall time.\n")
	fmt.Fprintf(stdout, "x raw = images/s of the phase / images/s of the raw baseline at C=1.\n")
	fmt.Fprintf(stdout, "total run time %.1fs; load average now %s\n", time.Since(started).Seconds(), loadAverage())
	return nil
}

// median returns the batch with the median wall time.
func median(rs []result) result {
	sorted := slices.Clone(rs)
	slices.SortFunc(sorted, func(a, b result) int { return cmp.Compare(a.elapsed, b.elapsed) })
	return sorted[len(sorted)/2]
}

func warmUp(ctx context.Context, e *env, in input) error {
	m, err := e.members(ctx, 1)
	if err != nil {
		return err
	}
	vs, err := e.awaitingUpload(ctx, m)
	if err != nil {
		return err
	}
	if err := storeAndCommit(ctx, e.documents, in, vs[0]); err != nil {
		return err
	}
	if err := e.sealOnly(ctx, in.jpeg); err != nil {
		return err
	}
	return e.raw.write("warm-up", in.jpeg)
}

// printTable prints the results, grouped by concurrency, with each phase's
// throughput relative to the raw baseline at C=1.
func printTable(w io.Writer, results []result) {
	var base float64
	for _, r := range results {
		if r.name == phaseRaw && r.conc == 1 {
			base = r.imagesPerSec()
		}
	}
	slices.SortStableFunc(results, func(a, b result) int { return a.conc - b.conc })
	const row = "%-36s %2s %9s %8s %8s %8s %6s %7s\n"
	fmt.Fprintf(w, row, "phase", "C", "images/s", "MB/s", "ms/img", "CPU ms", "cores", "x raw")
	for _, r := range results {
		fmt.Fprintf(w, row, r.name, strconv.Itoa(r.conc),
			fmt.Sprintf("%.1f", r.imagesPerSec()), fmt.Sprintf("%.1f", r.mbPerSec()),
			fmt.Sprintf("%.2f", r.msPerImage()), fmt.Sprintf("%.2f", r.cpuMsPerImage()),
			fmt.Sprintf("%.2f", r.cores()), fmt.Sprintf("%.3f", r.imagesPerSec()/base))
	}
}

// loadAverage is the 1, 5 and 15 minute load average where /proc has it:
// other work on the machine shows in every CPU-bound row.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// cpuModel is the first "model name" of /proc/cpuinfo, where there is one.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if k, v, ok := strings.Cut(s.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

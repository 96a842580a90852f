// Command scope measures incident scoping (internal/incident) against a
// naive full pass over the documents table, in one run on one database,
// and prints the ratio.
//
//	go run ./bench/scope [-documents 2000000] [-members M] [-days 730] [-reviewers 20] [-seed 1]
//	                     [-runs 3] [-engine sqlite|postgres -database URL] [-data DIR] [-keep]
//
// It seeds a fresh database with synth.Seed (what "kakunin dev seed"
// runs), then times, on the same data:
//
//   - the baseline: SELECT COUNT(*), SUM(size) FROM documents, which must
//     read every row of the table (size is in no index);
//   - incident.Scope for a recent week, an old month and the whole
//     history, with and without keys exposed;
//   - incident.AffectedMembers, listing every affected member of each
//     window (the breach desk's notice list).
//
// Each is run -runs times and the median is kept; the first runs warm the
// page cache for all of them alike.
package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"time"

	"github.com/kakunin/kakunin/internal/incident"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/synth"
)

type options struct {
	seed     synth.Options
	runs     int
	engine   string
	database string
	data     string
	keep     bool
	cpuprof  string
	cold     bool
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	opt, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "scope:", err)
		os.Exit(2)
	}
	if err := run(ctx, opt, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "scope:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (options, error) {
	var opt options
	var seed uint64
	fs := flag.NewFlagSet("scope", flag.ContinueOnError)
	fs.IntVar(&opt.seed.Documents, "documents", 2_000_000, "documents to seed")
	fs.IntVar(&opt.seed.Members, "members", 0, "members to seed (default 4/5 of -documents)")
	fs.IntVar(&opt.seed.Days, "days", 730, "days of history")
	fs.IntVar(&opt.seed.Reviewers, "reviewers", 20, "reviewer accounts")
	fs.Uint64Var(&seed, "seed", 1, "random seed of the synthetic history")
	fs.IntVar(&opt.runs, "runs", 3, "runs of each measurement (the median is kept)")
	fs.StringVar(&opt.engine, "engine", "sqlite", "database engine: sqlite (a file in the data directory) or postgres (needs -database)")
	fs.StringVar(&opt.database, "database", "", "postgres:// URL for -engine postgres; the benchmark works in a schema of its own and drops it")
	fs.StringVar(&opt.data, "data", "", "directory in which to create the benchmark's data directory (default: the system temp dir)")
	fs.BoolVar(&opt.keep, "keep", false, "keep the data directory (and the PostgreSQL schema) afterwards")
	fs.StringVar(&opt.cpuprof, "cpuprofile", "", "write a CPU profile of the whole run to this file")
	fs.BoolVar(&opt.cold, "cold", false, "also measure everything once more with the OS page cache dropped before each measurement (Linux, root)")
	if err := fs.Parse(args); err != nil {
		return opt, err
	}
	if fs.NArg() > 0 {
		return opt, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	opt.seed.Seed = seed
	if opt.runs < 1 {
		return opt, fmt.Errorf("-runs must be at least 1")
	}
	switch {
	case opt.engine == "sqlite" && opt.database == "":
	case opt.engine == "postgres" && opt.database != "":
	default:
		return opt, fmt.Errorf("-engine sqlite takes no -database; -engine postgres needs one")
	}
	return opt, nil
}

func run(ctx context.Context, opt options, stdout, stderr io.Writer) error {
	if opt.cpuprof != "" {
		f, err := os.Create(opt.cpuprof)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	dir, err := os.MkdirTemp(opt.data, "kakunin-bench-scope-")
	if err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	if !opt.keep {
		defer os.RemoveAll(dir)
	}
	dsn := filepath.Join(dir, "kakunin.db")
	if opt.engine == "postgres" {
		var drop func()
		if dsn, drop, err = benchSchema(ctx, opt.database); err != nil {
			return err
		}
		if !opt.keep {
			defer drop()
		}
	}
	db, err := store.Open(ctx, dsn)
	if err != nil {
		return err
	}
	defer db.Close()

	fmt.Fprintf(stdout, "command:  go run ./bench/scope -documents %d -days %d -reviewers %d -seed %d -runs %d -engine %s -cold=%t\n",
		opt.seed.Documents, opt.seed.Days, opt.seed.Reviewers, opt.seed.Seed, opt.runs, opt.engine, opt.cold)
	opt.seed.Progress = stderr
	res, err := synth.Seed(ctx, db, opt.seed)
	if err != nil {
		return err
	}
	rows := res.Members + res.Verifications + res.Documents + res.Reads + res.Epochs + res.Staff
	fmt.Fprintf(stdout, "seed:     %.1f s for %d rows (%.0f rows/s): %d documents (%d waiting, %d live, %d legacy kept, %d destroyed, %d orphan blobs),\n"+
		"          %d members (%d left), %d verifications, %d reads by %d reviewers, %d epochs (%d destroyed); history %s .. %s\n",
		res.Took.Seconds(), rows, float64(rows)/res.Took.Seconds(), res.Documents, res.Waiting, res.Live, res.Retained, res.Destroyed, res.OrphanBlobs,
		res.Members, res.MembersLeft, res.Verifications, res.Reads, res.Staff, res.Epochs, res.EpochsDestroyed,
		res.Start.Format(time.DateOnly), res.End.Format(time.DateOnly))
	if opt.engine == "sqlite" {
		fmt.Fprintf(stdout, "database: %s\n", sqliteSize(dsn))
	}

	mid := res.End.AddDate(0, 0, -opt.seed.Days/2)
	windows := []window{
		{"recent week", res.End.AddDate(0, 0, -7), res.End},
		{"old month", mid, mid.AddDate(0, 1, 0)},
		{"whole history", res.Start.AddDate(0, 0, -1), res.End},
	}
	m := measurer{ctx: ctx, db: db, runs: opt.runs, out: stdout}
	if err := m.pass("warm: every measurement runs -runs times, the median is kept", windows); err != nil {
		return err
	}
	if opt.cold {
		m.runs, m.before = 1, dropCaches
		if err := m.pass("cold: the OS page cache is dropped before each measurement, which runs once", windows); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "\nwindows: recent week %s..%s, old month %s..%s, whole history %s..%s\n",
		windows[0].from.Format(time.DateOnly), windows[0].to.Format(time.DateOnly),
		windows[1].from.Format(time.DateOnly), windows[1].to.Format(time.DateOnly),
		windows[2].from.Format(time.DateOnly), windows[2].to.Format(time.DateOnly))
	if opt.keep {
		fmt.Fprintf(stdout, "kept: %s\n", dsn)
	}
	return nil
}

type window struct {
	name     string
	from, to time.Time
}

// measurer times the baseline, the scopes and the member lists.
type measurer struct {
	ctx    context.Context
	db     *store.DB
	runs   int
	before func() error // run before each timed run, untimed
	out    io.Writer
}

// pass measures the baseline, then every window against it.
func (m *measurer) pass(title string, windows []window) error {
	var docs, bytes int64
	baseline, err := m.median(func() error {
		return m.db.SQL().QueryRowContext(m.ctx, `SELECT COUNT(*), SUM(size) FROM documents`).Scan(&docs, &bytes)
	})
	if err != nil {
		return fmt.Errorf("full scan: %w", err)
	}
	fmt.Fprintf(m.out, "\n%s\nbaseline: SELECT COUNT(*), SUM(size) FROM documents (reads every row): %.3f s, %d rows\n\n", title, baseline.Seconds(), docs)
	fmt.Fprintf(m.out, "%-14s %-5s %10s %10s %10s %9s %9s %8s\n", "window", "keys", "existing", "readable", "members", "reads", "seconds", "x scan")
	for _, w := range windows {
		for _, keys := range []bool{false, true} {
			q := incident.Query{From: w.from, To: w.to, KeysExposed: keys, MaxReads: 100}
			var rep *incident.Report
			took, err := m.median(func() (err error) {
				rep, err = incident.Scope(m.ctx, m.db, q)
				return err
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(m.out, "%-14s %-5s %10d %10d %10d %9d %9.3f %8.3f  scope\n", w.name, yesNo(keys), rep.Documents.Existing,
				rep.Documents.Readable, rep.Members.Total, rep.ReadsTotal, took.Seconds(), took.Seconds()/baseline.Seconds())
		}
		q := incident.Query{From: w.from, To: w.to}
		var n int64
		took, err := m.median(func() error {
			n = 0
			return incident.AffectedMembers(m.ctx, m.db, q, func(string) error { n++; return nil })
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(m.out, "%-14s %-5s %10s %10s %10d %9s %9.3f %8.3f  member list\n", w.name, "", "", "", n, "", took.Seconds(), took.Seconds()/baseline.Seconds())
	}
	return nil
}

// median runs f m.runs times and returns the median wall time.
func (m *measurer) median(f func() error) (time.Duration, error) {
	var ds []time.Duration
	for range m.runs {
		if m.before != nil {
			if err := m.before(); err != nil {
				return 0, err
			}
		}
		t := time.Now()
		if err := f(); err != nil {
			return 0, err
		}
		ds = append(ds, time.Since(t))
	}
	slices.Sort(ds)
	return ds[len(ds)/2], nil
}

// dropCaches empties Linux's page cache (it needs root), so that the next
// query reads from the disk as it would on a server that has not touched
// those pages lately. PostgreSQL's shared buffers stay warm.
func dropCaches() error {
	if err := exec.Command("sync").Run(); err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("3\n"), 0); err != nil {
		return fmt.Errorf("-cold needs Linux and root: %w", err)
	}
	return nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func sqliteSize(path string) string {
	var total int64
	for _, p := range []string{path, path + "-wal"} {
		if fi, err := os.Stat(p); err == nil {
			total += fi.Size()
		}
	}
	return fmt.Sprintf("%.0f MB (file and WAL)", float64(total)/1e6)
}

// benchSchema creates a schema of its own in the PostgreSQL database at dsn
// and returns a DSN whose search_path is that schema, and how to drop it.
func benchSchema(ctx context.Context, dsn string) (string, func(), error) {
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", nil, fmt.Errorf("-database must be a postgres:// URL")
	}
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		return "", nil, fmt.Errorf("open postgres: %w", err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	schema := "kakunin_bench_scope_" + hex.EncodeToString(b)
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		return "", nil, fmt.Errorf("create schema %s: %w", schema, err)
	}
	drop := func() {
		admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		admin.Close()
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), drop, nil
}

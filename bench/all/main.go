// Command all runs every workload of kakunin's performance goals next to
// its baseline, in the same run on the same machine, and prints one table:
// the workload's figure, the baseline's, their ratio and the goal.
//
//	go run ./bench/all                  # small sizes: a few minutes on 2 cores
//	go run ./bench/all -size full       # the sizes the goals are stated at (an hour or more)
//	go run ./bench/all -only intake,review
//
// Intake and review are measured here; audit, check, scope and notify run the
// benchmark programs beside this one (bench/audit, bench/check, bench/scope,
// bench/notify) as they are and read their ratios from their output, which
// is shown as they go, for progress. A workload that cannot run on this
// machine (notify without Postfix's smtp-sink, PostgreSQL unreachable) is
// listed as not run, with why.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strings"
	"time"
)

type options struct {
	size     string // small or full
	only     []string
	postgres string
	data     string
}

// row is one line of the table.
type row struct {
	workload string
	figure   string // the workload's measurement
	baseline string // the baseline's, same run
	ratio    string
	goal     string
	met      string // yes, no, or why not measured
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var opt options
	var only string
	flag.StringVar(&opt.size, "size", "small", "small (minutes) or full (the sizes of the goals; an hour or more)")
	flag.StringVar(&only, "only", "", "comma-separated workloads to run: intake, review, audit, check, scope, notify, purge (default all)")
	flag.StringVar(&opt.postgres, "postgres", envOr("KAKUNIN_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"), "PostgreSQL for the rows measured on both engines; empty: SQLite only")
	flag.StringVar(&opt.data, "data", "", "directory for the benchmarks' data (default: the system temp dir); put it on the disk you care about")
	flag.Parse()
	if opt.size != "small" && opt.size != "full" {
		fmt.Fprintln(os.Stderr, "bench/all: -size is small or full")
		os.Exit(2)
	}
	if only != "" {
		opt.only = strings.Split(only, ",")
	}
	rows, err := run(ctx, opt, os.Stdout)
	printTable(os.Stdout, opt, rows)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/all:", err)
		os.Exit(1)
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func (o options) wants(name string) bool { return len(o.only) == 0 || slices.Contains(o.only, name) }

func run(ctx context.Context, opt options, out io.Writer) ([]row, error) {
	began := time.Now()
	fmt.Fprintf(out, "bench/all -size %s on %d CPUs, %s/%s, %s\n", opt.size, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version())
	var rows []row
	steps := []struct {
		name string
		f    func(context.Context, options, io.Writer) ([]row, error)
	}{
		{"intake", intakeRows},
		{"review", reviewRows},
		{"audit", auditRows},
		{"check", checkRows},
		{"scope", scopeRows},
		{"notify", notifyRows},
		{"purge", purgeRows},
	}
	var errs []error
	for _, s := range steps {
		if !opt.wants(s.name) {
			continue
		}
		fmt.Fprintf(out, "\n== %s (%s since start)\n", s.name, time.Since(began).Round(time.Second))
		rs, err := s.f(ctx, opt, out)
		rows = append(rows, rs...)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.name, err))
			if ctx.Err() != nil {
				break
			}
		}
	}
	fmt.Fprintf(out, "\ntotal %s\n", time.Since(began).Round(time.Second))
	return rows, errors.Join(errs...)
}

func printTable(w io.Writer, opt options, rows []row) {
	fmt.Fprintf(w, "\n| workload | kakunin | baseline (same run) | ratio | goal | met |\n|---|---|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", r.workload, r.figure, r.baseline, r.ratio, r.goal, r.met)
	}
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "no"
}

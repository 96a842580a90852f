package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"time"

	"github.com/kakunin/kakunin/internal/watermark"
)

// runBench runs one of the benchmark programs beside this one, showing its
// output as it comes (their progress lines) and returning it.
func runBench(ctx context.Context, out io.Writer, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", append([]string{"run", "./bench/" + name}, args...)...)
	var buf bytes.Buffer
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	done := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			buf.WriteString(line + "\n")
			fmt.Fprintf(out, "  [%s] %s\n", name, line)
		}
		close(done)
	}()
	err := cmd.Run()
	pw.Close()
	<-done
	return buf.String(), err
}

func firstFloat(re *regexp.Regexp, s string, group int) (float64, bool) {
	m := re.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	f, err := strconv.ParseFloat(m[group], 64)
	return f, err == nil
}

var (
	// bench/audit's rows: name, events, seconds, events/s, MB/s.
	reAppend = regexp.MustCompile(`(?m)^append, group commit.*?\s+(\d+)\s+([\d.]+)\s+(\d+)\s+([\d.]+)`)
	reTxEach = regexp.MustCompile(`(?m)^append, one tx per event.*?\s+(\d+)\s+([\d.]+)\s+(\d+)\s+([\d.]+)`)
	reVerify = regexp.MustCompile(`(?m)^verify whole chain.*?\s+(\d+)\s+([\d.]+)\s+(\d+)\s+([\d.]+)`)
	reGoSHA  = regexp.MustCompile(`(?m)^ref: Go SHA-256.*?\s+(\d+)\s+([\d.]+)\s+(\d+)\s+([\d.]+)`)
)

func auditRows(ctx context.Context, opt options, out io.Writer) ([]row, error) {
	args := map[string][]string{"small": {"-n", "50000", "-baseline-n", "5000"}, "full": {"-n", "200000", "-baseline-n", "20000"}}[opt.size]
	if opt.data != "" {
		args = append(args, "-data", opt.data)
	}
	text, err := runBench(ctx, out, "audit", args...)
	if err != nil {
		return nil, err
	}
	var rows []row
	if m := reAppend.FindStringSubmatch(text); m != nil {
		rate, _ := strconv.ParseFloat(m[3], 64)
		base := "?"
		if b := reTxEach.FindStringSubmatch(text); b != nil {
			base = b[3] + " events/s, one transaction each"
		}
		rows = append(rows, row{workload: "audit append (SQLite, group commit)", figure: fmt.Sprintf("%.0f events/s", rate), baseline: base,
			ratio: "—", goal: "≥ 20 k events/s", met: yesNo(rate >= 20_000)})
	}
	v, ok1 := firstFloat(reVerify, text, 4)
	h, ok2 := firstFloat(reGoSHA, text, 4)
	if ok1 && ok2 {
		ratio := v / h
		rows = append(rows, row{workload: "audit verify", figure: fmt.Sprintf("%.1f MB/s", v), baseline: fmt.Sprintf("Go crypto/sha256 per event %.1f MB/s", h),
			ratio: fmt.Sprintf("%.2f×", ratio), goal: "≥ 0.5×", met: yesNo(ratio >= 0.5)})
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("bench/audit printed no ratio")
	}
	return rows, nil
}

var reWhole = regexp.MustCompile(`(?m)^whole history\s+no\s+\d+\s+\d+\s+\d+\s+\d+\s+([\d.]+)\s+([\d.]+)\s+scope`)
var reBaseline = regexp.MustCompile(`baseline: .*?: ([\d.]+) s, (\d+) rows`)

func scopeRows(ctx context.Context, opt options, out io.Writer) ([]row, error) {
	docs := map[string]string{"small": "200000", "full": "2000000"}[opt.size]
	args := []string{"-documents", docs, "-runs", "3"}
	if opt.data != "" {
		args = append(args, "-data", opt.data)
	}
	text, err := runBench(ctx, out, "scope", args...)
	if err != nil {
		return nil, err
	}
	secs, ok1 := firstFloat(reWhole, text, 1)
	ratio, ok2 := firstFloat(reWhole, text, 2)
	base, ok3 := firstFloat(reBaseline, text, 1)
	if !ok1 || !ok2 || !ok3 {
		return nil, fmt.Errorf("bench/scope printed no whole-history ratio")
	}
	return []row{{workload: "incident scope, whole history, " + docs + " documents (SQLite, warm)", figure: fmt.Sprintf("%.3f s", secs),
		baseline: fmt.Sprintf("full pass over documents %.3f s", base), ratio: fmt.Sprintf("%.1f× the time", ratio), goal: "≤ 2×", met: yesNo(ratio <= 2)}}, nil
}

var reNotify = regexp.MustCompile(`ratio kakunin / bare client: ([\d.]+)`)

func notifyRows(ctx context.Context, opt options, out io.Writer) ([]row, error) {
	n := map[string]string{"small": "20000", "full": "1710000"}[opt.size]
	r := row{workload: "notify " + n + " members through smtp-sink", goal: "≥ 0.5× bare SMTP client"}
	if _, err := os.Stat("/usr/sbin/smtp-sink"); err != nil {
		r.met = "not run: needs Postfix's smtp-sink (apt-get install postfix)"
		return []row{r}, nil
	}
	text, err := runBench(ctx, out, "notify", "-n", n)
	if err != nil {
		return nil, err
	}
	ratio, ok := firstFloat(reNotify, text, 1)
	if !ok {
		return nil, fmt.Errorf("bench/notify printed no ratio")
	}
	r.ratio, r.met = fmt.Sprintf("%.2f×", ratio), yesNo(ratio >= 0.5)
	return []row{r}, nil
}

// reviewRows times what a reviewer's image costs: watermark.Apply on a
// 9 MB photo (decode, draw the mark, encode), against decoding and
// encoding the same image alone.
func reviewRows(ctx context.Context, opt options, out io.Writer) ([]row, error) {
	runs := map[string]int{"small": 5, "full": 20}[opt.size]
	photo := photoOfSize(9_000_000)
	fmt.Fprintf(out, "review: %.1f MB photo, %d runs each, the median kept\n", float64(len(photo))/1e6, runs)
	mark := watermark.Mark{Reviewer: "reviewer@example.jp", At: time.Now(), TaskID: "doc_bench", Orientation: 1}
	median := func(f func() error) (time.Duration, error) {
		var ds []time.Duration
		for range runs {
			began := time.Now()
			if err := f(); err != nil {
				return 0, err
			}
			ds = append(ds, time.Since(began))
		}
		for i := range ds {
			for j := i + 1; j < len(ds); j++ {
				if ds[j] < ds[i] {
					ds[i], ds[j] = ds[j], ds[i]
				}
			}
		}
		return ds[len(ds)/2], nil
	}
	base, err := median(func() error {
		img, err := jpeg.Decode(bytes.NewReader(photo))
		if err != nil {
			return err
		}
		return jpeg.Encode(io.Discard, img.(image.Image), &jpeg.Options{Quality: 85})
	})
	if err != nil {
		return nil, err
	}
	took, err := median(func() error {
		_, err := watermark.Apply(photo, mark, 50_000_000)
		return err
	})
	if err != nil {
		return nil, err
	}
	ratio := took.Seconds() / base.Seconds()
	fmt.Fprintf(out, "  watermark %s, decode+encode %s\n", took.Round(time.Millisecond), base.Round(time.Millisecond))
	return []row{{workload: "review: open a 9 MB image with watermark", figure: took.Round(time.Millisecond).String(),
		baseline: "decode + encode alone " + base.Round(time.Millisecond).String(), ratio: fmt.Sprintf("%.2f× the time", ratio),
		goal: "≤ 1.5×", met: yesNo(ratio <= 1.5)}}, nil
}

var reCheck = regexp.MustCompile(`(?m)^kakunin /check: \d+ requests, (\d+) requests/s.*\n^bare net/http form parse: \d+ requests, (\d+) requests/s.*\n^ratio kakunin / bare: ([\d.]+), kakunin p99 (\S+)`)

// checkRows runs bench/check on SQLite and, when reachable, PostgreSQL:
// POST /check through `kakunin serve` against a bare handler's form parse.
func checkRows(ctx context.Context, opt options, out io.Writer) ([]row, error) {
	n, dur := map[string]string{"small": "100000", "full": "10000000"}[opt.size], map[string]string{"small": "10s", "full": "30s"}[opt.size]
	engines := [][2]string{{"SQLite", ""}}
	if opt.postgres != "" {
		engines = append(engines, [2]string{"PostgreSQL", opt.postgres})
	}
	var rows []row
	for _, e := range engines {
		args := []string{"-n", n, "-for", dur}
		if e[1] != "" {
			args = append(args, "-database", e[1])
		}
		text, err := runBench(ctx, out, "check", args...)
		if err != nil {
			return rows, err
		}
		m := reCheck.FindStringSubmatch(text)
		if m == nil {
			return rows, fmt.Errorf("bench/check printed no ratio")
		}
		ratio, _ := strconv.ParseFloat(m[3], 64)
		p99, _ := time.ParseDuration(m[4])
		rows = append(rows, row{workload: fmt.Sprintf("/check POST, %s members (%s)", n, e[0]), figure: m[1] + " requests/s, p99 " + m[4],
			baseline: m[2] + " requests/s (bare net/http form parse)", ratio: fmt.Sprintf("%.2f×", ratio),
			goal: "≥ 0.5×, p99 < 10 ms", met: yesNo(ratio >= 0.5 && p99 < 10*time.Millisecond)})
	}
	return rows, nil
}

// Command check measures the public exposure check, POST /check, as a
// browser sends it, against a bare net/http handler doing the same form
// parse, in the same run on the same machine.
//
//	go run ./bench/check                         # 100,000 members, SQLite, 10 s a side
//	go run ./bench/check -n 10000000 -for 30s    # the goal's 10 million members
//	go run ./bench/check -database postgres://postgres@127.0.0.1:5432/test?sslmode=disable
//
// kakunin runs as `kakunin serve` (built by this command) on a data
// directory seeded with -n members whose addresses are sealed as the
// service seals them, behind no proxy but trusting loopback as one, so
// that each request can come from its own client address (X-Forwarded-For)
// and no per-client limit is reached. Its mail goes to an SMTP server in
// this process that accepts and discards. Each request is what a browser
// sends: a form with one address, half of them members', half strangers'.
// The baseline is an http.Server in this process whose handler limits the
// body, parses the same form and writes a page of the same size. Both are
// driven by the same client with the same concurrency, so both share the
// two cores with it.
package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/config"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/vault"
)

type options struct {
	n           int
	concurrency int
	dur         time.Duration
	database    string
	keep        bool
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var o options
	flag.IntVar(&o.n, "n", 100_000, "members to seed (the goal is stated at 10,000,000)")
	flag.IntVar(&o.concurrency, "c", 32, "requests in flight at once, for both sides")
	flag.DurationVar(&o.dur, "for", 10*time.Second, "how long each side is driven")
	flag.StringVar(&o.database, "database", "", "postgres:// URL to measure on PostgreSQL (a new schema, dropped after); empty: SQLite")
	flag.BoolVar(&o.keep, "keep", false, "keep the data directory")
	flag.Parse()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "bench/check:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	dir, err := os.MkdirTemp("", "kakunin-bench-check-")
	if err != nil {
		return err
	}
	if !o.keep {
		defer os.RemoveAll(dir)
	}
	engine, dsn := "SQLite", filepath.Join(dir, "data", "kakunin.db")
	if o.database != "" {
		engine = "PostgreSQL"
		var drop func()
		if dsn, drop, err = benchSchema(ctx, o.database); err != nil {
			return err
		}
		defer drop()
	}
	fmt.Printf("check: %d members on %s, %d in flight, %s a side, %d CPUs\n", o.n, engine, o.concurrency, o.dur, runtime.NumCPU())

	bin := filepath.Join(dir, "kakunin")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/kakunin")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("build kakunin: %w", err)
	}
	data := filepath.Join(dir, "data")
	began := time.Now()
	if err := seed(ctx, dsn, config.DefaultKeyDir(data), o.n); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	fmt.Printf("seed: %d members in %s (not timed)\n", o.n, time.Since(began).Round(time.Millisecond))

	smtpAddr, stopSMTP, err := discardSMTP()
	if err != nil {
		return err
	}
	defer stopSMTP()
	base, stopServe, err := serve(ctx, bin, data, dsn, smtpAddr)
	if err != nil {
		return err
	}
	defer stopServe()

	page, err := answerPage(ctx, base)
	if err != nil {
		return err
	}
	k, err := drive(ctx, "kakunin", base+"/check", o, true)
	if err != nil {
		return err
	}
	bareURL, stopBare, err := bareServer(len(page))
	if err != nil {
		return err
	}
	defer stopBare()
	b, err := drive(ctx, "bare", bareURL, o, false)
	if err != nil {
		return err
	}
	fmt.Printf("kakunin /check: %d requests, %.0f requests/s, p50 %s, p99 %s\n", k.n, k.rate(), k.p(50), k.p(99))
	fmt.Printf("bare net/http form parse: %d requests, %.0f requests/s, p50 %s, p99 %s\n", b.n, b.rate(), b.p(50), b.p(99))
	fmt.Printf("ratio kakunin / bare: %.3f, kakunin p99 %s (goal ≥ 0.5, p99 < 10ms)\n", k.rate()/b.rate(), k.p(99))
	return nil
}

// seed writes n members with sealed addresses, as bench/notify does, into
// a database and key directory that `kakunin serve` then opens as its own.
func seed(ctx context.Context, dsn, keyDir string, n int) error {
	if err := os.MkdirAll(filepath.Dir(keyDir), 0o700); err != nil {
		return err
	}
	if !strings.HasPrefix(dsn, "postgres") {
		if err := os.MkdirAll(filepath.Dir(dsn), 0o700); err != nil {
			return err
		}
	}
	db, err := store.Open(ctx, dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	kek, err := vault.OpenLocalKeyset(filepath.Join(keyDir, "master.json"))
	if err != nil {
		return err
	}
	v, err := vault.New(ctx, kek, keyDir)
	if err != nil {
		return err
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	const flush, perTx = 5000, 250_000
	last := time.Now()
	for start := 0; start < n; {
		err := db.WithBulkTx(ctx, func(tx *store.BulkTx) error {
			for end := min(start+perTx, n); start < end; {
				k := min(flush, end-start)
				ms := make([]*store.MemberRecord, 0, k)
				for i := start; i < start+k; i++ {
					email := memberAddress(i)
					sealed, err := v.SealField(vault.PurposeMemberEmail, []byte(email))
					if err != nil {
						return err
					}
					at := now.Add(-time.Duration(n-i) * time.Millisecond)
					ms = append(ms, &store.MemberRecord{ID: kakunin.NewID("mem"), ExternalID: "ext-" + strconv.Itoa(i), EmailSealed: sealed,
						EmailIndex: v.BlindIndex(vault.PurposeMemberEmailIndex, []byte(email)), Locale: kakunin.LocaleJA, CreatedAt: at, UpdatedAt: at})
				}
				if err := tx.InsertMembers(ctx, ms); err != nil {
					return err
				}
				start += k
				if time.Since(last) > time.Second || start == n {
					fmt.Printf("\rseed: %d / %d", start, n)
					last = time.Now()
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	fmt.Println()
	return db.FinishBulkLoad(ctx)
}

func memberAddress(i int) string { return "m" + strconv.Itoa(i) + "@example.test" }

// serve starts `kakunin serve` on a free port and waits until it answers.
func serve(ctx context.Context, bin, data, dsn, smtpAddr string) (string, func(), error) {
	port, err := freePort()
	if err != nil {
		return "", nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.CommandContext(ctx, bin, "serve", "--addr", addr, "--data", data, "--database", dsn,
		"--smtp-url", "smtp://"+smtpAddr+"?tls=none", "--mail-from", "kakunin@example.jp",
		"--trusted-proxies", "127.0.0.1/32", "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("start kakunin serve: %w", err)
	}
	stop := func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}
	base := "http://" + addr
	for range 300 {
		if resp, err := http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base, stop, nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	return "", nil, errors.New("kakunin serve did not answer /healthz within 30 s")
}

// answerPage fetches kakunin's answer to one check, so that the bare
// handler can write a page of the same size.
func answerPage(ctx context.Context, base string) ([]byte, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/check", strings.NewReader(url.Values{"email": {memberAddress(0)}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-For", "192.0.2.1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("POST /check answered %d, want 200", resp.StatusCode)
	}
	return body, nil
}

// bareServer answers the same form with a page of size bytes, doing what a
// handler must do before any work of its own: limit the body and parse it.
func bareServer(size int) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	page := []byte(strings.Repeat("x", size))
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
		if err := r.ParseForm(); err != nil || r.PostForm.Get("email") == "" {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store, private")
		w.Write(page)
	})}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), func() { srv.Close() }, nil
}

type result struct {
	n    int
	took time.Duration
	lat  []time.Duration
}

func (r result) rate() float64 { return float64(r.n) / r.took.Seconds() }

func (r result) p(q int) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	return r.lat[min(len(r.lat)-1, len(r.lat)*q/100)].Round(10 * time.Microsecond)
}

// drive posts checks for o.dur with o.concurrency requests in flight, each
// from its own client address, half for members and half for strangers.
// Every answer must be 200: a refusal would make the rate meaningless.
func drive(ctx context.Context, name, target string, o options, forwarded bool) (result, error) {
	tr := &http.Transport{MaxIdleConnsPerHost: o.concurrency, MaxConnsPerHost: o.concurrency}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	var (
		mu       sync.Mutex
		lat      []time.Duration
		count    atomic.Int64
		client4  atomic.Uint32
		firstErr error
	)
	deadline := time.Now().Add(o.dur)
	began := time.Now()
	var wg sync.WaitGroup
	progress := time.NewTicker(time.Second)
	defer progress.Stop()
	go func() {
		for range progress.C {
			fmt.Printf("\r%s: %d requests", name, count.Load())
		}
	}()
	for w := range o.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for i := w; time.Now().Before(deadline) && ctx.Err() == nil; i += o.concurrency {
				addr := "stranger" + strconv.Itoa(i) + "@example.org"
				if i%2 == 0 {
					addr = memberAddress(randInt(o.n))
				}
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(url.Values{"email": {addr}}.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				if forwarded {
					c := client4.Add(1)
					req.Header.Set("X-Forwarded-For", fmt.Sprintf("10.%d.%d.%d", byte(c>>16), byte(c>>8), byte(c)))
				}
				t0 := time.Now()
				resp, err := client.Do(req)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("%s answered %d", name, resp.StatusCode)
					}
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				mine = append(mine, time.Since(t0))
				count.Add(1)
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	took := time.Since(began)
	fmt.Printf("\r%s: %d requests in %s\n", name, count.Load(), took.Round(time.Millisecond))
	if firstErr != nil {
		return result{}, firstErr
	}
	slices.Sort(lat)
	return result{n: len(lat), took: took, lat: lat}, nil
}

func randInt(n int) int {
	v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		return 0
	}
	return int(v.Int64())
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// benchSchema makes a schema of its own in the database at dsn and returns
// a DSN that uses it, and a function that drops it.
func benchSchema(ctx context.Context, dsn string) (string, func(), error) {
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", nil, errors.New("-database must be a postgres:// URL")
	}
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		return "", nil, fmt.Errorf("open postgres: %w", err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	schema := "kakunin_bench_" + hex.EncodeToString(b)
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		return "", nil, fmt.Errorf("create schema %s: %w", schema, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), func() {
		admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		admin.Close()
	}, nil
}

// Package e2e drives the real kakunin kakuninBin over HTTP, as the host
// platform, a member and a reviewer would, on SQLite and on PostgreSQL.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kakunin/kakunin/internal/store/storetest"
)

var kakuninBin string

func TestMain(m *testing.M) {
	// Under -short (the inner loop) nothing here runs: each test builds and
	// drives the real binary, minutes in all. Plain go test runs them.
	flag.Parse()
	if testing.Short() {
		fmt.Println("e2e: skipped under -short; run go test ./e2e/ for the real binary, on SQLite, PostgreSQL and in Chromium")
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "kakunin-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	kakuninBin = filepath.Join(dir, "kakunin")
	build := exec.Command("go", "build", "-o", kakuninBin, "../cmd/kakunin")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build kakunin:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// instance is one running kakunin server with its own data directory.
type instance struct {
	t        testing.TB
	URL      string
	Addr     string
	Data     string
	Database string
	Extra    []string
	TempDir  string // the server's TMPDIR, so tests can check it stays empty
	cmd      *exec.Cmd
	logs     *syncBuffer
	APIKey   string
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freeAddr(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// newInstance prepares (but does not start) a server on dsn ("" for the
// default SQLite in its data directory).
func newInstance(t testing.TB, dsn string, extra ...string) *instance {
	t.Helper()
	addr := freeAddr(t)
	in := &instance{t: t, Addr: addr, URL: "http://" + addr, Data: t.TempDir(), TempDir: t.TempDir(), Database: dsn, Extra: extra, logs: &syncBuffer{}}
	t.Cleanup(func() {
		in.Stop()
		if t.Failed() {
			t.Logf("server log:\n%s", in.logs.String())
		}
	})
	return in
}

// startInstance starts a server and creates an API key for it.
func startInstance(t testing.TB, dsn string, extra ...string) *instance {
	t.Helper()
	in := newInstance(t, dsn, extra...)
	in.Start()
	out := in.CLI("apikey", "create", "e2e-host")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	in.APIKey = lines[len(lines)-1]
	return in
}

func (in *instance) common() []string {
	args := []string{"--data", in.Data, "--addr", in.Addr, "--retention-interval", "1s"}
	if in.Database != "" {
		args = append(args, "--database", in.Database)
	}
	return append(args, in.Extra...)
}

// Start runs `kakunin serve` and waits until it answers.
func (in *instance) Start() {
	in.t.Helper()
	in.cmd = exec.Command(kakuninBin, append([]string{"serve"}, in.common()...)...)
	in.cmd.Stdout, in.cmd.Stderr = in.logs, in.logs
	in.cmd.Env = append(os.Environ(), "TMPDIR="+in.TempDir)
	if err := in.cmd.Start(); err != nil {
		in.t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(in.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	in.t.Fatalf("server did not start:\n%s", in.logs.String())
}

// Stop ends the server gracefully.
func (in *instance) Stop() {
	if in.cmd == nil || in.cmd.Process == nil {
		return
	}
	in.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { in.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		in.cmd.Process.Kill()
		<-done
	}
	in.cmd = nil
}

// Kill ends the server at once, as a crash or power cut would.
func (in *instance) Kill() {
	if in.cmd == nil {
		return
	}
	in.cmd.Process.Kill()
	in.cmd.Wait()
	in.cmd = nil
}

// cliFlags are the storage flags of the instance: what its admin commands
// take (they do not take the server's settings).
func (in *instance) cliFlags() []string {
	flags := []string{"--data", in.Data}
	if in.Database != "" {
		flags = append(flags, "--database", in.Database)
	}
	return flags
}

// CLI runs a kakunin subcommand against the same data and returns stdout.
func (in *instance) CLI(args ...string) string {
	in.t.Helper()
	cmd := exec.Command(kakuninBin, append(args, in.cliFlags()...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		in.t.Fatalf("kakunin %v: %v\n%s", args, err, stderr.String())
	}
	return stdout.String()
}

// API sends a JSON request with the instance's API key.
func (in *instance) API(method, path string, body any) (int, map[string]any) {
	in.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, in.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+in.APIKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		in.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	in.checkOpenAPI(req, resp, raw) // every answer, as the document describes it
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			in.t.Fatalf("%s %s: answer is not JSON: %q", method, path, raw)
		}
	}
	return resp.StatusCode, out
}

// staffAccount is what `kakunin staff add` printed.
type staffAccount struct {
	Email, Password, Secret string
}

var (
	rePassword = regexp.MustCompile(`One-time password[^:]*: (\S+)`)
	reSecret   = regexp.MustCompile(`secret: (\S+)`)
)

func (in *instance) AddStaff(email, role string) staffAccount {
	in.t.Helper()
	out := in.CLI("staff", "add", email, "--role", role)
	p, s := rePassword.FindStringSubmatch(out), reSecret.FindStringSubmatch(out)
	if p == nil || s == nil {
		in.t.Fatalf("staff add printed no password or secret:\n%s", out)
	}
	return staffAccount{Email: email, Password: p[1], Secret: s[1]}
}

// browserless is an HTTP client with a cookie jar that does not follow
// redirects, for driving the console's forms step by step.
func browserless() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// engines runs f on SQLite (the default) and on PostgreSQL when available.
func engines(t *testing.T, f func(t *testing.T, dsn string)) {
	t.Run("sqlite", func(t *testing.T) { f(t, "") })
	t.Run("postgres", func(t *testing.T) { f(t, storetest.PostgresDSN(t)) })
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// logLines returns the server's JSON log lines.
func (in *instance) logLines() []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(in.logs.String()))
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

var _ = context.Background

// KeyDir is where the instance keeps its keys: beside its data directory,
// where kakunin puts them by default (never inside it).
func (in *instance) KeyDir() string { return in.Data + "-keys" }

package e2e

import (
	"bufio"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kakunin/kakunin/internal/auth"
)

// TestTheDemoWalksANewcomerThroughTheWholeFlow runs `kakunin demo` and
// follows what it prints: the API call, the member's upload, the
// reviewer's sign-in; then stops it and checks it cleaned up.
func TestTheDemoWalksANewcomerThroughTheWholeFlow(t *testing.T) {
	addr := freeAddr(t)
	cwd := t.TempDir()
	cmd := exec.Command(kakuninBin, "demo", "--addr", addr)
	cmd.Dir = cwd
	cmd.Env = append(os.Environ(), "TMPDIR="+t.TempDir())
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	// Read the instructions up to "Press Ctrl-C", then keep draining.
	var printed strings.Builder
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		printed.WriteString(sc.Text() + "\n")
		if strings.HasPrefix(sc.Text(), "Press Ctrl-C") {
			break
		}
	}
	go io.Copy(io.Discard, stdout)
	out := printed.String()
	find := func(re string) string {
		m := regexp.MustCompile(re).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("the demo did not print %s:\n%s\n%s", re, out, stderr.String())
		}
		return m[1]
	}
	dataDir := find(`Data directory[^:]*: (\S+)`)
	email, password := find(`E-mail\s+(\S+)`), find(`Password\s+(\S+)`)
	secret := find(`authenticator app with the secret (\w+)`)
	uploadURL := find(`Open\s+(http://\S+/u/\S+)`)
	samplePath := find(`and upload (\S+) \(a SAMPLE`)
	apiKey := find(`KAKUNIN_API_KEY=(\S+)`)
	verificationPath := find(`\$KAKUNIN_API_KEY" http://[^/]+(/api/v1/verifications/\S+)`)
	if !strings.Contains(out, "SAMPLE") {
		t.Fatal("the demo does not say its documents are samples")
	}
	base := "http://" + addr

	// The API call it suggests works.
	in := &instance{t: t, URL: base, APIKey: apiKey}
	status, v := in.API("GET", verificationPath, nil)
	if status != 200 || v["status"] != "submitted" {
		t.Fatalf("suggested API call: %d %v", status, v)
	}
	// The member's upload works with the sample file it wrote.
	sample, err := os.ReadFile(samplePath)
	if err != nil {
		t.Fatal(err)
	}
	if status, body := upload(t, uploadURL, "drivers_licence", sample); status != http.StatusSeeOther {
		t.Fatalf("demo upload: %d %s", status, body)
	}
	// The reviewer signs in with what it printed, and finds three documents.
	c := browserless()
	resp, err := c.PostForm(base+"/console/login", url.Values{"email": {email}, "password": {password}})
	if err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("demo password: %v %v", resp, err)
	}
	resp.Body.Close()
	code, _ := auth.CurrentTOTP(secret, time.Now())
	resp, err = c.PostForm(base+"/console/login/totp", url.Values{"code": {code}})
	if err != nil || resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console" {
		t.Fatalf("demo TOTP: %v %v", resp, err)
	}
	resp.Body.Close()
	resp, err = c.Get(base + "/console")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "確認待ち: 3件") {
		t.Fatalf("the demo queue should show 3 waiting documents: %d\n%s", resp.StatusCode, page)
	}

	// Ctrl-C stops it cleanly and removes the throw-away data.
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("demo exit: %v\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the demo did not stop on Ctrl-C")
	}
	if _, err := os.Stat(dataDir); !os.IsNotExist(err) {
		t.Fatalf("the demo left its data directory behind: %v", err)
	}
	if left, _ := os.ReadDir(cwd); len(left) != 0 {
		t.Fatalf("the demo wrote into the directory it ran in: %v", left[0].Name())
	}
}

package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/kakunin/kakunin/internal/config"
)

// runCLI runs kakunin in-process with args and returns the exit status,
// stdout and stderr, as the shell would see them.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := exitCode(&errb, run(context.Background(), args, strings.NewReader(""), &out, &errb))
	return code, out.String(), errb.String()
}

// takes reports whether cmd reads the settings of group g.
func takes(cmd *command, g config.Group) bool {
	for _, h := range cmd.groups {
		if h == g {
			return true
		}
	}
	return false
}

// assertEmptyDir fails unless dir holds nothing (or does not exist).
func assertEmptyDir(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("%s was created in %s", e.Name(), dir)
	}
}

// aSecret is a webhook secret as webhook-secret prints it.
var aSecret = regexp.MustCompile(`whsec_[A-Za-z0-9+/=]{16,}`)

func TestEveryCommandsHelpPrintsItsUsageAndDoesNothingElse(t *testing.T) {
	for _, cmd := range commands() {
		for _, help := range []string{"--help", "-h"} {
			t.Run(cmd.name+" "+help, func(t *testing.T) {
				root := t.TempDir()
				args := append(strings.Fields(cmd.name), help)
				if takes(cmd, config.Storage) {
					args = append(args, "--data", filepath.Join(root, "data"))
				}
				code, out, errs := runCLI(t, args...)
				if code != 0 || errs != "" {
					t.Fatalf("exit %d, stderr %q", code, errs)
				}
				for _, want := range []string{"Usage: kakunin " + cmd.name, cmd.summary, "Example:\n  " + cmd.example} {
					if !strings.Contains(out, want) {
						t.Errorf("usage lacks %q:\n%s", want, out)
					}
				}
				if aSecret.MatchString(out) {
					t.Errorf("--help printed a secret:\n%s", out)
				}
				assertEmptyDir(t, root)
				// "kakunin help NAME" says the same.
				if _, again, _ := runCLI(t, append([]string{"help"}, strings.Fields(cmd.name)...)...); again != out {
					t.Errorf("help %s differs from %s %s:\n%s", cmd.name, cmd.name, help, again)
				}
			})
		}
	}
}

func TestServeHelpListsEverySetting(t *testing.T) {
	_, out, _ := runCLI(t, "serve", "--help")
	for _, g := range config.All {
		if !strings.Contains(out, "\n"+g.Title()+":\n") {
			t.Errorf("serve --help lacks the %s group", g)
		}
		for _, name := range g.Flags() {
			if !strings.Contains(out, "\n  --"+name+" ") && !strings.Contains(out, "\n  --"+name+"\n") {
				t.Errorf("serve --help lacks --%s", name)
			}
		}
	}
	if !strings.Contains(out, "[$KAKUNIN_UPLOAD_LINK_TTL]") || !strings.Contains(out, "(default 24h0m0s)") {
		t.Errorf("serve --help does not name variables and defaults:\n%s", out)
	}
}

func TestHelpListsEveryCommand(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}} {
		code, out, errs := runCLI(t, args...)
		if code != 0 || errs != "" {
			t.Fatalf("%v: exit %d, stderr %q", args, code, errs)
		}
		for _, cmd := range commands() {
			if !strings.Contains(out, "\n  "+strings.TrimPrefix(cmd.usageLine(false), "kakunin ")+" ") {
				t.Errorf("%v does not list %q:\n%s", args, cmd.name, out)
			}
		}
	}
}

func TestThePackageDocListsEveryCommand(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, cmd := range commands() {
		if !strings.Contains(string(doc), "//\t"+strings.TrimPrefix(cmd.usageLine(false), "kakunin ")+" ") {
			t.Errorf("doc.go does not list %q", cmd.name)
		}
	}
}

func TestAMistakenCallExitsTwoWithWhatToDo(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	for _, tc := range []struct {
		args []string
		want string // in stderr
	}{
		{nil, "serve "},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"staff"}, "staff unlock EMAIL"},
		{[]string{"staff", "fire", "x@example.jp"}, `unknown command "staff fire"`},
		{[]string{"staff", "add", "--data", data}, "usage: kakunin staff add EMAIL --role ROLE"},
		{[]string{"apikey", "list", "--data", data, "--smtp-url", "smtp://mail.example:25"}, "kakunin apikey list --help"},
		{[]string{"serve", "--data", data, "--upload-link-ttl", "5"}, "use a unit: 24h, 90m"},
		{[]string{"serve", "--data", data, "--addr", "nowhere"}, "--addr"},
		{[]string{"audit", "export", "--data", data, "--from", "yesterday", "--to", "2026-11-25T00:00:00Z"}, "RFC 3339"},
		{[]string{"incident", "scope", "--data", data, "--from", "2026-11-25T00:00:00Z"}, "--from and --to are both required"},
		{[]string{"dev", "seed", "--data", data}, "--documents N is required"},
		{[]string{"help", "frobnicate"}, `unknown command "frobnicate"`},
	} {
		code, out, errs := runCLI(t, tc.args...)
		if code != 2 || !strings.Contains(errs, tc.want) || out != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 2 and %q", tc.args, code, out, errs, tc.want)
		}
	}
	assertEmptyDir(t, filepath.Dir(data))
}

func TestAFamilyListsItsCommands(t *testing.T) {
	code, out, _ := runCLI(t, "staff", "--help")
	if code != 0 || !strings.Contains(out, "staff add EMAIL --role ROLE") || !strings.Contains(out, "staff unlock EMAIL") || strings.Contains(out, "apikey") {
		t.Errorf("staff --help = %d:\n%s", code, out)
	}
	if _, again, _ := runCLI(t, "help", "staff"); again != out {
		t.Errorf("help staff differs from staff --help:\n%s", again)
	}
}

func TestBadArgumentsAreRefusedBeforeAnythingIsCreated(t *testing.T) {
	for _, args := range [][]string{
		{"staff", "add", "x@example.jp", "--role", "boss"},
		{"staff", "add", "x", "--role", "boss"},
		{"staff", "add", "not an address", "--role", "admin"},
		{"apikey", "create", "  "},
	} {
		root := t.TempDir()
		code, out, errs := runCLI(t, append(args, "--data", filepath.Join(root, "data"))...)
		if code != 2 || out != "" || errs == "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, errs)
		}
		assertEmptyDir(t, root)
	}
	_, _, errs := runCLI(t, "staff", "add", "x@example.jp", "--role", "boss", "--data", t.TempDir())
	if !strings.Contains(errs, `unknown role "boss"`) || !strings.Contains(errs, "reviewer, support, responder, admin, auditor") {
		t.Errorf("the role error does not list the roles: %q", errs)
	}
}

// TestAdminCommandsPrintTheirAnswerAndNothingElse runs the admin commands
// in order on a new data directory, where the first one applies every
// migration: none of it may reach stderr.
func TestAdminCommandsPrintTheirAnswerAndNothingElse(t *testing.T) {
	t.Setenv("KAKUNIN_UPLOAD_LINK_TTL", "soon") // a variable of a group no admin command reads
	data := []string{"--data", t.TempDir()}
	for _, tc := range []struct {
		args []string
		want func(out string) bool
	}{
		{[]string{"migrate"}, func(out string) bool { return out == "database is up to date\n" }},
		{[]string{"apikey", "create", "dating-app"}, func(out string) bool {
			lines := strings.Split(strings.TrimSpace(out), "\n")
			return len(lines) == 2 && strings.HasPrefix(lines[1], "kkn_")
		}},
		{[]string{"apikey", "list"}, func(out string) bool { return strings.Count(out, "\n") == 1 && strings.Contains(out, "\tdating-app\t") }},
		{[]string{"staff", "add", "rev@example.jp", "--role", "admin"}, func(out string) bool {
			return strings.HasPrefix(out, "Staff account created: rev@example.jp (admin)\n") && strings.HasSuffix(out, "Sign in at http://127.0.0.1:8080/console/login\n")
		}},
		{[]string{"staff", "unlock", "rev@example.jp"}, func(out string) bool { return out == "rev@example.jp unlocked\n" }},
		{[]string{"keys", "list"}, func(out string) bool { return strings.HasPrefix(out, "0 epoch key(s) exist") }},
		{[]string{"webhook-secret"}, func(out string) bool { return aSecret.MatchString(out) && strings.Count(out, "\n") == 1 }},
	} {
		args := tc.args
		if tc.args[0] != "webhook-secret" {
			args = append(args, data...)
		}
		code, out, errs := runCLI(t, args...)
		if code != 0 || errs != "" || !tc.want(out) {
			t.Errorf("%v: exit %d\nstdout:\n%s\nstderr:\n%s", tc.args, code, out, errs)
		}
	}
}

func TestAFailureExitsOne(t *testing.T) {
	data := []string{"--data", t.TempDir()}
	code, out, errs := runCLI(t, append([]string{"apikey", "revoke", "key_nope"}, data...)...)
	if code != 1 || out != "" || !strings.HasPrefix(errs, "kakunin: revoke: ") {
		t.Errorf("revoke of an unknown key: exit %d, stdout %q, stderr %q", code, out, errs)
	}
}

func TestVersionNamesTheModuleAndTheToolchain(t *testing.T) {
	code, out, errs := runCLI(t, "version")
	if code != 0 || errs != "" || !strings.HasPrefix(out, "kakunin ") || !strings.Contains(out, "github.com/kakunin/kakunin") || !strings.Contains(out, "go1.") {
		t.Errorf("version: exit %d\n%s%s", code, out, errs)
	}
	if _, again, _ := runCLI(t, "--version"); again != out {
		t.Errorf("--version differs from version:\n%s", again)
	}
}

func TestServeTellsANewcomerWhereItListensAndWhatToDoNext(t *testing.T) {
	cfg := &config.Config{Addr: "127.0.0.1:8080", PublicURL: "http://127.0.0.1:8080", Data: "/srv/kk", KeyDir: "/srv/kk/keys", Keyset: "/etc/kk/master.json",
		Warnings: []string{"the key directory /srv/kk/keys is inside the data directory /srv/kk"}}
	for _, tc := range []struct {
		noAdmin bool
		given   map[string]bool
		want    []string
		not     []string
	}{
		{true, map[string]bool{}, []string{"kakunin is listening on http://127.0.0.1:8080\n", "/srv/kk (sqlite database)", "/etc/kk/master.json",
			"WARNING     the key directory /srv/kk/keys is inside the data directory",
			"next: kakunin staff add you@example.jp --role admin, or try kakunin demo\n"}, []string{"public URL", "console"}},
		{true, map[string]bool{"data": true, "keyset": true}, []string{"--role admin --data /srv/kk (with serve's --database and key settings), or try kakunin demo"}, nil},
		{false, map[string]bool{}, []string{"console     http://127.0.0.1:8080/console/login"}, []string{"next:"}},
	} {
		var b strings.Builder
		welcome(&b, cfg, "127.0.0.1:8080", "sqlite", tc.noAdmin, tc.given)
		for _, w := range tc.want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("welcome lacks %q:\n%s", w, b.String())
			}
		}
		for _, w := range tc.not {
			if strings.Contains(b.String(), w) {
				t.Errorf("welcome has %q:\n%s", w, b.String())
			}
		}
	}
	if isTerminal(&strings.Builder{}) {
		t.Error("a buffer is taken for a terminal")
	}
}

func TestVersionShowsTheCommitItWasBuiltFrom(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Path: "github.com/kakunin/kakunin", Version: "(devel)"},
		Settings: []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "82ba3d6e"},
			{Key: "vcs.time", Value: "2026-12-01T09:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	var b strings.Builder
	writeVersion(&b, bi)
	want := "kakunin (devel)\n  module    github.com/kakunin/kakunin\n  revision  82ba3d6e (with uncommitted changes)\n  committed 2026-12-01T09:00:00Z\n  go        go1.26.0\n"
	if b.String() != want {
		t.Errorf("version:\n%s\nwant:\n%s", b.String(), want)
	}
}

// doctor needs --url (a usage error, 2) and exits 1 on a finding, with the
// report on stdout: here, nothing answers at the URL.
func TestDoctorNeedsAURLAndExitsOneOnAFinding(t *testing.T) {
	if code, _, errs := runCLI(t, "doctor"); code != 2 || !strings.Contains(errs, "--url is required") {
		t.Errorf("doctor without --url: %d %q", code, errs)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	code, out, errs := runCLI(t, "doctor", "--url", "http://"+addr, "--timeout", "2s")
	if code != 1 || !strings.Contains(out, "FAIL  reach kakunin") || !strings.Contains(errs, "1 finding") {
		t.Errorf("doctor against nothing: %d\n%s\n%s", code, out, errs)
	}
}

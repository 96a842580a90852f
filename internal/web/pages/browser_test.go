package pages

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/brand"
)

// The browser check of every page: each template, filled with its richest
// representative data (representativePages, the one list every page must
// be in, so a new page is checked without editing this file), in every
// language, at a desktop and a phone width, must give
//
//   - no axe-core violation (every rule axe runs by default),
//   - no horizontal overflow: document.documentElement.scrollWidth <= innerWidth,
//   - no error from the Nu HTML checker (vnu), run once over all pages.
//
// axe-core and vnu-jar come from npm; .ci/run installs them with
// `npm install --prefix ~/.cache/kakunin/npm axe-core vnu-jar`
// ($KAKUNIN_NPM overrides the prefix). Without them, or without Chromium,
// the test is skipped, unless KAKUNIN_REQUIRE_BROWSER=1.
//
// Screenshots of the main pages (screenshotPages) at both widths go to
// $KAKUNIN_SCREENSHOTS, by default screenshots/ at the repository's root
// (ignored by git).

const chromiumPath = "/usr/bin/chromium"

// widths are the viewports every page is checked at.
var widths = []struct {
	name          string
	width, height int64
	mobile        bool
}{{"desktop", 1280, 900, false}, {"phone", 390, 844, true}}

// screenshotPages are the pages photographed at both widths.
var screenshotPages = []string{"home", "upload", "upload_status", "check", "portal", "queue", "task",
	"console_home", "console_incident", "notification", "audit_log", "staff_list"}

// auditPage is one page the browser check visits.
type auditPage struct {
	key  string // lang-name: the file and URL name
	name string
	lang kakunin.Locale
	html []byte
}

// auditBrand fills the header and footer as an operator would.
var auditBrand = brand.Brand{Operator: "Sample Operator K.K.", Service: "SampleMatch", ServiceURL: "https://samplematch.example/",
	ContactURL: "https://samplematch.example/contact", PrivacyURL: "https://samplematch.example/privacy"}

// auditPages renders, per language, each template with the representative
// data that gives it the most markup (the most of the page shown at once).
func auditPages(t *testing.T) []auditPage {
	t.Helper()
	r, err := newRenderer(true)
	if err != nil {
		t.Fatal(err)
	}
	var out []auditPage
	for _, lang := range locales {
		richest := map[string][]byte{}
		for _, p := range representativePages() {
			b := baseFor(lang)
			b.Brand = auditBrand
			b.MailOff = p.name == "notification" // the banner, on one page at least
			rec := httptest.NewRecorder()
			if err := r.Render(rec, http.StatusOK, p.name, p.data(b)); err != nil {
				t.Fatalf("render %s: %v", p.name, err)
			}
			if len(rec.Body.Bytes()) > len(richest[p.name]) {
				richest[p.name] = rec.Body.Bytes()
			}
		}
		for _, name := range pageNames {
			out = append(out, auditPage{key: string(lang) + "-" + name, name: name, lang: lang, html: richest[name]})
		}
	}
	return out
}

// tool finds an npm-installed file, or skips (fails under
// KAKUNIN_REQUIRE_BROWSER=1) when it is not there.
func tool(t *testing.T, rel string) string {
	t.Helper()
	prefix := os.Getenv("KAKUNIN_NPM")
	if prefix == "" {
		home, _ := os.UserHomeDir()
		prefix = filepath.Join(home, ".cache", "kakunin", "npm")
	}
	path := filepath.Join(prefix, "node_modules", rel)
	if _, err := os.Stat(path); err != nil {
		msg := fmt.Sprintf("the page check needs %s: npm install --prefix %s axe-core vnu-jar (.ci/run does)", path, prefix)
		if os.Getenv("KAKUNIN_REQUIRE_BROWSER") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return path
}

func TestEveryPageIsAccessibleValidAndFitsAPhone(t *testing.T) {
	if testing.Short() {
		t.Skip("browser check of every page: seconds; skipped under -short")
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("KAKUNIN_REQUIRE_BROWSER") == "1" {
			t.Fatalf("needs %s: %v", chromiumPath, err)
		}
		t.Skipf("needs %s (apt-get install chromium)", chromiumPath)
	}
	axePath := tool(t, "axe-core/axe.min.js")
	vnuPath := tool(t, "vnu-jar/build/dist/vnu.jar")
	axeSource, err := os.ReadFile(axePath)
	if err != nil {
		t.Fatal(err)
	}
	pages := auditPages(t)

	// vnu, once over every page, while the browser works.
	htmlDir := t.TempDir()
	for _, p := range pages {
		if err := os.WriteFile(filepath.Join(htmlDir, p.key+".html"), p.html, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var vnuOut []byte
	var vnuErr error
	var vnuDone sync.WaitGroup
	vnuDone.Go(func() {
		cmd := exec.Command("java", "-jar", vnuPath, "--errors-only", "--format", "json", htmlDir)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		vnuErr = cmd.Run() // exit status 1 when there are errors: the JSON says which
		vnuOut = stderr.Bytes()
	})

	mux := http.NewServeMux()
	mux.Handle("GET /static/", Static())
	mux.HandleFunc("GET /axe.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Write(axeSource)
	})
	for _, p := range pages {
		mux.HandleFunc("GET /p/"+p.key, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Write(p.html)
		})
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()

	shots := os.Getenv("KAKUNIN_SCREENSHOTS")
	if shots == "" {
		shots = filepath.Join("..", "..", "..", "screenshots")
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}

	browser := startChromium(t)
	var mu sync.Mutex
	var results []string
	var wg sync.WaitGroup
	for _, w := range widths {
		wg.Go(func() {
			ctx, cancel := chromedp.NewContext(browser)
			defer cancel()
			var opts []chromedp.EmulateViewportOption
			if w.mobile {
				opts = append(opts, chromedp.EmulateMobile)
			}
			if err := chromedp.Do(ctx, chromedp.EmulateViewport(w.width, w.height, opts...)); err != nil {
				t.Errorf("%s viewport: %v", w.name, err)
				return
			}
			for _, p := range pages {
				pageCtx, cancelPage := context.WithTimeout(ctx, time.Minute)
				line, err := checkPage(pageCtx, srv.URL+"/p/"+p.key)
				cancelPage()
				if err != nil {
					t.Errorf("%s %s: %v", w.name, p.key, err)
					continue
				}
				if slices.Contains(screenshotPages, p.name) {
					if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err != nil {
						t.Errorf("screenshot %s: %v", p.key, err)
					} else if err := os.WriteFile(filepath.Join(shots, p.key+"-"+w.name+".png"), png, 0o644); err != nil {
						t.Error(err)
					}
				}
				mu.Lock()
				results = append(results, fmt.Sprintf("%-8s %-28s %s", w.name, p.key, line))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	vnuDone.Wait()
	slices.Sort(results)
	for _, r := range results {
		t.Log(r)
		if !strings.HasSuffix(r, "ok") {
			t.Error(r)
		}
	}

	var report struct {
		Messages []struct {
			Type, URL, Message, Extract string
			LastLine                    int
		}
	}
	if err := json.Unmarshal(vnuOut, &report); err != nil {
		t.Fatalf("vnu (%v): %v\n%s", vnuErr, err, vnuOut)
	}
	for _, m := range report.Messages {
		t.Errorf("vnu %s: %s:%d: %s (%q)", m.Type, filepath.Base(m.URL), m.LastLine, m.Message, m.Extract)
	}
	if len(report.Messages) == 0 {
		t.Logf("vnu: %d pages, no errors", len(pages))
	}
}

// checkPage loads url, runs axe-core and the overflow check, and says what
// it found: "ok", or the violations and the overflow.
func checkPage(ctx context.Context, url string) (string, error) {
	type violation struct {
		ID, Impact string
		Nodes      []struct{ Target []any }
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		return "", err
	}
	widths, err := chromedp.Run(ctx, chromedp.Evaluate[struct{ Scroll, Inner float64 }](
		`({Scroll: document.documentElement.scrollWidth, Inner: window.innerWidth})`))
	if err != nil {
		return "", err
	}
	// axe is loaded as a cached script file, not evaluated as text: the
	// browser then compiles its half megabyte once, not once a page.
	inject := `new Promise((ok, fail) => { const s = document.createElement("script"); s.src = "/axe.js";
		s.onload = () => ok(true); s.onerror = () => fail(new Error("no axe")); document.head.appendChild(s); })`
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](inject, chromedp.EvalAwaitPromise)); err != nil {
		return "", fmt.Errorf("inject axe: %w", err)
	}
	violations, err := chromedp.Run(ctx, chromedp.Evaluate[[]violation](`axe.run(document).then(r => r.violations)`, chromedp.EvalAwaitPromise))
	if err != nil {
		return "", fmt.Errorf("axe: %w", err)
	}
	var problems []string
	if widths.Scroll > widths.Inner {
		problems = append(problems, fmt.Sprintf("overflow: %.0f px wide in %.0f", widths.Scroll, widths.Inner))
	}
	for _, v := range violations {
		var where []string
		for _, n := range v.Nodes {
			where = append(where, fmt.Sprint(n.Target...))
		}
		problems = append(problems, fmt.Sprintf("axe %s (%s) at %s", v.ID, v.Impact, strings.Join(where, ", ")))
	}
	if len(problems) == 0 {
		return "ok", nil
	}
	return strings.Join(problems, "; "), nil
}

// startChromium starts one headless Debian Chromium for the test.
func startChromium(t *testing.T) context.Context {
	t.Helper()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
	)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancelBrowser(); cancelAlloc() })
	if err := chromedp.Do(browserCtx); err != nil {
		t.Fatalf("start %s: %v", chromiumPath, err)
	}
	return browserCtx
}

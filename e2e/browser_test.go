package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/kakunin/kakunin/internal/auth"
)

// chromiumPath is Debian's Chromium; the tests never download a browser.
const chromiumPath = "/usr/bin/chromium"

// browserTimeout bounds each browser test, so a page that never shows what
// we wait for fails the test instead of hanging it.
const browserTimeout = 60 * time.Second

// startBrowser starts one headless Chromium for the test and returns its
// context. Tabs come from newTab. Without the background-networking flags
// Chromium floods a closed network with refused connections.
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("KAKUNIN_REQUIRE_BROWSER") == "1" {
			t.Fatalf("browser tests need %s (apt-get install chromium): %v", chromiumPath, err)
		}
		t.Skipf("browser tests need %s: install it with `apt-get install chromium` (set KAKUNIN_REQUIRE_BROWSER=1 to make this a failure)", chromiumPath)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox, // the tests may run as root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-features", "Translate,OptimizationHints,MediaRouter"),
		chromedp.Flag("lang", "en-US"),
	)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancelBrowser(); cancelAlloc() })
	// The first Run starts the browser; it must not carry a timeout, or the
	// timeout would end the browser.
	if err := chromedp.Do(browserCtx); err != nil {
		t.Fatalf("start %s: %v", chromiumPath, err)
	}
	return browserCtx
}

// newTab opens a tab in a fresh browser context (its own cookies, like a
// separate person's browser) with the test's time limit.
func newTab(t *testing.T, browserCtx context.Context) context.Context {
	t.Helper()
	tabCtx, cancelTab := chromedp.NewContext(browserCtx, chromedp.WithNewBrowserContext())
	if err := chromedp.Do(tabCtx); err != nil {
		cancelTab()
		t.Fatalf("open tab: %v", err)
	}
	ctx, cancel := context.WithTimeout(tabCtx, browserTimeout)
	t.Cleanup(func() { cancel(); cancelTab() })
	return ctx
}

// disableScript turns off JavaScript in the tab, as a member's locked-down
// browser would.
func disableScript(t *testing.T, ctx context.Context) {
	t.Helper()
	off := chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		return err
	})
	if err := chromedp.Do(ctx, off); err != nil {
		t.Fatalf("disable JavaScript: %v", err)
	}
	// Prove it took: a page's own script must not run.
	must(t, "open a page with a script", chromedp.Do(ctx,
		chromedp.Navigate(`data:text/html,<p id="p">off</p><script>document.getElementById("p").id="on"</script>`)))
	if page := bodyHTML(t, ctx); !strings.Contains(page, `id="p"`) {
		t.Fatalf("JavaScript still runs after disabling it: %s", page)
	}
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// run runs one action that returns a value and fails the test on error.
func run[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// pageLang reads <html lang>.
func pageLang(t *testing.T, ctx context.Context) string {
	t.Helper()
	attr := run(t, ctx, "read html lang", chromedp.AttributeValue(chromedp.CSS("html"), "lang"))
	return attr.Value
}

// bodyHTML is the page's markup as the browser parsed it (read through the
// DOM domain, so it works with JavaScript off too).
func bodyHTML(t *testing.T, ctx context.Context) string {
	t.Helper()
	return run(t, ctx, "read the page", chromedp.OuterHTML(chromedp.CSS("body")))
}

// messages reads a page translation file, so the tests follow wording
// changes instead of hard-coding them.
func messages(t *testing.T, lang string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "internal", "catalogue", "locales", lang+".json"))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("locale %s: %v", lang, err)
	}
	return m
}

// screenshot saves a full-page PNG. It goes to $KAKUNIN_SCREENSHOTS when set
// (to look at the pages), else to the test's temp directory; never into the
// repository.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("KAKUNIN_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	png := run(t, ctx, "screenshot "+name, chromedp.FullScreenshot(100))
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// phone is a typical phone viewport: members mostly come from the app.
func phone(t *testing.T, ctx context.Context) {
	t.Helper()
	must(t, "phone viewport", chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateScale(2))))
}

// newUploadLink registers a Japanese-speaking member and opens a
// verification for them.
func newUploadLink(t *testing.T, in *instance, externalID string) (id, uploadURL string) {
	t.Helper()
	if status, m := in.API("PUT", "/api/v1/members/"+externalID, map[string]string{"email": externalID + "@example.test", "locale": "ja"}); status != http.StatusCreated {
		t.Fatalf("create member: %d %v", status, m)
	}
	status, v := in.API("POST", "/api/v1/verifications", map[string]string{"external_id": externalID})
	if status != http.StatusCreated {
		t.Fatalf("create verification: %d %v", status, v)
	}
	return v["id"].(string), v["upload_url"].(string)
}

func verificationStatus(t *testing.T, in *instance, id string) (string, map[string]any) {
	t.Helper()
	status, v := in.API("GET", "/api/v1/verifications/"+id, nil)
	if status != http.StatusOK {
		t.Fatalf("get verification: %d %v", status, v)
	}
	s, _ := v["status"].(string)
	return s, v
}

// writeFile writes a file for the browser's file chooser and returns its
// absolute path.
func writeFile(t *testing.T, name string, b []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// memberUploads walks the happy path of the member's page: Japanese first,
// switch to English, choose the type and the photo, send, land on
// "Received". It reads the page only through the DOM domain, so it also
// runs with JavaScript off.
func memberUploads(t *testing.T, ctx context.Context, in *instance, id, uploadURL string, shots bool) {
	ja, en := messages(t, "ja"), messages(t, "en")

	must(t, "open the upload link", chromedp.Do(ctx,
		chromedp.Navigate(uploadURL),
		chromedp.WaitVisible(chromedp.CSS(`input[type="file"]#document`))))
	if lang := pageLang(t, ctx); lang != "ja" {
		t.Fatalf("a member with locale ja got a page in %q", lang)
	}
	page := bodyHTML(t, ctx)
	if !strings.Contains(page, ja["upload.warning.my_number"]) {
		t.Fatalf("the Japanese page does not warn about the My Number card's back:\n%s", page)
	}
	if shots {
		screenshot(t, ctx, "upload-ja-phone")
	}

	must(t, "switch to English", chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`.lang-switch a[hreflang="en"]`)),
		chromedp.WaitReady(chromedp.CSS(`html[lang="en"]`)),
		chromedp.WaitVisible(chromedp.CSS(`input[type="file"]#document`))))
	if page := bodyHTML(t, ctx); !strings.Contains(page, en["upload.warning.my_number"]) {
		t.Fatalf("the English page does not warn about the My Number card's back:\n%s", page)
	}
	if shots {
		screenshot(t, ctx, "upload-en-phone")
	}

	card := writeFile(t, "card.jpg", sampleJPEG(t, 1))
	must(t, "fill and send the form", chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("document-type-drivers_licence")),
		chromedp.WaitReady(chromedp.CSS(`#document-type-drivers_licence:checked`)),
		chromedp.SetUploadFiles(chromedp.ID("document"), []string{card}),
		chromedp.Click(chromedp.CSS(`form[enctype="multipart/form-data"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("status-title"))))

	title := run(t, ctx, "read the status title", chromedp.OuterHTML(chromedp.ID("status-title")))
	if !strings.Contains(title, en["status.submitted.title"]) {
		t.Fatalf("status page title %s, want %q", title, en["status.submitted.title"])
	}
	if lang := pageLang(t, ctx); lang != "en" {
		t.Fatalf("the chosen language was lost on the status page: %q", lang)
	}
	if loc := run(t, ctx, "read the location", chromedp.Location()); loc != uploadURL {
		t.Fatalf("after sending, the browser is at %s, want the link itself (post/redirect/get)", loc)
	}
	if shots {
		screenshot(t, ctx, "status-submitted-phone")
	}
	if s, v := verificationStatus(t, in, id); s != "submitted" {
		t.Fatalf("after the browser upload: %v", v)
	}
}

func TestBrowserMemberSendsADocumentFromTheUploadPage(t *testing.T) {
	in := startInstance(t, "")
	browser := startBrowser(t)
	ja, en := messages(t, "ja"), messages(t, "en")

	t.Run("happy path", func(t *testing.T) {
		ctx := newTab(t, browser)
		phone(t, ctx)
		id, uploadURL := newUploadLink(t, in, "browser-happy")
		memberUploads(t, ctx, in, id, uploadURL, true)
	})

	t.Run("without a photo", func(t *testing.T) {
		ctx := newTab(t, browser)
		id, uploadURL := newUploadLink(t, in, "browser-nofile")
		must(t, "open the upload link", chromedp.Do(ctx,
			chromedp.Navigate(uploadURL),
			chromedp.WaitVisible(chromedp.ID("document")),
			chromedp.Click(chromedp.ID("document-type-passport")),
			chromedp.WaitReady(chromedp.CSS(`#document-type-passport:checked`)),
			chromedp.Click(chromedp.CSS(`form[enctype="multipart/form-data"] button[type="submit"]`))))
		// The browser itself refuses first: the file input is required.
		missing := run(t, ctx, "read the file input's validity", chromedp.Evaluate[bool](`document.getElementById("document").validity.valueMissing`))
		if !missing {
			t.Fatal("the file input is not marked missing after sending without a photo")
		}

		// An old browser, or one that skips validation, still gets a clear answer.
		must(t, "send without validation", chromedp.Do(ctx,
			chromedp.Evaluate[chromedp.Void](`document.querySelector('form[enctype="multipart/form-data"]').noValidate = true`),
			chromedp.Click(chromedp.CSS(`form[enctype="multipart/form-data"] button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#upload-error[role="alert"]`)),
			chromedp.WaitVisible(chromedp.ID("document"))))
		alert := run(t, ctx, "read the alert", chromedp.Text(chromedp.ID("upload-error")))
		// A browser sends the empty file input as a part with filename=""
		// and no bytes; that is "no photo chosen", not "unreadable photo".
		if !strings.Contains(alert, ja["upload.error.missing_file"]) {
			t.Errorf("alert %q, want %q", alert, ja["upload.error.missing_file"])
		}
		checked := run(t, ctx, "read the chosen type", chromedp.Evaluate[bool](`document.getElementById("document-type-passport").checked`))
		if !checked {
			t.Error("the chosen document type was not kept on the error page")
		}
		invalid := run(t, ctx, "read aria-invalid", chromedp.AttributeValue(chromedp.ID("document"), "aria-invalid"))
		if invalid.Value != "true" {
			t.Error("the file input is not marked aria-invalid on the error page")
		}
		if s, v := verificationStatus(t, in, id); s != "awaiting_upload" {
			t.Fatalf("after an upload without a photo: %v", v)
		}
	})

	t.Run("not an image", func(t *testing.T) {
		ctx := newTab(t, browser)
		phone(t, ctx)
		id, uploadURL := newUploadLink(t, in, "browser-text")
		text := writeFile(t, "card.jpg", []byte("this is not a photo of anything\n"))
		must(t, "send a text file named card.jpg", chromedp.Do(ctx,
			chromedp.Navigate(uploadURL+"?lang=ja"),
			chromedp.WaitVisible(chromedp.ID("document")),
			chromedp.Click(chromedp.CSS(`.lang-switch a[hreflang="en"]`)),
			chromedp.WaitReady(chromedp.CSS(`html[lang="en"]`)),
			chromedp.WaitVisible(chromedp.ID("document")),
			chromedp.Click(chromedp.ID("document-type-health_insurance")),
			chromedp.SetUploadFiles(chromedp.ID("document"), []string{text}),
			chromedp.Click(chromedp.CSS(`form[enctype="multipart/form-data"] button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#upload-error[role="alert"]`))))
		if lang := pageLang(t, ctx); lang != "en" {
			t.Errorf("the error page is in %q, not the chosen English", lang)
		}
		alert := run(t, ctx, "read the alert", chromedp.Text(chromedp.ID("upload-error")))
		for _, key := range []string{"upload.error.unsupported", "upload.error.reselect"} {
			if !strings.Contains(alert, en[key]) {
				t.Errorf("alert %q lacks %s %q", alert, key, en[key])
			}
		}
		screenshot(t, ctx, "upload-unsupported-phone")
		if s, v := verificationStatus(t, in, id); s != "awaiting_upload" {
			t.Fatalf("after a text file: %v", v)
		}
		// Nothing was left behind (invariant 9): the one blob is the happy path's.
		if n := len(blobFiles(t, in.Data)); n > 1 {
			t.Errorf("%d ciphertext files after one good and two refused uploads", n)
		}
	})
}

func TestBrowserMemberSendsADocumentWithoutJavaScript(t *testing.T) {
	in := startInstance(t, "")
	ctx := newTab(t, startBrowser(t))
	disableScript(t, ctx)
	phone(t, ctx)
	id, uploadURL := newUploadLink(t, in, "browser-nojs")
	memberUploads(t, ctx, in, id, uploadURL, false)
}

func TestBrowserReviewerApprovesADocumentInTheConsole(t *testing.T) {
	in := startInstance(t, "")
	id, uploadURL := newUploadLink(t, in, "browser-review")
	if status, body := upload(t, uploadURL, "drivers_licence", sampleJPEG(t, 7)); status != http.StatusSeeOther {
		t.Fatalf("upload: %d %s", status, body)
	}
	acct := in.AddStaff("reviewer@example.test", "reviewer")
	ctx := newTab(t, startBrowser(t))
	must(t, "desktop viewport", chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)))

	must(t, "sign in with the password", chromedp.Do(ctx,
		chromedp.Navigate(in.URL+"/console/login"),
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), acct.Email),
		chromedp.SendKeys(chromedp.ID("password"), acct.Password),
		chromedp.Click(chromedp.CSS(`form[action^="/console/login?form="] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("code"))))
	code, err := auth.CurrentTOTP(acct.Secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	must(t, "enter the TOTP code", chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("code"), code),
		chromedp.Click(chromedp.CSS(`form[action="/console/login/totp"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("new_password"))))
	if loc := run(t, ctx, "read the location", chromedp.Location()); loc != in.URL+"/console/password" {
		t.Fatalf("first sign-in landed on %s, want the password change", loc)
	}
	newPassword := "a new long password 2026"
	must(t, "change the one-time password", chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("current_password"), acct.Password),
		chromedp.SendKeys(chromedp.ID("new_password"), newPassword),
		chromedp.SendKeys(chromedp.ID("confirm_password"), newPassword),
		chromedp.Click(chromedp.CSS(`form[action="/console/password"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/console/tasks/next"] button`))))
	screenshot(t, ctx, "console-queue")

	must(t, "take the next document", chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`form[action="/console/tasks/next"] button`)),
		chromedp.WaitVisible(chromedp.ID("document_name")),
		chromedp.WaitVisible(chromedp.CSS(`.doc-image img`))))
	// The image loaded and decoded: the watermarked JPEG reached the reviewer.
	_, err = chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector(".doc-image img").complete`))
	must(t, "wait for the image", err)
	width := run(t, ctx, "read the image size", chromedp.Evaluate[int](`document.querySelector(".doc-image img").naturalWidth`))
	if width <= 0 {
		t.Fatalf("the document image did not load or decode (naturalWidth %d)", width)
	}
	screenshot(t, ctx, "console-task")

	must(t, "approve", chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("document_name"), "運転免許証"),
		chromedp.SendKeys(chromedp.ID("issuer"), "東京都公安委員会"),
		// 平成2年1月2日 as the card prints it; the server converts.
		chromedp.SetValue(chromedp.ID("birth_era"), "heisei"),
		chromedp.SendKeys(chromedp.ID("birth_year"), "2"),
		chromedp.SendKeys(chromedp.ID("birth_month"), "1"),
		chromedp.SendKeys(chromedp.ID("birth_day"), "2"),
		chromedp.Click(chromedp.CSS(`form[action$="/approve"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.notice[role="status"]`))))
	lang := pageLang(t, ctx)
	notice := run(t, ctx, "read the notice", chromedp.Text(chromedp.CSS(`.notice[role="status"]`)))
	if want := messages(t, lang)["notice.decided"]; !strings.Contains(notice, want) {
		t.Errorf("notice %q, want %q", notice, want)
	}
	if loc := run(t, ctx, "read the location", chromedp.Location()); !strings.HasPrefix(loc, in.URL+"/console") {
		t.Errorf("after approving, the browser is at %s, want the queue", loc)
	}
	screenshot(t, ctx, "console-queue-decided")

	s, v := verificationStatus(t, in, id)
	res, _ := v["result"].(map[string]any)
	if s != "approved" || res == nil || res["adult"] != true {
		t.Fatalf("after approving in the browser: %v", v)
	}
}

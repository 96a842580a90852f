package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/kakunin/kakunin/internal/jpki"
	"github.com/kakunin/kakunin/internal/jpki/jpkitest"
)

// TestJPKIInBrowser: a member completes the My Number card check in
// Chromium, in Japanese and in English, against a real OpenID provider run
// here (the Digital Agency's stands in for it), through the real binary.
func TestJPKIInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("drives the binary and Chromium (skipped under -short)")
	}
	browser := startBrowser(t)
	in := newInstance(t, "")
	op := jpkitest.Start(t, in.URL+jpki.CallbackPath)
	op.AddUser("taro", "1990-01-01")
	secret := filepath.Join(t.TempDir(), "jpki-secret")
	if err := os.WriteFile(secret, []byte(op.ClientSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	in.Extra = append(in.Extra, "--jpki-issuer", op.Issuer, "--jpki-client-id", op.ClientID, "--jpki-client-secret-file", secret)
	in.Start()
	out := in.CLI("apikey", "create", "e2e-host")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	in.APIKey = lines[len(lines)-1]

	for _, lang := range []string{"ja", "en"} {
		t.Run(lang, func(t *testing.T) {
			msgs := messages(t, lang)
			id, link := newUploadLink(t, in, "jpki-"+lang)
			ctx := newTab(t, browser)
			must(t, "open the upload page", chromedp.Do(ctx, chromedp.Navigate(link+"?lang="+lang), chromedp.WaitVisible(chromedp.CSS("#jpki-start"))))
			if body := bodyHTML(t, ctx); !strings.Contains(body, msgs["agecheck.jpki.heading"]) {
				t.Fatalf("%s page does not offer the card check:\n%s", lang, body)
			}
			must(t, "start the card check and sign in at the provider", chromedp.Do(ctx,
				chromedp.Click(chromedp.CSS("#jpki-start")),
				chromedp.WaitVisible(chromedp.CSS("#username")),
				chromedp.SendKeys(chromedp.CSS("#username"), "taro"),
				chromedp.SendKeys(chromedp.CSS("#password"), jpkitest.Password+"\n")))
			waitFor(t, "the verification decided", 20e9, func() bool { s, _ := verificationStatus(t, in, id); return s == "approved" })
			_, v := verificationStatus(t, in, id)
			r, _ := v["result"].(map[string]any)
			if v["method"] != "jpki_app" || r["adult"] != true || r["method"] != "jpki_app" {
				t.Fatalf("verification %v", v)
			}
			must(t, "the status page", chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("main"))))
			if got := pageLang(t, ctx); got != lang {
				t.Fatalf("status page in %q, want %q", got, lang)
			}
		})
	}
}

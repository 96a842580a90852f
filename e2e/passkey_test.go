package e2e

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/kakunin/kakunin/internal/auth"
)

// startOnLocalhost starts a server whose public URL is http://localhost:PORT:
// WebAuthn refuses IP addresses as relying party IDs, and Chromium counts
// http://localhost as a secure context.
func startOnLocalhost(t *testing.T) *instance {
	t.Helper()
	in := newInstance(t, "")
	_, port, err := net.SplitHostPort(in.Addr)
	if err != nil {
		t.Fatal(err)
	}
	in.URL = "http://localhost:" + port
	in.Extra = append(in.Extra, "--public-url", in.URL)
	in.Start()
	return in
}

// addVirtualAuthenticator gives the tab a platform authenticator (a phone's
// or laptop's) that verifies its user and needs no touch.
func addVirtualAuthenticator(t *testing.T, ctx context.Context) {
	t.Helper()
	must(t, "add a virtual authenticator", chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tg, webauthn.Enable, webauthn.EnableParams{}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, tg, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
			Options: &webauthn.VirtualAuthenticatorOptions{
				Protocol: webauthn.AuthenticatorProtocolCtap2, Transport: webauthn.AuthenticatorTransportInternal,
				HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true,
			},
		})
		return err
	})))
}

// signInWithPassword fills the password step and waits for the second
// factor's page.
func signInWithPassword(t *testing.T, ctx context.Context, in *instance, email, password string) {
	t.Helper()
	must(t, "sign in with the password", chromedp.Do(ctx,
		chromedp.Navigate(in.URL+"/console/login"),
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), email),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.CSS(`form[action^="/console/login?form="] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("code"))))
}

func enterTOTP(t *testing.T, ctx context.Context, secret string, at time.Time, then chromedp.Action[chromedp.Void]) {
	t.Helper()
	code, err := auth.CurrentTOTP(secret, at)
	if err != nil {
		t.Fatal(err)
	}
	must(t, "enter the TOTP code", chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("code"), code),
		chromedp.Click(chromedp.CSS(`form[action="/console/login/totp"] button[type="submit"]`)),
		then))
}

func TestBrowserStaffSignsInWithAPasskey(t *testing.T) {
	in := startOnLocalhost(t)
	acct := in.AddStaff("reviewer@example.test", "reviewer")
	browser := startBrowser(t)
	en := messages(t, "en")
	newPassword := "a new long password 2026"

	ctx := newTab(t, browser)
	must(t, "desktop viewport", chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)))
	addVirtualAuthenticator(t, ctx)

	// First sign-in: password, TOTP, the one-time password replaced.
	signInWithPassword(t, ctx, in, acct.Email, acct.Password)
	if page := bodyHTML(t, ctx); strings.Contains(page, `data-passkey="login"`) {
		t.Fatal("the second-factor page offers a passkey to an account without one")
	}
	enterTOTP(t, ctx, acct.Secret, time.Now(), chromedp.WaitVisible(chromedp.ID("new_password")))
	must(t, "change the one-time password", chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("current_password"), acct.Password),
		chromedp.SendKeys(chromedp.ID("new_password"), newPassword),
		chromedp.SendKeys(chromedp.ID("confirm_password"), newPassword),
		chromedp.Click(chromedp.CSS(`form[action="/console/password"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/console/tasks/next"] button`))))

	// Register a passkey from the passkeys page (in English).
	must(t, "register a passkey", chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`.staff-nav a[href="/console/passkeys"]`)),
		chromedp.WaitVisible(chromedp.ID("passkey-name")),
		chromedp.Click(chromedp.CSS(`.lang-switch a[hreflang="en"]`)),
		chromedp.WaitReady(chromedp.CSS(`html[lang="en"]`)),
		chromedp.WaitVisible(chromedp.ID("passkey-name")),
		chromedp.SendKeys(chromedp.ID("passkey-name"), "Work laptop"),
		chromedp.Click(chromedp.CSS(`form[data-passkey="register"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.notice[role="status"]`))))
	page := bodyHTML(t, ctx)
	if !strings.Contains(page, en["notice.passkey_added"]) || !strings.Contains(page, "Work laptop") {
		t.Fatalf("after registering, the passkeys page says:\n%s", page)
	}
	if strings.Contains(page, `role="alert"`) {
		t.Fatalf("registration ended in an error:\n%s", page)
	}
	screenshot(t, ctx, "console-passkeys")

	// Sign out, and back in with the password and the passkey.
	must(t, "sign out", chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`form[action="/console/logout"] button`)),
		chromedp.WaitVisible(chromedp.ID("email"))))
	signInWithPassword(t, ctx, in, acct.Email, newPassword)
	must(t, "wait for the passkey button", chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`button[data-passkey="login"]`))))
	screenshot(t, ctx, "console-totp-passkey")
	must(t, "use the passkey", chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`button[data-passkey="login"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/console/tasks/next"] button`))))
	if loc := run(t, ctx, "read the location", chromedp.Location()); loc != in.URL+"/console" {
		t.Fatalf("after the passkey, the browser is at %s, want the console", loc)
	}

	// The passkey was used, and the sign-in by passkey is fresh enough to
	// remove it at once.
	must(t, "open the passkeys page", chromedp.Do(ctx,
		chromedp.Navigate(in.URL+"/console/passkeys"),
		chromedp.WaitVisible(chromedp.CSS(`form[action$="/delete"] button`))))
	if page := bodyHTML(t, ctx); strings.Contains(page, en["passkeys.never_used"]) {
		t.Errorf("the passkey is listed as never used after signing in with it:\n%s", page)
	}
	must(t, "remove the passkey", chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`form[action$="/delete"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`.notice[role="status"]`))))
	if page := bodyHTML(t, ctx); !strings.Contains(page, en["notice.passkey_removed"]) || !strings.Contains(page, en["passkeys.empty"]) {
		t.Fatalf("after removing, the passkeys page says:\n%s", page)
	}

	t.Run("without JavaScript", func(t *testing.T) {
		ctx := newTab(t, browser)
		disableScript(t, ctx)
		signInWithPassword(t, ctx, in, acct.Email, newPassword)
		// A code of the next time step: the last one was used above.
		enterTOTP(t, ctx, acct.Secret, time.Now().Add(30*time.Second), chromedp.WaitVisible(chromedp.CSS(`form[action="/console/tasks/next"] button`)))
		must(t, "open the passkeys page", chromedp.Do(ctx,
			chromedp.Navigate(in.URL+"/console/passkeys?lang=en"),
			chromedp.WaitVisible(chromedp.CSS(`[data-passkey-nojs]`))))
		text := run(t, ctx, "read the explanation", chromedp.Text(chromedp.CSS(`[data-passkey-nojs]`)))
		if !strings.Contains(text, en["passkeys.add.nojs"]) {
			t.Errorf("without JavaScript the page says %q, want %q", text, en["passkeys.add.nojs"])
		}
		must(t, "the add form stays hidden", chromedp.Do(ctx, chromedp.WaitNotVisible(chromedp.ID("passkey-name"))))
	})
}

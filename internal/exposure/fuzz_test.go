package exposure_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/kakunin/kakunin/internal/exposure"
)

// FuzzValidAddress: whatever anyone types into /check, the check either
// refuses it or keeps a single, plain address that parses as itself, with
// no line break or NUL that could reach a mail header, and that it would
// accept again unchanged.
func FuzzValidAddress(f *testing.F) {
	for _, s := range []string{"member@example.jp", "  Member@Example.JP \n", "a@b", "\"quoted name\" <a@b.jp>",
		"a@b.jp\r\nBcc: x@y.jp", "a@b.jp\x00", "@", "a@", "ユーザー@例え.jp", strings.Repeat("a", 300) + "@b.jp", "a@[127.0.0.1]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, typed string) {
		out, ok := exposure.ValidAddress(typed)
		if !ok {
			if out != "" {
				t.Fatalf("refused %q but returned %q", typed, out)
			}
			return
		}
		if out != strings.TrimSpace(typed) || len(out) > exposure.MaxAddress || strings.ContainsAny(out, "\r\n\x00") || !strings.Contains(out, "@") {
			t.Fatalf("accepted %q as %q", typed, out)
		}
		if p, err := mail.ParseAddress(out); err != nil || p.Address != out {
			t.Fatalf("accepted %q, which parses as %v %v", out, p, err)
		}
		if again, ok := exposure.ValidAddress(out); !ok || again != out {
			t.Fatalf("not stable: %q → %q %v", out, again, ok)
		}
	})
}

// hmacSigner is the vault's MAC in miniature: enough for the token's
// parsing, which is what is fuzzed.
type hmacSigner []byte

func (k hmacSigner) MAC(purpose string, msg []byte) []byte {
	m := hmac.New(sha256.New, k)
	m.Write([]byte(purpose + "\x00"))
	m.Write(msg)
	return m.Sum(nil)
}

func (k hmacSigner) VerifyMAC(purpose string, msg, tag []byte) bool {
	return hmac.Equal(k.MAC(purpose, msg), tag)
}

// FuzzCheckLinkToken: a link token opens only in the one spelling
// LinkToken writes, and never panics on anything else.
func FuzzCheckLinkToken(f *testing.F) {
	s := hmacSigner("fuzz key")
	now := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	f.Add(exposure.LinkToken(s, "mem_abc", exposure.ViaMail, now.Add(time.Hour)))
	f.Add(exposure.LinkToken(s, "mem_abc", exposure.ViaHandoff, now.Add(-time.Hour)))
	f.Add(exposure.LinkToken(s, "", exposure.ViaMail, now.Add(time.Hour)))
	f.Add("mem_abc.1800000000.m.")
	f.Add("....")
	f.Fuzz(func(t *testing.T, token string) {
		member, via, exp, err := exposure.CheckLinkToken(s, token, now)
		if err != nil {
			return
		}
		if again := exposure.LinkToken(s, member, via, exp); again != token {
			t.Fatalf("accepted %q, which LinkToken writes as %q", token, again)
		}
		if !exp.After(now) {
			t.Fatalf("accepted an expired token %q", token)
		}
	})
}

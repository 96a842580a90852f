package verification_test

import (
	"bytes"
	"encoding/base64"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/store/storetest"
	"github.com/kakunin/kakunin/internal/vault"
	"github.com/kakunin/kakunin/internal/verification"
	"github.com/kakunin/kakunin/internal/webhook"
)

func TestUpsertMemberRefusesABadExternalID(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		bad := map[string]string{
			"empty":              "",
			"129 characters":     strings.Repeat("a", 129),
			"a slash":            "team/42",
			"a space":            "member 42",
			"a tab":              "member\t42",
			"a newline":          "member\n42",
			"a NUL":              "member\x0042",
			"DEL":                "member\x7f",
			"invalid UTF-8":      "member\xff42",
			"only a slash":       "/",
			"a path":             "../etc/passwd",
			"a carriage return":  "member\r42",
			"an escape sequence": "member\x1b[31m",
		}
		for name, id := range bad {
			t.Run(name, func(t *testing.T) {
				m, created, err := e.Verifications.UpsertMember(e.ctx, id, "hanako@example.jp", kakunin.LocaleJA)
				if kakunin.ErrorCode(err) != kakunin.EINVALID {
					t.Fatalf("UpsertMember(%q) = %v, %v, %v; want EINVALID", id, m, created, err)
				}
			})
		}
		if n := e.countMembers(); n != 0 {
			t.Fatalf("%d members stored after refused upserts, want 0", n)
		}
		for _, id := range []string{strings.Repeat("a", 128), "会員-42_x.y@z", "!~"} {
			if _, created, err := e.Verifications.UpsertMember(e.ctx, id, "hanako@example.jp", kakunin.LocaleJA); err != nil || !created {
				t.Errorf("UpsertMember(%q) = %v, %v; want created", id, created, err)
			}
		}
	})
}

func TestUpsertMemberRefusesInvisibleUnicodeControlsInTheExternalID(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		// The message promises "visible characters": C1 controls (NEL,
		// CSI), bidi overrides and line separators are not.
		var accepted []string
		for _, id := range []string{"member\u0085", "member\u009b31m", "member\u202egnp.exe", "member\u2028", "member\u200b", "member\u3000x"} {
			_, _, err := e.Verifications.UpsertMember(e.ctx, id, "hanako@example.jp", kakunin.LocaleJA)
			if kakunin.ErrorCode(err) != kakunin.EINVALID {
				accepted = append(accepted, strconv.QuoteToASCII(id))
			}
		}
		if len(accepted) > 0 {
			t.Fatalf("external IDs with non-visible characters were accepted: %v", accepted)
		}
	})
}

func TestUpsertMemberRefusesAnAddressThatIsNotPlainOrAnUnknownLocale(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		for _, email := range []string{
			"", "   ", "not-an-address", "hanako", "@example.jp", "hanako@",
			"Hanako Sato <hanako@example.jp>", "<hanako@example.jp>", "hanako@example.jp (Hanako)",
			"hanako@example.jp, taro@example.jp", "hanako@@example.jp",
			strings.Repeat("a", 64) + "@" + strings.Repeat("b", 187) + ".jp", // 255 characters
		} {
			if _, _, err := e.Verifications.UpsertMember(e.ctx, "m1", email, kakunin.LocaleJA); kakunin.ErrorCode(err) != kakunin.EINVALID {
				t.Errorf("UpsertMember(email %q) = %v, want EINVALID", email, err)
			}
		}
		for _, loc := range []kakunin.Locale{"", "fr", "JA", "ja-JP", "en_US"} {
			if _, _, err := e.Verifications.UpsertMember(e.ctx, "m1", "hanako@example.jp", loc); kakunin.ErrorCode(err) != kakunin.EINVALID {
				t.Errorf("UpsertMember(locale %q) = %v, want EINVALID", loc, err)
			}
		}
		if n := e.countMembers(); n != 0 {
			t.Fatalf("%d members stored after refused upserts, want 0", n)
		}
		for _, loc := range []kakunin.Locale{kakunin.LocaleJA, kakunin.LocaleEN} {
			if _, _, err := e.Verifications.UpsertMember(e.ctx, "m-"+string(loc), " hanako@example.jp ", loc); err != nil {
				t.Errorf("UpsertMember(locale %q, address with spaces around) = %v, want accepted", loc, err)
			}
		}
	})
}

func TestUpsertMemberStoresTheAddressOnlySealedWithABlindIndexOfItsNormalForm(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		const addr = "Hanako.Sato.Unique7421@Example.JP"
		if _, _, err := e.Verifications.UpsertMember(e.ctx, "m1", addr, kakunin.LocaleJA); err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.Verifications.UpsertMember(e.ctx, "m2", "  "+strings.ToLower(addr), kakunin.LocaleEN); err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.Verifications.UpsertMember(e.ctx, "m3", "taro.unique7421@example.jp", kakunin.LocaleJA); err != nil {
			t.Fatal(err)
		}

		sealed1, index1 := e.row("m1")
		sealed2, index2 := e.row("m2")
		_, index3 := e.row("m3")
		for _, plain := range []string{addr, strings.ToLower(addr), "Unique7421", "unique7421"} {
			if bytes.Contains(sealed1, []byte(plain)) || bytes.Contains(index1, []byte(plain)) {
				t.Errorf("the stored row of m1 contains %q", plain)
			}
		}
		if got, err := e.Vault.OpenField(vault.PurposeMemberEmail, sealed1); err != nil || string(got) != addr {
			t.Errorf("sealed address opens as %q, %v; want %q", got, err, addr)
		}
		if bytes.Equal(sealed1, sealed2) {
			t.Error("the same address sealed twice gives the same ciphertext")
		}
		if len(index1) != 32 || !bytes.Equal(index1, index2) {
			t.Errorf("blind indexes of the same normalised address differ: %x vs %x", index1, index2)
		}
		if bytes.Equal(index1, index3) {
			t.Error("two different addresses share a blind index")
		}
		if want := e.Vault.BlindIndex(vault.PurposeMemberEmailIndex, []byte(verification.NormalizeEmail(addr))); !bytes.Equal(index1, want) {
			t.Error("the stored index is not the blind index of the normalised address")
		}
		if m, err := e.Verifications.Member(e.ctx, "m1"); err != nil || m.Email != addr {
			t.Errorf("Member(m1) = %+v, %v; want the address back as given", m, err)
		}

		if e.DBPath == "" {
			return
		}
		// The SQLite files themselves, WAL folded in, hold no trace of it.
		if _, err := e.DB.SQL().ExecContext(e.ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{e.DBPath, e.DBPath + "-wal"} {
			b, err := os.ReadFile(p)
			if os.IsNotExist(err) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			if p == e.DBPath && !bytes.Contains(b, []byte("m3")) {
				t.Fatalf("test premise: %s does not hold the members table", p)
			}
			for _, plain := range []string{"Unique7421", "unique7421", "example.jp", "Example.JP"} {
				if bytes.Contains(b, []byte(plain)) {
					t.Errorf("%s contains %q in plaintext", p, plain)
				}
			}
		}
	})
}

func TestUpsertMemberTwiceUpdatesTheMemberAndReportsItWasNotCreated(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		first, created, err := e.Verifications.UpsertMember(e.ctx, "m1", "old@example.jp", kakunin.LocaleJA)
		if err != nil || !created {
			t.Fatalf("first upsert: created=%v, %v", created, err)
		}
		e.Clock.Set(start.Add(time.Hour))
		second, created, err := e.Verifications.UpsertMember(e.ctx, "m1", "new@example.jp", kakunin.LocaleEN)
		if err != nil || created {
			t.Fatalf("second upsert: created=%v, %v; want not created", created, err)
		}
		if second.ID != first.ID || !second.CreatedAt.Equal(first.CreatedAt) {
			t.Errorf("second upsert made another member: %+v vs %+v", second, first)
		}
		m, err := e.Verifications.Member(e.ctx, "m1")
		if err != nil || m.Email != "new@example.jp" || m.Locale != kakunin.LocaleEN || !m.UpdatedAt.Equal(start.Add(time.Hour)) {
			t.Errorf("member after update = %+v, %v", m, err)
		}
		if _, index := e.row("m1"); !bytes.Equal(index, e.Vault.BlindIndex(vault.PurposeMemberEmailIndex, []byte("new@example.jp"))) {
			t.Error("the blind index still points at the old address")
		}
		if n := e.countMembers(); n != 1 {
			t.Errorf("%d members, want 1", n)
		}
	})
}

// tokenOf returns the token in an upload URL.
func tokenOf(t *testing.T, url string) string {
	t.Helper()
	tok, ok := strings.CutPrefix(url, publicURL+"/u/")
	if !ok || tok == "" || strings.ContainsAny(tok, "/?#") {
		t.Fatalf("upload URL %q is not %s/u/<token>", url, publicURL)
	}
	return tok
}

func TestCreateGivesAnUploadLinkThatOpensItsVerification(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		if _, _, err := e.Verifications.UpsertMember(e.ctx, "m1", "hanako@example.jp", kakunin.LocaleJA); err != nil {
			t.Fatal(err)
		}
		v, url, err := e.Verifications.Create(e.ctx, "m1")
		if err != nil {
			t.Fatal(err)
		}
		if v.Status != kakunin.StatusAwaitingUpload || v.ExternalID != "m1" || !v.ExpiresAt.Equal(start.Add(7*24*time.Hour)) {
			t.Errorf("verification = %+v", v)
		}
		got, m, err := e.Verifications.ForUpload(e.ctx, tokenOf(t, url))
		if err != nil {
			t.Fatalf("ForUpload: %v", err)
		}
		if got.ID != v.ID || got.Status != kakunin.StatusAwaitingUpload || m.ExternalID != "m1" || m.Email != "hanako@example.jp" {
			t.Errorf("ForUpload = %+v, %+v", got, m)
		}
		if stored, err := e.Verifications.Get(e.ctx, v.ID); err != nil || stored.ID != v.ID {
			t.Errorf("Get = %+v, %v", stored, err)
		}
		if _, err := e.Verifications.Get(e.ctx, strings.Repeat("v", 65)); kakunin.ErrorCode(err) != kakunin.ENOTFOUND {
			t.Errorf("Get(over-long id) = %v, want ENOTFOUND", err)
		}
		if _, _, err := e.Verifications.Create(e.ctx, "nobody"); kakunin.ErrorCode(err) != kakunin.ENOTFOUND {
			t.Errorf("Create(unknown member) = %v, want ENOTFOUND", err)
		}
	})
}

const base64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// substitute returns tok with the character at i replaced by one that
// decodes differently: in the tag, a base64url character 16 places on, so
// even the last character changes a bit that counts (its two low bits are
// unused padding); elsewhere any other character.
func substitute(tok string, i int) string {
	c := tok[i]
	var r byte
	switch {
	case i > strings.LastIndexByte(tok, '.'):
		r = base64URL[(strings.IndexByte(base64URL, c)+16)%64]
	case c == '.':
		r = '-'
	case c >= '0' && c <= '8':
		r = c + 1
	case c == '9':
		r = '0'
	default:
		r = 'Z'
	}
	return tok[:i] + string(r) + tok[i+1:]
}

func TestAnUploadTokenAlteredAnywhereIsRefused(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		if _, _, err := e.Verifications.UpsertMember(e.ctx, "m1", "hanako@example.jp", kakunin.LocaleJA); err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.Verifications.UpsertMember(e.ctx, "m2", "taro@example.jp", kakunin.LocaleJA); err != nil {
			t.Fatal(err)
		}
		v, url, err := e.Verifications.Create(e.ctx, "m1")
		if err != nil {
			t.Fatal(err)
		}
		_, otherURL, err := e.Verifications.Create(e.ctx, "m2")
		if err != nil {
			t.Fatal(err)
		}
		tok := tokenOf(t, url)
		parts := strings.Split(tok, ".")
		other := strings.Split(tokenOf(t, otherURL), ".")
		exp, _ := strconv.ParseInt(parts[1], 10, 64)

		altered := map[string]string{
			"empty":                       "",
			"truncated":                   tok[:len(tok)-1],
			"extended":                    tok + "A",
			"expiry stretched a day":      parts[0] + "." + strconv.FormatInt(exp+86400, 10) + "." + parts[2],
			"expiry with a leading zero":  parts[0] + ".0" + parts[1] + "." + parts[2],
			"expiry with a plus sign":     parts[0] + ".+" + parts[1] + "." + parts[2],
			"another link's tag":          parts[0] + "." + parts[1] + "." + other[2],
			"another link's id":           other[0] + "." + parts[1] + "." + parts[2],
			"no tag":                      parts[0] + "." + parts[1],
			"empty tag":                   parts[0] + "." + parts[1] + ".",
			"a fourth part":               tok + ".x",
			"tag in standard base64":      parts[0] + "." + parts[1] + "." + base64.StdEncoding.EncodeToString(mustDecode(t, parts[2])),
			"id in upper case":            strings.ToUpper(parts[0]) + "." + parts[1] + "." + parts[2],
			"over-long":                   tok + strings.Repeat("A", 200),
			"verification id of a member": "mem_x." + parts[1] + "." + parts[2],
		}
		for i := range tok {
			altered["character "+strconv.Itoa(i)+" changed"] = substitute(tok, i)
		}
		for name, bad := range altered {
			if bad == tok {
				t.Fatalf("%s: test premise: the token is unchanged", name)
			}
			if got, _, err := e.Verifications.ForUpload(e.ctx, bad); err == nil {
				t.Errorf("%s: altered token %q accepted (verification %s)", name, bad, got.ID)
			}
		}
		if got, _, err := e.Verifications.ForUpload(e.ctx, tok); err != nil || got.ID != v.ID {
			t.Fatalf("the genuine token no longer opens: %v", err)
		}
	})
}

func mustDecode(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAnUploadTokenHasOnlyOneSpelling(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		if _, _, err := e.Verifications.UpsertMember(e.ctx, "m1", "hanako@example.jp", kakunin.LocaleJA); err != nil {
			t.Fatal(err)
		}
		_, url, err := e.Verifications.Create(e.ctx, "m1")
		if err != nil {
			t.Fatal(err)
		}
		tok := tokenOf(t, url)
		// A 32-byte tag is 43 base64 characters: the last carries 2 unused
		// bits. Every other character in that place must be refused.
		for _, c := range base64URL {
			bad := tok[:len(tok)-1] + string(c)
			if bad == tok {
				continue
			}
			if _, _, err := e.Verifications.ForUpload(e.ctx, bad); err == nil {
				t.Fatalf("upload token %q, a second spelling of %q, is accepted", bad, tok)
			}
		}
	})
}

func TestAnUploadLinkIsGoneOnceTheClockPassesItsExpiry(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		e.Clock.Set(start.Add(123456789 * time.Nanosecond)) // expiry is cut to whole seconds
		if _, _, err := e.Verifications.UpsertMember(e.ctx, "m1", "hanako@example.jp", kakunin.LocaleJA); err != nil {
			t.Fatal(err)
		}
		v, url, err := e.Verifications.Create(e.ctx, "m1")
		if err != nil {
			t.Fatal(err)
		}
		tok := tokenOf(t, url)
		e.Clock.Set(v.ExpiresAt.Add(-time.Second))
		if _, _, err := e.Verifications.ForUpload(e.ctx, tok); err != nil {
			t.Fatalf("a second before expiry: %v", err)
		}
		for _, at := range []time.Time{v.ExpiresAt, v.ExpiresAt.Add(time.Hour), v.ExpiresAt.AddDate(1, 0, 0)} {
			e.Clock.Set(at)
			if _, _, err := e.Verifications.ForUpload(e.ctx, tok); kakunin.ErrorCode(err) != kakunin.EGONE {
				t.Errorf("at %v (expiry %v): %v, want EGONE", at, v.ExpiresAt, err)
			}
		}
	})
}

func TestAMemberWhoLeftGetsNoNewVerificationUntilRegisteredAgain(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		if _, _, err := e.Verifications.UpsertMember(e.ctx, "m1", "hanako@example.jp", kakunin.LocaleJA); err != nil {
			t.Fatal(err)
		}
		open, _, err := e.Verifications.Create(e.ctx, "m1")
		if err != nil {
			t.Fatal(err)
		}
		e.Clock.Set(start.Add(time.Hour))
		if err := e.Verifications.MemberLeft(e.ctx, "m1"); err != nil {
			t.Fatalf("member left: %v", err)
		}
		if v, err := e.Verifications.Get(e.ctx, open.ID); err != nil || v.Status != kakunin.StatusExpired {
			t.Fatalf("open verification after leaving = %+v, %v; want expired", v, err)
		}
		jobs := e.Jobs.All()
		if len(jobs) != 1 {
			t.Fatalf("%d jobs after leaving, want 1 webhook", len(jobs))
		}
		if hook, ok := jobs[0].Args.(webhook.DeliverArgs); !ok || hook.Event.Type != "verification.expired" {
			t.Errorf("job = %#v, want a verification.expired webhook", jobs[0].Args)
		}
		if sealed, index := e.row("m1"); sealed != nil || index != nil {
			t.Error("the address of a member who left is still stored")
		}

		if v, _, err := e.Verifications.Create(e.ctx, "m1"); kakunin.ErrorCode(err) != kakunin.ECONFLICT {
			t.Fatalf("Create for a member who left = %v, %v; want ECONFLICT", v, err)
		}

		m, created, err := e.Verifications.UpsertMember(e.ctx, "m1", "hanako2@example.jp", kakunin.LocaleJA)
		if err != nil || created || m.DeletedAt != nil {
			t.Fatalf("registering again = %+v, created=%v, %v; want the same member back", m, created, err)
		}
		if stored, err := e.Verifications.Member(e.ctx, "m1"); err != nil || stored.DeletedAt != nil || stored.Email != "hanako2@example.jp" {
			t.Fatalf("member after registering again = %+v, %v", stored, err)
		}
		if _, _, err := e.Verifications.Create(e.ctx, "m1"); err != nil {
			t.Fatalf("Create after registering again: %v", err)
		}
	})
}

func TestMemberLeftOfAnUnknownMemberIsNotFound(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		if err := e.Verifications.MemberLeft(e.ctx, "nobody"); kakunin.ErrorCode(err) != kakunin.ENOTFOUND {
			t.Fatalf("MemberLeft(unknown) = %v, want ENOTFOUND", err)
		}
	})
}

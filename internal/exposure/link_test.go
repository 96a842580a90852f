package exposure_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/exposure"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

func TestALinkTokenOpensOnlyAsMadeAndUntilItExpires(t *testing.T) {
	f := newFixture(t, storetest.SQLiteDSN(t))
	now := f.env.Clock.Now()
	exp := now.Add(time.Hour).Truncate(time.Second)
	token := exposure.LinkToken(f.env.Vault, "mem_abc", exposure.ViaHandoff, exp)
	id, via, gotExp, err := exposure.CheckLinkToken(f.env.Vault, token, now)
	if err != nil || id != "mem_abc" || via != exposure.ViaHandoff || !gotExp.Equal(exp) {
		t.Fatalf("CheckLinkToken = %q %c %v %v", id, via, gotExp, err)
	}
	parts := strings.Split(token, ".")
	for name, bad := range map[string]string{
		"other member":  strings.Replace(token, "mem_abc", "mem_abd", 1),
		"stretched":     parts[0] + ".9999999999." + parts[2] + "." + parts[3],
		"other way":     parts[0] + "." + parts[1] + ".m." + parts[3],
		"tag cut":       token[:len(token)-2],
		"upload link":   "ver_x.1999999999." + parts[3],
		"empty":         "",
		"too long":      strings.Repeat("a", 300),
		"padded base64": token + "=",
	} {
		if _, _, _, err := exposure.CheckLinkToken(f.env.Vault, bad, now); kakunin.ErrorCode(err) != kakunin.EINVALID {
			t.Errorf("%s: %v, want invalid", name, err)
		}
	}
	if _, _, _, err := exposure.CheckLinkToken(f.env.Vault, token, exp); kakunin.ErrorCode(err) != kakunin.EGONE {
		t.Errorf("at expiry: %v, want gone", err)
	}
}

func TestTheHostHandOffLinkIsShortLivedAndAudited(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn)
		m := f.member(t, "ext-h", "h@example.jp", kakunin.LocaleEN)
		ctx := audit.WithActor(context.Background(), "apikey:key_1")
		l, err := f.svc.HandoffLink(ctx, "ext-h")
		must(t, err)
		if !strings.HasPrefix(l.URL, publicURL+"/check/r/") || !l.ExpiresAt.Equal(f.env.Clock.Now().Add(exposure.HandoffLinkTTL)) {
			t.Errorf("link = %+v", l)
		}
		v, err := f.svc.Open(context.Background(), strings.TrimPrefix(l.URL, publicURL+"/check/r/"))
		must(t, err)
		if v.MemberID != m.ID || v.Locale != kakunin.LocaleEN || len(v.Answers) != 0 {
			t.Errorf("view = %+v", v)
		}
		var issued, viewed int
		must(t, audit.Walk(context.Background(), f.env.DB, 0, func(ev audit.Event) error {
			switch ev.Action {
			case audit.ExposureLinkIssued:
				issued++
				if ev.Actor != "apikey:key_1" || ev.Subject != m.ID {
					t.Errorf("issued event = %+v", ev)
				}
			case audit.ExposureViewed:
				viewed++
				if ev.Subject != m.ID || ev.Detail["via"] != "handoff" {
					t.Errorf("viewed event = %+v", ev)
				}
			}
			return nil
		}))
		if issued != 1 || viewed != 1 {
			t.Errorf("issued %d, viewed %d events", issued, viewed)
		}
		if _, err := f.svc.HandoffLink(ctx, "nobody"); kakunin.ErrorCode(err) != kakunin.ENOTFOUND {
			t.Errorf("unknown member: %v", err)
		}
		must(t, f.env.Verifications.MemberLeft(context.Background(), "ext-h"))
		if _, err := f.svc.HandoffLink(ctx, "ext-h"); kakunin.ErrorCode(err) != kakunin.ECONFLICT {
			t.Errorf("member who left: %v", err)
		}
		f.env.Clock.Add(exposure.HandoffLinkTTL)
		if _, err := f.svc.Open(context.Background(), strings.TrimPrefix(l.URL, publicURL+"/check/r/")); kakunin.ErrorCode(err) != kakunin.ENOTFOUND {
			t.Errorf("expired link: %v", err)
		}
	})
}

package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/auth"
	"github.com/kakunin/kakunin/internal/brand"
	"github.com/kakunin/kakunin/internal/samplecard"
)

// demoPassword is the demo reviewer's password: a throw-away instance on
// loopback, so a memorable password beats a one-time one here.
const demoPassword = "kakunin-demo-2026"

type demoMember struct {
	externalID, email string
	locale            kakunin.Locale
	card              samplecard.Card
}

var demoMembers = []demoMember{
	{"demo-001", "sato.hanako@example.test", kakunin.LocaleJA, samplecard.Card{Type: kakunin.DocDriversLicence, Name: "SATO HANAKO",
		BirthDate: time.Date(1994, 4, 12, 0, 0, 0, 0, time.UTC), Issuer: "TOKYO PREFECTURAL POLICE (SAMPLE)", Number: "SAMPLE-0000-0001", Seed: 1}},
	{"demo-002", "tanaka.ken@example.test", kakunin.LocaleJA, samplecard.Card{Type: kakunin.DocMyNumberCard, Name: "TANAKA KEN",
		BirthDate: time.Date(2009, 2, 3, 0, 0, 0, 0, time.UTC), Issuer: "MINATO CITY (SAMPLE)", Number: "SAMPLE-0000-0002", Seed: 2}},
	{"demo-003", "emily.clark@example.test", kakunin.LocaleEN, samplecard.Card{Type: kakunin.DocPassport, Name: "CLARK EMILY",
		BirthDate: time.Date(1988, 11, 30, 0, 0, 0, 0, time.UTC), Issuer: "MINISTRY OF FOREIGN AFFAIRS (SAMPLE)", Number: "SAMPLE-0000-0003", Seed: 3}},
}

// demoBrand is the demo's operator: a company that does not exist, with
// links under .example, a name reserved never to resolve (RFC 2606).
var demoBrand = brand.Brand{
	Operator:   "株式会社サンプル（架空・デモ用）",
	Service:    "SampleMatch",
	ServiceURL: "https://samplematch.example/",
	ContactURL: "https://samplematch.example/contact",
	PrivacyURL: "https://samplematch.example/privacy",
}

// defineDemo runs kakunin on a throw-away data directory with sample
// members, two submitted SAMPLE documents, one member still to upload, a
// reviewer and an API key, and prints how to try each part.
func defineDemo(fs *flag.FlagSet) action {
	keep := fs.Bool("keep", false, "keep the demo's data directory when it stops")
	return func(ctx context.Context, c *call) error {
		return runDemo(ctx, c, *keep)
	}
}

func runDemo(ctx context.Context, c *call, keep bool) error {
	cfg := c.cfg
	dir, err := os.MkdirTemp("", "kakunin-demo-")
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if !keep {
		defer os.RemoveAll(dir)
	}
	// The data and its keys side by side inside the one temporary
	// directory, as a real install lays them out.
	cfg.Data, cfg.Database, cfg.Blobs, cfg.KeyDir, cfg.Keyset, cfg.AuditKey = filepath.Join(dir, "data"), "", "", "", "", ""
	cfg.LogFormat = "text"
	cfg.LogLevel = "warn"
	if cfg.Brand.Operator == "" && cfg.Brand.ServiceURL == "" {
		cfg.Brand = demoBrand // unless the visitor tries their own
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("demo: listen on %s: %w (choose another with --addr)", cfg.Addr, err)
	}
	if err := cfg.Finish(); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	a, err := openApp(ctx, cfg, newLogger(cfg, c.stderr), true)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer a.close()
	info, err := seedDemo(ctx, a, dir)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	fmt.Fprintf(c.stdout, `
kakunin demo — every document here is a synthetic SAMPLE card, never real data.
Data directory (deleted when you stop the demo unless --keep): %s

1. Review as staff
   Open      %s/console/login
   E-mail    %s
   Password  %s
   Then the 6-digit code printed below (it changes every 30 seconds; a real
   reviewer uses an authenticator app with the secret %s).

2. Upload as a member
   Open      %s
   and upload %s (a SAMPLE licence).

3. Drive the API as the host platform
   export KAKUNIN_API_KEY=%s
   curl -s -H "Authorization: Bearer $KAKUNIN_API_KEY" %s/api/v1/verifications/%s
   curl -s -X PUT -H "Authorization: Bearer $KAKUNIN_API_KEY" -H "Content-Type: application/json" -d '{"email":"new@example.test","locale":"en"}' %s/api/v1/members/demo-004
   curl -s -X POST -H "Authorization: Bearer $KAKUNIN_API_KEY" -H "Content-Type: application/json" -d '{"external_id":"demo-004"}' %s/api/v1/verifications

Press Ctrl-C to stop.
`, dir, cfg.PublicURL, info.reviewer, demoPassword, info.totpSecret, info.uploadURL, info.samplePath,
		info.apiKey, cfg.PublicURL, info.submittedID, cfg.PublicURL, cfg.PublicURL)
	go printCodes(ctx, c.stdout, info.totpSecret)
	if err := a.serve(ctx, ln); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	return nil
}

type demoInfo struct {
	reviewer, totpSecret, uploadURL, samplePath, apiKey, submittedID string
}

func seedDemo(ctx context.Context, a *app, dir string) (*demoInfo, error) {
	info := &demoInfo{reviewer: "reviewer@example.test"}
	acct, err := a.staff.Add(ctx, info.reviewer, kakunin.RoleReviewer)
	if err != nil {
		return nil, err
	}
	if err := a.db.SetStaffPassword(ctx, acct.Staff.ID, auth.HashPassword(demoPassword), false); err != nil {
		return nil, err
	}
	info.totpSecret = acct.Secret
	if _, info.apiKey, err = auth.CreateAPIKey(ctx, a.db, "demo host", time.Now().UTC()); err != nil {
		return nil, err
	}
	for i, m := range demoMembers {
		if _, _, err := a.verifications.UpsertMember(ctx, m.externalID, m.email, m.locale); err != nil {
			return nil, err
		}
		v, url, err := a.verifications.Create(ctx, m.externalID)
		if err != nil {
			return nil, err
		}
		img, err := samplecard.Render(m.card)
		if err != nil {
			return nil, err
		}
		if i == len(demoMembers)-1 {
			// The last member has not uploaded yet: the visitor plays them.
			info.uploadURL = url
			info.samplePath = filepath.Join(dir, "sample-licence.jpg")
			sample, err := samplecard.Render(demoMembers[0].card)
			if err != nil {
				return nil, err
			}
			if err := os.WriteFile(info.samplePath, sample, 0o600); err != nil {
				return nil, err
			}
			continue
		}
		p, err := a.documents.Store(ctx, v, bytes.NewReader(img))
		if err != nil {
			return nil, fmt.Errorf("store sample document: %w", err)
		}
		if _, err := a.documents.Commit(ctx, p, v, m.card.Type); err != nil {
			return nil, err
		}
		info.submittedID = v.ID
	}
	return info, nil
}

// printCodes prints the reviewer's current TOTP code whenever it changes,
// standing in for the authenticator app a real reviewer would use.
func printCodes(ctx context.Context, w io.Writer, secret string) {
	last := ""
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		if code, err := auth.CurrentTOTP(secret, time.Now()); err == nil && code != last {
			fmt.Fprintf(w, "reviewer TOTP code: %s\n", code)
			last = code
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

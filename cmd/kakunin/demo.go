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
	"strings"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/auth"
	"github.com/kakunin/kakunin/internal/brand"
	"github.com/kakunin/kakunin/internal/incident"
	"github.com/kakunin/kakunin/internal/publicnotice"
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

   The other roles sign in the same way, with the same password and their
   own codes (printed below with the reviewer's):
%s
   A sample incident (a drill) with a public notice is at
   %s/console/incidents/%s (as responder or auditor).

2. Upload as a member
   Open      %s
   and upload %s (a SAMPLE licence).

3. Drive the API as the host platform
   export KAKUNIN_API_KEY=%s
   curl -s -H "Authorization: Bearer $KAKUNIN_API_KEY" %s/api/v1/verifications/%s
   curl -s -X PUT -H "Authorization: Bearer $KAKUNIN_API_KEY" -H "Content-Type: application/json" -d '{"email":"new@example.test","locale":"en"}' %s/api/v1/members/demo-004
   curl -s -X POST -H "Authorization: Bearer $KAKUNIN_API_KEY" -H "Content-Type: application/json" -d '{"external_id":"demo-004"}' %s/api/v1/verifications

Press Ctrl-C to stop.
`, dir, cfg.PublicURL, info.reviewer, demoPassword, info.totpSecret, info.accountTable(), cfg.PublicURL, info.incidentID, info.uploadURL, info.samplePath,
		info.apiKey, cfg.PublicURL, info.submittedID, cfg.PublicURL, cfg.PublicURL)
	go printCodes(ctx, c.stdout, info)
	if err := a.serve(ctx, ln); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	return nil
}

type demoInfo struct {
	reviewer, totpSecret, uploadURL, samplePath, apiKey, submittedID string
	// others are the accounts of the other roles, same password.
	others     []demoAccount
	incidentID string
}

// demoAccount is one staff account of the demo: role@example.test.
type demoAccount struct {
	email, secret string
	role          kakunin.Role
}

// demoRoles are the roles that get an account besides the reviewer, so
// every console page can be tried.
var demoRoles = []kakunin.Role{kakunin.RoleSupport, kakunin.RoleResponder, kakunin.RoleAuditor, kakunin.RoleAdmin}

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
	for _, role := range demoRoles {
		email := string(role) + "@example.test"
		a2, err := a.staff.Add(ctx, email, role)
		if err != nil {
			return nil, err
		}
		if err := a.db.SetStaffPassword(ctx, a2.Staff.ID, auth.HashPassword(demoPassword), false); err != nil {
			return nil, err
		}
		info.others = append(info.others, demoAccount{email: email, secret: a2.Secret, role: role})
	}
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
	if err := seedDemoIncident(ctx, a, info); err != nil {
		return nil, fmt.Errorf("sample incident: %w", err)
	}
	return info, nil
}

// seedDemoIncident records a sample incident, marked as a drill, with a
// published notice about it, so the breach desk has something to show.
func seedDemoIncident(ctx context.Context, a *app, info *demoInfo) error {
	ctx = audit.WithActor(ctx, "system")
	now := time.Now()
	in, err := a.incidents.Create(ctx, incident.Record{
		Title:        "DEMO drill: a copy of the blob bucket was listed (fictional)",
		Summary:      "A fictional incident for trying the breach desk. Nothing happened.",
		DiscoveredAt: now.Add(-2 * time.Hour), WindowFrom: now.Add(-72 * time.Hour), WindowTo: now.Add(-3 * time.Hour),
		Held: kakunin.IncidentHeld{Blobs: true},
	})
	if err != nil {
		return err
	}
	info.incidentID = in.ID
	notices := &publicnotice.Service{DB: a.db, Audit: a.audit, Now: time.Now}
	n, err := notices.Create(ctx, publicnotice.Text{IncidentID: in.ID,
		TitleJA: "【デモ】不正アクセスの調査について（架空）", BodyJA: "これはデモ用の架空のお知らせです。実際の事故は起きていません。",
		TitleEN: "[DEMO] Investigating unauthorised access (fictional)", BodyEN: "This is a fictional notice for the demo. Nothing happened."})
	if err != nil {
		return err
	}
	_, err = notices.Publish(ctx, n.ID)
	return err
}

// accountTable lists the other roles' accounts, one a line.
func (info *demoInfo) accountTable() string {
	var b strings.Builder
	for _, o := range info.others {
		fmt.Fprintf(&b, "     %-10s %-26s secret %s\n", o.role, o.email, o.secret)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// printCodes prints the current TOTP codes whenever they change, standing
// in for the authenticator app a real staff member would use.
func printCodes(ctx context.Context, w io.Writer, info *demoInfo) {
	last := ""
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		if code, err := auth.CurrentTOTP(info.totpSecret, time.Now()); err == nil && code != last {
			others := ""
			for _, o := range info.others {
				if c, err := auth.CurrentTOTP(o.secret, time.Now()); err == nil {
					others += fmt.Sprintf("  %s %s", o.role, c)
				}
			}
			fmt.Fprintf(w, "reviewer TOTP code: %s%s\n", code, others)
			last = code
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

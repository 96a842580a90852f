package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/kakunin/kakunin/internal/doctor"
)

const doctorAbout = `It checks, from wherever it runs, what a member's browser meets: TLS
(certificate, HSTS), the security headers of a public page, a personal page
and an error, whether anything between the client and kakunin keeps personal
answers (it asks kakunin for a short-lived canary session twice, with an API
key, and compares the answers), the server's clock, and whether kakunin's
--public-url is the URL reached. Each finding says how to fix it in nginx,
Caddy or a CDN; the exit status is 1 when there is one. The API key comes
from --api-key or KAKUNIN_DOCTOR_API_KEY (kakunin apikey create doctor).`

type doctorFlags struct {
	url, apiKey, caFile string
	timeout             time.Duration
}

func defineDoctor(fs *flag.FlagSet) action {
	var f doctorFlags
	fs.StringVar(&f.url, "url", "", "the deployment as members reach it, e.g. https://id.example.jp")
	fs.StringVar(&f.apiKey, "api-key", "", "an API key of the install, for the canary (default: $KAKUNIN_DOCTOR_API_KEY)")
	fs.StringVar(&f.caFile, "ca-file", "", "trust these PEM certificates instead of the system's (a test or internal CA)")
	fs.DurationVar(&f.timeout, "timeout", 15*time.Second, "for each request")
	return func(ctx context.Context, c *call) error { return runDoctor(ctx, c, f) }
}

func runDoctor(ctx context.Context, c *call, f doctorFlags) error {
	if f.url == "" {
		return usagef("doctor: --url is required")
	}
	if f.apiKey == "" {
		f.apiKey = os.Getenv("KAKUNIN_DOCTOR_API_KEY")
	}
	client := &http.Client{Timeout: f.timeout}
	if f.caFile != "" {
		pem, err := os.ReadFile(f.caFile)
		if err != nil {
			return fmt.Errorf("doctor: --ca-file: %w", err)
		}
		pool, err := doctor.CertPool(pem)
		if err != nil {
			return fmt.Errorf("doctor: --ca-file %s: %w", f.caFile, err)
		}
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	}
	rs := doctor.Run(ctx, doctor.Options{URL: f.url, APIKey: f.apiKey, Client: client})
	doctor.Write(c.stdout, f.url, rs)
	if n := doctor.Findings(rs); n > 0 {
		return errors.New(plural(n, "finding", "findings") + " (see above)")
	}
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

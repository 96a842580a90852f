package doctor

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kakunin/kakunin/internal/auth"
	"github.com/kakunin/kakunin/internal/nginxtest"
	"github.com/kakunin/kakunin/internal/publicnotice"
	"github.com/kakunin/kakunin/internal/servicetest"
	"github.com/kakunin/kakunin/internal/web"
	"github.com/kakunin/kakunin/internal/web/pages"
)

// kakunin is a real kakunin HTTP server on loopback (the handler serve
// runs, over a real database and keys) whose --public-url is publicURL, or
// its own address when that is "".
type kakunin struct {
	srv    *web.Server
	url    string // where it listens
	apiKey string
}

func startKakunin(t *testing.T, publicURL string) *kakunin {
	t.Helper()
	env := servicetest.New(t, "", servicetest.Options{})
	renderer, err := pages.New()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if publicURL == "" {
		publicURL = "http://" + ln.Addr().String()
	}
	srv := &web.Server{APIKeys: &auth.APIKeys{DB: env.DB}, Pages: renderer, Audit: env.Audit, Signer: env.Vault,
		Notices: &publicnotice.Service{DB: env.DB, Audit: env.Audit, Now: time.Now}, Now: time.Now,
		PublicURL: publicURL, SecureCookies: strings.HasPrefix(publicURL, "https://"),
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), OriginOf: func(ip string) string { return ip }}
	hs := httptest.NewUnstartedServer(srv.Handler())
	hs.Listener.Close()
	hs.Listener = ln
	hs.Start()
	t.Cleanup(hs.Close)
	_, key, err := auth.CreateAPIKey(t.Context(), env.DB, "doctor", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return &kakunin{srv: srv, url: hs.URL, apiKey: key}
}

func report(rs []Result) string {
	var b bytes.Buffer
	Write(&b, "test", rs)
	return b.String()
}

func TestDoctorFindsNothingAgainstKakuninItself(t *testing.T) {
	k := startKakunin(t, "")
	rs := Run(context.Background(), Options{URL: k.url, APIKey: k.apiKey})
	if n := Findings(rs); n != 0 {
		t.Fatalf("%d findings against kakunin directly:\n%s", n, report(rs))
	}
	out := report(rs)
	for _, want := range []string{"ok    no cache keeps personal answers (canary)", "ok    server clock", "ok    --public-url is the URL reached", "no findings."} {
		if !strings.Contains(out, want) {
			t.Errorf("the report lacks %q:\n%s", want, out)
		}
	}
}

// The careless proxy of docs/caching.md: doctor finds it, and says how to
// fix it, whether or not the cache honours Vary.
func TestDoctorFindsTheCarelessNginx(t *testing.T) {
	for name, location := range map[string]string{"careless": nginxtest.Careless, "careless and ignoring Vary": nginxtest.Hardened} {
		t.Run(name, func(t *testing.T) {
			addr := nginxtest.FreeAddr(t)
			k := startKakunin(t, "http://"+addr)
			base := nginxtest.StartAt(t, addr, strings.TrimPrefix(k.url, "http://"), location, "")
			rs := Run(context.Background(), Options{URL: base, APIKey: k.apiKey})
			out := report(rs)
			t.Logf("doctor behind the %s nginx:\n%s", name, out)
			if !regexp.MustCompile(`FAIL  no cache keeps (personal answers \(canary\): .*(stored and replayed|another session's personal page)|the API's answers)`).MatchString(out) {
				t.Errorf("the caching proxy was not found:\n%s", out)
			}
			if !strings.Contains(out, "fix, nginx: no proxy_cache") || !strings.Contains(out, "fix, Caddy:") || !strings.Contains(out, "fix, CDN:") {
				t.Errorf("no fix given:\n%s", out)
			}
		})
	}
}

// A wrong --public-url is a finding: kakunin's links would point elsewhere.
func TestDoctorFindsAPublicURLThatIsNotTheURLReached(t *testing.T) {
	k := startKakunin(t, "https://id.example.jp")
	rs := Run(context.Background(), Options{URL: k.url, APIKey: k.apiKey})
	if out := report(rs); !strings.Contains(out, "FAIL  --public-url is the URL reached: kakunin believes it is https://id.example.jp") {
		t.Errorf("the wrong public URL was not found:\n%s", out)
	}
}

// Behind docs/nginx.conf, over TLS with a test certificate, doctor finds
// nothing: the reference configuration is the one shipped.
func TestDoctorFindsNothingBehindTheReferenceNginx(t *testing.T) {
	conf, err := os.ReadFile("../../docs/nginx.conf")
	if err != nil {
		t.Fatal(err)
	}
	addr := nginxtest.FreeAddr(t)
	k := startKakunin(t, "https://"+addr)
	dir := t.TempDir()
	certPEM := writeTestCert(t, dir)
	text := string(conf)
	// The file's deployment-specific lines, replaced for loopback; if one
	// is not found, the test and the documented file have drifted apart.
	for old, new := range map[string]string{
		"    server 127.0.0.1:8081 max_fails=3 fail_timeout=10s;\n    server 127.0.0.1:8082 max_fails=3 fail_timeout=10s;\n": "    server UPSTREAM;\n",
		"listen 443 ssl;":                     "listen LISTEN ssl;",
		"/etc/ssl/kakunin/fullchain.pem":      filepath.Join(dir, "cert.pem"),
		"/etc/ssl/kakunin/privkey.pem":        filepath.Join(dir, "key.pem"),
		"server_name id.example.jp;\n    ssl": "server_name 127.0.0.1;\n    ssl",
	} {
		if !strings.Contains(text, old) {
			t.Fatalf("docs/nginx.conf no longer has %q", old)
		}
		text = strings.Replace(text, old, new, 1)
	}
	if i, j := strings.Index(text, "# begin: plain http"), strings.Index(text, "# end: plain http"); i > 0 && j > i {
		text = text[:i] + text[j:]
	}
	base := nginxtest.StartAt(t, addr, strings.TrimPrefix(k.url, "http://"), "", text)
	pool, err := CertPool(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	rs := Run(context.Background(), Options{URL: base, APIKey: k.apiKey, Client: client})
	out := report(rs)
	if n := Findings(rs); n != 0 {
		t.Fatalf("%d findings behind the reference nginx:\n%s", n, out)
	}
	for _, want := range []string{"ok    TLS certificate", "ok    HSTS: max-age=31536000", "ok    no cache keeps personal answers"} {
		if !strings.Contains(out, want) {
			t.Errorf("the report lacks %q:\n%s", want, out)
		}
	}
	// The same proxy without its certificate trusted: the TLS finding.
	if rs := Run(context.Background(), Options{URL: base, APIKey: k.apiKey}); Findings(rs) == 0 || rs[0].Check != "reach kakunin" {
		t.Errorf("an untrusted certificate was not found:\n%s", report(rs))
	}
}

// writeTestCert writes a self-signed certificate for 127.0.0.1 and its key
// to dir, and returns the certificate's PEM.
func writeTestCert(t *testing.T, dir string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kakunin doctor test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(90 * 24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(filepath.Join(dir, "cert.pem"), certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certPEM
}

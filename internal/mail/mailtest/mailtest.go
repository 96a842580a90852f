// Package mailtest runs a real SMTP server (github.com/emersion/go-smtp) on
// 127.0.0.1 for tests: STARTTLS or implicit TLS with a self-signed
// certificate, AUTH PLAIN, and a hook that answers each RCPT TO.
package mailtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Envelope is one message a test server accepted.
type Envelope struct {
	From string
	To   []string
	Data []byte
	User string // who authenticated; "" without AUTH
	TLS  bool   // whether the session was encrypted
}

// Config says how a test SMTP server behaves.
type Config struct {
	// TLS offers STARTTLS with cert (or, with Implicit, speaks TLS from the
	// first byte).
	TLS      bool
	Implicit bool
	// User and Pass, when set, are required (AUTH PLAIN) before MAIL.
	User, Pass string
	// InsecureAuth offers AUTH without TLS, as a careless server would.
	InsecureAuth bool
	// Rcpt, when set, answers each RCPT TO: a non-nil *smtp.SMTPError is
	// sent as the reply.
	Rcpt func(to string) error
}

// Server is a real SMTP server (github.com/emersion/go-smtp) on
// 127.0.0.1, recording what it accepts.
type Server struct {
	Host string
	Port int
	CA   *x509.CertPool // trusts the server's certificate

	cfg Config

	mu    sync.Mutex
	mails []Envelope
	auths int // AUTH attempts, successful or not
	rcpts int // RCPT TO commands seen
}

// Start runs a server on 127.0.0.1 until the test ends.
func Start(t *testing.T, cfg Config) *Server {
	t.Helper()
	s := &Server{cfg: cfg}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		_, encrypted := c.TLSConnectionState()
		return &session{srv: s, tls: encrypted}, nil
	}))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = cfg.InsecureAuth
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.MaxMessageBytes = 1 << 20

	var l net.Listener
	var err error
	if cfg.TLS || cfg.Implicit {
		var cert tls.Certificate
		cert, s.CA = selfSigned(t)
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	}
	if cfg.Implicit {
		l, err = tls.Listen("tcp", "127.0.0.1:0", srv.TLSConfig)
		srv.TLSConfig = nil // no STARTTLS inside TLS
	} else {
		l, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().(*net.TCPAddr)
	s.Host, s.Port = "127.0.0.1", addr.Port
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return s
}

// URL returns an SMTP URL for the server: scheme "smtp" or "smtps", userinfo
// "" or "user:pass", query "" or e.g. "tls=required".
func (s *Server) URL(scheme, userinfo, query string) string {
	u := scheme + "://"
	if userinfo != "" {
		u += userinfo + "@"
	}
	u += fmt.Sprintf("%s:%d", s.Host, s.Port)
	if query != "" {
		u += "?" + query
	}
	return u
}

// Mails returns what the server accepted so far.
func (s *Server) Mails() []Envelope {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Envelope{}, s.mails...)
}

// Auths counts AUTH attempts, successful or not.
func (s *Server) Auths() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.auths
}

// Rcpts counts RCPT TO commands seen.
func (s *Server) Rcpts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rcpts
}

type session struct {
	srv  *Server
	tls  bool
	user string
	env  Envelope
}

func (s *session) AuthMechanisms() []string {
	if s.srv.cfg.User == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		s.srv.mu.Lock()
		s.srv.auths++
		s.srv.mu.Unlock()
		if user != s.srv.cfg.User || pass != s.srv.cfg.Pass {
			return errors.New("invalid credentials")
		}
		s.user = user
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.srv.cfg.User != "" && s.user == "" {
		return smtp.ErrAuthRequired
	}
	s.env = Envelope{From: from, User: s.user, TLS: s.tls}
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.srv.mu.Lock()
	s.srv.rcpts++
	s.srv.mu.Unlock()
	if s.srv.cfg.Rcpt != nil {
		if err := s.srv.cfg.Rcpt(to); err != nil {
			return err
		}
	}
	s.env.To = append(s.env.To, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	var b bytes.Buffer
	if _, err := io.Copy(&b, r); err != nil {
		return err
	}
	s.env.Data = b.Bytes()
	s.srv.mu.Lock()
	s.srv.mails = append(s.srv.mails, s.env)
	s.srv.mu.Unlock()
	return nil
}

func (s *session) Reset()        { s.env = Envelope{} }
func (s *session) Logout() error { return nil }

// Refuse returns an SMTP reply a server gives to refuse a recipient. Its
// text quotes the address, as real servers' often do.
func Refuse(code int, enhanced smtp.EnhancedCode, to string) error {
	return &smtp.SMTPError{Code: code, EnhancedCode: enhanced, Message: "<" + to + ">: mailbox unavailable"}
}

// selfSigned returns a certificate for 127.0.0.1 and a pool trusting it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "kakunin test SMTP"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}, pool
}

// SyncBuffer is a log destination several goroutines write to.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p under the lock.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Lower is strings.ToLower, for comparing Envelope addresses.
func Lower(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.ToLower(s)
	}
	return out
}

// Parsed is a received message, headers decoded.
type Parsed struct {
	Header  netmail.Header
	Subject string
	Body    string
}

// Parse decodes one received message: headers, RFC 2047 subject, and the
// body from base64 or quoted-printable.
func Parse(t *testing.T, data []byte) Parsed {
	t.Helper()
	msg, err := netmail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("read message: %v\n%s", err, data)
	}
	dec := new(mime.WordDecoder)
	subject, err := dec.DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatalf("decode subject %q: %v", msg.Header.Get("Subject"), err)
	}
	raw, err := io.ReadAll(msg.Body)
	if err != nil {
		t.Fatal(err)
	}
	body := string(raw)
	switch cte := strings.ToLower(msg.Header.Get("Content-Transfer-Encoding")); cte {
	case "base64":
		b, err := base64.StdEncoding.DecodeString(strings.NewReplacer("\r", "", "\n", "").Replace(body))
		if err != nil {
			t.Fatalf("decode body: %v", err)
		}
		body = string(b)
	case "quoted-printable":
		b, err := io.ReadAll(quotedprintable.NewReader(strings.NewReader(body)))
		if err != nil {
			t.Fatalf("decode body: %v", err)
		}
		body = string(b)
	case "", "7bit", "8bit":
	default:
		t.Fatalf("unexpected Content-Transfer-Encoding %q", cte)
	}
	return Parsed{Header: msg.Header, Subject: subject, Body: body}
}

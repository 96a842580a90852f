package notify_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// envelope is one message a test server accepted.
type envelope struct {
	From string
	To   []string
	Data []byte
	User string // who authenticated; "" without AUTH
	TLS  bool   // whether the session was encrypted
}

// serverConfig says how a test SMTP server behaves.
type serverConfig struct {
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

// smtpServer is a real SMTP server (github.com/emersion/go-smtp) on
// 127.0.0.1, recording what it accepts.
type smtpServer struct {
	Host string
	Port int
	CA   *x509.CertPool // trusts the server's certificate

	cfg serverConfig

	mu    sync.Mutex
	mails []envelope
	auths int // AUTH attempts, successful or not
	rcpts int // RCPT TO commands seen
}

func startSMTP(t *testing.T, cfg serverConfig) *smtpServer {
	t.Helper()
	s := &smtpServer{cfg: cfg}
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
func (s *smtpServer) URL(scheme, userinfo, query string) string {
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
func (s *smtpServer) Mails() []envelope {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]envelope{}, s.mails...)
}

func (s *smtpServer) Auths() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.auths
}

func (s *smtpServer) Rcpts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rcpts
}

type session struct {
	srv  *smtpServer
	tls  bool
	user string
	env  envelope
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
	s.env = envelope{From: from, User: s.user, TLS: s.tls}
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

func (s *session) Reset()        { s.env = envelope{} }
func (s *session) Logout() error { return nil }

// refuse returns an SMTP reply a server gives to refuse a recipient. Its
// text quotes the address, as real servers' often do.
func refuse(code int, enhanced smtp.EnhancedCode, to string) error {
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

// syncBuffer is a log destination several goroutines write to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// lower is strings.ToLower, for comparing envelope addresses.
func lower(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.ToLower(s)
	}
	return out
}

package massmail_test

import (
	"bytes"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// accepted is one message the test server accepted.
type accepted struct {
	To   string
	Data []byte
}

// smtpServer is a real SMTP server (github.com/emersion/go-smtp) on
// 127.0.0.1 that records what it accepts and the size of each session.
type smtpServer struct {
	URL  string
	rcpt func(to string) error // answers each RCPT TO; nil accepts

	mu       sync.Mutex
	mails    []accepted
	sessions []int // messages accepted per session, in order of logout
}

func startSMTP(t *testing.T, rcpt func(to string) error) *smtpServer {
	t.Helper()
	s := &smtpServer{rcpt: rcpt}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &session{srv: s}, nil }))
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.URL = "smtp://" + l.Addr().String() + "?tls=none"
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return s
}

func (s *smtpServer) Mails() []accepted {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]accepted{}, s.mails...)
}

func (s *smtpServer) Sessions() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int{}, s.sessions...)
}

type session struct {
	srv      *smtpServer
	to       string
	accepted int
}

func (s *session) Mail(string, *smtp.MailOptions) error { return nil }

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.srv.rcpt != nil {
		if err := s.srv.rcpt(to); err != nil {
			return err
		}
	}
	s.to = to
	return nil
}

func (s *session) Data(r io.Reader) error {
	var b bytes.Buffer
	if _, err := io.Copy(&b, r); err != nil {
		return err
	}
	s.srv.mu.Lock()
	s.srv.mails = append(s.srv.mails, accepted{To: s.to, Data: b.Bytes()})
	s.srv.mu.Unlock()
	s.accepted++
	return nil
}

func (s *session) Reset() { s.to = "" }

func (s *session) Logout() error {
	s.srv.mu.Lock()
	s.srv.sessions = append(s.srv.sessions, s.accepted)
	s.srv.mu.Unlock()
	return nil
}

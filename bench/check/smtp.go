package main

import (
	"io"
	"net"

	"github.com/emersion/go-smtp"
)

// discardSMTP runs an SMTP server on loopback that accepts every message
// and throws it away: the answer mails of the checks are not what is
// measured, but kakunin must have somewhere to send them (without mail the
// check answers 503 to everyone).
func discardSMTP() (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return discard{}, nil }))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	go srv.Serve(ln)
	return ln.Addr().String(), func() { srv.Close() }, nil
}

type discard struct{}

func (discard) Mail(string, *smtp.MailOptions) error { return nil }
func (discard) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (discard) Data(r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	return err
}
func (discard) Reset()        {}
func (discard) Logout() error { return nil }

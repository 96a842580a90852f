package mail

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	netmail "net/mail"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Message is one plain-text mail. Send adds From, Date, Message-ID and the
// MIME headers; every address in To receives the same message and sees the
// others in its To header, so a message meant for one person has one
// address.
type Message struct {
	To      []string
	Subject string // any UTF-8; encoded as RFC 2047 words
	Text    string // the body, UTF-8 plain text
	// Headers are extra header fields, such as Auto-Submitted or
	// List-Unsubscribe. They cannot replace a field Send sets itself.
	Headers map[string]string
	// ID is the Message-ID's part before the @, or "" for a random one. A
	// caller that may send the same message twice (a job retried after the
	// server accepted it but before the job was marked done) gives a stable
	// ID, so mail clients can show the copies as one.
	ID string
	// FromName is the From field's display name (the operator and service,
	// internal/brand); the address is always the configured sender's.
	FromName string
}

// Mailer sends mail. Implementations must be safe for concurrent use: every
// job worker shares one.
type Mailer interface {
	// Send hands msgs to the mail server in one session. It returns nil
	// when every message was accepted, and otherwise a *SendError saying
	// which were not and whether trying again later may help. A message
	// that was accepted is not sent again by Send.
	Send(ctx context.Context, msgs ...Message) error
}

// Failure is why one message, or the whole session, was not accepted. It
// keeps the SMTP reply code and never the server's text, which often quotes
// the refused address.
type Failure struct {
	Stage    string // "compose", "session", "MAIL FROM", "RCPT TO", "DATA", …
	Code     int    // the SMTP reply code; 0 when the server gave none
	Enhanced string // the enhanced status code (RFC 3463), e.g. "5.1.1", when given
	// Permanent says that trying again cannot help: the message is
	// malformed, or the server refused a recipient or the content with a
	// 5xx reply. Anything else (a 4xx reply, no reply, a refused sender)
	// is worth another try later.
	Permanent bool

	detail string // an error text known to hold no address, for sessions only
}

func (f Failure) String() string {
	var b strings.Builder
	b.WriteString(f.Stage)
	if f.Code != 0 {
		fmt.Fprintf(&b, " %d", f.Code)
	}
	if f.Enhanced != "" {
		b.WriteString(" " + f.Enhanced)
	}
	if f.detail != "" {
		b.WriteString(": " + f.detail)
	}
	return b.String()
}

// SendError is what Send returns when anything was not accepted.
type SendError struct {
	// Session is set when no message could be sent at all: the server was
	// unreachable, TLS or authentication failed.
	Session *Failure
	// Messages holds, by index in the Send call, each message not accepted.
	Messages map[int]Failure
	// Total is how many messages Send was given.
	Total int
}

func (e *SendError) Error() string {
	if e.Session != nil {
		return fmt.Sprintf("mail: %d message(s) not sent: %s", e.Total, e.Session)
	}
	idx := make([]int, 0, len(e.Messages))
	for i := range e.Messages {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	parts := make([]string, 0, len(idx))
	for _, i := range idx {
		parts = append(parts, fmt.Sprintf("message %d: %s", i, e.Messages[i]))
	}
	return fmt.Sprintf("mail: %d of %d message(s) not accepted (%s)", len(idx), e.Total, strings.Join(parts, "; "))
}

// Retryable reports whether sending again later may deliver what was not:
// a failed session always may (the server may come back, the operator may
// fix the credentials), a message only when its failure was not permanent.
func (e *SendError) Retryable() bool {
	if e.Session != nil {
		return true
	}
	for _, f := range e.Messages {
		if !f.Permanent {
			return true
		}
	}
	return false
}

// Failed returns why message i was not accepted, and false when it was.
func (e *SendError) Failed(i int) (Failure, bool) {
	if e.Session != nil {
		return *e.Session, true
	}
	f, ok := e.Messages[i]
	return f, ok
}

// DefaultTimeout bounds connecting and each exchange with the mail server,
// so that a server that stops answering frees the worker for a retry
// instead of holding it.
const DefaultTimeout = 30 * time.Second

// Option changes how NewSMTPMailer builds a Mailer.
type Option func(*options)

type options struct {
	tls     *tls.Config
	timeout time.Duration
}

// WithTLSConfig sets the TLS configuration for STARTTLS and implicit TLS,
// e.g. RootCAs naming a private CA; tests use it to trust their own server.
// ServerName defaults to the URL's host, and TLS below 1.2 is never used.
// There is deliberately no switch to skip certificate checks: a mail server
// with a certificate nobody can verify is better given its CA here.
func WithTLSConfig(c *tls.Config) Option { return func(o *options) { o.tls = c } }

// WithTimeout replaces DefaultTimeout.
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// NewSMTPMailer returns a Mailer that sends as from through the server
// named by smtpURL, logging to log (required):
//
//	smtp://[user:pass@]host[:port]   STARTTLS when the server offers it (port 25)
//	  ?tls=opportunistic             the same, said explicitly
//	  ?tls=required                  STARTTLS or no mail at all
//	  ?tls=none                      never TLS (a relay on the same host)
//	  ?tls=implicit                  TLS from the first byte, as smtps://
//	smtps://[user:pass@]host[:port]  TLS from the first byte (port 465)
//
// With a user, the client authenticates with the strongest mechanism the
// server offers (go-mail's auto-discovery), and PLAIN or LOGIN only inside
// TLS: they send the password as it is, so over a connection without TLS
// (tls=none, or a server that does not offer STARTTLS) only challenge-
// response mechanisms are tried and sending fails rather than give the
// password away.
//
// An empty smtpURL means mail is disabled: the Mailer returned logs "mail
// disabled" for each Send and reports success, so that jobs complete
// instead of piling up. It is never nil.
//
// Errors never quote smtpURL: it may hold a password.
func NewSMTPMailer(smtpURL, from string, log *slog.Logger, opts ...Option) (Mailer, error) {
	o := options{timeout: DefaultTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	if log == nil {
		return nil, errors.New("mail: no logger")
	}
	sender, err := netmail.ParseAddress(from)
	if err != nil {
		return nil, errors.New("mail: the sender address (--mail-from) is not an e-mail address")
	}
	if smtpURL == "" {
		return Disabled(log), nil
	}
	cfg, err := parseSMTPURL(smtpURL)
	if err != nil {
		return nil, err
	}
	tlsConfig := &tls.Config{}
	if o.tls != nil {
		tlsConfig = o.tls.Clone()
	}
	if tlsConfig.ServerName == "" {
		tlsConfig.ServerName = cfg.host
	}
	tlsConfig.MinVersion = max(tlsConfig.MinVersion, tls.VersionTLS12)

	copts := []gomail.Option{
		gomail.WithPort(cfg.port),
		gomail.WithTimeout(o.timeout),
		gomail.WithTLSConfig(tlsConfig),
		// Send checks the connection itself; a NOOP before every message
		// would only add a round trip.
		gomail.WithoutNoop(),
	}
	switch cfg.tls {
	case tlsImplicit:
		copts = append(copts, gomail.WithSSL())
	case tlsRequired:
		copts = append(copts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case tlsOpportunistic:
		copts = append(copts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	case tlsNone:
		copts = append(copts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if cfg.user != "" {
		copts = append(copts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(cfg.user), gomail.WithPassword(cfg.pass))
	}
	client, err := gomail.NewClient(cfg.host, copts...)
	if err != nil {
		return nil, fmt.Errorf("mail: set up SMTP client: %w", err)
	}
	domain := sender.Address[strings.LastIndexByte(sender.Address, '@')+1:]
	return &smtpMailer{client: client, from: sender, idDomain: domain, Log: log}, nil
}

type tlsMode string

const (
	tlsOpportunistic tlsMode = "opportunistic"
	tlsRequired      tlsMode = "required"
	tlsNone          tlsMode = "none"
	tlsImplicit      tlsMode = "implicit"
)

type smtpConfig struct {
	host       string
	port       int
	tls        tlsMode
	user, pass string
}

func parseSMTPURL(raw string) (smtpConfig, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse quotes the URL in its error.
		return smtpConfig{}, errors.New("mail: the SMTP URL does not parse")
	}
	var c smtpConfig
	switch u.Scheme {
	case "smtp":
		c.port, c.tls = 25, tlsOpportunistic
	case "smtps":
		c.port, c.tls = 465, tlsImplicit
	default:
		return smtpConfig{}, errors.New("mail: the SMTP URL must start with smtp:// or smtps://")
	}
	c.host = u.Hostname()
	if c.host == "" {
		return smtpConfig{}, errors.New("mail: the SMTP URL names no host")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return smtpConfig{}, errors.New("mail: the SMTP URL's port is not a port number")
		}
		c.port = n
	}
	if u.Path != "" && u.Path != "/" {
		return smtpConfig{}, errors.New("mail: the SMTP URL must not have a path")
	}
	if u.User != nil {
		c.user = u.User.Username()
		c.pass, _ = u.User.Password()
		if c.user == "" {
			return smtpConfig{}, errors.New("mail: the SMTP URL has a password but no user")
		}
	}
	q := u.Query()
	for key := range q {
		// A misspelt option must not quietly fall back to a weaker default.
		if key != "tls" {
			return smtpConfig{}, fmt.Errorf("mail: unknown SMTP URL option %q (only tls)", key)
		}
	}
	if v := q.Get("tls"); v != "" {
		mode := tlsMode(v)
		switch mode {
		case tlsOpportunistic, tlsRequired, tlsNone, tlsImplicit:
		default:
			return smtpConfig{}, fmt.Errorf("mail: tls=%q: want opportunistic, required, none or implicit", v)
		}
		if u.Scheme == "smtps" && mode != tlsImplicit {
			return smtpConfig{}, fmt.Errorf("mail: smtps:// is implicit TLS; tls=%s contradicts it", v)
		}
		c.tls = mode
	}
	return c, nil
}

type smtpMailer struct {
	client   *gomail.Client
	from     *netmail.Address
	idDomain string
	Log      *slog.Logger
}

// Send implements Mailer. Messages go one by one over one connection, each
// in its own SMTP transaction, so that a server refusing one does not stop
// the others.
func (m *smtpMailer) Send(ctx context.Context, msgs ...Message) error {
	if len(msgs) == 0 {
		return nil
	}
	failed := &SendError{Messages: map[int]Failure{}, Total: len(msgs)}
	built := make([]*gomail.Msg, len(msgs))
	for i, msg := range msgs {
		gm, err := m.compose(msg)
		if err != nil {
			failed.Messages[i] = Failure{Stage: "compose", Permanent: true, detail: err.Error()}
			continue
		}
		built[i] = gm
	}
	if len(failed.Messages) == len(msgs) {
		return failed
	}

	conn, err := m.client.DialToSMTPClientWithContext(ctx)
	if err != nil {
		f := sessionFailure(err)
		return &SendError{Session: &f, Total: len(msgs)}
	}
	// go-mail bounds each exchange by its timeout but does not watch ctx:
	// closing the connection when ctx ends makes a cancelled job stop now.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer func() {
		// Every message has had its answer by now; a failed QUIT changes
		// nothing about them.
		if err := m.client.CloseWithSMTPClient(conn); err != nil && ctx.Err() == nil {
			m.Log.DebugContext(ctx, "mail: closing the SMTP session failed", "error", withoutText(err))
		}
	}()
	for i, gm := range built {
		if gm == nil {
			continue
		}
		if err := m.client.SendWithSMTPClient(conn, gm); err != nil {
			failed.Messages[i] = messageFailure(err)
		}
	}
	if len(failed.Messages) == 0 {
		return nil
	}
	return failed
}

// reservedHeaders are set by compose or go-mail and cannot be overridden
// through Message.Headers.
var reservedHeaders = []string{"From", "To", "Cc", "Bcc", "Sender", "Reply-To", "Subject", "Date", "Message-Id",
	"Mime-Version", "Content-Type", "Content-Transfer-Encoding", "Return-Path"}

func (m *smtpMailer) compose(msg Message) (*gomail.Msg, error) {
	if len(msg.To) == 0 {
		return nil, errors.New("no recipient")
	}
	to := make([]*netmail.Address, len(msg.To))
	for i, a := range msg.To {
		addr, err := netmail.ParseAddress(a)
		if err != nil {
			// The address itself stays out of the error.
			return nil, fmt.Errorf("recipient %d is not an e-mail address", i)
		}
		to[i] = addr
	}
	// Header words in base64 ("B"), as Japanese mail software writes them;
	// the body in quoted-printable, so that its ASCII (IDs, English) stays
	// readable in the raw message for whoever traces a delivery.
	gm := gomail.NewMsg(gomail.WithCharset(gomail.CharsetUTF8), gomail.WithEncoding(gomail.EncodingB64),
		gomail.WithNoDefaultUserAgent())
	from := m.from
	if msg.FromName != "" {
		if strings.ContainsAny(msg.FromName, "\r\n") {
			return nil, errors.New("the sender's display name has a line break")
		}
		from = &netmail.Address{Name: msg.FromName, Address: m.from.Address}
	}
	gm.FromMailAddress(from)
	gm.ToMailAddress(to...)
	for name, value := range msg.Headers {
		canonical := textproto.CanonicalMIMEHeaderKey(name)
		if !validHeaderName(name) || slices.Contains(reservedHeaders, canonical) {
			return nil, fmt.Errorf("header %q cannot be set", name)
		}
		if strings.ContainsAny(value, "\r\n") {
			return nil, fmt.Errorf("header %q has a line break", name)
		}
		gm.SetGenHeader(gomail.Header(canonical), value)
	}
	gm.Subject(msg.Subject)
	gm.SetDate()
	id := msg.ID
	if id == "" {
		b := make([]byte, 16)
		rand.Read(b) // never fails since Go 1.24
		id = hex.EncodeToString(b)
	}
	if !validIDPart(id) {
		return nil, errors.New("the message ID has characters a Message-ID cannot hold")
	}
	gm.SetMessageIDWithValue(id + "@" + m.idDomain)
	// Text in a MIME body ends its lines with CRLF (RFC 2045), also
	// inside base64 where the transport cannot fix them.
	text := strings.ReplaceAll(strings.ReplaceAll(msg.Text, "\r\n", "\n"), "\n", "\r\n")
	gm.SetBodyString(gomail.TypeTextPlain, text, gomail.WithPartEncoding(gomail.EncodingQP))
	return gm, nil
}

// validHeaderName accepts RFC 5322 field names: printable ASCII but colon.
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		if r <= ' ' || r > '~' || r == ':' {
			return false
		}
	}
	return true
}

// validIDPart accepts the dot-atom text a Message-ID's left part may be.
func validIDPart(s string) bool {
	for _, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("!#$%&'*+-/=?^_`{|}~.", r)
		if !ok {
			return false
		}
	}
	return s != ""
}

// sessionFailure describes a failure to connect, start TLS or
// authenticate. An SMTP reply keeps only its code (an AUTH refusal may
// quote the user name); other errors (network, TLS, a missing extension)
// name no recipient and are kept for the operator.
func sessionFailure(err error) Failure {
	f := Failure{Stage: "session"}
	var tp *textproto.Error
	if errors.As(err, &tp) {
		f.Code = tp.Code
		f.Enhanced = enhancedCode(tp.Msg)
		return f
	}
	f.detail = err.Error()
	return f
}

// messageFailure describes go-mail's error for one message by its stage
// and reply code only: its text lists the refused addresses.
func messageFailure(err error) Failure {
	var se *gomail.SendError
	if !errors.As(err, &se) {
		return Failure{Stage: "send"}
	}
	f := Failure{Stage: stageOf(se.Reason), Code: se.ErrorCode(), Enhanced: se.EnhancedStatusCode()}
	// A refused recipient or content will be refused again; a refused
	// sender is the operator's to fix (--mail-from) and then worth
	// retrying, as is anything without a 5xx reply.
	switch se.Reason {
	case gomail.ErrSMTPRcptTo, gomail.ErrSMTPData, gomail.ErrSMTPDataClose, gomail.ErrWriteContent:
		f.Permanent = f.Code >= 500 && f.Code <= 599
	case gomail.ErrGetSender, gomail.ErrGetRcpts, gomail.ErrNoUnencoded:
		f.Permanent = true
	}
	return f
}

func stageOf(r gomail.SendErrReason) string {
	switch r {
	case gomail.ErrSMTPMailFrom:
		return "MAIL FROM"
	case gomail.ErrSMTPRcptTo:
		return "RCPT TO"
	case gomail.ErrSMTPData, gomail.ErrSMTPDataClose, gomail.ErrWriteContent:
		return "DATA"
	case gomail.ErrConnCheck:
		return "connection"
	case gomail.ErrSMTPReset:
		return "RSET"
	}
	return "send"
}

// enhancedCode returns the RFC 3463 code that starts a reply's text, if any.
func enhancedCode(text string) string {
	code, _, _ := strings.Cut(text, " ")
	parts := strings.Split(code, ".")
	if len(parts) != 3 || (parts[0] != "2" && parts[0] != "4" && parts[0] != "5") {
		return ""
	}
	for _, p := range parts[1:] {
		if _, err := strconv.Atoi(p); err != nil || len(p) > 3 {
			return ""
		}
	}
	return code
}

// withoutText keeps an SMTP error's code and drops its text, for logs.
func withoutText(err error) string {
	var tp *textproto.Error
	if errors.As(err, &tp) {
		return strconv.Itoa(tp.Code)
	}
	return "no reply"
}

// Disabled returns the Mailer used when no SMTP URL is configured: it
// sends nothing and logs how many messages it dropped.
func Disabled(log *slog.Logger) Mailer { return &disabledMailer{Log: log} }

// disabledMailer is the Mailer when no SMTP URL is configured.
type disabledMailer struct{ Log *slog.Logger }

func (d *disabledMailer) Send(ctx context.Context, msgs ...Message) error {
	d.Log.InfoContext(ctx, "mail disabled", "messages", len(msgs))
	return nil
}

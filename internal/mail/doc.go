// Package mail hands kakunin's plain-text UTF-8 messages to the operator's
// SMTP server (NewSMTPMailer, over github.com/wneessen/go-mail): STARTTLS
// when offered or required, implicit TLS, AUTH, many messages per session.
//
// Every other package that mails (alerts, the exposure check's answers, the
// mass notification of affected members) writes a Message and sends it
// through a Mailer; none speaks SMTP itself. Without an SMTP URL, Disabled
// sends nothing.
//
// A SendError says, per message, whether the server refused it for good
// (5xx) or for now (4xx, a broken session), with the reply codes only: an
// SMTP server's reply text is dropped, since servers quote the address
// they refuse, and addresses are never logged or put in an error.
package mail

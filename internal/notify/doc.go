// Package notify sends kakunin's mail and raises its alerts.
//
// A Mailer hands plain-text UTF-8 messages to the operator's SMTP server
// (NewSMTPMailer). Alerts (a reviewer over the read quota, an account
// locked) are raised with RaiseAlert inside the transaction that records
// what happened, so an alert exists if and only if that change commits
// (invariant 8: nothing acknowledged is lost). The alert is then mailed to
// every active admin and posted to the operator's alert webhook by durable
// River jobs, retried until the servers accept them (invariant 4: a read
// quota exceeded locks the account and raises an alert).
//
// Job arguments carry identifiers only: addresses are looked up, and
// bodies written, when the mail is sent. Neither addresses, bodies nor
// secrets are ever logged or put in an error; an SMTP server's reply text
// is dropped too, since servers quote the address they refuse.
package notify

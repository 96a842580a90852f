// Package alert tells the people who run kakunin, at once, about something
// they must act on: a reviewer over the read quota, a locked account, an
// incident deadline past due, an incident the public has not heard of for
// too long.
//
// Raise is called inside the transaction that records what happened, so an
// alert exists if and only if that change commits (invariant 8: nothing
// acknowledged is lost). The alert is then mailed (package mail) to every
// active staff member of its role, found when the mail is sent, and posted
// to the operator's alert webhook, by durable River jobs retried until the
// servers accept them (invariant 4: a read quota exceeded locks the account
// and raises an alert). Alerts never go to the host platform's webhook.
//
// Job arguments carry identifiers only: addresses are looked up, and
// bodies written, when the mail is sent. Neither addresses, bodies nor
// secrets are ever logged or put in an error.
package alert

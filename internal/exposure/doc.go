// Package exposure answers "am I affected?" without becoming a membership
// oracle (docs/design.md, invariant 6; the Omiai form that told anyone whether a
// stranger used a dating app).
//
// The public form's request path never looks anyone up: it validates the
// address's syntax, applies the per-client rate limit, seals the address
// and enqueues one durable job in the same transaction as the audit event.
// Its answer is therefore the same, in bytes and in work done, whoever the
// address belongs to. The job does the real work later: it finds the
// member by the address's blind index and mails the answer to the address
// the member registered, in the member's language, with a signed link to
// see it on the site. An address with no account gets nothing, or, when
// the operator enables it, one "no account uses this address" mail a day.
// The per-address limit is silent: the job simply does not send.
//
// A member who arrives through that link, or through a link the host
// platform asks for (the hand-off), sees the answer directly.
//
// # Where the answer is computed
//
// Not here. Whether an incident reached a member, and which of their
// documents (and whether readably), is incident.MemberExposure in
// internal/incident/exposure.go: the same rule the mass notification's
// letters are written from, so a member's answer and their letter agree.
// Service.Answers only applies it to every identified incident. What this
// package adds is how the answer travels: the form that gives nothing
// away and its rate limits (exposure.go), the job that finds the member
// and mails the answer (worker.go, mail.go), and the signed links that
// open it on the site (link.go).
package exposure

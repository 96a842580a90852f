// Package massmail tells every member an incident affected, by mail, and
// keeps count while it does.
//
// A campaign (one per incident) holds the letter a responder writes in
// Japanese and English as text/template sources over a small set of fields
// (Letter). Starting it enqueues one durable outbox row per affected member
// (invariant 8: nothing acknowledged is lost), keyed by campaign and member
// so that a second start cannot send twice. A Sender, run by serve beside
// the job queue, claims due rows under a lease (safe with several
// replicas), unseals each address only when it writes that member's mail,
// sends many messages per SMTP session at a throttled rate, retries
// temporary failures with exponential back-off and records permanent
// refusals as bounces. A row is marked sent only after the server accepted
// it; a crash in between may send it once more, under the same Message-ID.
//
// Rows, logs and audit events name members by ID only: never an address,
// and of an SMTP failure only its reply codes, since servers quote the
// address they refuse.
//
// # Why its own queue beside River
//
// Single mails (alerts, exposure-check answers, webhooks) are River jobs. A
// mass notification is not: at 1.71 million letters River would hold one
// job row per letter with its JSON arguments and retry bookkeeping, and
// work them one per SMTP session. This queue is one narrow row per
// (campaign, member), inserted in large batches, claimed in batches under a
// lease and sent many to one SMTP session, with the campaign's counters
// moved in the same transaction, so that progress, pausing and a second
// start (the unique key sends nothing twice) are each one cheap statement.
package massmail

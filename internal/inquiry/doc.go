// Package inquiry is the inquiry desk: the public /contact form, the
// person's thread behind a private link, and the support staff's queue
// with replies, internal notes, merging and SLA timers.
//
// It guards invariant 6 on /contact as /check and /signin do: the request
// path validates the form, seals the address and the message into a
// durable job (internal/bymail) and looks nothing up, so its answer and
// its time are the same whoever wrote; the job opens the thread and mails
// its private link to the typed address. Nothing is shown on screen.
// Invariant 7: a thread is shown only to the holder of its link (or to
// staff), never cached.
//
// The person's address and every message body are sealed by the vault
// (their own purposes); the address has a blind index for the per-address
// limit and for erasure. Store.DeleteInquiriesOfMember, reached through
// Service.EraseMember, destroys a member's threads with their other data.
package inquiry

// Package incident is the breach desk: the record of an incident and
// everything a responder must do about it.
//
//   - Service keeps incident records: when it was discovered, the window the
//     intruder had, what they held (database, blobs, keys, a staff account),
//     whether it was malicious, a status that only moves forward and a
//     timeline. Every change is audited in its own transaction.
//   - The deadline rules (deadline.go) compute from the record whether the PPC
//     must be told and by when (APPI Art. 26; Enforcement Rules Arts. 7, 8
//     and 10), the certifier's items and their due dates; Watch (watch.go)
//     alerts responders to overdue ones and to public silence.
//   - Draft (report.go) writes the PPC report draft from the record; Desk
//     and View (desk.go) are the console's incident list and incident page,
//     each in one call with its decisions made (what is overdue, which
//     statuses come next, whether the public has heard enough).
//   - Scope (scope.go) answers "what was exposed between T1 and T2" in
//     seconds (the Omiai breach of 2021 took three weeks to scope), and
//     MemberExposure (exposure.go) the same question for one member, which
//     the exposure check's answer (package exposure) and the mass
//     notification's letters (package massmail) are written from.
//
// # Scope
//
// Scope reads the lifecycle times every document keeps (received_at,
// destroyed_at when its wrapped data key was deleted, blob_deleted_at) and
// the history of the per-day epoch keys (epochs.created_at, destroyed_at).
// For a window [From, To], both ends included:
//
//   - a document existed in the window as ciphertext when it was received
//     by To and its encrypted image (blob) was not deleted before From;
//   - without KeysExposed, whoever held the database and the blob store
//     held ciphertext only, and nothing was readable: every data key is
//     wrapped by an epoch key, sealed by the key-encryption keyset, and
//     both live outside the database and the blob store (invariant 2);
//   - with KeysExposed (the keyset and the epoch key files were taken too),
//     a document was readable when its wrapped data key, its blob and its
//     epoch key all existed at some moment of the window. All three come
//     into being when the document is received, so that is: received by
//     To, and none of the three gone before From. A document whose epoch
//     has no row in epochs counts as readable: when in doubt, over-report.
//
// Members are counted once however many documents they sent, and those who
// had left the platform (members.deleted_at) are counted apart, "by the end
// of the window" or "since": a leaver's documents are exposed all the same.
// Staff reads come from document_reads, the index of the reads the audit
// chain also holds.
//
// For a window that has ended, the answer does not change as retention goes
// on destroying documents (their destruction times fall after From), so a
// report and a member list computed minutes apart agree. If the intruder
// reached backups, move From back to the oldest backup they could read.
//
// AffectedMembers streams the external IDs of the members counted in
// Report.Members, sorted bytewise, the same set every time: the breach desk
// notifies exactly these. ReadableMembers streams the subset with a
// readable document. Reads streams every staff read of the window.
//
// # The report as JSON
//
// The JSON form of Report is stable; fields may be added, none renamed or
// removed. Times are RFC 3339 in UTC, counts are integers.
//
//	query              the question: from, to (times), keys_exposed (bool),
//	                   max_reads (how many reads "reads" lists; 0 = all)
//	computed_at        when the report was computed
//	took_ms            how long it took, in milliseconds
//	verdict            the answer in one line, e.g. "keys not exposed: ciphertext only"
//	reasoning          plain sentences: the window, what "existed" means, why
//	                   documents were or were not readable, the members, the reads
//	documents          existing: documents whose ciphertext existed in the window;
//	                   readable: those the intruder could decrypt (0 without keys);
//	                   readable_if_keys_exposed: what readable would be with keys;
//	                   by_type: [{type, existing, readable, readable_if_keys_exposed}],
//	                   one per document type in kakunin.DocumentTypes order (zeros
//	                   included), then any other type found
//	members            total: distinct members with a document in the window;
//	                   left_before_end: of them, left at or before "to";
//	                   left_since: left after "to"
//	readable_members   the same counts for members with a readable document
//	staff              [{staff_id, email, role, reads, first_read, last_read}]: reads
//	                   of document images in the window per staff account, most first
//	reads_total        every read in the window
//	reads              [{at, staff_id, email, role, document_id, document_type, origin}],
//	                   the first max_reads reads, oldest first; origin is the keyed
//	                   hash of the client address
//	unclaimed          ciphertext with no document record, unreadable with any key
//	                   (its data key was never stored): pending_uploads begun by
//	                   "to" and not yet committed or swept, pending_members (distinct
//	                   members they came from), pending_member_unknown (uploads that
//	                   named none); blobs_listed (the blob store was listed) and
//	                   orphan_blobs (blobs written by "to" that no record claims;
//	                   their member is unknown)
package incident

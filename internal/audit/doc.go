// Package audit is kakunin's tamper-evident log (docs/design.md, invariant 5):
// every document read, decision, staff login, state-changing API call, key
// operation, export and exposure check is appended to a hash chain whose
// head is signed, from time to time, into checkpoints kept inside and
// published outside the database. Verify proves that the events up to the
// last published checkpoint are the ones that were written.
//
// # Events
//
// An event carries identifiers and keyed hashes only (Event). It is stored
// as one row of audit_events: seq (1, 2, 3…, no gaps), at (unix
// microseconds, UTC), action, actor, subject, origin, detail (a JSON object
// of strings) and hash.
//
// # The chain hash, version 1
//
// hash(n) = SHA-256(canonical(hash(n-1), event n)), with hash(0), the
// genesis, 32 zero bytes. canonical is the concatenation of:
//
//	tag      the 22 ASCII bytes "kakunin-audit-event-v1", then one 0x00 byte
//	prev     hash(n-1), 32 bytes
//	seq      n, 8 bytes, unsigned big-endian
//	at       unix microseconds (UTC), 8 bytes, two's complement big-endian
//	action   str
//	actor    str
//	subject  str
//	origin   str
//	count    number of detail entries, 4 bytes, unsigned big-endian
//	entries  count times: key str, value str; ordered by key, comparing the
//	         keys' UTF-8 bytes (keys are unique)
//
// where str is the string's length in bytes, 4 bytes unsigned big-endian,
// followed by its UTF-8 bytes. Every variable-length field carries its
// length, so no two different (prev, event) pairs share an encoding; the tag
// keeps these inputs apart from any other use of SHA-256 and names the
// version. The detail column's JSON text is not hashed: the strings it
// decodes to are, so its spelling (escapes, key order) may differ between
// encoders. A detail column that is not one JSON object of string values,
// or repeats a key, is itself reported as tampering. Strings must be valid
// UTF-8 without NUL bytes; Append refuses others. testdata/vectors.json
// holds events with their canonical bytes and hashes, checked by the tests,
// for writing an independent verifier.
//
// # Appending
//
// Every append takes the singleton row audit_head (UPDATE … RETURNING in the
// appending transaction: a row lock in PostgreSQL, the write lock in
// SQLite), chains its events after the head, inserts them and moves the
// head, so that appends from every process and replica form one chain.
// AppendTx does this in the caller's transaction; Append in a transaction
// of its own, shared with other callers while Log.Run is running (group
// commit: one commit and one fsync for a batch).
//
// # Checkpoints
//
// A Checkpointer (run by serve) signs the head every Every events, or every
// Interval while there are new events, as a C2SP signed note
// (golang.org/x/mod/sumdb/note, Ed25519) whose text follows the
// transparency-log checkpoint format:
//
//	kakunin/<host>/<install id>
//	<size: the seq of the last event covered, decimal>
//	<hash(size), standard base64>
//	time <when it was signed, RFC 3339 UTC, microseconds>
//
// The first line, the origin, is the installation's (Origin) and the name
// of the signing key; a checkpoint whose origin is not its signer's name is
// refused. Keys made before issue 17 are named kakunin-audit, and their
// checkpoints keep that origin.
//
// The third line is a hash chain's head, not a Merkle tree root: the format
// is borrowed, inclusion proofs are not offered. Before signing, the
// Checkpointer recomputes the events since the last checkpoint and refuses
// to sign a chain that does not extend it. Checkpoints are stored in
// audit_checkpoints, appended to a file (JSON lines, {"size", "time",
// "note"}, fsync'd) and handed to a Publish hook (the alert webhook). The
// signing key (audit-signer.key, 0600) is kept with the other keys, apart
// from the database; the verifier key beside it (audit-signer.key.pub) is
// public: publish it with the checkpoints.
//
// # Running it in serve
//
//	signer, err := audit.LoadOrCreateSigner(cfg.AuditKey, audit.Origin(host, installID))
//	log := &audit.Log{DB: db, Now: time.Now}
//	cp := &audit.Checkpointer{DB: db, Signer: signer, Every: cfg.AuditCheckpointEvery,
//		Interval: cfg.AuditCheckpointInterval, File: cfg.AuditCheckpointFile, Publish: …, Log: logger}
//	log.OnCommit = cp.Nudge
//	go log.Run(ctx) // group commit until ctx ends; Append then commits on its own
//	go cp.Run(ctx)  // signs a last checkpoint when ctx ends
//
// CLI commands need neither: Append without Run writes in its own
// transaction.
//
// # What Verify detects, and what it cannot
//
// Verify walks the chain in seq order, recomputing every hash, checks every
// stored checkpoint (and those of a published checkpoint file) against the
// verifier key and against the chain, and names the first bad event:
//
//   - an edited event: its fields no longer produce its stored hash, while
//     the next event still chains from that stored hash;
//   - a deleted event: a gap in seq;
//   - an inserted, moved or renumbered event: an event that does not chain
//     from its predecessor. An inserted event whose hash the attacker
//     computed correctly looks valid by itself; the break shows at the event
//     after it, which is the one named;
//   - a rewritten chain: an attacker who edits an event and recomputes every
//     later hash (and the head) leaves a chain that is consistent by itself.
//     The first signed checkpoint after the edit no longer matches; the
//     report names the first event after the last checkpoint that still
//     matched, and the range up to the one that does not;
//   - a checkpoint whose signature fails or that another key signed;
//   - a truncated tail: events removed from the end (and the head moved
//     back, and their stored checkpoints deleted) are found when any
//     checkpoint, stored or published, names a size larger than the chain.
//
// What it cannot detect, and why checkpoints must leave the database host:
//
//   - Someone who can write the database and nothing else can drop, edit or
//     rewrite every event after the last checkpoint they cannot delete, and
//     delete stored checkpoints. Only checkpoints held elsewhere (the
//     checkpoint file on another host, the webhook's receiver) bound that.
//     Events appended since the last published checkpoint are protected by
//     nothing but the database's own access control.
//   - Someone who also holds the signing key can sign a rewritten chain;
//     published checkpoints signed before the theft still catch rewrites of
//     the events they cover, if the verifier compares against them.
//   - An event that was never appended (the code path did not call Append,
//     or a transaction that read a document did not include its AppendTx)
//     is simply absent. The chain proves integrity, not completeness.
//   - The chain proves order and content, not that "at" is true: times come
//     from the appending server's clock.
package audit

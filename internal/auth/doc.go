// Package auth proves who is at the other end: staff (argon2id password plus
// TOTP, sessions with an idle timeout), the host platform (API keys, stored
// as hashes only) and members (signed, expiring, single-use upload links).
// Every secret comparison is constant-time; no secret is logged.
package auth

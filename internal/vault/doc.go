// Package vault holds every key kakunin uses and is the only code that
// encrypts identity documents. It guards three invariants of docs/design.md:
//
//   - 1, no plaintext at rest: SealDocument encrypts while the image streams,
//     segment by segment, so no plaintext byte is buffered whole or written
//     anywhere but through the encrypting writer.
//   - 2, keys outside the data: each document has its own data key, and the
//     database stores it only wrapped. The wrapping keys live in the key
//     directory, themselves wrapped by a key-encryption key (KEK) from a
//     KeyProvider, so a copy of the database plus the blob store yields nothing.
//   - 3, retention by key destruction: data keys are wrapped by one key per
//     UTC day of submission (an epoch). DestroyEpoch deletes that day's key
//     file, which makes the day's documents unreadable in every copy of the
//     database and blobs, backups included.
//
// # Format (version 1)
//
// Everything is a Tink keyset; "wrapped" means Tink's EncryptedKeyset, the
// serialized keyset encrypted with an AEAD and the associated data (AD) given.
// The AD strings bind each wrapped key to its role and name, so no file or
// database value can be moved to another slot and still open.
//
//	KEK            AES256-GCM AEAD keyset, cleartext JSON at the configured
//	               path, mode 0600 (a local KeyProvider; a KMS can replace it)
//	<keyDir>/records.json
//	               AES256-GCM AEAD keyset, JSON, wrapped by the KEK,
//	               AD "kakunin/record-key/v1"; seals small fields (SealField)
//	<keyDir>/index.json
//	               HMAC-SHA256 PRF keyset, JSON, wrapped by the KEK,
//	               AD "kakunin/index-key/v1"; BlindIndex and MAC
//	<keyDir>/epochs/<YYYY-MM-DD>.json
//	               AES256-GCM AEAD keyset, JSON, wrapped by the KEK,
//	               AD "kakunin/epoch-key/v1/<YYYY-MM-DD>"
//	<keyDir>/epochs/<YYYY-MM-DD>.destroyed
//	               empty tombstone left by DestroyEpoch so that no process
//	               re-creates a destroyed day's key
//	wrapped data key (stored in the database)
//	               AES256-GCM-HKDF-1MB streaming AEAD keyset, one per document,
//	               binary EncryptedKeyset wrapped by the epoch key,
//	               AD "kakunin/document-key/v1/<docID>"
//	document ciphertext (stored in the blob store)
//	               Tink streaming AEAD ciphertext under the data key,
//	               AD "kakunin/document/v1/<docID>"
//	sealed field   Tink AEAD ciphertext under the records key, AD = purpose
//	BlindIndex     HMAC-SHA256 PRF (32 bytes) under the index key of
//	               frame("kakunin/blind-index/v1", purpose, value)
//	MAC            the same PRF of frame("kakunin/mac/v1", purpose, msg)
//
// frame(a, b, c) is each part prefixed by its length as a 4-byte big-endian
// integer, so no two different (purpose, value) pairs share an input.
//
// Key files are created race-safely (written to a temp file, fsynced, then
// hard-linked into place, so only the first of two racing processes wins and
// the other reads the winner's key), with mode 0600 in directories of mode
// 0700. Epoch keys are never cached in memory, so a destruction takes effect
// at once in every process sharing the key directory.
//
// The key directory must not be backed up together with the KEK: a backup of
// both keeps destroyed days readable for as long as the backup lives.
//
// testdata/ holds fixed vectors of this format; gen_testdata.go regenerates
// them (go run gen_testdata.go), which should only ever be needed for v2.
package vault

// Package document receives, keeps and destroys identity-document images.
//
// An upload is sanitised (intake), encrypted while it streams (vault) and
// written to the blob store; only then is its record committed with the
// wrapped key, so an acknowledged upload is durable and a crash leaves at
// most unreadable ciphertext (invariants 1, 8, 9). Images are destroyed on a
// schedule and when a member leaves: first the wrapped key is forgotten,
// then the blob deleted; once a day's documents are all gone its epoch key
// is destroyed too, which makes every copy of them unreadable (invariant 3).
package document

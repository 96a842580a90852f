// Package intake sanitises an uploaded identity-document photo before it is
// stored: it sniffs the real type from the bytes, enforces size and pixel
// limits, strips metadata (EXIF with GPS, XMP, comments, text chunks) without
// re-encoding, and fully decodes the image to refuse damaged files. Of all
// that metadata only the EXIF Orientation value is kept, returned beside the
// image rather than in it, so the reviewer can be shown the photo upright.
//
// It guards two invariants of docs/design.md. Invariant 1 (no plaintext at rest):
// everything here is a pure function over an io.Reader and an io.Writer, and
// the writer is normally an encrypting one, so this package never touches
// disk and holds at most a bounded prefix in memory (WebP, whose container
// must be rewritten, is the one bounded exception). Invariant 9 (bad input
// gets a clear error): every refusal is a kakunin.Error with a 4xx code and a
// message safe to show.
package intake

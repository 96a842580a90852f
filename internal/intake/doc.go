// Package intake sanitises an uploaded identity-document photo before it is
// stored: it sniffs the real type from the bytes, enforces size and pixel
// limits, strips metadata (EXIF with GPS, XMP, comments, text chunks) without
// re-encoding, and checks the structure of what it keeps (markers, segment
// lengths, scan headers, CRCs, the end marker) to refuse damaged files; the
// full decode, which allocates every pixel, is Decode, run within a memory
// budget (Limits.DecodeInline runs it during Sanitize instead). Of all
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

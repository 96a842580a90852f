package audit

import (
	"crypto/sha256"
	"encoding/binary"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/kakunin/kakunin"
)

// HashSize is the length of a chain hash (SHA-256).
const HashSize = sha256.Size

// eventTag starts every event's canonical encoding (doc.go). It separates
// this hash's domain from any other SHA-256 input, and its version lets a
// future encoding coexist with rows hashed under this one.
const eventTag = "kakunin-audit-event-v1\x00"

// Genesis is the chain hash before the first event: 32 zero bytes, the
// value the migration seeds audit_head with.
func Genesis() []byte { return make([]byte, HashSize) }

// Canonical returns the bytes hashed for e when it follows prev (doc.go
// defines them). Every field is length-prefixed and the detail is sorted,
// so two different events never encode the same.
func Canonical(prev []byte, e Event) []byte {
	return appendCanonical(nil, prev, e)
}

// ChainHash returns SHA-256(Canonical(prev, e)): the hash stored with e.
func ChainHash(prev []byte, e Event) []byte {
	h := sha256.Sum256(Canonical(prev, e))
	return h[:]
}

func appendCanonical(b, prev []byte, e Event) []byte {
	b = append(b, eventTag...)
	b = append(b, prev...)
	b = binary.BigEndian.AppendUint64(b, uint64(e.Seq))
	b = binary.BigEndian.AppendUint64(b, uint64(e.At.UnixMicro()))
	for _, s := range []string{e.Action, e.Actor, e.Subject, e.Origin} {
		b = appendString(b, s)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(e.Detail)))
	for _, k := range sortedKeys(e.Detail) {
		b = appendString(b, k)
		b = appendString(b, e.Detail[k])
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// sortedKeys orders keys by their bytes; Go compares strings bytewise, the
// order another implementation gets from comparing UTF-8 byte strings.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Limits on one event. They keep a row small and stop a caller from
// putting a document or a free-text note into the log by mistake.
const (
	maxField       = 1024
	maxDetailKey   = 128
	maxDetailValue = 4096
	maxDetail      = 64
)

// validate refuses what the chain could not store faithfully: strings that
// are not valid UTF-8 (JSON would replace bytes and the hash would no
// longer match the row) or that contain NUL (PostgreSQL TEXT refuses it).
func validate(e *Event) error {
	if e.Action == "" || e.Actor == "" {
		return kakunin.Errorf(kakunin.EINVALID, "audit event needs an action and an actor")
	}
	for _, f := range []struct{ name, v string }{{"action", e.Action}, {"actor", e.Actor}, {"subject", e.Subject}, {"origin", e.Origin}} {
		if err := checkString(f.name, f.v, maxField); err != nil {
			return err
		}
	}
	if len(e.Detail) > maxDetail {
		return kakunin.Errorf(kakunin.EINVALID, "audit event %s: %d detail entries, at most %d", e.Action, len(e.Detail), maxDetail)
	}
	for k, v := range e.Detail {
		if k == "" {
			return kakunin.Errorf(kakunin.EINVALID, "audit event %s: empty detail key", e.Action)
		}
		if err := checkString("detail key", k, maxDetailKey); err != nil {
			return err
		}
		if err := checkString("detail "+k, v, maxDetailValue); err != nil {
			return err
		}
	}
	return nil
}

func checkString(name, s string, max int) error {
	switch {
	case len(s) > max:
		return kakunin.Errorf(kakunin.EINVALID, "audit %s: %d bytes, at most %d", name, len(s), max)
	case !utf8.ValidString(s):
		return kakunin.Errorf(kakunin.EINVALID, "audit %s: not valid UTF-8", name)
	case slices.Contains([]byte(s), 0):
		return kakunin.Errorf(kakunin.EINVALID, "audit %s: contains a NUL byte", name)
	}
	return nil
}

// micros truncates t to what the database keeps (unix microseconds, UTC),
// so the time hashed is the time stored.
func micros(t time.Time) time.Time { return time.UnixMicro(t.UnixMicro()).UTC() }

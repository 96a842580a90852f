package vault

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestSealedDocumentOpensToTheSamePlaintext(t *testing.T) {
	v, _ := newTestVault(t)
	plaintext := randomBytes(5<<20+12345, 1)

	var dst bytes.Buffer
	w, wrapped, err := v.SealDocument(context.Background(), "doc-1", "2026-11-25", &dst)
	if err != nil {
		t.Fatal(err)
	}
	// Odd-sized chunks cross the 1 MiB segment boundaries at odd offsets.
	for rest := plaintext; len(rest) > 0; {
		n := min(7919, len(rest))
		if _, err := w.Write(rest[:n]); err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(dst.Bytes(), plaintext[4096:4096+64]) {
		t.Fatal("ciphertext contains plaintext")
	}

	r, err := v.OpenDocument(context.Background(), "doc-1", "2026-11-25", wrapped, &dst)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 0, len(plaintext))
	buf := make([]byte, 4099)
	for {
		n, err := r.Read(buf)
		got = append(got, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got, plaintext) {
		t.Fatalf("opened %d bytes that differ from the %d sealed", len(got), len(plaintext))
	}
}

func TestSealDocumentWritesCiphertextBeforeTheDocumentEnds(t *testing.T) {
	v, _ := newTestVault(t)
	var dst bytes.Buffer
	w, _, err := v.SealDocument(context.Background(), "doc-1", "2026-11-25", &dst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(randomBytes(3<<20, 2)); err != nil {
		t.Fatal(err)
	}
	// Streaming means whole 1 MiB segments leave before Close; a buffering
	// implementation would have written nothing yet.
	if dst.Len() < 2<<20 {
		t.Fatalf("only %d ciphertext bytes written after 3 MiB of plaintext", dst.Len())
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func TestOpenDocumentYieldsPlaintextBeforeReadingTheWholeCiphertext(t *testing.T) {
	v, _ := newTestVault(t)
	plaintext := randomBytes(4<<20, 3)
	wrapped, ciphertext := seal(t, v, "doc-1", "2026-11-25", plaintext)

	src := &countingReader{r: bytes.NewReader(ciphertext)}
	r, err := v.OpenDocument(context.Background(), "doc-1", "2026-11-25", wrapped, src)
	if err != nil {
		t.Fatal(err)
	}
	first := make([]byte, 1000)
	if _, err := io.ReadFull(r, first); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, plaintext[:1000]) {
		t.Fatal("first bytes differ")
	}
	if src.n > 2<<20 {
		t.Fatalf("read %d of %d ciphertext bytes to return the first 1000 plaintext bytes", src.n, len(ciphertext))
	}
}

func TestAlteredOrMisplacedDocumentsDoNotOpen(t *testing.T) {
	v, _ := newTestVault(t)
	plainA := randomBytes(1<<20+100, 4)
	keyA, ctA := seal(t, v, "doc-a", "2026-11-25", plainA)
	keyB, ctB := seal(t, v, "doc-b", "2026-11-25", randomBytes(2000, 5))
	keyC, _ := seal(t, v, "doc-a", "2026-11-24", randomBytes(10, 6))

	flip := func(b []byte, i int) []byte {
		c := bytes.Clone(b)
		c[i] ^= 0x01
		return c
	}
	tests := []struct {
		name       string
		docID      string
		epoch      string
		wrapped    []byte
		ciphertext []byte
	}{
		{"a wrapped key with a flipped byte in its middle", "doc-a", "2026-11-25", flip(keyA, len(keyA)/2), ctA},
		{"a wrapped key with a flipped last byte", "doc-a", "2026-11-25", flip(keyA, len(keyA)-1), ctA},
		{"a truncated wrapped key", "doc-a", "2026-11-25", keyA[:len(keyA)-1], ctA},
		{"a ciphertext with a flipped header byte", "doc-a", "2026-11-25", keyA, flip(ctA, 5)},
		{"a ciphertext with a flipped byte in its first segment", "doc-a", "2026-11-25", keyA, flip(ctA, 1000)},
		{"a ciphertext with a flipped last byte", "doc-a", "2026-11-25", keyA, flip(ctA, len(ctA)-1)},
		{"a ciphertext missing its last segment", "doc-a", "2026-11-25", keyA, ctA[:1<<20]},
		{"a ciphertext missing its last byte", "doc-a", "2026-11-25", keyA, ctA[:len(ctA)-1]},
		{"another document's wrapped key and ciphertext under this ID", "doc-a", "2026-11-25", keyB, ctB},
		{"this document's key with another document's ciphertext", "doc-a", "2026-11-25", keyA, ctB},
		{"this document's key and ciphertext under another ID", "doc-b", "2026-11-25", keyA, ctA},
		{"a wrapped key of another epoch", "doc-a", "2026-11-25", keyC, ctA},
		{"a wrapped key opened under another epoch", "doc-a", "2026-11-24", keyA, ctA},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := open(v, tt.docID, tt.epoch, tt.wrapped, tt.ciphertext)
			if err == nil {
				t.Fatalf("opened %d bytes, want an error", len(got))
			}
		})
	}
	// The control: unaltered, it opens.
	if got, err := open(v, "doc-a", "2026-11-25", keyA, ctA); err != nil || !bytes.Equal(got, plainA) {
		t.Fatalf("unaltered document did not open: %v", err)
	}
}

func TestKeyDirectoryWithoutItsKEKDecryptsNothing(t *testing.T) {
	v, keyDir := newTestVault(t)
	plaintext := randomBytes(3000, 7)
	wrapped, ciphertext := seal(t, v, "doc-1", "2026-11-25", plaintext)
	field, err := v.SealField("member-email", []byte("member@example.com"))
	if err != nil {
		t.Fatal(err)
	}

	// An attacker's copy: every key file, the database's wrapped key and the
	// blob, but a KEK of their own.
	stolen := filepath.Join(t.TempDir(), "keys")
	if err := os.CopyFS(stolen, os.DirFS(keyDir)); err != nil {
		t.Fatal(err)
	}
	otherKEK, err := OpenLocalKeyset(filepath.Join(t.TempDir(), "kek.json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(context.Background(), otherKEK, stolen); err == nil {
		t.Fatal("New opened the record and index keys with a foreign KEK")
	}
	thief := &Vault{kek: otherKEK, keyDir: stolen}
	if got, err := open(thief, "doc-1", "2026-11-25", wrapped, ciphertext); err == nil {
		t.Fatalf("opened %d bytes with a foreign KEK", len(got))
	}
	if _, err := thief.recordKeyFile().load(context.Background(), otherKEK); err == nil {
		t.Fatal("unwrapped the record key with a foreign KEK")
	}
	if bytes.Contains(field, []byte("member@example.com")) {
		t.Fatal("sealed field contains its plaintext")
	}

	// The control: with its own KEK the same copy opens.
	own := &Vault{kek: v.kek, keyDir: stolen}
	if got, err := open(own, "doc-1", "2026-11-25", wrapped, ciphertext); err != nil || !bytes.Equal(got, plaintext) {
		t.Fatalf("copy did not open with its own KEK: %v", err)
	}
}

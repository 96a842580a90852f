package vault

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"path/filepath"
	"testing"
)

// newTestVault returns a vault over a fresh KEK and key directory.
func newTestVault(t testing.TB) (*Vault, string) {
	t.Helper()
	dir := t.TempDir()
	kek, err := OpenLocalKeyset(filepath.Join(dir, "kek", "kek.json"))
	if err != nil {
		t.Fatal(err)
	}
	keyDir := filepath.Join(dir, "keys")
	v, err := New(context.Background(), kek, keyDir)
	if err != nil {
		t.Fatal(err)
	}
	return v, keyDir
}

// seal encrypts plaintext as one document and returns its wrapped key and ciphertext.
func seal(t testing.TB, v *Vault, docID, epoch string, plaintext []byte) (wrapped, ciphertext []byte) {
	t.Helper()
	var dst bytes.Buffer
	w, wrapped, err := v.SealDocument(context.Background(), docID, epoch, &dst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(plaintext); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return wrapped, dst.Bytes()
}

// open decrypts a whole document, returning the first error on the way.
func open(v *Vault, docID, epoch string, wrapped, ciphertext []byte) ([]byte, error) {
	r, err := v.OpenDocument(context.Background(), docID, epoch, wrapped, bytes.NewReader(ciphertext))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

// randomBytes returns n reproducible pseudo-random bytes.
func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed)})
	r.Read(b)
	return b
}

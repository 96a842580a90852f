package vault

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// openVectors copies testdata into a private temp directory (git does not
// keep file modes, so the checked-out KEK may be 0644) and opens its vault.
func openVectors(t *testing.T) (*Vault, map[string]string) {
	t.Helper()
	raw, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var vec map[string]string
	if err := json.Unmarshal(raw, &vec); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS("testdata")); err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		mode := fs.FileMode(0o600)
		if d.IsDir() {
			mode = 0o700
		}
		return os.Chmod(path, mode)
	})
	if err != nil {
		t.Fatal(err)
	}
	kek, err := OpenLocalKeyset(filepath.Join(dir, "kek.json"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := New(context.Background(), kek, filepath.Join(dir, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	return v, vec
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestFormatVectorsStillOpen fails when a change makes keys, documents or
// fields written by an earlier build unreadable, or changes an index.
func TestFormatVectorsStillOpen(t *testing.T) {
	v, vec := openVectors(t)

	got, err := open(v, vec["doc_id"], vec["epoch"], unhex(t, vec["wrapped_key_hex"]), unhex(t, vec["ciphertext_hex"]))
	if err != nil || string(got) != vec["plaintext"] {
		t.Errorf("document vector: %q, %v", got, err)
	}
	field, err := v.OpenField(vec["field_purpose"], unhex(t, vec["field_hex"]))
	if err != nil || string(field) != vec["field_plaintext"] {
		t.Errorf("field vector: %q, %v", field, err)
	}
	if idx := v.BlindIndex(vec["field_purpose"], []byte(vec["field_plaintext"])); !bytes.Equal(idx, unhex(t, vec["blind_index_hex"])) {
		t.Errorf("blind index changed: %x", idx)
	}
	if !v.VerifyMAC("upload-link", []byte(vec["mac_message"]), unhex(t, vec["mac_hex"])) {
		t.Error("MAC vector no longer verifies")
	}
	if epochs, err := v.Epochs(context.Background()); err != nil || !slices.Equal(epochs, []string{vec["epoch"]}) {
		t.Errorf("Epochs = %q, %v", epochs, err)
	}
}

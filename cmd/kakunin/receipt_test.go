package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// kakunin receipt verify checks the documented vector offline with the
// verifier key alone, and names what failed for a copy edited by one byte.
func TestReceiptVerifyOfflineWithTheKeyAlone(t *testing.T) {
	dir := filepath.Join("..", "..", "internal", "erasure", "testdata")
	key, err := os.ReadFile(filepath.Join(dir, "receipt.key"))
	if err != nil {
		t.Fatal(err)
	}
	vkey := strings.TrimSpace(string(key))
	good := filepath.Join(dir, "receipt.txt")
	code, out, errOut := runCLI(t, "receipt", "verify", "--verifier-key", vkey, good)
	if code != 0 || !strings.Contains(out, "valid erasure receipt") || !strings.Contains(out, "document_image") {
		t.Fatalf("valid receipt: %d %q %q", code, out, errOut)
	}
	b, _ := os.ReadFile(good)
	for _, c := range []struct{ from, to, names string }{
		{"document_image 2", "document_image 1", "signature"},
		{"kakunin erasure receipt v1\n", "kakunin erasure receipt v2\n", "signature"},
	} {
		bad := filepath.Join(t.TempDir(), "receipt.txt")
		os.WriteFile(bad, []byte(strings.Replace(string(b), c.from, c.to, 1)), 0o644)
		code, out, errOut := runCLI(t, "receipt", "verify", "--verifier-key", vkey, bad)
		if code != 1 || !strings.Contains(errOut, "NOT VALID") || !strings.Contains(errOut, c.names) || out != "" {
			t.Errorf("%q edited: %d %q %q", c.from, code, out, errOut)
		}
	}
	if code, _, _ := runCLI(t, "receipt", "verify", good); code != 2 {
		t.Errorf("no key given: exit %d, want 2", code)
	}
}

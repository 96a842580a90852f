package vault

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kakunin/kakunin"
)

func TestKeyFilesAreReadableByTheirOwnerOnly(t *testing.T) {
	dir := t.TempDir()
	kekPath := filepath.Join(dir, "secrets", "kek.json")
	kek, err := OpenLocalKeyset(kekPath)
	if err != nil {
		t.Fatal(err)
	}
	keyDir := filepath.Join(dir, "keys")
	v, err := New(context.Background(), kek, keyDir)
	if err != nil {
		t.Fatal(err)
	}
	seal(t, v, "doc-1", "2026-11-25", []byte("x"))

	want := map[string]fs.FileMode{
		kekPath:                               0o600,
		filepath.Dir(kekPath):                 0o700 | fs.ModeDir,
		keyDir:                                0o700 | fs.ModeDir,
		filepath.Join(keyDir, "epochs"):       0o700 | fs.ModeDir,
		filepath.Join(keyDir, "records.json"): 0o600,
		filepath.Join(keyDir, "index.json"):   0o600,
		filepath.Join(keyDir, "epochs", "2026-11-25.json"): 0o600,
	}
	for path, mode := range want {
		fi, err := os.Stat(path)
		if err != nil {
			t.Error(err)
			continue
		}
		if fi.Mode() != mode {
			t.Errorf("%s has mode %v, want %v", path, fi.Mode(), mode)
		}
	}
}

func TestAKEKKeysetOthersMayReadIsRefused(t *testing.T) {
	tests := []struct {
		mode    fs.FileMode
		refused bool
	}{
		{0o600, false},
		{0o400, false},
		{0o644, true},
		{0o640, true},
		{0o604, true},
		{0o620, true},
	}
	for _, tt := range tests {
		t.Run(tt.mode.String(), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "kek.json")
			if _, err := OpenLocalKeyset(path); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tt.mode); err != nil {
				t.Fatal(err)
			}
			_, err := OpenLocalKeyset(path)
			if !tt.refused {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if kakunin.ErrorCode(err) != kakunin.EINVALID || !strings.Contains(err.Error(), "chmod 600") {
				t.Fatalf("got %v, want an invalid error that says how to fix it", err)
			}
		})
	}
}

func TestReopeningALocalKeysetGivesTheSameKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kek.json")
	first, err := OpenLocalKeyset(path)
	if err != nil {
		t.Fatal(err)
	}
	second, err := OpenLocalKeyset(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a, _ := first.KEK(ctx)
	b, _ := second.KEK(ctx)
	ct, err := a.Encrypt([]byte("key"), []byte("ad"))
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := b.Decrypt(ct, []byte("ad")); err != nil || string(pt) != "key" {
		t.Fatalf("reopened keyset cannot decrypt: %v", err)
	}
}

func TestAnUnreadableKEKKeysetIsAnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kek.json")
	if err := os.WriteFile(path, []byte(`{"primaryKeyId": 1, "key": []}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenLocalKeyset(path); err == nil {
		t.Fatal("opened an empty keyset")
	}
}

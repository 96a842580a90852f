package vault

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/kakunin/kakunin"
	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/insecurecleartextkeyset"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// KeyProvider holds the key-encryption key. The local keyset file is the
// default; a KMS (Vault Transit, AWS or GCP KMS) plugs in by returning the
// tink.AEAD its Tink client gives for a key URI.
type KeyProvider interface {
	// KEK returns the AEAD that wraps every other key.
	KEK(ctx context.Context) (tink.AEAD, error)
}

// LocalKeyset is a KEK kept in a cleartext Tink keyset file on the server.
// Whoever can read that file can read every key, so it must be readable by
// its owner only and should not sit on the same disk as the backups.
type LocalKeyset struct {
	path string

	mu   sync.RWMutex // guards aead, which RotateKEK replaces
	aead tink.AEAD
}

// KEK returns the keyset's AEAD.
func (k *LocalKeyset) KEK(context.Context) (tink.AEAD, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.aead, nil
}

func (k *LocalKeyset) set(a tink.AEAD) {
	k.mu.Lock()
	k.aead = a
	k.mu.Unlock()
}

// OpenLocalKeyset opens the KEK keyset at path, creating it (0600, parent
// directory 0700) when it does not exist. It refuses a keyset file that group
// or others may access, because such a file gives away every key.
func OpenLocalKeyset(path string) (*LocalKeyset, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create KEK directory: %w", err)
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		if err := createLocalKeyset(path); err != nil {
			return nil, err
		}
	}
	h, err := readLocalKeyset(path)
	if err != nil {
		return nil, err
	}
	a, err := aead.New(h)
	if err != nil {
		return nil, fmt.Errorf("read KEK keyset %s: %w", path, err)
	}
	return &LocalKeyset{path: path, aead: a}, nil
}

// readLocalKeyset reads the cleartext keyset at path, refusing it unless it
// is private to its owner.
func readLocalKeyset(path string) (*keyset.Handle, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open KEK keyset: %w", err)
	}
	defer f.Close()

	// Stat the open file, not the path, so the mode checked is the mode of
	// the bytes read.
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("open KEK keyset: %w", err)
	}
	if err := checkPrivate(path, fi.Mode()); err != nil {
		return nil, err
	}
	h, err := insecurecleartextkeyset.Read(keyset.NewJSONReader(f))
	if err != nil {
		return nil, fmt.Errorf("read KEK keyset %s: %w", path, err)
	}
	return h, nil
}

// checkPrivate refuses a key file that anyone but its owner may access.
func checkPrivate(path string, mode fs.FileMode) error {
	if !mode.IsRegular() {
		return kakunin.Errorf(kakunin.EINVALID, "key file %s is not a regular file", path)
	}
	if mode.Perm()&0o077 != 0 {
		return kakunin.Errorf(kakunin.EINVALID,
			"key file %s has mode %04o: it must be readable by its owner only (run: chmod 600 %s)",
			path, mode.Perm(), path)
	}
	return nil
}

func createLocalKeyset(path string) error {
	h, err := keyset.NewHandle(aead.AES256GCMKeyTemplate())
	if err != nil {
		return fmt.Errorf("generate KEK: %w", err)
	}
	data, err := encodeLocalKeyset(h)
	if err != nil {
		return err
	}
	if _, err := createOnce(path, data); err != nil {
		return fmt.Errorf("create KEK keyset %s: %w", path, err)
	}
	return nil
}

func encodeLocalKeyset(h *keyset.Handle) ([]byte, error) {
	var buf bytes.Buffer
	if err := insecurecleartextkeyset.Write(h, keyset.NewJSONWriter(&buf)); err != nil {
		return nil, fmt.Errorf("encode KEK: %w", err)
	}
	return buf.Bytes(), nil
}

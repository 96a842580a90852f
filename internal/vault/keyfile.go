package vault

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/tink-crypto/tink-go/v2/keyset"
	tinkpb "github.com/tink-crypto/tink-go/v2/proto/tink_go_proto"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// createOnce writes data to path unless path already exists. The data is
// written and fsynced under a temporary name first and then hard-linked into
// place: link fails if the name exists, so when two processes race to create
// the same key exactly one wins and no reader ever sees a half-written file.
// It reports whether this call created the file.
func createOnce(path string, data []byte) (bool, error) {
	dir := filepath.Dir(path)
	// CreateTemp creates the file with mode 0600.
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return false, err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Close(); err != nil {
		return false, err
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return false, nil
		}
		return false, err
	}
	return true, syncDir(dir)
}

// replaceFile atomically replaces path with data (mode 0600). The data is
// written and fsynced under a temporary name, renamed over path, and the
// directory fsynced: after a crash path holds the old bytes or the new ones,
// never a mix, and once replaceFile returns the new ones stay.
func replaceFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	// CreateTemp creates the file with mode 0600.
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir makes a creation or removal in dir durable: without it a crash
// could bring back a destroyed key or lose a new one.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// wrappedKeyFile is a keyset file encrypted by the KEK.
type wrappedKeyFile struct {
	path     string
	ad       string
	template *tinkpb.KeyTemplate
}

// load reads and unwraps the keyset; a missing file is fs.ErrNotExist.
func (f wrappedKeyFile) load(ctx context.Context, kek KeyProvider) (*keyset.Handle, error) {
	data, err := os.ReadFile(f.path)
	if err != nil {
		return nil, err
	}
	aead, err := kek.KEK(ctx)
	if err != nil {
		return nil, fmt.Errorf("get KEK: %w", err)
	}
	return f.unwrap(data, aead)
}

// loadOrCreate loads the keyset, creating it first when absent. The loser of
// a creation race reads the winner's key, so both end up with the same one.
func (f wrappedKeyFile) loadOrCreate(ctx context.Context, kek KeyProvider) (*keyset.Handle, error) {
	h, err := f.load(ctx, kek)
	if !errors.Is(err, fs.ErrNotExist) {
		return h, err
	}
	if err := f.create(ctx, kek); err != nil {
		return nil, err
	}
	return f.load(ctx, kek)
}

func (f wrappedKeyFile) create(ctx context.Context, kek KeyProvider) error {
	aead, err := kek.KEK(ctx)
	if err != nil {
		return fmt.Errorf("get KEK: %w", err)
	}
	h, err := keyset.NewHandle(f.template)
	if err != nil {
		return fmt.Errorf("generate %s: %w", f.path, err)
	}
	data, err := f.wrap(h, aead)
	if err != nil {
		return err
	}
	if _, err := createOnce(f.path, data); err != nil {
		return fmt.Errorf("create %s: %w", f.path, err)
	}
	return nil
}

// wrap encrypts the keyset h with kek, bound to the file's associated data.
func (f wrappedKeyFile) wrap(h *keyset.Handle, kek tink.AEAD) ([]byte, error) {
	var buf bytes.Buffer
	if err := h.WriteWithAssociatedData(keyset.NewJSONWriter(&buf), kek, []byte(f.ad)); err != nil {
		return nil, fmt.Errorf("wrap %s: %w", f.path, err)
	}
	return buf.Bytes(), nil
}

// unwrap decrypts data, the content of the file, with kek.
func (f wrappedKeyFile) unwrap(data []byte, kek tink.AEAD) (*keyset.Handle, error) {
	h, err := keyset.ReadWithAssociatedData(keyset.NewJSONReader(bytes.NewReader(data)), kek, []byte(f.ad))
	if err != nil {
		return nil, fmt.Errorf("unwrap %s: %w", f.path, err)
	}
	return h, nil
}

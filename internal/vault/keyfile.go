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
	h, err := keyset.ReadWithAssociatedData(keyset.NewJSONReader(bytes.NewReader(data)), aead, []byte(f.ad))
	if err != nil {
		return nil, fmt.Errorf("unwrap %s: %w", f.path, err)
	}
	return h, nil
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
	var buf bytes.Buffer
	if err := h.WriteWithAssociatedData(keyset.NewJSONWriter(&buf), aead, []byte(f.ad)); err != nil {
		return fmt.Errorf("wrap %s: %w", f.path, err)
	}
	if _, err := createOnce(f.path, buf.Bytes()); err != nil {
		return fmt.Errorf("create %s: %w", f.path, err)
	}
	return nil
}

package vault

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/prf"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// Vault seals documents and fields with keys kept in one key directory.
// It holds the long-lived record and index keys in memory, never epoch keys:
// those are read from disk on every use so that DestroyEpoch in any process
// takes effect at once in all of them.
type Vault struct {
	kek     KeyProvider
	keyDir  string
	records tink.AEAD
	index   *prf.Set
}

// New opens the key directory, creating it (0700) and the record and index
// keysets when absent.
func New(ctx context.Context, kek KeyProvider, keyDir string) (*Vault, error) {
	if err := os.MkdirAll(filepath.Join(keyDir, "epochs"), 0o700); err != nil {
		return nil, fmt.Errorf("create key directory: %w", err)
	}
	v := &Vault{kek: kek, keyDir: keyDir}

	rh, err := v.recordKeyFile().loadOrCreate(ctx, kek)
	if err != nil {
		return nil, fmt.Errorf("open record key: %w", err)
	}
	if v.records, err = aead.New(rh); err != nil {
		return nil, fmt.Errorf("open record key: %w", err)
	}

	ih, err := v.indexKeyFile().loadOrCreate(ctx, kek)
	if err != nil {
		return nil, fmt.Errorf("open index key: %w", err)
	}
	if v.index, err = prf.NewPRFSet(ih); err != nil {
		return nil, fmt.Errorf("open index key: %w", err)
	}
	// BlindIndex and MAC cannot fail once this succeeds; check it here so
	// that a wrong key type is an error at start, not a panic later.
	if _, err := v.index.ComputePrimaryPRF(nil, prfSize); err != nil {
		return nil, fmt.Errorf("open index key: %w", err)
	}
	return v, nil
}

func (v *Vault) recordKeyFile() wrappedKeyFile {
	return wrappedKeyFile{
		path:     filepath.Join(v.keyDir, "records.json"),
		ad:       adRecordKey,
		template: aead.AES256GCMKeyTemplate(),
	}
}

func (v *Vault) indexKeyFile() wrappedKeyFile {
	return wrappedKeyFile{
		path:     filepath.Join(v.keyDir, "index.json"),
		ad:       adIndexKey,
		template: prf.HMACSHA256PRFKeyTemplate(),
	}
}

// HasKeys reports whether keyDir holds a vault's keys already (New would
// open them rather than make new ones).
func HasKeys(keyDir string) bool {
	_, err := os.Stat((&Vault{keyDir: keyDir}).recordKeyFile().path)
	return err == nil
}

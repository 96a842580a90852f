package vault

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/tink"

	"github.com/kakunin/kakunin"
)

// ErrKeyDestroyed means the epoch key a document was sealed with no longer
// exists: the document is gone for good.
var ErrKeyDestroyed = errors.New("vault: epoch key destroyed")

const epochLayout = "2006-01-02"

// EpochOf returns the retention epoch of a document received at t: its UTC day.
func EpochOf(t time.Time) string { return t.UTC().Format(epochLayout) }

// validEpoch accepts only canonical YYYY-MM-DD dates, which also keeps epoch
// names from reaching outside the epochs directory.
func validEpoch(epoch string) error {
	t, err := time.Parse(epochLayout, epoch)
	if err != nil || t.Format(epochLayout) != epoch {
		return kakunin.Errorf(kakunin.EINVALID, "epoch %q is not a date of the form YYYY-MM-DD", epoch)
	}
	return nil
}

func (v *Vault) epochDir() string { return filepath.Join(v.keyDir, "epochs") }

func (v *Vault) epochKeyFile(epoch string) wrappedKeyFile {
	return wrappedKeyFile{
		path:     filepath.Join(v.epochDir(), epoch+".json"),
		ad:       adEpochKey + epoch,
		template: aead.AES256GCMKeyTemplate(),
	}
}

func (v *Vault) tombstone(epoch string) string {
	return filepath.Join(v.epochDir(), epoch+".destroyed")
}

// checkNotDestroyed returns ErrKeyDestroyed when the epoch has a tombstone.
func (v *Vault) checkNotDestroyed(epoch string) error {
	_, err := os.Stat(v.tombstone(epoch))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	}
	return ErrKeyDestroyed
}

// epochKey reads an existing epoch key; a missing one is ErrKeyDestroyed.
func (v *Vault) epochKey(ctx context.Context, epoch string) (tink.AEAD, error) {
	h, err := v.epochKeyFile(epoch).load(ctx, v.kek)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrKeyDestroyed
	}
	if err != nil {
		return nil, err
	}
	return aead.New(h)
}

// sealingEpochKey returns the epoch key, creating it when absent, unless the
// epoch was destroyed: re-creating it would seal new documents under a day
// that retention already considers gone.
func (v *Vault) sealingEpochKey(ctx context.Context, epoch string) (tink.AEAD, error) {
	if err := v.checkNotDestroyed(epoch); err != nil {
		return nil, err
	}
	f := v.epochKeyFile(epoch)
	h, err := f.loadOrCreate(ctx, v.kek)
	if err != nil {
		return nil, err
	}
	// DestroyEpoch may have run between the check above and the creation;
	// if so, undo the creation so no key of a destroyed day survives.
	if err := v.checkNotDestroyed(epoch); err != nil {
		if errors.Is(err, ErrKeyDestroyed) {
			os.Remove(f.path)
		}
		return nil, err
	}
	return aead.New(h)
}

// DestroyEpoch deletes the epoch's key, so every document sealed in that
// epoch becomes unreadable in every copy. It leaves a tombstone so no process
// re-creates the key, and is idempotent.
func (v *Vault) DestroyEpoch(ctx context.Context, epoch string) error {
	if err := validEpoch(epoch); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	f, err := os.OpenFile(v.tombstone(epoch), os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("destroy epoch %s: %w", epoch, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("destroy epoch %s: %w", epoch, err)
	}
	if err := os.Remove(v.epochKeyFile(epoch).path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("destroy epoch %s: %w", epoch, err)
	}
	if err := syncDir(v.epochDir()); err != nil {
		return fmt.Errorf("destroy epoch %s: %w", epoch, err)
	}
	return nil
}

// Epochs lists the epochs whose keys exist, oldest first.
func (v *Vault) Epochs(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(v.epochDir())
	if err != nil {
		return nil, fmt.Errorf("list epochs: %w", err)
	}
	// ReadDir sorts by name, and YYYY-MM-DD sorts by date.
	epochs := []string{}
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if ok && e.Type().IsRegular() && validEpoch(name) == nil {
			epochs = append(epochs, name)
		}
	}
	return epochs, nil
}

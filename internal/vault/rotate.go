package vault

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/kakunin/kakunin"
	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// RotateOptions tunes RotateKEK.
type RotateOptions struct {
	// RetireOld removes every key but the new one from the keyset once all
	// key files are re-wrapped under the new one.
	RetireOld bool
}

// KEKRotation reports what RotateKEK did (on error: how far it got).
type KEKRotation struct {
	Keyset    string   // the keyset file rotated
	NewKeyID  uint32   // the new primary key; 0 if none was added
	OldKeyIDs []uint32 // the keys the keyset held before
	Rewrapped int      // key files re-wrapped under the new key
	Retired   bool     // whether OldKeyIDs were removed from the keyset
}

// RotateKEK adds a new AES256-GCM key to the local KEK keyset, makes it the
// primary, and re-wraps every key file of the key directory under it: the
// record key, the index key and each epoch key. The wrapped keys themselves
// do not change, so every document, sealed field, blind index and MAC stays
// valid. Destroyed epochs are left alone: their tombstones stay and no key
// is re-created for them.
//
// Stop the service, and every other kakunin process using this key
// directory, first. A running process keeps the old keyset in memory and
// wraps any epoch key it creates under the old primary. While the old keys
// are kept that is harmless (the new keyset still holds them), but after
// RetireOld such a key would be unreadable at the next start, and with it
// that day's documents. Before retiring, RotateKEK checks that every key
// file opens under the new key alone and refuses to retire otherwise, which
// catches a key created during the rotation, not one created after it.
//
// Without RetireOld the old keys stay in the keyset, enabled, so anything
// still wrapped by them (a copy of the key directory taken earlier) stays
// readable with the current keyset. With RetireOld they are removed: the
// current keyset then no longer opens key files from before the rotation,
// and a leaked old key can no longer be used to plant key files the service
// would accept. Backups of the key directory taken before the rotation then
// need the old keyset file: keep it offline, apart from those backups, for
// as long as they are needed, then destroy every copy of it, which also
// makes epochs destroyed since those backups unreadable in them for good.
// (A copy of the old keyset never opens the re-wrapped files, retired or
// not: they are wrapped by a key it does not hold.)
//
// Only a local keyset is rotated here. With a KMS the key lives in the KMS,
// which rotates it and keeps old versions able to decrypt; RotateKEK returns
// an invalid error for any other KeyProvider.
//
// A crash or error at any point leaves every key file readable with the
// keyset on disk, and running RotateKEK again finishes the job (adding one
// more key).
func (v *Vault) RotateKEK(ctx context.Context, opts RotateOptions) (KEKRotation, error) {
	return v.rotateKEK(ctx, opts, nil)
}

// rotateKEK is RotateKEK with a hook, called before each key file is
// re-wrapped, that tests use to simulate a crash part way.
func (v *Vault) rotateKEK(ctx context.Context, opts RotateOptions, beforeRewrap func(path string) error) (KEKRotation, error) {
	var rot KEKRotation
	local, ok := v.kek.(*LocalKeyset)
	if !ok || local.path == "" {
		return rot, kakunin.Errorf(kakunin.EINVALID,
			"the key-encryption key is not a local keyset file, so it cannot be rotated here: rotate it in the key management service that holds it")
	}
	// Rotate the file a symlink points to rather than replace the link.
	path, err := filepath.EvalSymlinks(local.path)
	if err != nil {
		return rot, fmt.Errorf("rotate KEK: %w", err)
	}
	rot.Keyset = path
	if err := v.removeStaleTemps(path); err != nil {
		return rot, fmt.Errorf("rotate KEK: remove temporary files: %w", err)
	}

	old, err := readLocalKeyset(path)
	if err != nil {
		return rot, fmt.Errorf("rotate KEK: %w", err)
	}
	for i := range old.Len() {
		e, err := old.Entry(i)
		if err != nil {
			return rot, fmt.Errorf("rotate KEK: %w", err)
		}
		rot.OldKeyIDs = append(rot.OldKeyIDs, e.KeyID())
	}
	oldAEAD, err := aead.New(old)
	if err != nil {
		return rot, fmt.Errorf("rotate KEK: %w", err)
	}
	files, err := v.keyFiles(ctx)
	if err != nil {
		return rot, fmt.Errorf("rotate KEK: %w", err)
	}
	// A key file the keyset cannot open stops the rotation before anything
	// has changed.
	for _, f := range files {
		if _, err := f.loadWith(oldAEAD); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return rot, fmt.Errorf("rotate KEK: nothing changed: %w", err)
		}
	}

	m := keyset.NewManagerFromHandle(old)
	newID, err := m.Add(aead.AES256GCMKeyTemplate())
	if err != nil {
		return rot, fmt.Errorf("rotate KEK: generate key: %w", err)
	}
	if err := m.SetPrimary(newID); err != nil {
		return rot, fmt.Errorf("rotate KEK: %w", err)
	}
	both, err := m.Handle()
	if err != nil {
		return rot, fmt.Errorf("rotate KEK: %w", err)
	}
	bothAEAD, err := aead.New(both)
	if err != nil {
		return rot, fmt.Errorf("rotate KEK: %w", err)
	}

	// Crash ordering. The keyset holding both the old keys and the new
	// primary is written first, atomically: from then on every key file
	// opens with the keyset on disk whether or not it has been re-wrapped
	// yet. Re-wrapping first would be fatal: a crash before the keyset write
	// would leave key files wrapped by a key that exists nowhere on disk.
	// Each key file is then replaced atomically (temp, fsync, rename, dir
	// fsync), so it is always whole, under the old key or the new. The old
	// keys leave the keyset only after every file is durably re-wrapped, so
	// no keyset lacking them is ever on disk while a file still needs them.
	if err := writeLocalKeyset(path, both); err != nil {
		return rot, fmt.Errorf("rotate KEK: write keyset %s: %w", path, err)
	}
	rot.NewKeyID = newID
	local.set(bothAEAD)

	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return rot, fmt.Errorf("rotate KEK: %w", err)
		}
		if beforeRewrap != nil {
			if err := beforeRewrap(f.path); err != nil {
				return rot, err
			}
		}
		done, err := v.rewrap(f, bothAEAD)
		if err != nil {
			return rot, fmt.Errorf("rotate KEK: re-wrap %s: %w", f.path, err)
		}
		if done {
			rot.Rewrapped++
		}
	}
	if !opts.RetireOld {
		return rot, nil
	}

	for _, id := range rot.OldKeyIDs {
		if err := m.Delete(id); err != nil {
			return rot, fmt.Errorf("rotate KEK: retire key %d: %w", id, err)
		}
	}
	newOnly, err := m.Handle()
	if err != nil {
		return rot, fmt.Errorf("rotate KEK: %w", err)
	}
	newAEAD, err := aead.New(newOnly)
	if err != nil {
		return rot, fmt.Errorf("rotate KEK: %w", err)
	}
	// List the files again: one that appeared since the first listing was
	// wrapped by a process still holding the old keyset.
	if files, err = v.keyFiles(ctx); err != nil {
		return rot, fmt.Errorf("rotate KEK: %w", err)
	}
	for _, f := range files {
		if _, err := f.loadWith(newAEAD); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return rot, kakunin.Errorf(kakunin.ECONFLICT,
				"old KEK keys kept, not retired: %s does not open with the new key alone (is kakunin still running? stop it and rotate again): %v", f.path, err)
		}
	}
	if err := writeLocalKeyset(path, newOnly); err != nil {
		return rot, fmt.Errorf("rotate KEK: retire old keys: write keyset %s: %w", path, err)
	}
	local.set(newAEAD)
	rot.Retired = true
	return rot, nil
}

// keyFile is one KEK-wrapped key file; epoch is set for an epoch key.
type keyFile struct {
	wrappedKeyFile
	epoch string
}

// keyFiles lists the KEK-wrapped key files of the key directory: the
// record and index keys and the epoch keys that exist. Tombstones and
// anything else in the directory (the KEK keyset itself may sit there) are
// not key files.
func (v *Vault) keyFiles(ctx context.Context) ([]keyFile, error) {
	epochs, err := v.Epochs(ctx)
	if err != nil {
		return nil, err
	}
	files := []keyFile{{wrappedKeyFile: v.recordKeyFile()}, {wrappedKeyFile: v.indexKeyFile()}}
	for _, e := range epochs {
		files = append(files, keyFile{wrappedKeyFile: v.epochKeyFile(e), epoch: e})
	}
	return files, nil
}

// loadWith reads and unwraps the file with kek; a missing file is
// fs.ErrNotExist.
func (f wrappedKeyFile) loadWith(kek tink.AEAD) (*keyset.Handle, error) {
	data, err := os.ReadFile(f.path)
	if err != nil {
		return nil, err
	}
	return f.unwrap(data, kek)
}

// rewrap replaces the file with its keyset wrapped by kek's primary key. It
// reports false, leaving no file behind, when the file is gone or its epoch
// was destroyed.
func (v *Vault) rewrap(f keyFile, kek tink.AEAD) (bool, error) {
	if f.epoch != "" {
		if err := v.checkNotDestroyed(f.epoch); errors.Is(err, ErrKeyDestroyed) {
			return false, nil
		} else if err != nil {
			return false, err
		}
	}
	h, err := f.loadWith(kek)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	data, err := f.wrap(h, kek)
	if err != nil {
		return false, err
	}
	if err := replaceFile(f.path, data); err != nil {
		return false, err
	}
	if f.epoch == "" {
		return true, nil
	}
	// DestroyEpoch may have run since the check above, and the rename then
	// brought its key back: remove it again, as sealingEpochKey does.
	err = v.checkNotDestroyed(f.epoch)
	if errors.Is(err, ErrKeyDestroyed) {
		if err := os.Remove(f.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return false, err
		}
		return false, syncDir(v.epochDir())
	}
	return err == nil, err
}

// writeLocalKeyset atomically replaces the cleartext keyset file at path.
func writeLocalKeyset(path string, h *keyset.Handle) error {
	data, err := encodeLocalKeyset(h)
	if err != nil {
		return err
	}
	return replaceFile(path, data)
}

// removeStaleTemps deletes the temporary files that createOnce and
// replaceFile leave beside a key file (".<name>.tmp-…") when the process
// dies mid-write. Each holds a copy of a key: a stray copy of an epoch key
// would outlive DestroyEpoch, and one of the keyset would keep retired keys.
// The service is stopped during rotation, so no write is in flight.
func (v *Vault) removeStaleTemps(keysetPath string) error {
	dirs := []struct {
		dir string
		key func(name string) bool
	}{
		{filepath.Dir(keysetPath), func(name string) bool { return name == filepath.Base(keysetPath) }},
		{v.keyDir, func(name string) bool { return name == "records.json" || name == "index.json" }},
		{v.epochDir(), func(name string) bool {
			epoch, ok := strings.CutSuffix(name, ".json")
			return ok && validEpoch(epoch) == nil
		}},
	}
	for _, d := range dirs {
		entries, err := os.ReadDir(d.dir)
		if err != nil {
			return err
		}
		removed := false
		for _, e := range entries {
			name, _, isTemp := strings.Cut(strings.TrimPrefix(e.Name(), "."), ".tmp-")
			if !strings.HasPrefix(e.Name(), ".") || !isTemp || !e.Type().IsRegular() || !d.key(name) {
				continue
			}
			if err := os.Remove(filepath.Join(d.dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			removed = true
		}
		if removed {
			if err := syncDir(d.dir); err != nil {
				return err
			}
		}
	}
	return nil
}

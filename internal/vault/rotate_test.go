package vault

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kakunin/kakunin"
	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// destroyedEpoch is the fixture's epoch destroyed before any rotation.
const destroyedEpoch = "2026-11-22"

type sealedDoc struct {
	id, epoch                      string
	plaintext, wrapped, ciphertext []byte
}

// rotationFixture is a vault with three live epoch keys, one destroyed
// epoch, a document in each, and a sealed field, plus copies of the key
// files and the KEK keyset as they were before any rotation.
type rotationFixture struct {
	v       *Vault
	kekPath string
	keyDir  string
	docs    []sealedDoc
	field   []byte
	index   []byte
	before  map[string][]byte // key file path -> content before rotation
	oldKEK  []byte            // the keyset file before rotation
}

func newRotationFixture(t *testing.T) *rotationFixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	fx := &rotationFixture{kekPath: filepath.Join(dir, "kek", "kek.json"), keyDir: filepath.Join(dir, "keys")}
	kek, err := OpenLocalKeyset(fx.kekPath)
	if err != nil {
		t.Fatal(err)
	}
	if fx.v, err = New(ctx, kek, fx.keyDir); err != nil {
		t.Fatal(err)
	}
	for i, epoch := range []string{destroyedEpoch, "2026-11-23", "2026-11-24", "2026-11-25"} {
		d := sealedDoc{id: fmt.Sprintf("doc-%d", i), epoch: epoch, plaintext: randomBytes(200, uint64(i))}
		d.wrapped, d.ciphertext = seal(t, fx.v, d.id, d.epoch, d.plaintext)
		fx.docs = append(fx.docs, d)
	}
	if err := fx.v.DestroyEpoch(ctx, destroyedEpoch); err != nil {
		t.Fatal(err)
	}
	if fx.field, err = fx.v.SealField("member-email", []byte("member@example.com")); err != nil {
		t.Fatal(err)
	}
	fx.index = fx.v.BlindIndex("member-email", []byte("member@example.com"))

	fx.before = map[string][]byte{}
	for _, path := range keyFilePaths(t, fx.keyDir) {
		if fx.before[path], err = os.ReadFile(path); err != nil {
			t.Fatal(err)
		}
	}
	if len(fx.before) != 5 {
		t.Fatalf("fixture has %d key files, want 5", len(fx.before))
	}
	if fx.oldKEK, err = os.ReadFile(fx.kekPath); err != nil {
		t.Fatal(err)
	}
	return fx
}

// keyFilePaths lists the KEK-wrapped files in keyDir.
func keyFilePaths(t *testing.T, keyDir string) []string {
	t.Helper()
	epochs, err := filepath.Glob(filepath.Join(keyDir, "epochs", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	return append([]string{filepath.Join(keyDir, "records.json"), filepath.Join(keyDir, "index.json")}, epochs...)
}

// reopen opens the key directory the way a restarted server would: the
// keyset read afresh from disk.
func (fx *rotationFixture) reopen(t *testing.T) *Vault {
	t.Helper()
	kek, err := OpenLocalKeyset(fx.kekPath)
	if err != nil {
		t.Fatal(err)
	}
	v, err := New(context.Background(), kek, fx.keyDir)
	if err != nil {
		t.Fatalf("reopen after rotation: %v", err)
	}
	return v
}

// checkEverythingOpens checks that every live document, the field and the
// blind index are as sealed, and the destroyed epoch is still destroyed.
func (fx *rotationFixture) checkEverythingOpens(t *testing.T, v *Vault) {
	t.Helper()
	for _, d := range fx.docs {
		got, err := open(v, d.id, d.epoch, d.wrapped, d.ciphertext)
		if d.epoch == destroyedEpoch {
			if !errors.Is(err, ErrKeyDestroyed) {
				t.Errorf("document of the destroyed epoch: got %v, want ErrKeyDestroyed", err)
			}
			continue
		}
		if err != nil || !bytes.Equal(got, d.plaintext) {
			t.Errorf("document %s (%s) does not open: %v", d.id, d.epoch, err)
		}
	}
	if got, err := v.OpenField("member-email", fx.field); err != nil || string(got) != "member@example.com" {
		t.Errorf("field does not open: %q, %v", got, err)
	}
	if !bytes.Equal(v.BlindIndex("member-email", []byte("member@example.com")), fx.index) {
		t.Error("blind index changed")
	}
	epochDir := filepath.Join(fx.keyDir, "epochs")
	if _, err := os.Stat(filepath.Join(epochDir, destroyedEpoch+".destroyed")); err != nil {
		t.Errorf("tombstone of the destroyed epoch: %v", err)
	}
	if _, err := os.Stat(filepath.Join(epochDir, destroyedEpoch+".json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("key of the destroyed epoch was re-created: %v", err)
	}
}

// keysetOnDisk returns the primary key ID and all key IDs of the keyset file.
func keysetOnDisk(t *testing.T, path string) (primary uint32, ids []uint32) {
	t.Helper()
	h, err := readLocalKeyset(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range h.Len() {
		e, err := h.Entry(i)
		if err != nil {
			t.Fatal(err)
		}
		if e.KeyStatus() != keyset.Enabled {
			t.Errorf("key %d is %v, want enabled", e.KeyID(), e.KeyStatus())
		}
		if e.IsPrimary() {
			primary = e.KeyID()
		}
		ids = append(ids, e.KeyID())
	}
	return primary, ids
}

// aeadOf returns the AEAD of a cleartext keyset given as bytes.
func aeadOf(t *testing.T, keysetJSON []byte) tink.AEAD {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kek.json")
	if err := os.WriteFile(path, keysetJSON, 0o600); err != nil {
		t.Fatal(err)
	}
	h, err := readLocalKeyset(path)
	if err != nil {
		t.Fatal(err)
	}
	a, err := aead.New(h)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// opens reports whether the key file content (at its real path's AD) opens with kek.
func (fx *rotationFixture) opens(t *testing.T, path string, content []byte, kek tink.AEAD) bool {
	t.Helper()
	ad := adRecordKey
	switch name := filepath.Base(path); {
	case name == "index.json":
		ad = adIndexKey
	case filepath.Base(filepath.Dir(path)) == "epochs":
		ad = fx.v.epochKeyFile(strings.TrimSuffix(name, ".json")).ad
	}
	_, err := wrappedKeyFile{path: path, ad: ad}.unwrap(content, kek)
	return err == nil
}

func checkNoTempFiles(t *testing.T, dirs ...string) {
	t.Helper()
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if strings.Contains(e.Name(), ".tmp-") {
				t.Errorf("temporary file left behind: %s", filepath.Join(dir, e.Name()))
			}
		}
	}
}

func TestRotatingTheKEKRewrapsEveryKeyFileAndEverythingStillOpens(t *testing.T) {
	fx := newRotationFixture(t)
	ctx := context.Background()
	oldPrimary, oldIDs := keysetOnDisk(t, fx.kekPath)

	rot, err := fx.v.RotateKEK(ctx, RotateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	realPath, err := filepath.EvalSymlinks(fx.kekPath)
	if err != nil {
		t.Fatal(err)
	}
	if rot.Rewrapped != 5 || rot.Retired || !slices.Equal(rot.OldKeyIDs, oldIDs) || rot.Keyset != realPath {
		t.Errorf("rotation = %+v, want 5 files re-wrapped, old keys %v kept", rot, oldIDs)
	}
	primary, ids := keysetOnDisk(t, fx.kekPath)
	if primary != rot.NewKeyID || primary == oldPrimary || !slices.Equal(ids, slices.Concat(oldIDs, []uint32{rot.NewKeyID})) {
		t.Errorf("keyset has primary %d and keys %v; want new primary %d beside old keys %v", primary, ids, rot.NewKeyID, oldIDs)
	}
	newKEK := aeadOf(t, mustRead(t, fx.kekPath))
	for path, before := range fx.before {
		after := mustRead(t, path)
		if bytes.Equal(after, before) {
			t.Errorf("%s was not re-wrapped", path)
		}
		if !fx.opens(t, path, after, newKEK) {
			t.Errorf("%s does not open with the new keyset", path)
		}
		// Kept old keys still open what they wrapped: a copy taken earlier.
		if !fx.opens(t, path, before, newKEK) {
			t.Errorf("the new keyset no longer opens the earlier copy of %s although the old keys were kept", path)
		}
	}
	for _, path := range append(keyFilePaths(t, fx.keyDir), fx.kekPath) {
		if fi, err := os.Stat(path); err != nil || fi.Mode() != 0o600 {
			t.Errorf("%s: mode %v, %v; want 0600", path, fi.Mode(), err)
		}
	}
	fx.checkEverythingOpens(t, fx.reopen(t))
	// The vault that rotated goes on working, and wraps new keys under the new primary.
	fx.checkEverythingOpens(t, fx.v)
	doc := sealedDoc{id: "doc-new", epoch: "2026-11-26", plaintext: []byte("after rotation")}
	doc.wrapped, doc.ciphertext = seal(t, fx.v, doc.id, doc.epoch, doc.plaintext)
	fx.docs = append(fx.docs, doc)
	onlyNew := newKEKOnly(t, fx.kekPath, rot.NewKeyID)
	if !fx.opens(t, filepath.Join(fx.keyDir, "epochs", "2026-11-26.json"), mustRead(t, filepath.Join(fx.keyDir, "epochs", "2026-11-26.json")), onlyNew) {
		t.Error("an epoch key created after rotation is not wrapped by the new primary")
	}
	fx.checkEverythingOpens(t, fx.reopen(t))
	checkNoTempFiles(t, fx.keyDir, filepath.Join(fx.keyDir, "epochs"), filepath.Dir(fx.kekPath))
}

func TestRetiringTheOldKEKKeysLeavesOnlyTheNewOne(t *testing.T) {
	fx := newRotationFixture(t)
	rot, err := fx.v.RotateKEK(context.Background(), RotateOptions{RetireOld: true})
	if err != nil {
		t.Fatal(err)
	}
	if !rot.Retired || rot.Rewrapped != 5 {
		t.Errorf("rotation = %+v, want 5 files re-wrapped and old keys retired", rot)
	}
	if primary, ids := keysetOnDisk(t, fx.kekPath); primary != rot.NewKeyID || !slices.Equal(ids, []uint32{rot.NewKeyID}) {
		t.Errorf("keyset has primary %d and keys %v, want only %d", primary, ids, rot.NewKeyID)
	}

	oldKEK := aeadOf(t, fx.oldKEK)
	newKEK := aeadOf(t, mustRead(t, fx.kekPath))
	for _, path := range keyFilePaths(t, fx.keyDir) {
		after := mustRead(t, path)
		if fx.opens(t, path, after, oldKEK) {
			t.Errorf("the old keyset opens the re-wrapped %s", path)
		}
		if !fx.opens(t, path, after, newKEK) {
			t.Errorf("the new keyset does not open the re-wrapped %s", path)
		}
		// A backup from before the rotation needs the old keyset now.
		if fx.opens(t, path, fx.before[path], newKEK) {
			t.Errorf("the new keyset still opens the pre-rotation copy of %s", path)
		}
		if !fx.opens(t, path, fx.before[path], oldKEK) {
			t.Errorf("the old keyset does not open the pre-rotation copy of %s", path)
		}
	}
	fx.checkEverythingOpens(t, fx.reopen(t))
	fx.checkEverythingOpens(t, fx.v)
}

func TestACrashPartWayThroughRotationLeavesEverythingReadableAndASecondRunFinishes(t *testing.T) {
	// The fixture's key files are, in rotation order: records, index and
	// three epochs. Crash before re-wrapping file k+1.
	for _, k := range []int{0, 2, 4} {
		t.Run(fmt.Sprintf("after %d files", k), func(t *testing.T) {
			fx := newRotationFixture(t)
			ctx := context.Background()
			errCrash := errors.New("simulated crash")
			n := 0
			_, err := fx.v.rotateKEK(ctx, RotateOptions{RetireOld: true}, func(path string) error {
				if n == k {
					// A crash in the middle of a write leaves its temporary file.
					tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp-123")
					if err := os.WriteFile(tmp, []byte("half a key"), 0o600); err != nil {
						t.Fatal(err)
					}
					return errCrash
				}
				n++
				return nil
			})
			if !errors.Is(err, errCrash) {
				t.Fatalf("got %v, want the simulated crash", err)
			}
			_, ids := keysetOnDisk(t, fx.kekPath)
			if len(ids) != 2 {
				t.Fatalf("keyset holds %d keys after the crash, want old and new", len(ids))
			}
			changed := 0
			for path, before := range fx.before {
				if after, err := os.ReadFile(path); err == nil && !bytes.Equal(after, before) {
					changed++
				}
			}
			if changed != k {
				t.Errorf("%d files re-wrapped before the crash, want %d", changed, k)
			}
			fx.checkEverythingOpens(t, fx.reopen(t))

			// The restarted rotation, in a new process.
			rot, err := fx.reopen(t).RotateKEK(ctx, RotateOptions{RetireOld: true})
			if err != nil {
				t.Fatal(err)
			}
			if rot.Rewrapped != 5 || !rot.Retired || len(rot.OldKeyIDs) != 2 {
				t.Errorf("second rotation = %+v, want 5 files re-wrapped and both earlier keys retired", rot)
			}
			if primary, ids := keysetOnDisk(t, fx.kekPath); primary != rot.NewKeyID || len(ids) != 1 {
				t.Errorf("keyset has primary %d and keys %v, want only %d", primary, ids, rot.NewKeyID)
			}
			oldKEK := aeadOf(t, fx.oldKEK)
			for _, path := range keyFilePaths(t, fx.keyDir) {
				if fx.opens(t, path, mustRead(t, path), oldKEK) {
					t.Errorf("the original keyset still opens %s", path)
				}
			}
			fx.checkEverythingOpens(t, fx.reopen(t))
			checkNoTempFiles(t, fx.keyDir, filepath.Join(fx.keyDir, "epochs"), filepath.Dir(fx.kekPath))
		})
	}
}

func TestRetiringIsRefusedWhileAProcessWrapsKeysUnderTheOldKEK(t *testing.T) {
	fx := newRotationFixture(t)
	ctx := context.Background()
	// A server left running: it read the keyset before the rotation.
	serverKEK, err := OpenLocalKeyset(fx.kekPath)
	if err != nil {
		t.Fatal(err)
	}
	server, err := New(ctx, serverKEK, fx.keyDir)
	if err != nil {
		t.Fatal(err)
	}
	first := true
	_, err = fx.v.rotateKEK(ctx, RotateOptions{RetireOld: true}, func(string) error {
		if first {
			first = false
			d := sealedDoc{id: "doc-during", epoch: "2026-11-26", plaintext: []byte("sealed during rotation")}
			d.wrapped, d.ciphertext = seal(t, server, d.id, d.epoch, d.plaintext)
			fx.docs = append(fx.docs, d)
		}
		return nil
	})
	if kakunin.ErrorCode(err) != kakunin.ECONFLICT || !strings.Contains(err.Error(), "2026-11-26.json") {
		t.Fatalf("got %v, want a conflict naming the key file wrapped under the old key", err)
	}
	if _, ids := keysetOnDisk(t, fx.kekPath); len(ids) != 2 {
		t.Errorf("keyset holds %v, want the old keys kept", ids)
	}
	fx.checkEverythingOpens(t, fx.reopen(t))

	// With the server stopped, the rotation goes through.
	if _, err := fx.reopen(t).RotateKEK(ctx, RotateOptions{RetireOld: true}); err != nil {
		t.Fatal(err)
	}
	fx.checkEverythingOpens(t, fx.reopen(t))
}

// otherProvider is a KeyProvider that is not a local keyset, like a KMS.
type otherProvider struct{ KeyProvider }

func TestOnlyALocalKeysetIsRotated(t *testing.T) {
	fx := newRotationFixture(t)
	kms := &Vault{kek: otherProvider{fx.v.kek}, keyDir: fx.keyDir}
	_, err := kms.RotateKEK(context.Background(), RotateOptions{})
	if kakunin.ErrorCode(err) != kakunin.EINVALID || !strings.Contains(err.Error(), "key management service") {
		t.Fatalf("got %v, want an invalid error pointing at the KMS", err)
	}
	if !bytes.Equal(mustRead(t, fx.kekPath), fx.oldKEK) {
		t.Error("the keyset changed")
	}
	for path, before := range fx.before {
		if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
			t.Errorf("%s changed", path)
		}
	}
}

func TestRotatingASymlinkedKeysetRewritesItsTarget(t *testing.T) {
	fx := newRotationFixture(t)
	link := filepath.Join(t.TempDir(), "kek-link.json")
	if err := os.Symlink(fx.kekPath, link); err != nil {
		t.Fatal(err)
	}
	kek, err := OpenLocalKeyset(link)
	if err != nil {
		t.Fatal(err)
	}
	v, err := New(context.Background(), kek, fx.keyDir)
	if err != nil {
		t.Fatal(err)
	}
	rot, err := v.RotateKEK(context.Background(), RotateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("the symlink was replaced: %v", err)
	}
	if primary, _ := keysetOnDisk(t, fx.kekPath); primary != rot.NewKeyID {
		t.Errorf("the link's target has primary %d, want %d", primary, rot.NewKeyID)
	}
	fx.checkEverythingOpens(t, fx.reopen(t))
}

// newKEKOnly returns the AEAD of the keyset at path reduced to key id.
func newKEKOnly(t *testing.T, path string, id uint32) tink.AEAD {
	t.Helper()
	h, err := readLocalKeyset(path)
	if err != nil {
		t.Fatal(err)
	}
	m := keyset.NewManagerFromHandle(h)
	for i := range h.Len() {
		e, _ := h.Entry(i)
		if e.KeyID() != id {
			if err := m.Delete(e.KeyID()); err != nil {
				t.Fatal(err)
			}
		}
	}
	only, err := m.Handle()
	if err != nil {
		t.Fatal(err)
	}
	a, err := aead.New(only)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

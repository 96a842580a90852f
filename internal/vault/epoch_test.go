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
	"sync"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
)

func TestEpochOfIsTheUTCDayOfSubmission(t *testing.T) {
	tests := []struct {
		t    time.Time
		want string
	}{
		{time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC), "2026-11-25"},
		{time.Date(2026, 11, 25, 23, 59, 59, 999, time.UTC), "2026-11-25"},
		{time.Date(2026, 11, 26, 8, 59, 0, 0, kakunin.JST), "2026-11-25"},
		{time.Date(2026, 11, 26, 9, 0, 0, 0, kakunin.JST), "2026-11-26"},
	}
	for _, tt := range tests {
		if got := EpochOf(tt.t); got != tt.want {
			t.Errorf("EpochOf(%v) = %q, want %q", tt.t, got, tt.want)
		}
	}
}

func TestEpochNamesThatAreNotCanonicalDatesAreRefused(t *testing.T) {
	v, keyDir := newTestVault(t)
	ctx := context.Background()
	for _, epoch := range []string{
		"", "../records", "../../etc/passwd", "2026-11-25/../x", "2026-1-25", "2026-11-5",
		"2026-02-30", "2026-11-25.json", " 2026-11-25", "2026-11-25\x00", "20261125",
	} {
		t.Run(fmt.Sprintf("%q", epoch), func(t *testing.T) {
			var dst bytes.Buffer
			if _, _, err := v.SealDocument(ctx, "doc-1", epoch, &dst); kakunin.ErrorCode(err) != kakunin.EINVALID {
				t.Errorf("SealDocument: got %v, want an invalid error", err)
			}
			if _, err := v.OpenDocument(ctx, "doc-1", epoch, nil, &dst); kakunin.ErrorCode(err) != kakunin.EINVALID {
				t.Errorf("OpenDocument: got %v, want an invalid error", err)
			}
			if err := v.DestroyEpoch(ctx, epoch); kakunin.ErrorCode(err) != kakunin.EINVALID {
				t.Errorf("DestroyEpoch: got %v, want an invalid error", err)
			}
		})
	}
	for _, f := range []string{"records.json", "index.json"} {
		if _, err := os.Stat(filepath.Join(keyDir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestDestroyedEpochMakesItsDocumentsUnreadable(t *testing.T) {
	v, keyDir := newTestVault(t)
	ctx := context.Background()
	oldKey, oldCT := seal(t, v, "doc-old", "2026-11-24", []byte("old licence"))
	newKey, newCT := seal(t, v, "doc-new", "2026-11-25", []byte("new licence"))
	if got, _ := v.Epochs(ctx); !slices.Equal(got, []string{"2026-11-24", "2026-11-25"}) {
		t.Fatalf("Epochs = %q before destruction", got)
	}

	if err := v.DestroyEpoch(ctx, "2026-11-24"); err != nil {
		t.Fatal(err)
	}

	if _, err := open(v, "doc-old", "2026-11-24", oldKey, oldCT); !errors.Is(err, ErrKeyDestroyed) {
		t.Errorf("opening a document of the destroyed epoch: got %v, want ErrKeyDestroyed", err)
	}
	if _, err := os.Stat(filepath.Join(keyDir, "epochs", "2026-11-24.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("epoch key file still there: %v", err)
	}
	if got, err := v.Epochs(ctx); err != nil || !slices.Equal(got, []string{"2026-11-25"}) {
		t.Errorf("Epochs = %q, %v; want only 2026-11-25", got, err)
	}
	if got, err := open(v, "doc-new", "2026-11-25", newKey, newCT); err != nil || string(got) != "new licence" {
		t.Errorf("document of another epoch: %q, %v", got, err)
	}
	if err := v.DestroyEpoch(ctx, "2026-11-24"); err != nil {
		t.Errorf("destroying again: %v", err)
	}
	if err := v.DestroyEpoch(ctx, "2020-01-01"); err != nil {
		t.Errorf("destroying an epoch that never existed: %v", err)
	}
}

func TestSealingIntoADestroyedEpochFailsAndCreatesNoKey(t *testing.T) {
	v, keyDir := newTestVault(t)
	ctx := context.Background()
	seal(t, v, "doc-1", "2026-11-24", []byte("x"))
	if err := v.DestroyEpoch(ctx, "2026-11-24"); err != nil {
		t.Fatal(err)
	}
	var dst bytes.Buffer
	if _, _, err := v.SealDocument(ctx, "doc-2", "2026-11-24", &dst); !errors.Is(err, ErrKeyDestroyed) {
		t.Errorf("got %v, want ErrKeyDestroyed", err)
	}
	if _, err := os.Stat(filepath.Join(keyDir, "epochs", "2026-11-24.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("destroyed epoch key was re-created: %v", err)
	}
}

func TestOpeningADocumentOfAnUnknownEpochReportsItDestroyed(t *testing.T) {
	v, _ := newTestVault(t)
	key, ct := seal(t, v, "doc-1", "2026-11-25", []byte("x"))
	if _, err := open(v, "doc-1", "2026-11-23", key, ct); !errors.Is(err, ErrKeyDestroyed) {
		t.Errorf("got %v, want ErrKeyDestroyed", err)
	}
}

func TestDestructionInOneProcessTakesEffectInAnother(t *testing.T) {
	a, keyDir := newTestVault(t)
	b, err := New(context.Background(), a.kek, keyDir)
	if err != nil {
		t.Fatal(err)
	}
	key, ct := seal(t, a, "doc-1", "2026-11-25", []byte("licence"))
	if _, err := open(b, "doc-1", "2026-11-25", key, ct); err != nil {
		t.Fatalf("second vault cannot open: %v", err)
	}
	if err := a.DestroyEpoch(context.Background(), "2026-11-25"); err != nil {
		t.Fatal(err)
	}
	if _, err := open(b, "doc-1", "2026-11-25", key, ct); !errors.Is(err, ErrKeyDestroyed) {
		t.Errorf("second vault after destruction: got %v, want ErrKeyDestroyed", err)
	}
}

func TestTwoVaultsCreatingTheSameEpochAtOnceShareOneKey(t *testing.T) {
	dir := t.TempDir()
	kek, err := OpenLocalKeyset(filepath.Join(dir, "kek.json"))
	if err != nil {
		t.Fatal(err)
	}
	keyDir := filepath.Join(dir, "keys")

	// Two processes starting at once race on records.json and index.json too.
	var vaults [2]*Vault
	var wg sync.WaitGroup
	errs := make([]error, len(vaults))
	for i := range vaults {
		wg.Go(func() { vaults[i], errs[i] = New(context.Background(), kek, keyDir) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}

	type sealed struct{ id, key, ct []byte }
	const n = 16
	docs := make([]sealed, n)
	errs = make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			id := fmt.Sprintf("doc-%d", i)
			var dst bytes.Buffer
			w, key, err := vaults[i%2].SealDocument(context.Background(), id, "2026-11-25", &dst)
			if err == nil {
				_, err = w.Write([]byte(id))
			}
			if err == nil {
				err = w.Close()
			}
			docs[i], errs[i] = sealed{[]byte(id), key, dst.Bytes()}, err
		})
	}
	close(start)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}

	for _, d := range docs {
		for j, v := range vaults {
			if got, err := open(v, string(d.id), "2026-11-25", d.key, d.ct); err != nil || !bytes.Equal(got, d.id) {
				t.Errorf("vault %d cannot open %s: %v", j, d.id, err)
			}
		}
	}
	field, err := vaults[0].SealField("p", []byte("v"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := vaults[1].OpenField("p", field); err != nil {
		t.Errorf("the two vaults have different record keys: %v", err)
	}
	if !bytes.Equal(vaults[0].BlindIndex("p", []byte("v")), vaults[1].BlindIndex("p", []byte("v"))) {
		t.Error("the two vaults have different index keys")
	}

	for _, sub := range []string{".", "epochs"} {
		entries, err := os.ReadDir(filepath.Join(keyDir, sub))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if strings.Contains(e.Name(), ".tmp-") {
				t.Errorf("temporary file left behind: %s", e.Name())
			}
		}
	}
}

package main

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/config"
	"github.com/kakunin/kakunin/internal/samplecard"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

// testConfig is the configuration kakunin would build from args.
func testConfig(t *testing.T, args ...string) *config.Config {
	t.Helper()
	cfg := new(config.Config)
	fs := config.FlagSet("test", cfg, io.Discard, config.All...)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Finish(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// filesUnder returns every regular file under dir, by path relative to it.
func filesUnder(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[rel] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Issue 17 #10: a backup is a consistent copy of the database and the
// blobs that holds no key, and restores, with the keys kept apart, to a
// working instance.
func TestABackupHoldsNoKeyAndRestoresWithTheKeys(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	data := filepath.Join(root, "data")
	cfg := testConfig(t, "--data", data)
	a, err := openApp(ctx, cfg, quiet(), false)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.verifications.UpsertMember(ctx, "m-1", "m1@example.jp", kakunin.LocaleJA); err != nil {
		t.Fatal(err)
	}
	v, _, err := a.verifications.Create(ctx, "m-1")
	if err != nil {
		t.Fatal(err)
	}
	img, err := samplecard.Render(samplecard.Card{Type: kakunin.DocPassport, Name: "SAMPLE", BirthDate: time.Date(1990, 1, 2, 0, 0, 0, 0, time.UTC), Issuer: "SAMPLE", Number: "1", Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	p, err := a.documents.Store(ctx, v, bytes.NewReader(img))
	if err != nil {
		t.Fatal(err)
	}
	d, err := a.documents.Commit(ctx, p, v, kakunin.DocPassport)
	if err != nil {
		t.Fatal(err)
	}
	want, err := a.documents.Open(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	a.close()

	dest := filepath.Join(root, "backup")
	code, out, errs := runCLI(t, "backup", dest, "--data", data)
	if code != 0 || !strings.Contains(out, "the keys are not in it") {
		t.Fatalf("backup = %d\n%s%s", code, out, errs)
	}

	// What the backup holds: the database, the blob, a note. No key file,
	// and not one key's bytes or value anywhere in it.
	copied := filepath.Join(dest, "blobs", filepath.FromSlash(d.BlobKey))
	backup := filesUnder(t, dest)
	for rel := range backup {
		if rel != "kakunin.db" && rel != "BACKUP.txt" && filepath.Join(dest, rel) != copied {
			t.Errorf("the backup holds %s", rel)
		}
	}
	if _, ok := backup[filepath.Join("blobs", filepath.FromSlash(d.BlobKey))]; !ok {
		t.Fatalf("the blob is not in the backup: %v", backup)
	}
	if fi, err := os.Stat(copied); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the copied blob: %v %v", fi.Mode(), err)
	}
	keyValue := regexp.MustCompile(`"value":\s*"([^"]{16,})"`)
	keys := filesUnder(t, cfg.KeyDir)
	if len(keys) < 3 {
		t.Fatalf("key directory %s holds %d files", cfg.KeyDir, len(keys))
	}
	for name, key := range keys {
		secrets := [][]byte{bytes.TrimSpace(key)}
		for _, m := range keyValue.FindAllSubmatch(key, -1) {
			secrets = append(secrets, m[1])
		}
		for rel, b := range backup {
			for _, s := range secrets {
				if bytes.Contains(b, s) {
					t.Errorf("the backup's %s holds key material of %s", rel, name)
				}
			}
		}
	}

	// Without the keys the copy opens nothing, and kakunin says why
	// rather than making new keys.
	_, err = openApp(ctx, testConfig(t, "--data", dest), quiet(), false)
	if err == nil || !strings.Contains(err.Error(), "will not make new keys") {
		t.Fatalf("a restore without the keys: %v", err)
	}
	// With them, it is a working instance: the document decrypts to what
	// was stored, and the backup is in its audit log.
	b, err := openApp(ctx, testConfig(t, "--data", dest, "--key-dir", cfg.KeyDir), quiet(), false)
	if err != nil {
		t.Fatal(err)
	}
	defer b.close()
	d2, err := b.db.DocumentByVerification(ctx, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	got, err := b.documents.Open(ctx, d2)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("the restored document: %d bytes, %v", len(got), err)
	}
	events, err := (&audit.Log{DB: b.db}).List(ctx, audit.Filter{Action: audit.BackupTaken})
	if err != nil {
		t.Fatal(err)
	}
	// The event was appended after the snapshot: it is in the original's log.
	if len(events) != 0 {
		t.Errorf("the snapshot holds its own backup event: %+v", events)
	}
	orig, err := openStore(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	if events, _ := (&audit.Log{DB: orig}).List(ctx, audit.Filter{Action: audit.BackupTaken}); len(events) != 1 || events[0].Detail["keys"] != "not included" {
		t.Errorf("backup.taken events: %+v", events)
	}

	// A second backup into the same place is refused; PostgreSQL is told
	// what to use instead.
	if code, _, _ := runCLI(t, "backup", dest, "--data", data); code != 2 {
		t.Errorf("backup into a full directory = %d, want 2", code)
	}
}

func TestBackupOnPostgreSQLSaysWhatToUse(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	code, _, errs := runCLI(t, "backup", filepath.Join(t.TempDir(), "b"), "--data", t.TempDir(), "--database", dsn)
	if code != 1 || !strings.Contains(errs, "pg_dump") {
		t.Errorf("backup on PostgreSQL = %d: %s", code, errs)
	}
}

// A new install never creates its keys inside the data directory, where a
// backup of it would take them.
func TestKeysAreNotCreatedInsideTheDataDirectory(t *testing.T) {
	ctx := context.Background()
	data := filepath.Join(t.TempDir(), "data")
	for _, args := range [][]string{
		{"--data", data, "--key-dir", filepath.Join(data, "keys")},
		{"--data", data, "--keyset", filepath.Join(data, "master.json")},
	} {
		_, err := openApp(ctx, testConfig(t, args...), quiet(), false)
		if err == nil || !strings.Contains(err.Error(), "refusing to create keys inside the data directory") {
			t.Errorf("%v: %v", args, err)
		}
		if _, err := os.Stat(filepath.Join(data, "master.json")); err == nil {
			t.Errorf("%v: a keyset was written inside the data directory", args)
		}
		if _, err := os.Stat(filepath.Join(data, "keys", "master.json")); err == nil {
			t.Errorf("%v: a keyset was written inside the data directory", args)
		}
	}
}

// An install of an earlier version, its keys in DATA/keys, keeps working
// from them, and every start says loudly to move them.
func TestAnOldInstallWithKeysInsideTheDataStartsWithAWarning(t *testing.T) {
	ctx := context.Background()
	data := filepath.Join(t.TempDir(), "data")
	a, err := openApp(ctx, testConfig(t, "--data", data), quiet(), false)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.verifications.UpsertMember(ctx, "m-1", "m1@example.jp", kakunin.LocaleJA); err != nil {
		t.Fatal(err)
	}
	a.close()
	if err := os.Rename(data+"-keys", filepath.Join(data, "keys")); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	cfg := testConfig(t, "--data", data)
	b, err := openApp(ctx, cfg, slog.New(slog.NewTextHandler(&logs, nil)), false)
	if err != nil {
		t.Fatalf("the old install does not start: %v", err)
	}
	defer b.close()
	if cfg.KeyDir != filepath.Join(data, "keys") || !strings.Contains(logs.String(), "WARNING") || !strings.Contains(logs.String(), "mv ") {
		t.Errorf("key dir %s, logs:\n%s", cfg.KeyDir, logs.String())
	}
	if m, err := b.verifications.Member(ctx, "m-1"); err != nil || m.Email != "m1@example.jp" {
		t.Errorf("the member's sealed address under the old keys: %+v %v", m, err)
	}
	if _, err := os.Stat(data + "-keys"); err == nil {
		t.Error("new keys were made beside the data as well")
	}
}

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/blobstore"
	"github.com/kakunin/kakunin/internal/store"
)

const backupAbout = `
DEST is a new directory (created 0700). It gets a consistent snapshot of the
SQLite database (VACUUM INTO, taken while the service runs), then a copy of
the blob files as stored: ciphertext, readable only with the keys. The keys
are never copied: back the key directory up apart, to another place, or a
stolen backup opens everything (restoring needs both). To restore, stop
kakunin and serve with --data DEST --key-dir KEYS.

On PostgreSQL it refuses: use pg_dump or your provider's snapshots. Blobs on
S3 are backed up with bucket versioning or replication. The backup is
recorded in the audit log (backup.taken).`

// cmdBackup writes the database snapshot and the blob files into DEST.
func cmdBackup(ctx context.Context, c *call) error {
	cfg, dest := c.cfg, c.args[0]
	db, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	if db.Dialect() != store.SQLite {
		return errors.New("backup: the database is PostgreSQL: back it up with pg_dump (or your provider's snapshots), " +
			"and the blobs with the bucket's versioning or a copy of their directory; kakunin backup covers the embedded SQLite set-up")
	}
	if !strings.HasPrefix(cfg.Blobs, "file://") {
		return errors.New("backup: the blobs are in an object store (S3): turn on bucket versioning or replication for them, " +
			"and back the database up with your own tools (sqlite3 .backup, or VACUUM INTO)")
	}
	blobs, err := blobstore.Open(ctx, cfg.Blobs)
	if err != nil {
		return err
	}
	defer blobs.Close()
	if err := newBackupDir(dest); err != nil {
		return err
	}
	// The database first: every record of the snapshot whose blob still
	// exists finds it in the copy made after (a blob written later is an
	// unreferenced extra, harmless).
	start := time.Now()
	if err := db.BackupInto(ctx, filepath.Join(dest, "kakunin.db")); err != nil {
		return err
	}
	files, size, err := blobs.CopyTo(filepath.Join(dest, "blobs"), func(p string) bool { return isKeyPath(c.cfg.KeyDir, c.cfg.Keyset, c.cfg.AuditKey, p) })
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	note := fmt.Sprintf("kakunin backup of %s, taken %s.\n\nkakunin.db  the database (SQLite snapshot)\nblobs/      %d document blob(s), ciphertext as stored\n\n"+
		"No key is in here: the keys are in %s, backed up apart.\nRestore: stop kakunin, then kakunin serve --data THIS_DIRECTORY --key-dir KEYS\n",
		cfg.Data, start.UTC().Format(time.RFC3339), files, cfg.KeyDir)
	if err := os.WriteFile(filepath.Join(dest, "BACKUP.txt"), []byte(note), 0o600); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	err = cliAudit(db).Append(ctx, audit.Event{Action: audit.BackupTaken, Actor: "cli", Subject: "backup",
		Detail: map[string]string{"blobs": strconv.Itoa(files), "bytes": strconv.FormatInt(size, 10), "keys": "not included"}})
	if err != nil {
		return fmt.Errorf("record the backup in the audit log: %w", err)
	}
	fmt.Fprintf(c.stdout, "backup written to %s: the database and %d blob(s), %d bytes, in %s\n", dest, files, size, time.Since(start).Round(time.Millisecond))
	fmt.Fprintf(c.stdout, "the keys are not in it: back up %s apart, somewhere else\n", cfg.KeyDir)
	return nil
}

// newBackupDir creates dest, which must not exist or be an empty directory.
func newBackupDir(dest string) error {
	if entries, err := os.ReadDir(dest); err == nil && len(entries) > 0 {
		return usagef("backup: %s is not empty: give a new directory", dest)
	}
	if err := os.MkdirAll(dest, 0o700); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}

// isKeyPath reports whether p is a key file or in the key directory, so
// that not even a misplaced key reaches a backup.
func isKeyPath(keyDir, keyset, auditKey, p string) bool {
	if p == keyset || p == auditKey || p == audit.VerifierKeyFile(auditKey) {
		return true
	}
	rel, err := filepath.Rel(keyDir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

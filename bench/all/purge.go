package main

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/blobstore"
	"github.com/kakunin/kakunin/internal/document"
	"github.com/kakunin/kakunin/internal/intake"
	"github.com/kakunin/kakunin/internal/jobs"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/vault"
	"github.com/kakunin/kakunin/internal/verification"
)

// The retention purge: documents stored and committed through the real
// services (SQLite, file blobs, as the embedded default), then the clock
// moved past their retention and one document.Service.Sweep destroys them
// all (wrapped key, audit event, verification expired, blob, row marked).
// Baseline, same run, same database and disk: a raw DELETE of the same
// number of rows from a copy of the documents table, one statement each,
// and an unlink of the same number of files (hard links to the blobs).

func purgeRows(ctx context.Context, opt options, out io.Writer) ([]row, error) {
	n := map[string]int{"small": 2000, "full": 1_710_000}[opt.size]
	dir, err := os.MkdirTemp(opt.data, "kakunin-bench-purge-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	db, err := store.Open(ctx, filepath.Join(dir, "kakunin.db"))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	kek, err := vault.OpenLocalKeyset(filepath.Join(dir, "keys", "master.json"))
	if err != nil {
		return nil, err
	}
	v, err := vault.New(ctx, kek, filepath.Join(dir, "keys"))
	if err != nil {
		return nil, err
	}
	blobDir := filepath.Join(dir, "blobs")
	blobs, err := blobstore.Open(ctx, "file://"+filepath.ToSlash(blobDir))
	if err != nil {
		return nil, err
	}
	defer blobs.Close()
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	docs := &document.Service{DB: db, Vault: v, Blobs: blobs, Limits: intake.Limits{MinWidth: 1, MinHeight: 1},
		RetainUnreviewed: 24 * time.Hour, Audit: &audit.Log{DB: db, Now: now}, Now: now, Log: log}
	vers := &verification.Service{DB: db, Keys: v, Audit: docs.Audit, Documents: docs, PublicURL: "http://127.0.0.1:8080", LinkTTL: 7 * 24 * time.Hour, Now: now}
	docs.Events = vers
	// An insert-only job queue, as a CLI command has: the sweep enqueues
	// each ended verification's webhook in its transaction, as in serve.
	if err := jobs.Migrate(ctx, db.SQL(), db.Dialect(), log); err != nil {
		return nil, err
	}
	queue, err := jobs.New(ctx, db.SQL(), db.Dialect(), nil, jobs.Config{Log: log})
	if err != nil {
		return nil, err
	}
	vers.Jobs, docs.Jobs = queue, queue

	var img bytes.Buffer
	jpeg.Encode(&img, image.NewGray(image.Rect(0, 0, 64, 48)), nil)
	fmt.Fprintf(out, "purge: storing %d documents through the real services (not timed)\n", n)
	began := time.Now()
	for i := range n {
		id := fmt.Sprintf("purge-%d", i)
		if _, _, err := vers.UpsertMember(ctx, id, id+"@example.test", kakunin.LocaleEN); err != nil {
			return nil, err
		}
		ver, _, err := vers.Create(ctx, id)
		if err != nil {
			return nil, err
		}
		p, err := docs.Store(ctx, ver, bytes.NewReader(img.Bytes()))
		if err != nil {
			return nil, err
		}
		if _, err := docs.Commit(ctx, p, ver, kakunin.DocDriversLicence); err != nil {
			return nil, err
		}
		if (i+1)%max(n/10, 1) == 0 {
			fmt.Fprintf(out, "  stored %d / %d (%s)\n", i+1, n, time.Since(began).Round(time.Second))
		}
	}

	// Baseline: the same number of rows and files, deleted raw.
	sqlDB := db.SQL()
	if _, err := sqlDB.ExecContext(ctx, `CREATE TABLE purge_copy AS SELECT * FROM documents`); err != nil {
		return nil, err
	}
	linkDir := filepath.Join(dir, "links")
	os.MkdirAll(linkDir, 0o700)
	var links []string
	filepath.WalkDir(blobDir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			l := filepath.Join(linkDir, fmt.Sprintf("l%d", len(links)))
			if os.Link(p, l) == nil {
				links = append(links, l)
			}
		}
		return nil
	})
	rows, err := sqlDB.QueryContext(ctx, `SELECT id FROM purge_copy`)
	if err != nil {
		return nil, err
	}
	var ids []string
	for rows.Next() {
		var id string
		rows.Scan(&id)
		ids = append(ids, id)
	}
	rows.Close()
	began = time.Now()
	for i, id := range ids {
		if _, err := sqlDB.ExecContext(ctx, `DELETE FROM purge_copy WHERE id = $1`, id); err != nil {
			return nil, err
		}
		if i < len(links) {
			if err := os.Remove(links[i]); err != nil {
				return nil, err
			}
		}
	}
	base := time.Since(began)
	fmt.Fprintf(out, "  raw DELETE + unlink: %d rows, %d files in %s\n", len(ids), len(links), base.Round(time.Millisecond))

	clock.Add(int64(48 * time.Hour))
	began = time.Now()
	rep, err := docs.Sweep(ctx)
	if err != nil {
		return nil, err
	}
	took := time.Since(began)
	fmt.Fprintf(out, "  kakunin sweep: %d images destroyed, %d epochs in %s\n", rep.ImagesDestroyed, len(rep.EpochsDestroyed), took.Round(time.Millisecond))
	rate := func(d time.Duration) float64 { return float64(n) / d.Seconds() }
	ratio := rate(took) / rate(base)
	return []row{{workload: fmt.Sprintf("retention purge, %d documents (SQLite)", n), figure: fmt.Sprintf("%.0f documents/s", rate(took)),
		baseline: fmt.Sprintf("raw DELETE + unlink %.0f/s", rate(base)), ratio: fmt.Sprintf("%.2f×", ratio), goal: "≥ 0.5×", met: yesNo(ratio >= 0.5)}}, nil
}

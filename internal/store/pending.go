package store

import (
	"context"
	"database/sql"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"
)

// PendingUpload is an upload whose ciphertext may be in the blob store
// while its document row is not yet inserted (00016_pending_uploads.sql).
type PendingUpload struct {
	BlobKey        string
	DocumentID     string
	VerificationID string // "" when the caller did not say
	MemberID       string // "" when the caller did not say
	Epoch          string
	StartedAt      time.Time
}

// InsertPendingUpload records an upload before its blob is written.
func (q Queries) InsertPendingUpload(ctx context.Context, p *PendingUpload) error {
	_, err := q.q.ExecContext(ctx, `INSERT INTO pending_uploads (blob_key, document_id, verification_id, member_id, epoch, started_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, p.BlobKey, p.DocumentID, nullString(p.VerificationID), nullString(p.MemberID), p.Epoch, micros(p.StartedAt))
	if err != nil {
		return fmt.Errorf("record pending upload %s: %w", p.DocumentID, err)
	}
	return nil
}

// FinishPendingUpload removes the row of an upload whose document is being
// inserted in the same transaction. It reports false when the sweep has
// abandoned the upload meanwhile (its blob is deleted or about to be), so
// the caller must not record the document.
func (q Queries) FinishPendingUpload(ctx context.Context, blobKey string) (bool, error) {
	res, err := q.q.ExecContext(ctx, `DELETE FROM pending_uploads WHERE blob_key = $1 AND abandoned_at IS NULL`, blobKey)
	if err != nil {
		return false, fmt.Errorf("finish pending upload %s: %w", blobKey, err)
	}
	return affectedOne(res)
}

// DeletePendingUpload forgets an upload whose blob is deleted.
func (q Queries) DeletePendingUpload(ctx context.Context, blobKey string) error {
	if _, err := q.q.ExecContext(ctx, `DELETE FROM pending_uploads WHERE blob_key = $1`, blobKey); err != nil {
		return fmt.Errorf("forget pending upload %s: %w", blobKey, err)
	}
	return nil
}

// AbandonPendingUploads marks uploads started before cutoff as abandoned:
// from this commit on none of them can be recorded as a document.
func (q Queries) AbandonPendingUploads(ctx context.Context, cutoff, at time.Time) (int, error) {
	res, err := q.q.ExecContext(ctx, `UPDATE pending_uploads SET abandoned_at = $2
		WHERE started_at < $1 AND abandoned_at IS NULL`, micros(cutoff), micros(at))
	if err != nil {
		return 0, fmt.Errorf("abandon pending uploads: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// AbandonedUploads returns up to limit abandoned uploads whose blob may
// still exist.
func (q Queries) AbandonedUploads(ctx context.Context, limit int) ([]*PendingUpload, error) {
	return q.pendingUploads(ctx, `SELECT blob_key, document_id, verification_id, member_id, epoch, started_at
		FROM pending_uploads WHERE abandoned_at IS NOT NULL ORDER BY started_at LIMIT $1`, limit)
}

// PendingUploads returns up to limit pending uploads, oldest first.
func (q Queries) PendingUploads(ctx context.Context, limit int) ([]*PendingUpload, error) {
	return q.pendingUploads(ctx, `SELECT blob_key, document_id, verification_id, member_id, epoch, started_at
		FROM pending_uploads ORDER BY started_at LIMIT $1`, limit)
}

func (q Queries) pendingUploads(ctx context.Context, query string, args ...any) ([]*PendingUpload, error) {
	rows, err := q.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("pending uploads: %w", err)
	}
	defer rows.Close()
	var out []*PendingUpload
	for rows.Next() {
		var p PendingUpload
		var v, m sql.NullString
		var started int64
		if err := rows.Scan(&p.BlobKey, &p.DocumentID, &v, &m, &p.Epoch, &started); err != nil {
			return nil, fmt.Errorf("pending uploads: %w", err)
		}
		p.VerificationID, p.MemberID, p.StartedAt = v.String, m.String, fromMicros(started)
		out = append(out, &p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pending uploads: %w", err)
	}
	return out, nil
}

// ClaimedBlobKeys returns which of keys a document row or a pending upload
// claims. A document's blob key ends in its ID, so documents are looked up
// by primary key (blob_key has no index) and the key compared after.
func (q Queries) ClaimedBlobKeys(ctx context.Context, keys []string) (map[string]bool, error) {
	claimed := make(map[string]bool, len(keys))
	if len(keys) == 0 {
		return claimed, nil
	}
	args := make([]any, 0, 2*len(keys))
	ids := make([]string, 0, len(keys))
	for _, k := range keys {
		args = append(args, path.Base(k))
		ids = append(ids, "$"+strconv.Itoa(len(args)))
	}
	blobKeys := make([]string, 0, len(keys))
	for _, k := range keys {
		args = append(args, k)
		blobKeys = append(blobKeys, "$"+strconv.Itoa(len(args)))
	}
	rows, err := q.q.QueryContext(ctx, `SELECT blob_key FROM documents WHERE id IN (`+strings.Join(ids, ", ")+`)
		UNION ALL SELECT blob_key FROM pending_uploads WHERE blob_key IN (`+strings.Join(blobKeys, ", ")+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("claimed blob keys: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, fmt.Errorf("claimed blob keys: %w", err)
		}
		claimed[k] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claimed blob keys: %w", err)
	}
	return claimed, nil
}

// EpochsToCheckForOrphans returns up to limit epochs before the given one
// whose blob prefix has not been compared with the records since it closed.
func (q Queries) EpochsToCheckForOrphans(ctx context.Context, before string, limit int) ([]string, error) {
	return q.ids(ctx, `SELECT epoch FROM epochs WHERE epoch < $1 AND orphans_checked_at IS NULL ORDER BY epoch LIMIT $2`, before, limit)
}

// MarkOrphansChecked records that an epoch's blob prefix was checked.
func (q Queries) MarkOrphansChecked(ctx context.Context, epoch string, at time.Time) error {
	if _, err := q.q.ExecContext(ctx, `UPDATE epochs SET orphans_checked_at = $2 WHERE epoch = $1`, epoch, micros(at)); err != nil {
		return fmt.Errorf("mark epoch %s checked for orphans: %w", epoch, err)
	}
	return nil
}

// ScopePendingCount counts the pending uploads started by to: ciphertext
// that exists now with no document row, whose data key was never stored.
// Members counts the distinct members named; Unnamed the rows naming none.
type ScopePendingCount struct {
	Uploads, Members, Unnamed int64
}

// ScopePending counts pending uploads started at or before to. Their rows
// go once the blob is deleted, so for a window long past this counts only
// what is still there: an under-count of ciphertext no key can open.
func (q Queries) ScopePending(ctx context.Context, to time.Time) (ScopePendingCount, error) {
	var c ScopePendingCount
	err := q.q.QueryRowContext(ctx, `SELECT COUNT(*), COUNT(DISTINCT member_id), COUNT(*) - COUNT(member_id)
		FROM pending_uploads WHERE started_at <= $1`, micros(to)).Scan(&c.Uploads, &c.Members, &c.Unnamed)
	if err != nil {
		return c, fmt.Errorf("scope pending uploads: %w", err)
	}
	return c, nil
}

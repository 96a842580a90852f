package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/kakunin/kakunin"
)

const documentColumns = `id, verification_id, member_id, type, content_type, size, width, height, orientation, epoch, blob_key,
	wrapped_key, received_at, decided_at, destroy_after, destroyed_at, reviewer_id`

// DocumentRecord is a document row with where its ciphertext lives.
type DocumentRecord struct {
	kakunin.Document
	BlobKey string
}

func scanDocument(row interface{ Scan(...any) error }) (*DocumentRecord, error) {
	var d DocumentRecord
	var typ string
	var received, destroyAfter int64
	var decided, destroyed sql.NullInt64
	var reviewer sql.NullString
	err := row.Scan(&d.ID, &d.VerificationID, &d.MemberID, &typ, &d.ContentType, &d.Size, &d.Width, &d.Height, &d.Orientation,
		&d.Epoch, &d.BlobKey, &d.WrappedKey, &received, &decided, &destroyAfter, &destroyed, &reviewer)
	if err != nil {
		return nil, err
	}
	d.Type = kakunin.DocumentType(typ)
	d.ReceivedAt, d.DestroyAfter = fromMicros(received), fromMicros(destroyAfter)
	d.DecidedAt, d.DestroyedAt = timePtr(decided), timePtr(destroyed)
	d.ReviewerID = reviewer.String
	return &d, nil
}

// InsertDocument stores a received document and its wrapped key.
func (q Queries) InsertDocument(ctx context.Context, d *DocumentRecord) error {
	_, err := q.q.ExecContext(ctx, `INSERT INTO documents (id, verification_id, member_id, type, content_type, size, width, height,
		orientation, epoch, blob_key, wrapped_key, received_at, destroy_after) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		d.ID, d.VerificationID, d.MemberID, string(d.Type), d.ContentType, d.Size, d.Width, d.Height,
		orientationOrNormal(d.Orientation), d.Epoch, d.BlobKey, d.WrappedKey, micros(d.ReceivedAt), micros(d.DestroyAfter))
	if err != nil {
		return fmt.Errorf("insert document: %w", err)
	}
	return nil
}

// orientationOrNormal stores 1 for a record built without an orientation,
// as the column's default would.
func orientationOrNormal(o int) int {
	if o == 0 {
		return 1
	}
	return o
}

// Document returns one document.
func (q Queries) Document(ctx context.Context, id string) (*DocumentRecord, error) {
	d, err := scanDocument(q.q.QueryRowContext(ctx, `SELECT `+documentColumns+` FROM documents WHERE id = $1`, id))
	if isNoRows(err) {
		return nil, kakunin.Errorf(kakunin.ENOTFOUND, "document not found")
	}
	if err != nil {
		return nil, fmt.Errorf("document %s: %w", id, err)
	}
	return d, nil
}

// DocumentByVerification returns the document uploaded for a verification.
func (q Queries) DocumentByVerification(ctx context.Context, verificationID string) (*DocumentRecord, error) {
	d, err := scanDocument(q.q.QueryRowContext(ctx, `SELECT `+documentColumns+` FROM documents WHERE verification_id = $1`, verificationID))
	if isNoRows(err) {
		return nil, kakunin.Errorf(kakunin.ENOTFOUND, "document not found")
	}
	if err != nil {
		return nil, fmt.Errorf("document of verification %s: %w", verificationID, err)
	}
	return d, nil
}

func (q Queries) documents(ctx context.Context, query string, args ...any) ([]*DocumentRecord, error) {
	rows, err := q.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("query documents: %w", err)
	}
	defer rows.Close()
	var out []*DocumentRecord
	for rows.Next() {
		d, err := scanDocument(rows)
		if err != nil {
			return nil, fmt.Errorf("scan document: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// LiveDocumentsOfMember returns a member's documents whose image still exists.
func (q Queries) LiveDocumentsOfMember(ctx context.Context, memberID string) ([]*DocumentRecord, error) {
	return q.documents(ctx, `SELECT `+documentColumns+` FROM documents WHERE member_id = $1 AND destroyed_at IS NULL`, memberID)
}

// DocumentsDue returns up to limit live documents past their retention time.
func (q Queries) DocumentsDue(ctx context.Context, now time.Time, limit int) ([]*DocumentRecord, error) {
	return q.documents(ctx, `SELECT `+documentColumns+` FROM documents
		WHERE destroyed_at IS NULL AND destroy_after <= $1 ORDER BY destroy_after LIMIT $2`, micros(now), limit)
}

// DestroyDocumentKey forgets a document's wrapped key: from this commit on
// its ciphertext is unreadable everywhere. It reports false if already done.
func (q Queries) DestroyDocumentKey(ctx context.Context, id string, at time.Time) (bool, error) {
	res, err := q.q.ExecContext(ctx, `UPDATE documents SET wrapped_key = NULL, destroyed_at = $2, reviewer_id = NULL
		WHERE id = $1 AND destroyed_at IS NULL`, id, micros(at))
	if err != nil {
		return false, fmt.Errorf("destroy key of document %s: %w", id, err)
	}
	return affectedOne(res)
}

// MarkBlobDeleted records that a destroyed document's ciphertext is gone.
func (q Queries) MarkBlobDeleted(ctx context.Context, id string, at time.Time) error {
	_, err := q.q.ExecContext(ctx, `UPDATE documents SET blob_deleted_at = $2 WHERE id = $1`, id, micros(at))
	if err != nil {
		return fmt.Errorf("mark blob deleted %s: %w", id, err)
	}
	return nil
}

// BlobsToDelete returns destroyed documents whose ciphertext may still exist
// (the process stopped between forgetting the key and deleting the blob).
func (q Queries) BlobsToDelete(ctx context.Context, limit int) ([]*DocumentRecord, error) {
	return q.documents(ctx, `SELECT `+documentColumns+` FROM documents
		WHERE destroyed_at IS NOT NULL AND blob_deleted_at IS NULL LIMIT $1`, limit)
}

// DocumentKnown reports whether a blob key belongs to any document row.
func (q Queries) DocumentKnown(ctx context.Context, blobKey string) (bool, error) {
	var n int
	err := q.q.QueryRowContext(ctx, `SELECT COUNT(*) FROM documents WHERE blob_key = $1`, blobKey).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("document known: %w", err)
	}
	return n > 0, nil
}

// SetDecided records when a document's verification was decided and when
// its image must be destroyed.
func (q Queries) SetDecided(ctx context.Context, id string, at, destroyAfter time.Time) error {
	_, err := q.q.ExecContext(ctx, `UPDATE documents SET decided_at = $2, destroy_after = $3 WHERE id = $1`, id, micros(at), micros(destroyAfter))
	if err != nil {
		return fmt.Errorf("set decided %s: %w", id, err)
	}
	return nil
}

// waiting is the condition of a document in the review queue: undecided,
// not destroyed, nobody's task, and not past its retention deadline ($1,
// now) even if the sweep has not destroyed it yet: past its deadline an
// image is never shown.
const waiting = `decided_at IS NULL AND destroyed_at IS NULL AND reviewer_id IS NULL AND destroy_after > $1`

// ClaimNextDocument assigns the oldest waiting document to a reviewer and
// returns it, or nil when none waits.
//
// It is one statement. On PostgreSQL the candidate row is locked with FOR
// UPDATE SKIP LOCKED, so reviewers claiming at once each take a different
// document instead of racing for the oldest one; the UPDATE's own
// re-check keeps a row another transaction changed meanwhile from being
// taken twice. SQLite has one writer at a time, so the statement runs
// alone there.
func (q Queries) ClaimNextDocument(ctx context.Context, reviewerID string, now time.Time) (*DocumentRecord, error) {
	lock := ""
	if q.engine == Postgres {
		lock = ` FOR UPDATE SKIP LOCKED`
	}
	var id string
	err := q.q.QueryRowContext(ctx, `UPDATE documents SET reviewer_id = $2, assigned_at = $3
		WHERE id = (SELECT id FROM documents WHERE `+waiting+` ORDER BY received_at LIMIT 1`+lock+`)
		AND `+waiting+` RETURNING id`, micros(now), reviewerID, micros(now)).Scan(&id)
	if isNoRows(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("claim document: %w", err)
	}
	return q.Document(ctx, id)
}

// ReleaseDocument puts an assigned document back in the queue.
func (q Queries) ReleaseDocument(ctx context.Context, id, reviewerID string) (bool, error) {
	res, err := q.q.ExecContext(ctx, `UPDATE documents SET reviewer_id = NULL, assigned_at = NULL
		WHERE id = $1 AND reviewer_id = $2 AND decided_at IS NULL`, id, reviewerID)
	if err != nil {
		return false, fmt.Errorf("release document: %w", err)
	}
	return affectedOne(res)
}

// AssignedDocuments lists the undecided documents assigned to a reviewer.
func (q Queries) AssignedDocuments(ctx context.Context, reviewerID string) ([]*DocumentRecord, error) {
	return q.documents(ctx, `SELECT `+documentColumns+` FROM documents
		WHERE reviewer_id = $1 AND decided_at IS NULL AND destroyed_at IS NULL ORDER BY received_at`, reviewerID)
}

// WaitingCount counts the documents ClaimNextDocument could hand out at now.
func (q Queries) WaitingCount(ctx context.Context, now time.Time) (int, error) {
	var n int
	err := q.q.QueryRowContext(ctx, `SELECT COUNT(*) FROM documents WHERE `+waiting, micros(now)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("waiting count: %w", err)
	}
	return n, nil
}

// RecentDecisions returns the documents a reviewer decided most recently.
func (q Queries) RecentDecisions(ctx context.Context, reviewerID string, limit int) ([]*DocumentRecord, error) {
	return q.documents(ctx, `SELECT `+prefixed("d.", documentColumns)+` FROM documents d
		JOIN verifications v ON v.id = d.verification_id
		WHERE v.checked_by = $1 ORDER BY v.checked_at DESC LIMIT $2`, reviewerID, limit)
}

// prefixed qualifies each column of a column list with a table alias.
func prefixed(alias, columns string) string {
	parts := strings.Split(columns, ",")
	for i, p := range parts {
		parts[i] = alias + strings.TrimSpace(p)
	}
	return strings.Join(parts, ", ")
}

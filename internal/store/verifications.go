package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/kakunin/kakunin"
)

const verificationColumns = `v.id, v.member_id, m.external_id, v.status, v.expires_at, v.created_at, v.updated_at,
	v.adult, v.document_type, v.document_name, v.issuer, v.birth_date, v.reject_reason, v.checked_at, v.checked_by,
	v.metadata, v.client_reference_id, v.method, v.methods`

func scanVerification(row interface{ Scan(...any) error }) (*kakunin.Verification, error) {
	var v kakunin.Verification
	var status string
	var expires, created, updated int64
	var adult sql.NullBool
	var docType, docName, issuer, birth, reason, checkedBy sql.NullString
	var checkedAt sql.NullInt64
	var metadata, clientRef, method, methods sql.NullString
	err := row.Scan(&v.ID, &v.MemberID, &v.ExternalID, &status, &expires, &created, &updated,
		&adult, &docType, &docName, &issuer, &birth, &reason, &checkedAt, &checkedBy, &metadata, &clientRef, &method, &methods)
	if err != nil {
		return nil, err
	}
	v.ClientReferenceID = clientRef.String
	if metadata.Valid {
		if err := json.Unmarshal([]byte(metadata.String), &v.Metadata); err != nil {
			return nil, fmt.Errorf("verification %s metadata: %w", v.ID, err)
		}
	}
	v.Status = kakunin.VerificationStatus(status)
	v.ExpiresAt, v.CreatedAt, v.UpdatedAt = fromMicros(expires), fromMicros(created), fromMicros(updated)
	if checkedAt.Valid {
		v.Result = &kakunin.Result{
			DocumentType: kakunin.DocumentType(docType.String),
			DocumentName: docName.String,
			Issuer:       issuer.String,
			BirthDate:    birth.String,
			RejectReason: reason.String,
			CheckedAt:    fromMicros(checkedAt.Int64),
			CheckedBy:    checkedBy.String,
			Method:       method.String,
		}
		if adult.Valid {
			v.Result.Adult = kakunin.Bool(adult.Bool)
		}
	}
	if methods.String != "" {
		v.Methods = strings.Split(methods.String, ",")
	}
	return &v, nil
}

// InsertVerification stores a new verification awaiting its upload. A
// member holds at most one awaiting its upload (a unique index): a second
// one is an ECONFLICT error, which a caller racing another can take as
// "read the open one again".
func (q Queries) InsertVerification(ctx context.Context, v *kakunin.Verification) error {
	var metadata sql.NullString
	if len(v.Metadata) > 0 {
		b, err := json.Marshal(v.Metadata)
		if err != nil {
			return fmt.Errorf("insert verification: %w", err)
		}
		metadata = sql.NullString{String: string(b), Valid: true}
	}
	_, err := q.q.ExecContext(ctx, `INSERT INTO verifications (id, member_id, status, expires_at, created_at, updated_at, metadata, client_reference_id, methods)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		v.ID, v.MemberID, string(v.Status), micros(v.ExpiresAt), micros(v.CreatedAt), micros(v.UpdatedAt), metadata, nullString(v.ClientReferenceID),
		nullString(strings.Join(v.Methods, ",")))
	if isUniqueViolation(err) {
		return kakunin.Errorf(kakunin.ECONFLICT, "this member already has an open verification")
	}
	if err != nil {
		return fmt.Errorf("insert verification: %w", err)
	}
	return nil
}

// OpenVerificationOfMember returns the member's verification awaiting its
// upload, or nil when there is none.
func (q Queries) OpenVerificationOfMember(ctx context.Context, memberID string) (*kakunin.Verification, error) {
	v, err := scanVerification(q.q.QueryRowContext(ctx, `SELECT `+verificationColumns+`
		FROM verifications v JOIN members m ON m.id = v.member_id
		WHERE v.member_id = $1 AND v.status = 'awaiting_upload'`, memberID))
	if isNoRows(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open verification of %s: %w", memberID, err)
	}
	return v, nil
}

// Verification returns one verification with its member's external ID.
func (q Queries) Verification(ctx context.Context, id string) (*kakunin.Verification, error) {
	v, err := scanVerification(q.q.QueryRowContext(ctx, `SELECT `+verificationColumns+`
		FROM verifications v JOIN members m ON m.id = v.member_id WHERE v.id = $1`, id))
	if isNoRows(err) {
		return nil, kakunin.Errorf(kakunin.ENOTFOUND, "verification not found")
	}
	if err != nil {
		return nil, fmt.Errorf("verification %s: %w", id, err)
	}
	return v, nil
}

// SetVerificationStatus moves a verification from one status to another and
// reports false when it was no longer in the from status (someone else won).
func (q Queries) SetVerificationStatus(ctx context.Context, id string, from, to kakunin.VerificationStatus, at time.Time) (bool, error) {
	res, err := q.q.ExecContext(ctx, `UPDATE verifications SET status = $3, updated_at = $4 WHERE id = $1 AND status = $2`,
		id, string(from), string(to), micros(at))
	if err != nil {
		return false, fmt.Errorf("set verification status: %w", err)
	}
	return affectedOne(res)
}

// RecordDecision stores a reviewer's decision on a submitted verification
// (a photo: the method is always kakunin.MethodPhoto).
func (q Queries) RecordDecision(ctx context.Context, id string, status kakunin.VerificationStatus, r *kakunin.Result) (bool, error) {
	r.Method = kakunin.MethodPhoto
	res, err := q.q.ExecContext(ctx, `UPDATE verifications SET status = $2, updated_at = $3,
		adult = $4, document_type = $5, document_name = $6, issuer = $7, birth_date = $8, reject_reason = $9, checked_at = $3, checked_by = $10,
		method = 'photo'
		WHERE id = $1 AND status = 'submitted'`,
		id, string(status), micros(r.CheckedAt), r.Adult, string(r.DocumentType), nullString(r.DocumentName),
		nullString(r.Issuer), nullString(r.BirthDate), nullString(r.RejectReason), r.CheckedBy)
	if err != nil {
		return false, fmt.Errorf("record decision: %w", err)
	}
	return affectedOne(res)
}

// RecordCheck stores the result of an image-free check (r.Method names
// it) on a verification still awaiting its upload, and reports false when
// it no longer was (a photo arrived, the link expired, another check won).
// No birth date is ever stored by this path.
func (q Queries) RecordCheck(ctx context.Context, id string, r *kakunin.Result) (bool, error) {
	res, err := q.q.ExecContext(ctx, `UPDATE verifications SET status = 'approved', updated_at = $2,
		adult = $3, document_type = $4, document_name = $5, issuer = $6, birth_date = NULL, reject_reason = NULL,
		checked_at = $2, checked_by = $7, method = $8
		WHERE id = $1 AND status = 'awaiting_upload'`,
		id, micros(r.CheckedAt), r.Adult, string(r.DocumentType), nullString(r.DocumentName), nullString(r.Issuer),
		nullString(r.CheckedBy), r.Method)
	if err != nil {
		return false, fmt.Errorf("record check: %w", err)
	}
	return affectedOne(res)
}

// ExpireVerifications ends every verification whose upload link expired
// unused, and returns their IDs.
func (q Queries) ExpireVerifications(ctx context.Context, now time.Time) ([]string, error) {
	return q.ids(ctx, `UPDATE verifications SET status = 'expired', updated_at = $1
		WHERE status = 'awaiting_upload' AND expires_at <= $1 RETURNING id`, micros(now))
}

// ExpireMemberVerifications ends a departing member's open verifications.
func (q Queries) ExpireMemberVerifications(ctx context.Context, memberID string, now time.Time) ([]string, error) {
	return q.ids(ctx, `UPDATE verifications SET status = 'expired', updated_at = $2
		WHERE member_id = $1 AND status IN ('awaiting_upload', 'submitted') RETURNING id`, memberID, micros(now))
}

func (q Queries) ids(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := q.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("query ids: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("scan id: %w", err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// VerificationsOfExternalID returns a member's verifications, newest first,
// by the host's member ID, and whether the member left.
func (q Queries) VerificationsOfExternalID(ctx context.Context, externalID string) ([]*kakunin.Verification, bool, error) {
	rows, err := q.q.QueryContext(ctx, `SELECT `+verificationColumns+`, m.deleted_at IS NOT NULL
		FROM verifications v JOIN members m ON m.id = v.member_id
		WHERE m.external_id = $1 ORDER BY v.created_at DESC LIMIT 50`, externalID)
	if err != nil {
		return nil, false, fmt.Errorf("verifications of member: %w", err)
	}
	defer rows.Close()
	var out []*kakunin.Verification
	left := false
	for rows.Next() {
		v, err := scanVerification(scanWithExtra{rows, &left})
		if err != nil {
			return nil, false, fmt.Errorf("verifications of member: %w", err)
		}
		out = append(out, v)
	}
	return out, left, rows.Err()
}

// scanWithExtra appends one destination to a scan, for queries that select
// a column more than the shared scanner reads.
type scanWithExtra struct {
	row   interface{ Scan(...any) error }
	extra any
}

func (s scanWithExtra) Scan(dest ...any) error { return s.row.Scan(append(dest, s.extra)...) }

// CancelVerification ends an open verification (awaiting its upload or
// submitted) as canceled, and reports false when it was not open.
func (q Queries) CancelVerification(ctx context.Context, id string, at time.Time) (bool, error) {
	res, err := q.q.ExecContext(ctx, `UPDATE verifications SET status = 'canceled', updated_at = $2
		WHERE id = $1 AND status IN ('awaiting_upload', 'submitted')`, id, micros(at))
	if err != nil {
		return false, fmt.Errorf("cancel verification: %w", err)
	}
	return affectedOne(res)
}

// VerificationFilter selects verifications for ListVerifications. Zero
// fields select everything.
type VerificationFilter struct {
	ExternalID   string
	Status       kakunin.VerificationStatus
	CreatedAfter time.Time // strictly after
	// Before is the cursor: only verifications older than (BeforeAt,
	// BeforeID) in the listing's order, newest first.
	BeforeAt time.Time
	BeforeID string
	Limit    int
}

// ListVerifications returns up to f.Limit verifications, newest first
// (created_at, then ID), and whether more follow.
func (q Queries) ListVerifications(ctx context.Context, f VerificationFilter) ([]*kakunin.Verification, bool, error) {
	where, args := []string{"1 = 1"}, []any{}
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	if f.ExternalID != "" {
		where = append(where, "m.external_id = "+arg(f.ExternalID))
	}
	if f.Status != "" {
		where = append(where, "v.status = "+arg(string(f.Status)))
	}
	if !f.CreatedAfter.IsZero() {
		where = append(where, "v.created_at > "+arg(micros(f.CreatedAfter)))
	}
	if f.BeforeID != "" {
		at := arg(micros(f.BeforeAt))
		where = append(where, "(v.created_at < "+at+" OR (v.created_at = "+at+" AND v.id < "+arg(f.BeforeID)+"))")
	}
	query := `SELECT ` + verificationColumns + ` FROM verifications v JOIN members m ON m.id = v.member_id WHERE ` +
		strings.Join(where, " AND ") + ` ORDER BY v.created_at DESC, v.id DESC LIMIT ` + arg(f.Limit+1)
	rows, err := q.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, false, fmt.Errorf("list verifications: %w", err)
	}
	defer rows.Close()
	var out []*kakunin.Verification
	for rows.Next() {
		v, err := scanVerification(rows)
		if err != nil {
			return nil, false, fmt.Errorf("list verifications: %w", err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("list verifications: %w", err)
	}
	more := len(out) > f.Limit
	if more {
		out = out[:f.Limit]
	}
	return out, more, nil
}

// LiveDocumentsOfVerification returns the verification's documents whose
// image still exists.
func (q Queries) LiveDocumentsOfVerification(ctx context.Context, verificationID string) ([]*DocumentRecord, error) {
	return q.documents(ctx, `SELECT `+documentColumns+` FROM documents WHERE verification_id = $1 AND destroyed_at IS NULL`, verificationID)
}

package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/kakunin/kakunin"
)

// ErasureRequest is a member's request to be erased (internal/erasure).
type ErasureRequest struct {
	ID             string
	MemberID       string
	State          string // received | verified | in_progress | completed | refused
	Via            string // portal | support
	CreatedAt      time.Time
	UpdatedAt      time.Time
	DueAt          time.Time
	ConfirmHash    []byte
	ConfirmExpires *time.Time
	RefusalReason  string
	Receipt        string
}

// ErasureStep is one step of a request's history.
type ErasureStep struct {
	RequestID string
	Step      int
	At        time.Time
	State     string
	Actor     string
	Note      string
}

const erasureColumns = `id, member_id, state, via, created_at, updated_at, due_at, confirm_hash, confirm_expires, refusal_reason, receipt`

func scanErasure(row interface{ Scan(...any) error }) (*ErasureRequest, error) {
	var r ErasureRequest
	var created, updated, due int64
	var expires sql.NullInt64
	var reason, receipt sql.NullString
	if err := row.Scan(&r.ID, &r.MemberID, &r.State, &r.Via, &created, &updated, &due, &r.ConfirmHash, &expires, &reason, &receipt); err != nil {
		return nil, err
	}
	r.CreatedAt, r.UpdatedAt, r.DueAt = fromMicros(created), fromMicros(updated), fromMicros(due)
	r.ConfirmExpires, r.RefusalReason, r.Receipt = timePtr(expires), reason.String, receipt.String
	return &r, nil
}

// InsertErasureRequest stores a new request and its first step. A member
// with an open request already gets ECONFLICT: one open request at a time.
func (q Queries) InsertErasureRequest(ctx context.Context, r *ErasureRequest, first *ErasureStep) error {
	_, err := q.q.ExecContext(ctx, `INSERT INTO erasure_requests (`+erasureColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		r.ID, r.MemberID, r.State, r.Via, micros(r.CreatedAt), micros(r.UpdatedAt), micros(r.DueAt), r.ConfirmHash, nullMicros(r.ConfirmExpires),
		nullString(r.RefusalReason), nullString(r.Receipt))
	if isUniqueViolation(err) {
		return kakunin.Errorf(kakunin.ECONFLICT, "this member already has an open erasure request")
	}
	if err != nil {
		return fmt.Errorf("insert erasure request: %w", err)
	}
	first.RequestID, first.Step = r.ID, 1
	return q.insertErasureStep(ctx, first)
}

func (q Queries) insertErasureStep(ctx context.Context, s *ErasureStep) error {
	_, err := q.q.ExecContext(ctx, `INSERT INTO erasure_request_steps (request_id, step, at, state, actor, note) VALUES ($1, $2, $3, $4, $5, $6)`,
		s.RequestID, s.Step, micros(s.At), s.State, s.Actor, s.Note)
	if err != nil {
		return fmt.Errorf("insert erasure step: %w", err)
	}
	return nil
}

// MoveErasureRequest moves request id from state from to state to and
// records the step. It is the claim: a request not in from (another step
// won) gives ECONFLICT and changes nothing.
func (q Queries) MoveErasureRequest(ctx context.Context, id, from string, step *ErasureStep, reason string) error {
	res, err := q.q.ExecContext(ctx, `UPDATE erasure_requests SET state = $3, updated_at = $4,
		refusal_reason = COALESCE($5, refusal_reason), confirm_hash = CASE WHEN $3 = 'received' THEN confirm_hash ELSE NULL END
		WHERE id = $1 AND state = $2`, id, from, step.State, micros(step.At), nullString(reason))
	if err != nil {
		return fmt.Errorf("move erasure request: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return kakunin.Errorf(kakunin.ECONFLICT, "this request is no longer %s", from)
	}
	var n int
	if err := q.q.QueryRowContext(ctx, `SELECT COUNT(*) FROM erasure_request_steps WHERE request_id = $1`, id).Scan(&n); err != nil {
		return fmt.Errorf("move erasure request: %w", err)
	}
	step.RequestID, step.Step = id, n+1
	return q.insertErasureStep(ctx, step)
}

// SetErasureConfirmation stores the hash of a new confirmation link.
func (q Queries) SetErasureConfirmation(ctx context.Context, id string, hash []byte, expires time.Time) error {
	if _, err := q.q.ExecContext(ctx, `UPDATE erasure_requests SET confirm_hash = $2, confirm_expires = $3 WHERE id = $1 AND state = 'received'`,
		id, hash, micros(expires)); err != nil {
		return fmt.Errorf("erasure confirmation: %w", err)
	}
	return nil
}

// ErasureRequestByConfirmation returns the received request whose
// unexpired confirmation link hashes to hash; anything else EUNAUTHORIZED.
func (q Queries) ErasureRequestByConfirmation(ctx context.Context, hash []byte, now time.Time) (*ErasureRequest, error) {
	r, err := scanErasure(q.q.QueryRowContext(ctx, `SELECT `+erasureColumns+` FROM erasure_requests
		WHERE confirm_hash = $1 AND state = 'received' AND confirm_expires > $2`, hash, micros(now)))
	if isNoRows(err) {
		return nil, kakunin.Errorf(kakunin.EUNAUTHORIZED, "this link cannot be used")
	}
	if err != nil {
		return nil, fmt.Errorf("erasure request by confirmation: %w", err)
	}
	return r, nil
}

// SetErasureReceipt stores a completed request's signed receipt.
func (q Queries) SetErasureReceipt(ctx context.Context, id, receipt string) error {
	if _, err := q.q.ExecContext(ctx, `UPDATE erasure_requests SET receipt = $2 WHERE id = $1`, id, receipt); err != nil {
		return fmt.Errorf("erasure receipt: %w", err)
	}
	return nil
}

// ErasureRequest returns one request.
func (q Queries) ErasureRequest(ctx context.Context, id string) (*ErasureRequest, error) {
	r, err := scanErasure(q.q.QueryRowContext(ctx, `SELECT `+erasureColumns+` FROM erasure_requests WHERE id = $1`, id))
	if isNoRows(err) {
		return nil, kakunin.Errorf(kakunin.ENOTFOUND, "no such erasure request")
	}
	if err != nil {
		return nil, fmt.Errorf("erasure request: %w", err)
	}
	return r, nil
}

func (q Queries) erasureRequests(ctx context.Context, query string, args ...any) ([]*ErasureRequest, error) {
	rows, err := q.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("erasure requests: %w", err)
	}
	defer rows.Close()
	var out []*ErasureRequest
	for rows.Next() {
		r, err := scanErasure(rows)
		if err != nil {
			return nil, fmt.Errorf("erasure requests: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ErasureRequestsOfMember returns a member's requests, newest first.
func (q Queries) ErasureRequestsOfMember(ctx context.Context, memberID string) ([]*ErasureRequest, error) {
	return q.erasureRequests(ctx, `SELECT `+erasureColumns+` FROM erasure_requests WHERE member_id = $1 ORDER BY created_at DESC, id DESC`, memberID)
}

// OpenErasureRequests returns the open requests, earliest deadline first:
// the console's queue.
func (q Queries) OpenErasureRequests(ctx context.Context) ([]*ErasureRequest, error) {
	return q.erasureRequests(ctx, `SELECT `+erasureColumns+` FROM erasure_requests
		WHERE state IN ('received', 'verified', 'in_progress') ORDER BY due_at, id`)
}

// OverdueErasureRequests returns the open requests past their deadline.
func (q Queries) OverdueErasureRequests(ctx context.Context, now time.Time) ([]*ErasureRequest, error) {
	return q.erasureRequests(ctx, `SELECT `+erasureColumns+` FROM erasure_requests
		WHERE state IN ('received', 'verified', 'in_progress') AND due_at < $1 ORDER BY due_at, id`, micros(now))
}

// ErasureSteps returns a request's history, in order.
func (q Queries) ErasureSteps(ctx context.Context, id string) ([]ErasureStep, error) {
	rows, err := q.q.QueryContext(ctx, `SELECT request_id, step, at, state, actor, note FROM erasure_request_steps WHERE request_id = $1 ORDER BY step`, id)
	if err != nil {
		return nil, fmt.Errorf("erasure steps: %w", err)
	}
	defer rows.Close()
	var out []ErasureStep
	for rows.Next() {
		var s ErasureStep
		var at int64
		if err := rows.Scan(&s.RequestID, &s.Step, &at, &s.State, &s.Actor, &s.Note); err != nil {
			return nil, fmt.Errorf("erasure steps: %w", err)
		}
		s.At = fromMicros(at)
		out = append(out, s)
	}
	return out, rows.Err()
}

// ErasePortalTraces deletes a member's sign-in links and sessions and
// returns how many rows went.
func (q Queries) ErasePortalTraces(ctx context.Context, memberID string) (links, sessions int64, err error) {
	res, err := q.q.ExecContext(ctx, `DELETE FROM member_signin_links WHERE member_id = $1`, memberID)
	if err != nil {
		return 0, 0, fmt.Errorf("erase sign-in links: %w", err)
	}
	links, _ = res.RowsAffected()
	res, err = q.q.ExecContext(ctx, `DELETE FROM member_sessions WHERE member_id = $1`, memberID)
	if err != nil {
		return 0, 0, fmt.Errorf("erase member sessions: %w", err)
	}
	sessions, _ = res.RowsAffected()
	return links, sessions, nil
}

// EraseExposureRecords deletes the exposure check's records of an
// address, by its blind index (the hits and the limit row), and returns
// how many hits went.
func (q Queries) EraseExposureRecords(ctx context.Context, emailIndex []byte) (int64, error) {
	if len(emailIndex) == 0 {
		return 0, nil
	}
	res, err := q.q.ExecContext(ctx, `DELETE FROM exposure_hits WHERE key_hash = $1`, emailIndex)
	if err != nil {
		return 0, fmt.Errorf("erase exposure hits: %w", err)
	}
	n, _ := res.RowsAffected()
	if _, err := q.q.ExecContext(ctx, `DELETE FROM exposure_limits WHERE key_hash = $1`, emailIndex); err != nil {
		return 0, fmt.Errorf("erase exposure limits: %w", err)
	}
	return n, nil
}

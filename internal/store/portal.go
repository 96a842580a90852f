package store

import (
	"context"
	"fmt"
	"time"

	"github.com/kakunin/kakunin"
)

// SigninLink is a one-time member sign-in link as stored: the hash of its
// token, never the token.
type SigninLink struct {
	TokenHash []byte
	MemberID  string
	Via       string // mail | handoff
	CreatedAt time.Time
	ExpiresAt time.Time
}

// ReplaceSigninLink stores l and revokes every other unused link of its
// member, in one statement pair: a member holds at most one working link.
func (q Queries) ReplaceSigninLink(ctx context.Context, l *SigninLink) error {
	if _, err := q.q.ExecContext(ctx, `DELETE FROM member_signin_links WHERE member_id = $1 AND used_at IS NULL`, l.MemberID); err != nil {
		return fmt.Errorf("revoke sign-in links: %w", err)
	}
	_, err := q.q.ExecContext(ctx, `INSERT INTO member_signin_links (token_hash, member_id, via, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)`,
		l.TokenHash, l.MemberID, l.Via, micros(l.CreatedAt), micros(l.ExpiresAt))
	if err != nil {
		return fmt.Errorf("insert sign-in link: %w", err)
	}
	return nil
}

// UseSigninLink spends the unused, unexpired link whose token hashes to
// tokenHash and returns it. The UPDATE is the claim: two requests racing
// with one link cannot both succeed. Anything else is EUNAUTHORIZED alike.
func (q Queries) UseSigninLink(ctx context.Context, tokenHash []byte, now time.Time) (*SigninLink, error) {
	var l SigninLink
	var created, expires int64
	err := q.q.QueryRowContext(ctx, `UPDATE member_signin_links SET used_at = $2
		WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2
		RETURNING token_hash, member_id, via, created_at, expires_at`, tokenHash, micros(now)).
		Scan(&l.TokenHash, &l.MemberID, &l.Via, &created, &expires)
	if isNoRows(err) {
		return nil, kakunin.Errorf(kakunin.EUNAUTHORIZED, "this link cannot be used")
	}
	if err != nil {
		return nil, fmt.Errorf("use sign-in link: %w", err)
	}
	l.CreatedAt, l.ExpiresAt = fromMicros(created), fromMicros(expires)
	return &l, nil
}

// SigninLinkUsable reports whether a link is unused and unexpired, without
// spending it (the confirmation page).
func (q Queries) SigninLinkUsable(ctx context.Context, tokenHash []byte, now time.Time) (bool, error) {
	var n int
	err := q.q.QueryRowContext(ctx, `SELECT COUNT(*) FROM member_signin_links WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2`,
		tokenHash, micros(now)).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("sign-in link: %w", err)
	}
	return n > 0, nil
}

// PruneSigninLinks deletes links that expired before before.
func (q Queries) PruneSigninLinks(ctx context.Context, before time.Time) (int64, error) {
	res, err := q.q.ExecContext(ctx, `DELETE FROM member_signin_links WHERE expires_at < $1`, micros(before))
	if err != nil {
		return 0, fmt.Errorf("prune sign-in links: %w", err)
	}
	return res.RowsAffected()
}

// MemberSession is a signed-in member's session.
type MemberSession struct {
	TokenHash  []byte
	MemberID   string
	CreatedAt  time.Time
	LastSeenAt time.Time
}

// InsertMemberSession stores a new member session.
func (q Queries) InsertMemberSession(ctx context.Context, s *MemberSession) error {
	_, err := q.q.ExecContext(ctx, `INSERT INTO member_sessions (token_hash, member_id, created_at, last_seen_at) VALUES ($1, $2, $3, $4)`,
		s.TokenHash, s.MemberID, micros(s.CreatedAt), micros(s.LastSeenAt))
	if err != nil {
		return fmt.Errorf("insert member session: %w", err)
	}
	return nil
}

// MemberSessionByHash returns a member session; none is EUNAUTHORIZED.
func (q Queries) MemberSessionByHash(ctx context.Context, tokenHash []byte) (*MemberSession, error) {
	var s MemberSession
	var created, seen int64
	err := q.q.QueryRowContext(ctx, `SELECT token_hash, member_id, created_at, last_seen_at FROM member_sessions WHERE token_hash = $1`, tokenHash).
		Scan(&s.TokenHash, &s.MemberID, &created, &seen)
	if isNoRows(err) {
		return nil, kakunin.Errorf(kakunin.EUNAUTHORIZED, "not signed in")
	}
	if err != nil {
		return nil, fmt.Errorf("member session: %w", err)
	}
	s.CreatedAt, s.LastSeenAt = fromMicros(created), fromMicros(seen)
	return &s, nil
}

// TouchMemberSession moves a member session's idle clock forward.
func (q Queries) TouchMemberSession(ctx context.Context, tokenHash []byte, at time.Time) error {
	if _, err := q.q.ExecContext(ctx, `UPDATE member_sessions SET last_seen_at = $2 WHERE token_hash = $1`, tokenHash, micros(at)); err != nil {
		return fmt.Errorf("touch member session: %w", err)
	}
	return nil
}

// DeleteMemberSession ends one member session.
func (q Queries) DeleteMemberSession(ctx context.Context, tokenHash []byte) error {
	if _, err := q.q.ExecContext(ctx, `DELETE FROM member_sessions WHERE token_hash = $1`, tokenHash); err != nil {
		return fmt.Errorf("delete member session: %w", err)
	}
	return nil
}

// DeleteMemberSessions ends every session of a member (sign-out
// everywhere; a member who left).
func (q Queries) DeleteMemberSessions(ctx context.Context, memberID string) error {
	if _, err := q.q.ExecContext(ctx, `DELETE FROM member_sessions WHERE member_id = $1`, memberID); err != nil {
		return fmt.Errorf("delete member sessions: %w", err)
	}
	return nil
}

// VerificationsOfMember returns a member's verifications, newest first.
func (q Queries) VerificationsOfMember(ctx context.Context, memberID string) ([]*kakunin.Verification, error) {
	rows, err := q.q.QueryContext(ctx, `SELECT `+verificationColumns+`
		FROM verifications v JOIN members m ON m.id = v.member_id
		WHERE v.member_id = $1 ORDER BY v.created_at DESC, v.id DESC`, memberID)
	if err != nil {
		return nil, fmt.Errorf("verifications of member: %w", err)
	}
	defer rows.Close()
	var out []*kakunin.Verification
	for rows.Next() {
		v, err := scanVerification(rows)
		if err != nil {
			return nil, fmt.Errorf("verifications of member: %w", err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// DocumentsOfMember returns every document row of a member, destroyed
// ones included (their row says when), oldest first.
func (q Queries) DocumentsOfMember(ctx context.Context, memberID string) ([]*DocumentRecord, error) {
	return q.documents(ctx, `SELECT `+documentColumns+` FROM documents WHERE member_id = $1 ORDER BY received_at, id`, memberID)
}

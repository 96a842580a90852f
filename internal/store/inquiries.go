package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/kakunin/kakunin"
)

// InquiryThread is one inquiry to the desk as stored (internal/inquiry).
// The address is sealed; AddressIndex is its blind index.
type InquiryThread struct {
	ID            string
	Category      string
	Status        string
	Locale        kakunin.Locale
	AddressSealed []byte
	AddressIndex  []byte
	MemberID      string // "" when not known to be a member's
	Assignee      string // stf_… who took it, ""
	MergedInto    string
	CreatedAt     time.Time
	UpdatedAt     time.Time
	FirstReplyAt  *time.Time
	ClosedAt      *time.Time
	DueFirst      *time.Time
	DueNext       *time.Time
	DueSolution   *time.Time
	PausedAt      *time.Time
	Warned        string // comma-separated targets already warned of
	Escalated     string // comma-separated targets already escalated
}

// InquiryMessage is one message of a thread: the person's, a desk reply,
// or an internal note (never shown to the person). The body is sealed.
type InquiryMessage struct {
	ID         string
	ThreadID   string
	Kind       string // person | reply | note
	Author     string // "person" or stf_…
	BodySealed []byte
	CreatedAt  time.Time
}

// InquiryLink is a thread's private link as stored: the hash of its token.
type InquiryLink struct {
	TokenHash []byte
	ThreadID  string
	CreatedAt time.Time
	ExpiresAt time.Time
}

const inquiryColumns = `id, category, status, locale, address_sealed, address_index, COALESCE(member_id, ''), COALESCE(assignee, ''),
	COALESCE(merged_into, ''), created_at, updated_at, first_reply_at, closed_at, due_first, due_next, due_solution, paused_at, warned, escalated`

func nullText(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

func scanInquiry(row interface{ Scan(...any) error }) (*InquiryThread, error) {
	var t InquiryThread
	var created, updated int64
	var first, closed, dueFirst, dueNext, dueSol, paused sql.NullInt64
	var locale string
	if err := row.Scan(&t.ID, &t.Category, &t.Status, &locale, &t.AddressSealed, &t.AddressIndex, &t.MemberID, &t.Assignee,
		&t.MergedInto, &created, &updated, &first, &closed, &dueFirst, &dueNext, &dueSol, &paused, &t.Warned, &t.Escalated); err != nil {
		return nil, err
	}
	t.Locale = kakunin.Locale(locale)
	t.CreatedAt, t.UpdatedAt = fromMicros(created), fromMicros(updated)
	t.FirstReplyAt, t.ClosedAt = timePtr(first), timePtr(closed)
	t.DueFirst, t.DueNext, t.DueSolution, t.PausedAt = timePtr(dueFirst), timePtr(dueNext), timePtr(dueSol), timePtr(paused)
	return &t, nil
}

// InsertInquiry stores a new thread.
func (q Queries) InsertInquiry(ctx context.Context, t *InquiryThread) error {
	_, err := q.q.ExecContext(ctx, `INSERT INTO inquiry_threads (id, category, status, locale, address_sealed, address_index, member_id,
		assignee, merged_into, created_at, updated_at, first_reply_at, closed_at, due_first, due_next, due_solution, paused_at, warned, escalated)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)`,
		t.ID, t.Category, t.Status, string(t.Locale), t.AddressSealed, t.AddressIndex, nullText(t.MemberID), nullText(t.Assignee),
		nullText(t.MergedInto), micros(t.CreatedAt), micros(t.UpdatedAt), nullMicros(t.FirstReplyAt), nullMicros(t.ClosedAt),
		nullMicros(t.DueFirst), nullMicros(t.DueNext), nullMicros(t.DueSolution), nullMicros(t.PausedAt), t.Warned, t.Escalated)
	if err != nil {
		return fmt.Errorf("insert inquiry: %w", err)
	}
	return nil
}

// UpdateInquiry writes every changeable field of t.
func (q Queries) UpdateInquiry(ctx context.Context, t *InquiryThread) error {
	res, err := q.q.ExecContext(ctx, `UPDATE inquiry_threads SET category = $2, status = $3, member_id = $4, assignee = $5, merged_into = $6,
		updated_at = $7, first_reply_at = $8, closed_at = $9, due_first = $10, due_next = $11, due_solution = $12, paused_at = $13,
		warned = $14, escalated = $15 WHERE id = $1`,
		t.ID, t.Category, t.Status, nullText(t.MemberID), nullText(t.Assignee), nullText(t.MergedInto), micros(t.UpdatedAt),
		nullMicros(t.FirstReplyAt), nullMicros(t.ClosedAt), nullMicros(t.DueFirst), nullMicros(t.DueNext), nullMicros(t.DueSolution),
		nullMicros(t.PausedAt), t.Warned, t.Escalated)
	if err != nil {
		return fmt.Errorf("update inquiry: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return kakunin.Errorf(kakunin.ENOTFOUND, "no such inquiry")
	}
	return nil
}

// Inquiry returns one thread; none is ENOTFOUND.
func (q Queries) Inquiry(ctx context.Context, id string) (*InquiryThread, error) {
	t, err := scanInquiry(q.q.QueryRowContext(ctx, `SELECT `+inquiryColumns+` FROM inquiry_threads WHERE id = $1`, id))
	if isNoRows(err) {
		return nil, kakunin.Errorf(kakunin.ENOTFOUND, "no such inquiry")
	}
	if err != nil {
		return nil, fmt.Errorf("inquiry: %w", err)
	}
	return t, nil
}

// InquiryFilter selects threads for the desk's queue; empty fields match all.
type InquiryFilter struct {
	Categories []string // allowed categories (the staff member's roles)
	Category   string
	Status     string // open | waiting | closed; "" = not closed
	Limit      int
}

// Inquiries returns the threads f selects, oldest first.
func (q Queries) Inquiries(ctx context.Context, f InquiryFilter) ([]*InquiryThread, error) {
	where := []string{"1 = 1"}
	var args []any
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	if len(f.Categories) > 0 {
		var ps []string
		for _, c := range f.Categories {
			ps = append(ps, arg(c))
		}
		where = append(where, "category IN ("+strings.Join(ps, ", ")+")")
	}
	if f.Category != "" {
		where = append(where, "category = "+arg(f.Category))
	}
	if f.Status != "" {
		where = append(where, "status = "+arg(f.Status))
	} else {
		where = append(where, "status <> 'closed'")
	}
	limit := f.Limit
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	rows, err := q.q.QueryContext(ctx, `SELECT `+inquiryColumns+` FROM inquiry_threads WHERE `+strings.Join(where, " AND ")+
		fmt.Sprintf(` ORDER BY created_at, id LIMIT %d`, limit), args...)
	if err != nil {
		return nil, fmt.Errorf("inquiries: %w", err)
	}
	defer rows.Close()
	var out []*InquiryThread
	for rows.Next() {
		t, err := scanInquiry(rows)
		if err != nil {
			return nil, fmt.Errorf("inquiries: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// InsertInquiryMessage stores one message of a thread.
func (q Queries) InsertInquiryMessage(ctx context.Context, m *InquiryMessage) error {
	_, err := q.q.ExecContext(ctx, `INSERT INTO inquiry_messages (id, thread_id, kind, author, body_sealed, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		m.ID, m.ThreadID, m.Kind, m.Author, m.BodySealed, micros(m.CreatedAt))
	if err != nil {
		return fmt.Errorf("insert inquiry message: %w", err)
	}
	return nil
}

// InquiryMessages returns a thread's messages, oldest first; with notes
// false the internal notes are left out (what the person may see).
func (q Queries) InquiryMessages(ctx context.Context, threadID string, notes bool) ([]*InquiryMessage, error) {
	query := `SELECT id, thread_id, kind, author, body_sealed, created_at FROM inquiry_messages WHERE thread_id = $1`
	if !notes {
		query += ` AND kind <> 'note'`
	}
	rows, err := q.q.QueryContext(ctx, query+` ORDER BY created_at, id`, threadID)
	if err != nil {
		return nil, fmt.Errorf("inquiry messages: %w", err)
	}
	defer rows.Close()
	var out []*InquiryMessage
	for rows.Next() {
		var m InquiryMessage
		var at int64
		if err := rows.Scan(&m.ID, &m.ThreadID, &m.Kind, &m.Author, &m.BodySealed, &at); err != nil {
			return nil, fmt.Errorf("inquiry messages: %w", err)
		}
		m.CreatedAt = fromMicros(at)
		out = append(out, &m)
	}
	return out, rows.Err()
}

// MoveInquiryMessages moves every message of from into to (merging a
// duplicate thread).
func (q Queries) MoveInquiryMessages(ctx context.Context, from, to string) error {
	if _, err := q.q.ExecContext(ctx, `UPDATE inquiry_messages SET thread_id = $2 WHERE thread_id = $1`, from, to); err != nil {
		return fmt.Errorf("move inquiry messages: %w", err)
	}
	if _, err := q.q.ExecContext(ctx, `UPDATE inquiry_links SET thread_id = $2 WHERE thread_id = $1`, from, to); err != nil {
		return fmt.Errorf("move inquiry links: %w", err)
	}
	return nil
}

// InsertInquiryLink stores a thread's private link.
func (q Queries) InsertInquiryLink(ctx context.Context, l *InquiryLink) error {
	_, err := q.q.ExecContext(ctx, `INSERT INTO inquiry_links (token_hash, thread_id, created_at, expires_at) VALUES ($1, $2, $3, $4)`,
		l.TokenHash, l.ThreadID, micros(l.CreatedAt), micros(l.ExpiresAt))
	if err != nil {
		return fmt.Errorf("insert inquiry link: %w", err)
	}
	return nil
}

// InquiryByLink returns the ID of the thread a live (unrevoked, unexpired)
// link opens. Anything else is ENOTFOUND alike.
func (q Queries) InquiryByLink(ctx context.Context, tokenHash []byte, now time.Time) (string, error) {
	var id string
	err := q.q.QueryRowContext(ctx, `SELECT thread_id FROM inquiry_links WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > $2`,
		tokenHash, micros(now)).Scan(&id)
	if isNoRows(err) {
		return "", kakunin.Errorf(kakunin.ENOTFOUND, "no such inquiry")
	}
	if err != nil {
		return "", fmt.Errorf("inquiry link: %w", err)
	}
	return id, nil
}

// RevokeInquiryLinks revokes every live link of a thread.
func (q Queries) RevokeInquiryLinks(ctx context.Context, threadID string, now time.Time) (int64, error) {
	res, err := q.q.ExecContext(ctx, `UPDATE inquiry_links SET revoked_at = $2 WHERE thread_id = $1 AND revoked_at IS NULL`, threadID, micros(now))
	if err != nil {
		return 0, fmt.Errorf("revoke inquiry links: %w", err)
	}
	return res.RowsAffected()
}

// DeleteInquiriesOfMember is the erasure hook of the inquiry desk: it
// deletes, with their messages, notes and links, every thread of the
// member memberID and every thread written from an address whose inquiry
// blind index is addressIndex (inquiry.AddressIndex of the member's
// registered address; nil for none). The member-erasure path calls it in
// the same transaction as the member's other deletions. It returns how
// many threads went.
func (q Queries) DeleteInquiriesOfMember(ctx context.Context, memberID string, addressIndex []byte) (int64, error) {
	sel := `SELECT id FROM inquiry_threads WHERE member_id = $1 OR address_index = $2`
	if addressIndex == nil {
		addressIndex = []byte{}
	}
	for _, table := range []string{"inquiry_links", "inquiry_messages"} {
		if _, err := q.q.ExecContext(ctx, `DELETE FROM `+table+` WHERE thread_id IN (`+sel+`)`, memberID, addressIndex); err != nil {
			return 0, fmt.Errorf("delete inquiries of member: %w", err)
		}
	}
	res, err := q.q.ExecContext(ctx, `DELETE FROM inquiry_threads WHERE member_id = $1 OR address_index = $2`, memberID, addressIndex)
	if err != nil {
		return 0, fmt.Errorf("delete inquiries of member: %w", err)
	}
	return res.RowsAffected()
}

// InquiryCounts counts threads opened since since, in category (all when
// ""), and how many of those not closed are past a target at now: the
// incident page's "inquiries drawn / overdue".
func (q Queries) InquiryCounts(ctx context.Context, category string, since, now time.Time) (total, overdue int, err error) {
	err = q.q.QueryRowContext(ctx, `SELECT COUNT(*),
		COALESCE(SUM(CASE WHEN status = 'open' AND paused_at IS NULL AND (due_first < $3 OR due_next < $3 OR due_solution < $3) THEN 1 ELSE 0 END), 0)
		FROM inquiry_threads WHERE created_at >= $2 AND ($1 = '' OR category = $1)`, category, micros(since), micros(now)).Scan(&total, &overdue)
	if err != nil {
		return 0, 0, fmt.Errorf("inquiry counts: %w", err)
	}
	return total, overdue, nil
}

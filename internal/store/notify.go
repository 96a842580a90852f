package store

import (
	"context"
	"fmt"

	"github.com/kakunin/kakunin"
)

// ActiveAdminIDs returns the IDs of the admins who may be alerted: role
// admin and not locked (a locked account may be the one misbehaving, and
// its owner cannot act on an alert anyway). Oldest account first, so the
// order is stable from one call to the next.
func (q Queries) ActiveAdminIDs(ctx context.Context) ([]string, error) {
	rows, err := q.q.QueryContext(ctx, `SELECT id FROM staff WHERE role = $1 AND locked_at IS NULL ORDER BY created_at, id`,
		string(kakunin.RoleAdmin))
	if err != nil {
		return nil, fmt.Errorf("active admins: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("active admins: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("active admins: %w", err)
	}
	return ids, nil
}

// ActiveAdminEmail returns the address of staff member id if it is still
// an admin and not locked, and ENOTFOUND otherwise. Mail is addressed with
// it at the moment of sending, so a demotion or a lock between an alert and
// its delivery is honoured.
func (q Queries) ActiveAdminEmail(ctx context.Context, id string) (string, error) {
	var legacy string
	var sealed []byte
	err := q.q.QueryRowContext(ctx, `SELECT email, email_sealed FROM staff WHERE id = $1 AND role = $2 AND locked_at IS NULL`,
		id, string(kakunin.RoleAdmin)).Scan(&legacy, &sealed)
	if isNoRows(err) {
		return "", kakunin.Errorf(kakunin.ENOTFOUND, "no active admin %s", id)
	}
	if err != nil {
		return "", fmt.Errorf("active admin %s: %w", id, err)
	}
	return q.openStaffEmail(sealed, legacy)
}

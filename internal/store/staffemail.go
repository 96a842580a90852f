package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// StaffEmails seals staff e-mail addresses with the vault's record key and
// computes their blind index (auth.StaffEmails), so that the database holds
// no staff address in plaintext, as it holds no member's (migration 00012).
type StaffEmails interface {
	SealStaffEmail(email string) ([]byte, error)
	OpenStaffEmail(sealed []byte) (string, error)
	StaffEmailIndex(email string) []byte // of the address as typed: it normalizes
}

// errNoStaffEmails: the database was opened without the keys that seal
// staff addresses, and a query needed them.
var errNoStaffEmails = errors.New("staff e-mail addresses are sealed: this database was opened without the keys (store.UseStaffEmails)")

// UseStaffEmails gives the database the keys of staff addresses. Without
// them, queries that write or read a staff address fail.
func (db *DB) UseStaffEmails(k StaffEmails) { db.emails = k }

func (q Queries) sealStaffEmail(email string) (sealed, index []byte, err error) {
	if q.emails == nil {
		return nil, nil, errNoStaffEmails
	}
	if sealed, err = q.emails.SealStaffEmail(email); err != nil {
		return nil, nil, fmt.Errorf("seal staff address: %w", err)
	}
	return sealed, q.emails.StaffEmailIndex(email), nil
}

// openStaffEmail opens a sealed address. A row not sealed yet (an install
// older than migration 00012 between the migration and SealStaffEmails)
// still has its address in the old column, legacy.
func (q Queries) openStaffEmail(sealed []byte, legacy string) (string, error) {
	if sealed == nil {
		return legacy, nil
	}
	if q.emails == nil {
		return "", errNoStaffEmails
	}
	email, err := q.emails.OpenStaffEmail(sealed)
	if err != nil {
		return "", fmt.Errorf("open staff address: %w", err)
	}
	return email, nil
}

// reportStaffEmail is the address for a report (incident scope): "" when
// it cannot be opened — no keys, or synthetic data — since the staff ID is
// there anyway, and a scope during a breach must not fail for want of it.
func (q Queries) reportStaffEmail(sealed []byte, legacy string) string {
	email, err := q.openStaffEmail(sealed, legacy)
	if err != nil {
		return ""
	}
	return email
}

// staffEmailCache opens each staff member's address once in a long scan.
type staffEmailCache struct {
	q    Queries
	seen map[string]string
}

func (c *staffEmailCache) open(staffID string, sealed []byte, legacy sql.NullString) (string, error) {
	if email, ok := c.seen[staffID]; ok {
		return email, nil
	}
	if sealed == nil && !legacy.Valid {
		return "", nil // the account no longer exists
	}
	email := c.q.reportStaffEmail(sealed, legacy.String)
	if c.seen == nil {
		c.seen = map[string]string{}
	}
	c.seen[staffID] = email
	return email, nil
}

// SealStaffEmails seals the address of every staff row that still holds it
// in plaintext (installs older than migration 00012), and overwrites the
// old column with the account's ID. SQL cannot seal, so kakunin runs this
// at every start, with the keys; it does nothing once every row is sealed.
// It returns how many rows it sealed.
func (db *DB) SealStaffEmails(ctx context.Context) (int, error) {
	if db.emails == nil {
		return 0, errNoStaffEmails
	}
	n := 0
	err := db.WithTx(ctx, func(tx *Tx) error {
		rows, err := tx.q.QueryContext(ctx, `SELECT id, email FROM staff WHERE email_sealed IS NULL`)
		if err != nil {
			return err
		}
		type row struct{ id, email string }
		var todo []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.id, &r.email); err != nil {
				rows.Close()
				return err
			}
			todo = append(todo, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, r := range todo {
			sealed, index, err := tx.sealStaffEmail(r.email)
			if err != nil {
				return err
			}
			if _, err := tx.q.ExecContext(ctx, `UPDATE staff SET email_sealed = $2, email_index = $3, email = $1 WHERE id = $1`,
				r.id, sealed, index); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("seal staff addresses: %w", err)
	}
	return n, nil
}

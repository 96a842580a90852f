package verification_test

import (
	"context"
	"testing"

	"github.com/kakunin/kakunin/internal/servicetest"
)

// env is the verification service over a real database and vault, its jobs
// recorded but never inserted.
type env struct {
	*servicetest.Env
	t   *testing.T
	ctx context.Context
}

var start = servicetest.Start

const publicURL = servicetest.PublicURL

func newEnv(t *testing.T, dsn string) *env {
	t.Helper()
	return &env{Env: servicetest.New(t, dsn, servicetest.Options{}), t: t, ctx: t.Context()}
}

// row is a member's stored address, as raw column bytes.
func (e *env) row(externalID string) (sealed, index []byte) {
	e.t.Helper()
	err := e.DB.SQL().QueryRowContext(e.ctx, `SELECT email_sealed, email_index FROM members WHERE external_id = $1`, externalID).Scan(&sealed, &index)
	if err != nil {
		e.t.Fatalf("member row %s: %v", externalID, err)
	}
	return sealed, index
}

func (e *env) countMembers() int {
	e.t.Helper()
	var n int
	if err := e.DB.SQL().QueryRowContext(e.ctx, `SELECT COUNT(*) FROM members`).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

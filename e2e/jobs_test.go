package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kakunin/kakunin/internal/store"
)

// waitJobsFinished waits until River has finished every job of these kinds
// the instance enqueued (completed, discarded or cancelled), and at least
// one exists. A job that mails has had the mail accepted before it returns,
// so afterwards everything such a job sent is at the mail sink: the jobs'
// own end is the sentinel for "nothing else was sent", where a sleep would
// only guess how long is long enough.
func (in *instance) waitJobsFinished(t testing.TB, timeout time.Duration, kinds ...string) {
	t.Helper()
	dsn := in.Database
	if dsn == "" {
		dsn = filepath.Join(in.Data, "kakunin.db")
	}
	db, _, err := store.OpenSQL(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	marks := make([]string, len(kinds))
	args := make([]any, len(kinds))
	for i, k := range kinds {
		marks[i], args[i] = fmt.Sprintf("$%d", i+1), k
	}
	query := `SELECT COUNT(*), COALESCE(SUM(CASE WHEN state IN ('completed', 'discarded', 'cancelled') THEN 0 ELSE 1 END), 0)
		FROM river_job WHERE kind IN (` + strings.Join(marks, ", ") + `)`
	var total, open int
	waitFor(t, "the "+strings.Join(kinds, ", ")+" jobs to finish", timeout, func() bool {
		if err := db.QueryRowContext(t.Context(), query, args...).Scan(&total, &open); err != nil {
			t.Fatalf("count jobs: %v", err)
		}
		return total > 0 && open == 0
	})
}

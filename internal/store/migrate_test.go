package store_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

// Replicas starting together each open the database and migrate it: every
// one starts, and each migration is applied once.
func TestReplicasMigratingAtOnceApplyEachMigrationOnce(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		const replicas = 4
		var wg sync.WaitGroup
		dbs := make([]*store.DB, replicas)
		errs := make([]error, replicas)
		for i := range replicas {
			wg.Go(func() { dbs[i], errs[i] = store.Open(context.Background(), dsn) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("replica %d: %v", i, err)
			}
			defer dbs[i].Close()
		}
		var rows, versions int
		err := dbs[0].SQL().QueryRow(`SELECT COUNT(*), COUNT(DISTINCT version_id) FROM goose_db_version WHERE version_id > 0`).Scan(&rows, &versions)
		if err != nil {
			t.Fatal(err)
		}
		if rows != versions || versions == 0 {
			t.Fatalf("%d version rows for %d migrations: some ran twice", rows, versions)
		}
	})
}

func TestTheMigrationLockIsExclusive(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		a, b := openTest(t, dsn), openTest(t, dsn)
		ctx := context.Background()
		err := a.WithMigrationLock(ctx, func(ctx context.Context) error {
			wait, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			defer cancel()
			entered := false
			err := b.WithMigrationLock(wait, func(context.Context) error { entered = true; return nil })
			if entered || err == nil {
				t.Errorf("a second holder got the lock while the first held it (err %v)", err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		// Released: the other takes it at once.
		if err := b.WithMigrationLock(ctx, func(context.Context) error { return nil }); err != nil {
			t.Fatalf("lock after release: %v", err)
		}
	})
}

// A replica with an older binary refuses a database a newer one migrated,
// saying so, and changes nothing.
func TestAnOlderBinaryRefusesANewerSchema(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		db := openTest(t, dsn)
		if _, err := db.SQL().Exec(`INSERT INTO goose_db_version (version_id, is_applied) VALUES (99999, true)`); err != nil {
			t.Fatal(err)
		}
		_, err := store.Open(context.Background(), dsn)
		if !errors.Is(err, store.ErrSchemaNewer) {
			t.Fatalf("open: %v, want ErrSchemaNewer", err)
		}
		if !strings.Contains(err.Error(), "99999") || !strings.Contains(err.Error(), "newer kakunin") {
			t.Errorf("message does not say what is wrong: %v", err)
		}
	})
}

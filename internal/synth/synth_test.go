package synth_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/incident"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/store/storetest"
	"github.com/kakunin/kakunin/internal/synth"
)

var seedEnd = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func seedSmall(t *testing.T, db *store.DB, seed uint64, force bool) *synth.Result {
	t.Helper()
	res, err := synth.Seed(context.Background(), db, synth.Options{
		Documents: 1500, Reviewers: 4, Days: 60, End: seedEnd, Seed: seed, Force: force})
	if err != nil {
		t.Fatalf("seed: %v", err)
	}
	return res
}

func affected(t *testing.T, db *store.DB, q incident.Query) []string {
	t.Helper()
	var ids []string
	must(t, incident.AffectedMembers(context.Background(), db, q, func(ext string) error {
		ids = append(ids, ext)
		return nil
	}))
	return ids
}

func TestSeededHistoryIsWhatScopeFinds(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		db := openDB(t, dsn)
		ctx := context.Background()
		res := seedSmall(t, db, 7, false)
		if res.Documents != 1500 || res.Verifications != 1500 || res.Members != 1200 || res.Staff != 4 {
			t.Fatalf("seeded %+v, want 1500 documents and verifications, 1200 members, 4 reviewers", res)
		}
		if res.Waiting == 0 || res.Retained == 0 || res.Destroyed == 0 || res.MembersLeft == 0 || res.EpochsDestroyed == 0 || res.Reads == 0 {
			t.Errorf("the history lacks a part of its shape: %+v", res)
		}
		if res.Waiting+res.Live+res.Retained+res.Destroyed != res.Documents {
			t.Errorf("lifecycle counts %+v do not add up to the documents", res)
		}

		// Over the whole history every document existed, and every one was
		// readable at first: its key and its day's key were destroyed
		// only after it arrived.
		all := incident.Query{From: res.Start.Add(-time.Hour), To: res.End, KeysExposed: true}
		r, err := incident.Scope(ctx, db, all)
		must(t, err)
		if r.Documents.Existing != 1500 || r.Documents.Readable != 1500 {
			t.Errorf("whole history: %+v, want all 1500 existing and readable", r.Documents.Count)
		}
		if want := (incident.MemberCount{Total: 1200, LeftBeforeEnd: int64(res.MembersLeft)}); r.Members != want {
			t.Errorf("whole history members = %+v, want %+v", r.Members, want)
		}
		if r.ReadsTotal != int64(res.Reads) {
			t.Errorf("whole history reads = %d, want the %d seeded", r.ReadsTotal, res.Reads)
		}
		var staffReads int64
		for _, s := range r.Staff {
			staffReads += s.Reads
		}
		if len(r.Staff) != 4 || staffReads != r.ReadsTotal {
			t.Errorf("%d staff with %d reads, want 4 with %d", len(r.Staff), staffReads, r.ReadsTotal)
		}
		ids := affected(t, db, all)
		if len(ids) != 1200 || !slices.IsSorted(ids) || len(slices.Compact(slices.Clone(ids))) != 1200 {
			t.Errorf("affected members: %d, sorted %v; want 1200 distinct, sorted", len(ids), slices.IsSorted(ids))
		}

		// At the very end only what is still kept exists, and it is all
		// readable, since a day's key goes only once all its documents
		// have; the orphaned blobs exist but their keys are gone.
		end := incident.Query{From: res.End.Add(-time.Microsecond), To: res.End, KeysExposed: true}
		r, err = incident.Scope(ctx, db, end)
		must(t, err)
		kept := int64(res.Waiting + res.Live + res.Retained)
		if r.Documents.Existing != kept+int64(res.OrphanBlobs) || r.Documents.Readable != kept {
			t.Errorf("at the end: %+v, want %d existing (%d kept, %d orphaned blobs) and %d readable",
				r.Documents.Count, kept+int64(res.OrphanBlobs), kept, res.OrphanBlobs, kept)
		}
	})
}

func TestSeedRefusesADatabaseWithMembersUnlessForced(t *testing.T) {
	db := openDB(t, storetest.SQLiteDSN(t))
	ctx := context.Background()
	seedSmall(t, db, 1, false)
	_, err := synth.Seed(ctx, db, synth.Options{Documents: 10, End: seedEnd, Seed: 2})
	if kakunin.ErrorCode(err) != kakunin.ECONFLICT {
		t.Fatalf("second seed without force: %v, want a conflict", err)
	}
	res := seedSmall(t, db, 2, true)
	r, err := incident.Scope(ctx, db, incident.Query{From: res.Start.Add(-time.Hour), To: res.End, KeysExposed: true})
	must(t, err)
	if r.Documents.Existing != 3000 || r.Documents.Readable != 3000 {
		t.Errorf("after a forced second seed: %+v, want 3000 existing and readable", r.Documents.Count)
	}
}

func TestSeedRepeatsItselfFromTheSameSeed(t *testing.T) {
	a, b := openDB(t, storetest.SQLiteDSN(t)), openDB(t, storetest.SQLiteDSN(t))
	ra, rb := seedSmall(t, a, 42, false), seedSmall(t, b, 42, false)
	ra.Took, rb.Took = 0, 0
	if *ra != *rb {
		t.Errorf("same seed, different histories:\n%+v\n%+v", ra, rb)
	}
	q := incident.Query{From: seedEnd.AddDate(0, 0, -20), To: seedEnd.AddDate(0, 0, -10)}
	if la, lb := affected(t, a, q), affected(t, b, q); len(la) == 0 || !slices.Equal(la, lb) {
		t.Errorf("same seed, different affected members (%d and %d)", len(la), len(lb))
	}
}

func TestSeedLeavesTheConnectionAsItFoundIt(t *testing.T) {
	db := openDB(t, storetest.SQLiteDSN(t))
	ctx := context.Background()
	pragmas := func() (fk, cache, temp int) {
		for _, p := range []struct {
			name string
			v    *int
		}{{"foreign_keys", &fk}, {"cache_size", &cache}, {"temp_store", &temp}} {
			must(t, db.SQL().QueryRowContext(ctx, "PRAGMA "+p.name).Scan(p.v))
		}
		return
	}
	fk, cache, temp := pragmas()
	if fk != 1 {
		t.Fatalf("foreign_keys = %d before seeding, want 1 (store.Open sets it)", fk)
	}
	seedSmall(t, db, 3, false)
	if f2, c2, t2 := pragmas(); f2 != fk || c2 != cache || t2 != temp {
		t.Errorf("after seeding foreign_keys, cache_size, temp_store = %d, %d, %d; want %d, %d, %d as before", f2, c2, t2, fk, cache, temp)
	}
}

func TestSeedRefusesNonsense(t *testing.T) {
	db := openDB(t, storetest.SQLiteDSN(t))
	for _, o := range []synth.Options{
		{},
		{Documents: 10, Members: 11},
		{Documents: 10, Days: -1},
	} {
		if _, err := synth.Seed(context.Background(), db, o); kakunin.ErrorCode(err) != kakunin.EINVALID {
			t.Errorf("Seed(%+v) = %v, want invalid", o, err)
		}
	}
}

func openDB(t *testing.T, dsn string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

package document_test

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/blobstore"
	"github.com/kakunin/kakunin/internal/blobstore/blobstoretest"
	"github.com/kakunin/kakunin/internal/incident"
	"github.com/kakunin/kakunin/internal/store/storetest"
	"github.com/kakunin/kakunin/internal/vault"
)

func (e *env) pendingRows() int {
	e.t.Helper()
	var n int
	if err := e.DB.SQL().QueryRowContext(e.ctx, `SELECT COUNT(*) FROM pending_uploads`).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// scope is the incident scope of the whole history up to now, the blob
// store listed.
func (e *env) scope() *incident.Report {
	e.t.Helper()
	q := incident.Query{From: start.Add(-24 * time.Hour), To: e.Clock.Now().Add(time.Minute)}
	rep, err := incident.ScopeWithBlobs(e.ctx, e.DB, e.Documents, q)
	if err != nil {
		e.t.Fatalf("scope: %v", err)
	}
	return rep
}

// crashAfterStore is a process dying at the worst moment of an upload: the
// ciphertext's final rename is done (Store returned), the record's insert
// (Commit) never runs, nor does any clean-up.
func (e *env) crashAfterStore(v *kakunin.Verification, img []byte) string {
	e.t.Helper()
	p, err := e.Documents.Store(e.ctx, v, bytes.NewReader(img))
	if err != nil {
		e.t.Fatalf("store: %v", err)
	}
	if !e.blobExists(p.BlobKey) {
		e.t.Fatal("test premise: Store wrote no blob")
	}
	return p.BlobKey
}

func TestACrashBetweenTheBlobAndItsRecordIsCountedByTheScopeAndSweptAfterTheGrace(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		m := e.member("crash@example.jp")
		key := e.crashAfterStore(e.verification(m), sample(t, 0))

		// Before the sweep, the scope sees the ciphertext and whose it is.
		u := e.scope().Unclaimed
		if u.PendingUploads != 1 || u.PendingMembers != 1 || u.PendingMemberUnknown != 0 || !u.BlobsListed || u.OrphanBlobs != 0 {
			t.Fatalf("scope unclaimed = %+v, want 1 pending upload of 1 member, no orphan blob", u)
		}

		// An upload may still be streaming within the grace: kept.
		if rep := e.sweepAt(start.Add(30 * time.Minute)); rep.UploadsAbandoned != 0 || !e.blobExists(key) {
			t.Fatalf("sweep within the grace = %+v, blob kept %t; want the upload left alone", rep, e.blobExists(key))
		}

		rep := e.sweepAt(start.Add(61 * time.Minute))
		if rep.UploadsAbandoned != 1 {
			t.Errorf("UploadsAbandoned = %d, want 1", rep.UploadsAbandoned)
		}
		if files := e.blobFiles(); len(files) != 0 {
			t.Errorf("blob files after the sweep: %v, want none", files)
		}
		if n := e.pendingRows(); n != 0 {
			t.Errorf("%d pending rows after the sweep, want 0", n)
		}
		if u := e.scope().Unclaimed; u.PendingUploads != 0 || u.OrphanBlobs != 0 {
			t.Errorf("scope unclaimed after the sweep = %+v, want nothing", u)
		}
	})
}

func TestAnUploadCommittingAfterTheSweepAbandonedItFailsAndRecordsNothing(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		v := e.verificationExpiring(e.member("slow@example.jp"), start.Add(24*time.Hour))
		p, err := e.Documents.Store(e.ctx, v, bytes.NewReader(sample(t, 0)))
		if err != nil {
			t.Fatal(err)
		}
		if rep := e.sweepAt(start.Add(61 * time.Minute)); rep.UploadsAbandoned != 1 {
			t.Fatalf("UploadsAbandoned = %d, want 1", rep.UploadsAbandoned)
		}
		if d, err := e.Documents.Commit(e.ctx, p, v, kakunin.DocPassport); err == nil {
			t.Fatalf("Commit after abandonment = %+v, want an error (its blob is gone)", d)
		}
		if n := e.countDocuments(); n != 0 {
			t.Errorf("%d document rows, want 0", n)
		}
		if got := e.status(v.ID); got != kakunin.StatusAwaitingUpload {
			t.Errorf("status = %s, want awaiting_upload (the member may try again)", got)
		}
		if files := e.blobFiles(); len(files) != 0 {
			t.Errorf("blob files left: %v", files)
		}
	})
}

func TestCommittedAndDiscardedUploadsLeaveNoPendingRow(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		_, _, d := e.submitted(sample(t, 0))
		v := e.verification(e.member("bad@example.jp"))
		if _, err := e.Documents.Store(e.ctx, v, bytes.NewReader([]byte("not an image"))); err == nil {
			t.Fatal("Store accepted a non-image")
		}
		p, err := e.Documents.Store(e.ctx, v, bytes.NewReader(sample(t, 1)))
		if err != nil {
			t.Fatal(err)
		}
		e.Documents.Discard(e.ctx, p)
		if n := e.pendingRows(); n != 0 {
			t.Errorf("%d pending rows, want 0", n)
		}
		if files := e.blobFiles(); len(files) != 1 || files[0] != d.BlobKey {
			t.Errorf("blob files = %v, want only %s", files, d.BlobKey)
		}
		if u := e.scope().Unclaimed; u.PendingUploads != 0 || u.OrphanBlobs != 0 {
			t.Errorf("scope unclaimed = %+v, want nothing", u)
		}
	})
}

func TestABlobNoRecordClaimsIsCountedAndDeletedOnceItsDayHasClosed(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		_, _, kept := e.submitted(sample(t, 0))
		// What an older version's crash left: a blob and no row of any kind.
		orphan := "documents/" + vault.EpochOf(start) + "/doc_orphan"
		err := e.Blobs.Put(e.ctx, orphan, func(w io.Writer) error { _, err := w.Write([]byte("ciphertext")); return err })
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(filepath.Join(e.BlobDir, orphan), start, start); err != nil {
			t.Fatal(err)
		}

		if u := e.scope().Unclaimed; u.OrphanBlobs != 1 || u.PendingUploads != 0 {
			t.Fatalf("scope unclaimed = %+v, want 1 orphan blob", u)
		}
		if u := mustScope(t, e).Unclaimed; u.BlobsListed {
			t.Errorf("Scope without blobs says it listed them: %+v", u)
		}

		// The day is still open: not listed yet.
		if rep := e.sweepAt(start.Add(2 * time.Hour)); rep.OrphansDeleted != 0 {
			t.Fatalf("OrphansDeleted on the same day = %d, want 0", rep.OrphansDeleted)
		}
		next := time.Date(2026, 11, 25, 1, 30, 0, 0, time.UTC)
		if rep := e.sweepAt(next); rep.OrphansDeleted != 1 {
			t.Errorf("OrphansDeleted after the day closed = %d, want 1", rep.OrphansDeleted)
		}
		if e.blobExists(orphan) {
			t.Error("orphan blob kept")
		}
		if !e.blobExists(kept.BlobKey) {
			t.Error("a recorded document's blob was deleted")
		}
		if u := e.scope().Unclaimed; u.OrphanBlobs != 0 {
			t.Errorf("scope unclaimed after the sweep = %+v, want no orphan", u)
		}
	})
}

func mustScope(t *testing.T, e *env) *incident.Report {
	t.Helper()
	rep, err := incident.Scope(e.ctx, e.DB, incident.Query{From: start.Add(-time.Hour), To: e.Clock.Now()})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestADayKeyIsKeptWhileAnUploadBegunThatDayMayStillCommit(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		e.Documents.AbandonAfter = 3 * time.Hour
		late := time.Date(2026, 11, 24, 23, 30, 0, 0, time.UTC)
		e.Clock.Set(late)
		v := e.verificationExpiring(e.member("midnight@example.jp"), late.Add(24*time.Hour))
		img := sample(t, 0)
		p, err := e.Documents.Store(e.ctx, v, bytes.NewReader(img))
		if err != nil {
			t.Fatal(err)
		}
		// Past the day's grace hour, within the upload's: the day has no
		// document yet, but its key must stay for the upload to commit.
		rep := e.sweepAt(time.Date(2026, 11, 25, 1, 30, 0, 0, time.UTC))
		if len(rep.EpochsDestroyed) != 0 || rep.UploadsAbandoned != 0 {
			t.Fatalf("sweep = %+v, want the pending upload and its day key kept", rep)
		}
		d, err := e.Documents.Commit(e.ctx, p, v, kakunin.DocPassport)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Documents.Open(e.ctx, e.doc(d.ID)); err != nil {
			t.Fatalf("the committed upload does not open: %v", err)
		}
	})
}

func TestOnS3APendingUploadAndAnOrphanBlobAreCountedThenDeleted(t *testing.T) {
	url := blobstoretest.S3URL(t)
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		s3, err := blobstore.Open(e.ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer s3.Close()
		e.Documents.Blobs = s3
		// The bucket stamps objects with the real time: so does the clock here.
		now := time.Now().UTC()
		e.Clock.Set(now)
		v := e.verificationExpiring(e.member("s3@example.jp"), now.Add(72*time.Hour))
		p, err := e.Documents.Store(e.ctx, v, bytes.NewReader(sample(t, 0)))
		if err != nil {
			t.Fatal(err)
		}
		orphan := "documents/" + vault.EpochOf(now) + "/doc_orphan_" + kakunin.NewID("x")
		if err := s3.Put(e.ctx, orphan, func(w io.Writer) error { _, err := w.Write([]byte("ciphertext")); return err }); err != nil {
			t.Fatal(err)
		}
		u := e.scope().Unclaimed
		if u.PendingUploads != 1 || u.OrphanBlobs != 1 {
			t.Fatalf("scope unclaimed = %+v, want 1 pending upload and 1 orphan blob", u)
		}
		rep := e.sweepAt(now.Add(26 * time.Hour))
		if rep.UploadsAbandoned != 1 || rep.OrphansDeleted != 1 {
			t.Errorf("sweep = %+v, want 1 upload abandoned and 1 orphan deleted", rep)
		}
		for _, key := range []string{p.BlobKey, orphan} {
			if ok, err := s3.Exists(e.ctx, key); err != nil || ok {
				t.Errorf("%s still in the bucket (%v)", key, err)
			}
		}
	})
}

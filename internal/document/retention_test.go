package document_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/document"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/store/storetest"
	"github.com/kakunin/kakunin/internal/vault"
)

func (e *env) sweepAt(at time.Time) *document.SweepReport {
	e.t.Helper()
	e.Clock.Set(at)
	rep, err := e.Documents.Sweep(e.ctx)
	if err != nil {
		e.t.Fatalf("sweep at %v: %v", at, err)
	}
	return rep
}

func (e *env) epochs() []string {
	e.t.Helper()
	ep, err := e.Vault.Epochs(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	return ep
}

func (e *env) epochDestroyedAt(epoch string) *time.Time {
	e.t.Helper()
	at, err := e.DB.EpochDestroyedAt(e.ctx, epoch)
	if err != nil {
		e.t.Fatal(err)
	}
	return at
}

// openBackup decrypts a document from a copy of its row and blob taken
// before it was destroyed, as an attacker holding a backup would.
func (e *env) openBackup(docID, epoch string, wrapped, blob []byte) ([]byte, error) {
	r, err := e.Vault.OpenDocument(e.ctx, docID, epoch, wrapped, bytes.NewReader(blob))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

func TestSweepDestroysDueImagesAndShredsADayOnlyAfterItsGraceHour(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		day1, day2 := vault.EpochOf(start), vault.EpochOf(start.Add(24*time.Hour))

		// Day 1, 09:00: A waits for review for 6 hours; D's destruction
		// was interrupted after its key was forgotten; two upload links.
		e.Documents.RetainUnreviewed = 6 * time.Hour
		_, vA, a := e.submitted(sample(t, 0))
		_, _, d := e.submitted(sample(t, 1))
		if ok, err := e.DB.DestroyDocumentKey(e.ctx, d.ID, start); err != nil || !ok {
			t.Fatalf("forget D's key: %v %v", ok, err)
		}
		lapsing := e.verificationExpiring(e.member("lapse@example.jp"), start.Add(time.Hour))
		lasting := e.verificationExpiring(e.member("last@example.jp"), start.Add(30*time.Hour))

		// The backup an attacker might hold: A's row and blob as they are now.
		backupKey := slices.Clone(a.WrappedKey)
		backupBlob := e.blobBytes(a.BlobKey)
		plainA, err := e.Documents.Open(e.ctx, e.doc(a.ID))
		if err != nil {
			t.Fatal(err)
		}

		rep := e.sweepAt(time.Date(2026, 11, 24, 16, 0, 0, 0, time.UTC))
		if rep.LinksExpired != 1 || rep.ImagesDestroyed != 1 || rep.BlobsDeleted != 1 || len(rep.EpochsDestroyed) != 0 {
			t.Errorf("day-1 sweep = %+v, want 1 link expired, 1 image destroyed, 1 blob deleted, no epoch", rep)
		}
		if r := e.row(a.ID); r.wrappedKey != nil || r.destroyedAt == nil || e.blobExists(a.BlobKey) {
			t.Errorf("A not destroyed: %+v", r)
		}
		if r := e.row(d.ID); r.blobDeletedAt == nil || e.blobExists(d.BlobKey) {
			t.Errorf("D's leftover blob not deleted: %+v, exists=%v", r, e.blobExists(d.BlobKey))
		}
		if st := e.status(lapsing.ID); st != kakunin.StatusExpired {
			t.Errorf("lapsed link status = %s, want expired", st)
		}
		if st := e.status(lasting.ID); st != kakunin.StatusAwaitingUpload {
			t.Errorf("live link status = %s, want awaiting_upload", st)
		}
		if st := e.status(vA.ID); st != kakunin.StatusExpired {
			t.Errorf("A's verification status = %s, want expired", st)
		}
		for _, id := range []string{lapsing.ID, vA.ID} {
			if n, _ := e.events.calls(id); n != 1 {
				t.Errorf("verification %s ended %d times, want once", id, n)
			}
		}
		if len(e.blobFiles()) != 0 {
			t.Errorf("blob files left: %v", e.blobFiles())
		}
		// Until the day's key goes, a backup still opens: this is what
		// epoch destruction is for.
		if got, err := e.openBackup(a.ID, a.Epoch, backupKey, backupBlob); err != nil || !bytes.Equal(got, plainA) {
			t.Fatalf("test premise: the backup does not open before the epoch is destroyed: %v", err)
		}
		if !slices.Contains(e.epochs(), day1) {
			t.Fatalf("epoch %s destroyed on its own day: %v", day1, e.epochs())
		}

		// Day 2, 00:30: C arrives and is kept for 30 days.
		e.Clock.Set(time.Date(2026, 11, 25, 0, 30, 0, 0, time.UTC))
		e.Documents.RetainUnreviewed = 30 * 24 * time.Hour
		_, _, c := e.submitted(sample(t, 2))
		if c.Epoch != day2 {
			t.Fatalf("C's epoch = %s, want %s", c.Epoch, day2)
		}

		// One second before the grace hour ends, day 1 stays.
		rep = e.sweepAt(time.Date(2026, 11, 25, 0, 59, 59, 0, time.UTC))
		if len(rep.EpochsDestroyed) != 0 || !slices.Contains(e.epochs(), day1) || e.epochDestroyedAt(day1) != nil {
			t.Fatalf("epoch %s destroyed within its grace hour: %+v, keys %v", day1, rep, e.epochs())
		}

		graceEnd := time.Date(2026, 11, 25, 1, 0, 0, 0, time.UTC)
		rep = e.sweepAt(graceEnd)
		if !slices.Equal(rep.EpochsDestroyed, []string{day1}) {
			t.Fatalf("sweep after the grace hour destroyed %v, want [%s]", rep.EpochsDestroyed, day1)
		}
		if got := e.epochs(); !slices.Equal(got, []string{day2}) {
			t.Errorf("vault epochs = %v, want [%s]", got, day2)
		}
		if at := e.epochDestroyedAt(day1); at == nil || !at.Equal(graceEnd) {
			t.Errorf("epochs.destroyed_at of %s = %v, want %v", day1, at, graceEnd)
		}
		if _, err := os.Stat(filepath.Join(e.KeyDir, "epochs", day1+".json")); !os.IsNotExist(err) {
			t.Errorf("key file of %s still exists: %v", day1, err)
		}

		// Crypto-shredding: the backup no longer opens, by any road.
		if _, err := e.openBackup(a.ID, a.Epoch, backupKey, backupBlob); !errors.Is(err, vault.ErrKeyDestroyed) {
			t.Fatalf("backup of A after its epoch was destroyed: %v, want ErrKeyDestroyed", err)
		}
		restored := *e.doc(a.ID)
		restored.WrappedKey, restored.DestroyedAt = backupKey, nil
		if err := e.Blobs.Put(e.ctx, a.BlobKey, func(w io.Writer) error { _, err := w.Write(backupBlob); return err }); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Documents.Open(e.ctx, &restored); kakunin.ErrorCode(err) != kakunin.EGONE {
			t.Fatalf("Open of A restored from backup = %v, want EGONE", err)
		}
		if err := e.Blobs.Delete(e.ctx, a.BlobKey); err != nil {
			t.Fatal(err)
		}

		// Weeks later C is still within its retention: its day stays.
		rep = e.sweepAt(time.Date(2026, 12, 20, 12, 0, 0, 0, time.UTC))
		if rep.ImagesDestroyed != 0 || len(rep.EpochsDestroyed) != 0 || !slices.Contains(e.epochs(), day2) {
			t.Fatalf("sweep with C live = %+v, keys %v; want nothing destroyed", rep, e.epochs())
		}
		if _, err := e.Documents.Open(e.ctx, e.doc(c.ID)); err != nil {
			t.Fatalf("C no longer opens: %v", err)
		}

		// When C's time comes, C and then its day go in the same sweep.
		rep = e.sweepAt(time.Date(2026, 12, 26, 0, 0, 0, 0, time.UTC))
		if rep.ImagesDestroyed != 1 || !slices.Equal(rep.EpochsDestroyed, []string{day2}) {
			t.Fatalf("sweep after C's retention = %+v, want C and epoch %s destroyed", rep, day2)
		}
		if got := e.epochs(); len(got) != 0 {
			t.Errorf("vault epochs = %v, want none", got)
		}

		// A sweep with nothing to do does nothing.
		rep = e.sweepAt(time.Date(2026, 12, 26, 0, 0, 0, 0, time.UTC))
		if rep.Total() != 0 {
			t.Errorf("idle sweep = %+v, want nothing done", rep)
		}
	})
}

func TestSweepRemovesOnlyTempFilesOlderThanAnHour(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		dir := filepath.Join(e.BlobDir, "documents", vault.EpochOf(start))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		stale, fresh := filepath.Join(dir, "doc_a.123.tmp"), filepath.Join(dir, "doc_b.456.tmp")
		for f, age := range map[string]time.Duration{stale: 2 * time.Hour, fresh: 10 * time.Minute} {
			if err := os.WriteFile(f, []byte("ciphertext"), 0o600); err != nil {
				t.Fatal(err)
			}
			mt := start.Add(-age)
			if err := os.Chtimes(f, mt, mt); err != nil {
				t.Fatal(err)
			}
		}
		rep := e.sweepAt(start)
		if rep.TempFilesRemoved != 1 {
			t.Errorf("TempFilesRemoved = %d, want 1", rep.TempFilesRemoved)
		}
		if _, err := os.Stat(stale); !os.IsNotExist(err) {
			t.Errorf("stale temp file kept: %v", err)
		}
		if _, err := os.Stat(fresh); err != nil {
			t.Errorf("fresh temp file removed: %v", err)
		}
	})
}

// flakyEvents fails its first failures announcements, then records.
type flakyEvents struct {
	endedEvents
	failures int
}

func (f *flakyEvents) VerificationEnded(ctx context.Context, tx *store.Tx, v *kakunin.Verification) error {
	f.mu.Lock()
	fail := f.failures > 0
	if fail {
		f.failures--
	}
	f.mu.Unlock()
	if fail {
		return errAnnounce
	}
	return f.endedEvents.VerificationEnded(ctx, tx, v)
}

func TestALapsedLinkIsAnnouncedEvenWhenTheFirstAnnouncementFails(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		events := &flakyEvents{failures: 1}
		e.Documents.Events = events
		v := e.verificationExpiring(e.member("lapse@example.jp"), start.Add(time.Hour))

		e.Clock.Set(start.Add(2 * time.Hour))
		if _, err := e.Documents.Sweep(e.ctx); !errors.Is(err, errAnnounce) {
			t.Fatalf("first sweep = %v, want the announcement's error", err)
		}
		// The host must still hear of it: the next sweep should retry.
		e.sweepAt(start.Add(3 * time.Hour))
		if n, _ := events.calls(v.ID); n != 1 {
			t.Fatalf("the end of lapsed verification %s was announced %d times, want 1 (status now %s): "+
				"a failed announcement must roll the expiry back so the next sweep retries it (invariant 8)", v.ID, n, e.status(v.ID))
		}
	})
}

// TestSweepDestroysABacklogInBatchesAndLeavesNothingBehind gives the sweep
// more due documents than one of its transactions takes: every one loses
// its key, its blob and its verification, each is audited and announced
// once, and a second sweep finds nothing left.
func TestSweepDestroysABacklogInBatchesAndLeavesNothingBehind(t *testing.T) {
	if testing.Short() {
		t.Skip("uploads 105 documents on each engine")
	}
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		e.Documents.RetainUnreviewed = time.Hour
		const n = 105 // one batch of 100, then five
		img := sample(t, 0)
		var docs []*store.DocumentRecord
		var vers []*kakunin.Verification
		for range n {
			_, v, d := e.submitted(img)
			docs, vers = append(docs, d), append(vers, v)
		}
		rep := e.sweepAt(start.Add(2 * time.Hour))
		if rep.ImagesDestroyed != n || rep.BlobsDeleted != 0 {
			t.Fatalf("sweep destroyed %d images and finished %d interrupted deletions, want %d and 0", rep.ImagesDestroyed, rep.BlobsDeleted, n)
		}
		for i, d := range docs {
			got := e.doc(d.ID)
			if got.WrappedKey != nil || got.DestroyedAt == nil {
				t.Fatalf("document %d kept its key: destroyed_at %v", i, got.DestroyedAt)
			}
			if e.blobExists(d.BlobKey) {
				t.Fatalf("document %d's blob is still stored", i)
			}
			if st := e.status(vers[i].ID); st != kakunin.StatusExpired {
				t.Fatalf("document %d's verification is %s, want expired", i, st)
			}
			if c, _ := e.events.calls(vers[i].ID); c != 1 {
				t.Fatalf("document %d's verification was announced %d times, want once", i, c)
			}
		}
		evs, err := e.Audit.List(e.ctx, audit.Filter{Action: audit.DocumentDestroyed, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != n {
			t.Fatalf("%d document.destroyed events, want %d", len(evs), n)
		}
		if left, err := e.DB.BlobsToDelete(e.ctx, 10); err != nil || len(left) != 0 {
			t.Fatalf("blobs left to delete: %d (%v)", len(left), err)
		}
		if again := e.sweepAt(start.Add(3 * time.Hour)); again.ImagesDestroyed != 0 || again.BlobsDeleted != 0 {
			t.Fatalf("a second sweep destroyed %d and deleted %d more", again.ImagesDestroyed, again.BlobsDeleted)
		}
	})
}

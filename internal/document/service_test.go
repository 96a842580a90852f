package document_test

import (
	"bytes"
	"context"
	"errors"
	"image/jpeg"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/intake"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

func TestAnUploadIsStoredOnlyAsCiphertextAndOpensAsTheSanitisedImage(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		upload := withMetadata(sample(t, 0))
		var sanitised bytes.Buffer
		if _, err := intake.Sanitize(e.ctx, bytes.NewReader(upload), &sanitised, e.Documents.Limits); err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(sanitised.Bytes(), []byte(secretMetadata)) {
			t.Fatal("test premise: intake kept the metadata")
		}

		_, v, d := e.submitted(upload)

		if got := e.status(v.ID); got != kakunin.StatusSubmitted {
			t.Errorf("verification status = %s, want submitted", got)
		}
		stored := e.doc(d.ID)
		if stored.WrappedKey == nil || stored.DestroyedAt != nil || stored.Size != int64(sanitised.Len()) {
			t.Errorf("document row = %+v, want a live document of %d bytes", stored, sanitised.Len())
		}
		if want := start.Add(72 * time.Hour); !stored.DestroyAfter.Equal(want) {
			t.Errorf("destroy_after = %v, want received + RetainUnreviewed = %v", stored.DestroyAfter, want)
		}
		if files := e.blobFiles(); len(files) != 1 || files[0] != d.BlobKey {
			t.Fatalf("blob files = %v, want exactly [%s]", files, d.BlobKey)
		}
		ct := e.blobBytes(d.BlobKey)
		if bytes.Contains(ct, sanitised.Bytes()[:64]) || bytes.Equal(ct[:3], []byte{0xFF, 0xD8, 0xFF}) {
			t.Error("the blob starts like the plaintext JPEG")
		}
		all := append(needles(sanitised.Bytes()), needles(upload)...)
		all = append(all, []byte(secretMetadata))
		if hits := e.filesContaining(all...); len(hits) > 0 {
			t.Fatalf("plaintext found at rest in %v", hits)
		}

		got, err := e.Documents.Open(e.ctx, stored)
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		if !bytes.Equal(got, sanitised.Bytes()) {
			t.Fatalf("open returned %d bytes that differ from the %d sanitised bytes", len(got), sanitised.Len())
		}
		samePixels(t, got, upload)

		// The scan itself sees plaintext where there is some.
		if err := os.WriteFile(filepath.Join(e.Dir, "tmp", "leak"), got, 0o600); err != nil {
			t.Fatal(err)
		}
		if hits := e.filesContaining(needles(sanitised.Bytes())...); len(hits) != 1 {
			t.Fatalf("the plaintext scan found %v, want only the planted file", hits)
		}
	})
}

// samePixels checks that a and b decode as the same image, pixel for pixel.
func samePixels(t *testing.T, a, b []byte) {
	t.Helper()
	ia, err := jpeg.Decode(bytes.NewReader(a))
	if err != nil {
		t.Fatalf("decode opened image: %v", err)
	}
	ib, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("decode upload: %v", err)
	}
	if ia.Bounds() != ib.Bounds() {
		t.Fatalf("bounds %v, want %v", ia.Bounds(), ib.Bounds())
	}
	r := ia.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if ia.At(x, y) != ib.At(x, y) {
				t.Fatalf("pixel (%d,%d) = %v, want %v", x, y, ia.At(x, y), ib.At(x, y))
			}
		}
	}
}

func TestABadUploadIsRefusedWithItsCodeAndLeavesNothing(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		jpg := sample(t, 0)
		random := make([]byte, 50_000)
		rand.NewChaCha8([32]byte{1}).Read(random[1:]) // random[0] = 0: no image magic
		big := *e.Documents
		big.Limits.MaxBytes = int64(len(jpg) / 2)

		cases := []struct {
			name   string
			upload []byte
			want   string
		}{
			{"truncated JPEG", jpg[:len(jpg)/2], kakunin.EINVALID},
			{"JPEG cut after its header", jpg[:200], kakunin.EINVALID},
			{"PDF", []byte("%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"), kakunin.EUNSUPPORTED},
			{"random bytes", random, kakunin.EUNSUPPORTED},
			{"empty file", nil, kakunin.EINVALID},
		}
		m := e.member("bad@example.jp")
		v := e.verification(m)
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				p, err := e.Documents.Store(e.ctx, v, bytes.NewReader(c.upload))
				if got := kakunin.ErrorCode(err); got != c.want {
					t.Fatalf("Store = %v, %v; want code %s", p, err, c.want)
				}
				if files := e.blobFiles(); len(files) != 0 {
					t.Fatalf("blob files left: %v", files)
				}
			})
		}
		t.Run("oversize file", func(t *testing.T) {
			p, err := big.Store(e.ctx, v, bytes.NewReader(jpg))
			if got := kakunin.ErrorCode(err); got != kakunin.ETOOLARGE {
				t.Fatalf("Store = %v, %v; want code %s", p, err, kakunin.ETOOLARGE)
			}
			if files := e.blobFiles(); len(files) != 0 {
				t.Fatalf("blob files left: %v", files)
			}
		})
		if n := e.countDocuments(); n != 0 {
			t.Errorf("%d document rows after bad uploads, want 0", n)
		}
		if got := e.status(v.ID); got != kakunin.StatusAwaitingUpload {
			t.Errorf("verification status = %s, want still awaiting_upload", got)
		}
	})
}

func TestCommittingWithAnUnknownDocumentTypeDiscardsTheUploadAndKeepsTheLinkUsable(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		v := e.verification(e.member("type@example.jp"))
		for _, typ := range []kakunin.DocumentType{"", "selfie", "Passport"} {
			p, err := e.Documents.Store(e.ctx, v, bytes.NewReader(sample(t, 0)))
			if err != nil {
				t.Fatal(err)
			}
			if !e.blobExists(p.BlobKey) {
				t.Fatal("test premise: Store wrote no blob")
			}
			d, err := e.Documents.Commit(e.ctx, p, v, typ)
			if kakunin.ErrorCode(err) != kakunin.EINVALID {
				t.Fatalf("Commit(%q) = %v, %v; want EINVALID", typ, d, err)
			}
			if files := e.blobFiles(); len(files) != 0 {
				t.Fatalf("Commit(%q) left blob files %v", typ, files)
			}
		}
		if n := e.countDocuments(); n != 0 {
			t.Fatalf("%d document rows, want 0", n)
		}
		if got := e.status(v.ID); got != kakunin.StatusAwaitingUpload {
			t.Fatalf("status = %s, want awaiting_upload", got)
		}
		// The link was not spent: a proper upload still goes through.
		e.upload(v, sample(t, 0))
		if got := e.status(v.ID); got != kakunin.StatusSubmitted {
			t.Fatalf("status = %s, want submitted", got)
		}
	})
}

func TestAnUploadLinkTakesOneDocumentOnly(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		_, v, first := e.submitted(sample(t, 0))

		p, err := e.Documents.Store(e.ctx, v, bytes.NewReader(sample(t, 1)))
		if err != nil {
			t.Fatal(err)
		}
		d, err := e.Documents.Commit(e.ctx, p, v, kakunin.DocPassport)
		if kakunin.ErrorCode(err) != kakunin.EGONE {
			t.Fatalf("second Commit = %v, %v; want EGONE", d, err)
		}
		if files := e.blobFiles(); len(files) != 1 || files[0] != first.BlobKey {
			t.Fatalf("blob files = %v, want only the first upload's %s", files, first.BlobKey)
		}
		if n := e.countDocuments(); n != 1 {
			t.Fatalf("%d document rows, want 1", n)
		}
		if got, err := e.Documents.Open(e.ctx, e.doc(first.ID)); err != nil || len(got) == 0 {
			t.Fatalf("the first upload no longer opens: %v", err)
		}
	})
}

func TestDestroyForgetsTheKeyDeletesTheBlobAndEndsTheWaitingVerification(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		_, v, d := e.submitted(sample(t, 0))
		e.Clock.Set(start.Add(time.Hour))

		if err := e.Documents.Destroy(e.ctx, d.ID); err != nil {
			t.Fatalf("destroy: %v", err)
		}
		r := e.row(d.ID)
		if r.wrappedKey != nil {
			t.Error("wrapped_key is still set after Destroy")
		}
		if r.destroyedAt == nil || *r.destroyedAt != start.Add(time.Hour).UnixMicro() {
			t.Errorf("destroyed_at = %v, want the clock's time", r.destroyedAt)
		}
		if r.blobDeletedAt == nil {
			t.Error("blob_deleted_at is not set")
		}
		if e.blobExists(d.BlobKey) || len(e.blobFiles()) != 0 {
			t.Errorf("blob files left: %v", e.blobFiles())
		}
		if _, err := e.Documents.Open(e.ctx, e.doc(d.ID)); kakunin.ErrorCode(err) != kakunin.EGONE {
			t.Errorf("Open after Destroy = %v, want EGONE", err)
		}
		if got := e.status(v.ID); got != kakunin.StatusExpired {
			t.Errorf("verification status = %s, want expired", got)
		}
		if n, st := e.events.calls(v.ID); n != 1 || st[0] != kakunin.StatusExpired {
			t.Errorf("VerificationEnded calls = %d %v, want one with status expired", n, st)
		}

		// Twice is harmless: no error, no second event, the first time kept.
		e.Clock.Set(start.Add(2 * time.Hour))
		if err := e.Documents.Destroy(e.ctx, d.ID); err != nil {
			t.Fatalf("second destroy: %v", err)
		}
		if r2 := e.row(d.ID); r2.wrappedKey != nil || *r2.destroyedAt != *r.destroyedAt {
			t.Errorf("second destroy changed the row: %+v", r2)
		}
		if n, _ := e.events.calls(v.ID); n != 1 {
			t.Errorf("VerificationEnded called %d times after two destroys, want 1", n)
		}
	})
}

func TestDestroyingADecidedDocumentDoesNotEndItsVerification(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		_, v, d := e.submitted(sample(t, 0))
		ok, err := e.DB.RecordDecision(e.ctx, v.ID, kakunin.StatusApproved, &kakunin.Result{Adult: kakunin.Bool(true), DocumentType: d.Type, CheckedAt: start, CheckedBy: "stf_x"})
		if err != nil || !ok {
			t.Fatalf("record decision: %v %v", ok, err)
		}
		if err := e.Documents.Destroy(e.ctx, d.ID); err != nil {
			t.Fatal(err)
		}
		if got := e.status(v.ID); got != kakunin.StatusApproved {
			t.Errorf("status = %s, want approved", got)
		}
		if e.events.total() != 0 {
			t.Errorf("VerificationEnded called %d times, want 0", e.events.total())
		}
	})
}

func TestDestroyingAnUnknownDocumentIsNotFound(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		if err := e.Documents.Destroy(e.ctx, "doc_nope"); kakunin.ErrorCode(err) != kakunin.ENOTFOUND {
			t.Fatalf("Destroy(unknown) = %v, want ENOTFOUND", err)
		}
	})
}

func TestWhenAMemberLeavesTheirImagesAndAddressAreDestroyedAndOthersAreUntouched(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		leaver := e.member("leaver@example.jp")
		waiting := e.verification(leaver)
		dWaiting := e.upload(waiting, sample(t, 0))
		decided := e.verification(leaver)
		dDecided := e.upload(decided, sample(t, 1))
		if ok, err := e.DB.RecordDecision(e.ctx, decided.ID, kakunin.StatusApproved,
			&kakunin.Result{Adult: kakunin.Bool(true), DocumentType: kakunin.DocDriversLicence, CheckedAt: start, CheckedBy: "stf_x"}); err != nil || !ok {
			t.Fatalf("record decision: %v %v", ok, err)
		}
		unused := e.verification(leaver)
		_, otherV, otherD := e.submitted(sample(t, 2))

		e.Clock.Set(start.Add(time.Hour))
		if err := e.Documents.MemberLeft(e.ctx, leaver.ID, nil); err != nil {
			t.Fatalf("member left: %v", err)
		}

		for _, d := range []string{dWaiting.ID, dDecided.ID} {
			if r := e.row(d); r.wrappedKey != nil || r.destroyedAt == nil || r.blobDeletedAt == nil {
				t.Errorf("document %s not destroyed: %+v", d, r)
			}
		}
		if files := e.blobFiles(); len(files) != 1 || files[0] != otherD.BlobKey {
			t.Errorf("blob files = %v, want only the other member's %s", files, otherD.BlobKey)
		}
		m, err := e.DB.MemberByID(e.ctx, leaver.ID)
		if err != nil {
			t.Fatal(err)
		}
		if m.EmailSealed != nil || m.EmailIndex != nil || m.DeletedAt == nil {
			t.Errorf("member after leaving: sealed=%x index=%x deleted=%v; want both NULL and deleted set", m.EmailSealed, m.EmailIndex, m.DeletedAt)
		}
		want := map[string]kakunin.VerificationStatus{
			waiting.ID: kakunin.StatusExpired, unused.ID: kakunin.StatusExpired,
			decided.ID: kakunin.StatusApproved, otherV.ID: kakunin.StatusSubmitted,
		}
		for id, st := range want {
			if got := e.status(id); got != st {
				t.Errorf("verification %s = %s, want %s", id, got, st)
			}
		}
		for _, id := range []string{waiting.ID, unused.ID} {
			if n, _ := e.events.calls(id); n != 1 {
				t.Errorf("verification %s ended %d times, want once", id, n)
			}
		}
		if e.events.total() != 2 {
			t.Errorf("%d VerificationEnded calls, want 2", e.events.total())
		}

		other := e.doc(otherD.ID)
		if other.WrappedKey == nil || other.DestroyedAt != nil {
			t.Fatalf("the other member's document was touched: %+v", other)
		}
		if _, err := e.Documents.Open(e.ctx, other); err != nil {
			t.Fatalf("the other member's document no longer opens: %v", err)
		}
		om, err := e.DB.MemberByID(e.ctx, otherD.MemberID)
		if err != nil || om.EmailSealed == nil || om.DeletedAt != nil {
			t.Fatalf("the other member was touched: %+v, %v", om, err)
		}
	})
}

// failingEvents fails every announcement.
type failingEvents struct{}

var errAnnounce = errors.New("announce failed")

func (failingEvents) VerificationEnded(context.Context, *store.Tx, *kakunin.Verification) error {
	return errAnnounce
}

func TestAMemberWhoseLeavingCannotBeAnnouncedKeepsEverything(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		m, v, d := e.submitted(sample(t, 0))
		e.Documents.Events = failingEvents{}
		if err := e.Documents.MemberLeft(e.ctx, m.ID, nil); !errors.Is(err, errAnnounce) {
			t.Fatalf("MemberLeft = %v, want the announcement's error", err)
		}
		got, err := e.DB.MemberByID(e.ctx, m.ID)
		if err != nil || got.EmailSealed == nil || got.DeletedAt != nil {
			t.Errorf("member changed by a failed leave: %+v, %v", got, err)
		}
		if st := e.status(v.ID); st != kakunin.StatusSubmitted {
			t.Errorf("status = %s, want submitted", st)
		}
		if r := e.row(d.ID); r.wrappedKey == nil || r.destroyedAt != nil || !e.blobExists(d.BlobKey) {
			t.Errorf("document destroyed by a failed leave: %+v", r)
		}
	})
}

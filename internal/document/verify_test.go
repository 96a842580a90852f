package document_test

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/document"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

// undecodableJPEG is a grey progressive JPEG whose structure is sound
// (segments, scan header, EOI) but whose scan uses Huffman codes its table
// does not have: only a full decode finds out.
func undecodableJPEG(w, h int) []byte {
	seg := func(m byte, p []byte) []byte {
		return append(binary.BigEndian.AppendUint16([]byte{0xFF, m}, uint16(len(p)+2)), p...)
	}
	q := bytes.Repeat([]byte{1}, 65)
	q[0] = 0
	b := []byte{0xFF, 0xD8}
	b = append(b, seg(0xDB, q)...)
	b = append(b, seg(0xC2, []byte{8, byte(h >> 8), byte(h), byte(w >> 8), byte(w), 1, 1, 0x11, 0})...)
	b = append(b, seg(0xC4, append(append([]byte{0x00, 1}, make([]byte, 15)...), 0))...)
	b = append(b, seg(0xDA, []byte{1, 1, 0x00, 0, 0, 0})...)
	b = append(b, bytes.Repeat([]byte{0xFE}, (w/8)*(h/8)/8+1)...)
	return append(b, 0xFF, 0xD9)
}

func TestAnUndecodableUploadIsAcceptedThenRejectedAsUnreadable(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		e.Documents.Jobs = e.Jobs
		_, v, d := e.submitted(undecodableJPEG(640, 480))
		var job *document.VerifyArgs
		for _, j := range e.Jobs.All() {
			if a, ok := j.Args.(document.VerifyArgs); ok && a.DocumentID == d.ID {
				job = &a
			}
		}
		if job == nil || job.DecodeCost < 640*480 {
			t.Fatalf("no document_verify job with its decode cost was enqueued with the record: %+v", job)
		}
		if got := e.status(v.ID); got != kakunin.StatusSubmitted {
			t.Fatalf("status before the decode %s", got)
		}
		if err := e.Documents.Verify(e.ctx, job.DocumentID, job.DecodeCost); err != nil {
			t.Fatal(err)
		}
		ver, err := e.DB.Verification(e.ctx, v.ID)
		if err != nil {
			t.Fatal(err)
		}
		if ver.Status != kakunin.StatusRejected || ver.Result == nil || ver.Result.RejectReason != document.ReasonUnreadable ||
			ver.Result.CheckedBy != document.SystemChecker {
			t.Fatalf("after the decode: %s %+v", ver.Status, ver.Result)
		}
		if n, statuses := e.events.calls(v.ID); n != 1 || statuses[0] != kakunin.StatusRejected {
			t.Fatalf("the host was told %d times: %v", n, statuses)
		}
		if after := e.doc(d.ID); after.DestroyedAt == nil || e.blobExists(d.BlobKey) {
			t.Fatal("the unreadable image was not destroyed")
		}
		// A second run (a retried job) changes nothing.
		if err := e.Documents.Verify(e.ctx, job.DocumentID, job.DecodeCost); err != nil {
			t.Fatal(err)
		}
		if n, _ := e.events.calls(v.ID); n != 1 {
			t.Fatalf("a retried check told the host again (%d)", n)
		}
	})
}

func TestADecodableUploadStaysForReview(t *testing.T) {
	e := newEnv(t, storetest.SQLiteDSN(t))
	e.Documents.Jobs = e.Jobs
	_, v, d := e.submitted(sample(t, 0))
	if err := e.Documents.Verify(e.ctx, d.ID, 1<<20); err != nil {
		t.Fatal(err)
	}
	if got := e.status(v.ID); got != kakunin.StatusSubmitted || !e.blobExists(d.BlobKey) || e.events.total() != 0 {
		t.Fatalf("a sound image: status %s, blob %v, events %d", got, e.blobExists(d.BlobKey), e.events.total())
	}
}

func TestWithoutAJobQueueAnUndecodableUploadIsRefusedAndLeavesNothing(t *testing.T) {
	e := newEnv(t, storetest.SQLiteDSN(t))
	v := e.verificationExpiring(e.member("inline@example.jp"), start.Add(24*time.Hour))
	before := len(e.blobFiles())
	if _, err := e.Documents.Store(e.ctx, v, bytes.NewReader(undecodableJPEG(640, 480))); kakunin.ErrorCode(err) != kakunin.EINVALID {
		t.Fatalf("err %v, want EINVALID", err)
	}
	if after := len(e.blobFiles()); after != before {
		t.Fatalf("%d blob files before, %d after", before, after)
	}
}

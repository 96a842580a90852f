package erasure_test

import (
	"bytes"
	"crypto/sha256"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/erasure"
)

var update = flag.Bool("update", false, "rewrite testdata/receipt.* from the current format (only for a deliberate new version)")

// seedReader is a deterministic byte source, so the vector key is the same
// on every run (a test key: never use it for anything else).
type seedReader struct{ n byte }

func (r *seedReader) Read(p []byte) (int, error) {
	for i := range p {
		h := sha256.Sum256([]byte{r.n})
		p[i] = h[0]
		r.n++
	}
	return len(p), nil
}

func vectorKey(t testing.TB) (note.Signer, note.Verifiers, string) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(&seedReader{}, "kakunin/kakunin.example/inst_vectors")
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return s, note.VerifierList(v), vkey
}

func vectorReceipt(t testing.TB, s note.Signer) []byte {
	t.Helper()
	at := time.Date(2026, 12, 3, 9, 30, 0, 0, time.UTC)
	cp, err := audit.SignCheckpoint(s, 42, bytes.Repeat([]byte{7}, audit.HashSize), at.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	r := &erasure.Receipt{Request: "era_vectors01", Member: "mem_vectors01", ErasedAt: at,
		Erased: []erasure.Count{{Kind: "document_image", N: 2}, {Kind: "exposure_check_record", N: 3}, {Kind: "member_session", N: 1}, {Kind: "sealed_address", N: 1}, {Kind: "signin_link", N: 1}},
		Kept:   []erasure.Count{{Kind: "verification_record", N: 2, Reason: "dating_site_act"}},
		Timeline: []erasure.Step{
			{At: at.Add(-48 * time.Hour), State: "received", Actor: "member"},
			{At: at.Add(-47 * time.Hour), State: "verified", Actor: "member"},
			{At: at.Add(-time.Minute), State: "in_progress", Actor: "support"},
			{At: at, State: "completed", Actor: "system"},
		},
		FirstEvent: 30, LastEvent: 41, Checkpoint: cp.Note}
	msg, err := erasure.Sign(r, s)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// The vectors in testdata (and docs/receipts.md) are what this code
// signs and accepts: an independent verifier can test itself on them.
func TestReceiptVectors(t *testing.T) {
	s, v, vkey := vectorKey(t)
	msg := vectorReceipt(t, s)
	if *update {
		os.WriteFile(filepath.Join("testdata", "receipt.txt"), msg, 0o644)
		os.WriteFile(filepath.Join("testdata", "receipt.key"), []byte(vkey+"\n"), 0o644)
	}
	want, err := os.ReadFile(filepath.Join("testdata", "receipt.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(msg, want) {
		t.Errorf("the signed vector differs from testdata/receipt.txt:\n%s\nwant\n%s", msg, want)
	}
	key, _ := os.ReadFile(filepath.Join("testdata", "receipt.key"))
	if strings.TrimSpace(string(key)) != vkey {
		t.Errorf("testdata/receipt.key is %q, want %q", key, vkey)
	}
	r, cp, err := erasure.Open(want, v)
	if err != nil {
		t.Fatal(err)
	}
	if r.Request != "era_vectors01" || len(r.Erased) != 5 || r.Erased[0].N != 2 || cp.Size != 42 || r.Kept[0].Reason != "dating_site_act" {
		t.Errorf("opened %+v %+v", r, cp)
	}
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "receipts.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(doc, want) || !bytes.Contains(doc, []byte(vkey)) {
		t.Error("docs/receipts.md does not show testdata/receipt.txt and its verifier key as they are")
	}
}

// Every one-byte change anywhere in a receipt makes it fail, and the
// error names what failed.
func TestAReceiptEditedByOneByteFails(t *testing.T) {
	s, v, _ := vectorKey(t)
	msg := vectorReceipt(t, s)
	for i := range msg {
		for _, d := range []byte{1, 0x20} {
			bad := bytes.Clone(msg)
			bad[i] ^= d
			if _, _, err := erasure.Open(bad, v); err == nil {
				t.Fatalf("byte %d xor %#x: accepted", i, d)
			} else if !strings.Contains(err.Error(), "receipt") && !strings.Contains(err.Error(), "checkpoint") && !strings.Contains(err.Error(), "line") {
				t.Errorf("byte %d: error names nothing: %v", i, err)
			}
		}
	}
	// An edit of the text names the signature.
	bad := bytes.Replace(msg, []byte("document_image 2"), []byte("document_image 3"), 1)
	if _, _, err := erasure.Open(bad, v); err == nil || !strings.Contains(err.Error(), "signature") {
		t.Errorf("edited count: %v", err)
	}
}

// A receipt signed by another key, or whose checkpoint is another log's
// or does not cover its events, fails, saying so.
func TestAReceiptFromAnotherKeyOrAnUncoveredCheckpointFails(t *testing.T) {
	s, v, _ := vectorKey(t)
	skey, _, _ := note.GenerateKey(nil, "kakunin/kakunin.example/inst_vectors")
	other, _ := note.NewSigner(skey)
	if _, _, err := erasure.Open(vectorReceipt(t, other), v); err == nil || !strings.Contains(err.Error(), "signed by no key") {
		t.Errorf("other key: %v", err)
	}
	at := time.Date(2026, 12, 3, 9, 30, 0, 0, time.UTC)
	cp, _ := audit.SignCheckpoint(s, 40, bytes.Repeat([]byte{7}, audit.HashSize), at.Add(time.Second))
	r := &erasure.Receipt{Request: "era_x", Member: "mem_x", ErasedAt: at, Timeline: []erasure.Step{{At: at, State: "completed", Actor: "system"}},
		FirstEvent: 30, LastEvent: 41, Checkpoint: cp.Note}
	msg, err := erasure.Sign(r, s)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := erasure.Open(msg, v); err == nil || !strings.Contains(err.Error(), "does not cover") {
		t.Errorf("uncovered: %v", err)
	}
}

func FuzzOpenReceipt(f *testing.F) {
	s, v, _ := vectorKey(f)
	f.Add(vectorReceipt(f, s))
	f.Add([]byte(erasure.ReceiptHeader + "\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, cp, err := erasure.Open(b, v)
		if err != nil {
			return
		}
		// Whatever opens must sign back to a text that opens the same.
		if r == nil || cp == nil || cp.Size < r.LastEvent || r.Timeline[len(r.Timeline)-1].State != "completed" {
			t.Fatalf("accepted an inconsistent receipt: %+v", r)
		}
		if !bytes.HasPrefix(b, []byte(r.Text())) {
			t.Fatalf("accepted text differs from its canonical form")
		}
	})
}

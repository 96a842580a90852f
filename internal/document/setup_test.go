package document_test

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/samplecard"
	"github.com/kakunin/kakunin/internal/servicetest"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/vault"
)

// endedEvents records every VerificationEnded call.
type endedEvents struct {
	mu    sync.Mutex
	ended []kakunin.Verification
}

func (e *endedEvents) VerificationEnded(_ context.Context, tx *store.Tx, v *kakunin.Verification) error {
	if tx == nil {
		panic("VerificationEnded called without a transaction")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.ended = append(e.ended, *v)
	return nil
}

// calls returns how many times v's end was announced, and the statuses announced.
func (e *endedEvents) calls(id string) (int, []kakunin.VerificationStatus) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var st []kakunin.VerificationStatus
	for _, v := range e.ended {
		if v.ID == id {
			st = append(st, v.Status)
		}
	}
	return len(st), st
}

func (e *endedEvents) total() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.ended)
}

// env is a document service over a real database, vault and blob directory.
// Its Events is a recorder, so the tests see what the service announces
// rather than what the verification service makes of it.
type env struct {
	*servicetest.Env
	t      *testing.T
	ctx    context.Context
	events *endedEvents
}

// start is a Tuesday morning, UTC; every test moves the clock from here.
var start = servicetest.Start

func newEnv(t *testing.T, dsn string) *env {
	t.Helper()
	// Keys, blobs and anything the code under test writes to a temp file
	// land under root, where the plaintext scan can see them.
	root := t.TempDir()
	tmp := filepath.Join(root, "tmp")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", tmp)

	e := &env{Env: servicetest.New(t, dsn, servicetest.Options{Dir: root}), t: t, ctx: t.Context(), events: &endedEvents{}}
	e.Documents.Events = e.events
	return e
}

// member registers a member directly in the store, address sealed.
func (e *env) member(email string) *store.MemberRecord {
	e.t.Helper()
	sealed, err := e.Vault.SealField(vault.PurposeMemberEmail, []byte(email))
	if err != nil {
		e.t.Fatal(err)
	}
	now := e.Clock.Now()
	m := &store.MemberRecord{ID: kakunin.NewID("mem"), ExternalID: kakunin.NewID("ext"), EmailSealed: sealed,
		EmailIndex: e.Vault.BlindIndex(vault.PurposeMemberEmailIndex, []byte(email)), Locale: kakunin.LocaleJA, CreatedAt: now, UpdatedAt: now}
	if err := e.DB.InsertMember(e.ctx, m); err != nil {
		e.t.Fatal(err)
	}
	return m
}

// verification opens a verification awaiting its upload for an hour.
func (e *env) verification(m *store.MemberRecord) *kakunin.Verification {
	e.t.Helper()
	return e.verificationExpiring(m, e.Clock.Now().Add(time.Hour))
}

func (e *env) verificationExpiring(m *store.MemberRecord, expires time.Time) *kakunin.Verification {
	e.t.Helper()
	now := e.Clock.Now()
	v := &kakunin.Verification{ID: kakunin.NewID("ver"), MemberID: m.ID, ExternalID: m.ExternalID,
		Status: kakunin.StatusAwaitingUpload, ExpiresAt: expires, CreatedAt: now, UpdatedAt: now}
	if err := e.DB.InsertVerification(e.ctx, v); err != nil {
		e.t.Fatal(err)
	}
	return v
}

// upload stores and commits img as v's document.
func (e *env) upload(v *kakunin.Verification, img []byte) *store.DocumentRecord {
	e.t.Helper()
	p, err := e.Documents.Store(e.ctx, v, bytes.NewReader(img))
	if err != nil {
		e.t.Fatalf("store upload: %v", err)
	}
	d, err := e.Documents.Commit(e.ctx, p, v, kakunin.DocDriversLicence)
	if err != nil {
		e.t.Fatalf("commit upload: %v", err)
	}
	return d
}

// submitted is a member with one uploaded document awaiting review.
func (e *env) submitted(img []byte) (*store.MemberRecord, *kakunin.Verification, *store.DocumentRecord) {
	e.t.Helper()
	m := e.member(kakunin.NewID("m") + "@example.jp")
	v := e.verification(m)
	return m, v, e.upload(v, img)
}

func (e *env) doc(id string) *store.DocumentRecord {
	e.t.Helper()
	d, err := e.DB.Document(e.ctx, id)
	if err != nil {
		e.t.Fatalf("document %s: %v", id, err)
	}
	return d
}

func (e *env) status(verificationID string) kakunin.VerificationStatus {
	e.t.Helper()
	v, err := e.DB.Verification(e.ctx, verificationID)
	if err != nil {
		e.t.Fatalf("verification %s: %v", verificationID, err)
	}
	return v.Status
}

// row is what the documents table holds about one document's destruction.
type row struct {
	wrappedKey    []byte
	destroyedAt   *int64
	blobDeletedAt *int64
}

func (e *env) row(id string) row {
	e.t.Helper()
	var r row
	err := e.DB.SQL().QueryRowContext(e.ctx, `SELECT wrapped_key, destroyed_at, blob_deleted_at FROM documents WHERE id = $1`, id).
		Scan(&r.wrappedKey, &r.destroyedAt, &r.blobDeletedAt)
	if err != nil {
		e.t.Fatalf("document row %s: %v", id, err)
	}
	return r
}

func (e *env) countDocuments() int {
	e.t.Helper()
	var n int
	if err := e.DB.SQL().QueryRowContext(e.ctx, `SELECT COUNT(*) FROM documents`).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// blobFiles lists every regular file under the blob directory, temp files
// included, relative to it.
func (e *env) blobFiles() []string {
	e.t.Helper()
	var out []string
	err := filepath.WalkDir(e.BlobDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			rel, _ := filepath.Rel(e.BlobDir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

func (e *env) blobExists(key string) bool {
	e.t.Helper()
	_, err := os.Stat(filepath.Join(e.BlobDir, filepath.FromSlash(key)))
	if err != nil && !os.IsNotExist(err) {
		e.t.Fatal(err)
	}
	return err == nil
}

func (e *env) blobBytes(key string) []byte {
	e.t.Helper()
	b, err := os.ReadFile(filepath.Join(e.BlobDir, filepath.FromSlash(key)))
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

// checkpoint folds SQLite's WAL into the database file, so a scan of the
// file sees everything committed.
func (e *env) checkpoint() {
	e.t.Helper()
	if e.DBPath == "" {
		return
	}
	if _, err := e.DB.SQL().ExecContext(e.ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		e.t.Fatalf("checkpoint: %v", err)
	}
}

// filesContaining returns every file under the temp directories of this
// test (keys, blobs, TMPDIR and the SQLite database) holding any needle.
func (e *env) filesContaining(needles ...[]byte) []string {
	e.t.Helper()
	e.checkpoint()
	dirs := []string{e.Dir}
	if e.DBPath != "" {
		dirs = append(dirs, filepath.Dir(e.DBPath))
	}
	var hits []string
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			for _, n := range needles {
				if bytes.Contains(b, n) {
					hits = append(hits, p)
					break
				}
			}
			return nil
		})
		if err != nil {
			e.t.Fatal(err)
		}
	}
	return hits
}

// samples are sample-card JPEGs, rendered once per test binary.
var samples = sync.OnceValues(func() ([][]byte, error) {
	var out [][]byte
	for i, typ := range []kakunin.DocumentType{kakunin.DocDriversLicence, kakunin.DocPassport, kakunin.DocMyNumberCard} {
		b, err := samplecard.Render(samplecard.Card{
			Type: typ, Name: "SATO HANAKO", BirthDate: time.Date(1990, 4, 1, 0, 0, 0, 0, time.UTC),
			Issuer: "TOKYO PREFECTURAL POLICE (SAMPLE)", Number: "SAMPLE-0000-1234", Seed: int64(i + 1),
		})
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
})

func sample(t *testing.T, i int) []byte {
	t.Helper()
	s, err := samples()
	if err != nil {
		t.Fatal(err)
	}
	return s[i%len(s)]
}

// secretMetadata is what a phone might hide in an upload: intake must drop it.
const secretMetadata = "GPS 35.68950N 139.69170E kakunin-secret-exif"

// withMetadata inserts an APP1 (EXIF-like) and a COM segment after the SOI
// of a JPEG, the kind of metadata intake strips.
func withMetadata(jpg []byte) []byte {
	seg := func(marker byte, payload string) []byte {
		n := len(payload) + 2
		return append([]byte{0xFF, marker, byte(n >> 8), byte(n)}, payload...)
	}
	out := append([]byte{}, jpg[:2]...)
	out = append(out, seg(0xE1, "Exif\x00\x00"+secretMetadata)...)
	out = append(out, seg(0xFE, secretMetadata)...)
	return append(out, jpg[2:]...)
}

// needles are slices of b, spread over it, long enough never to occur by
// chance in ciphertext: if none occurs in a file, b is not in it.
func needles(b []byte) [][]byte {
	const n, size = 16, 32
	var out [][]byte
	for i := range n {
		off := i * (len(b) - size) / (n - 1)
		out = append(out, b[off:off+size])
	}
	return out
}

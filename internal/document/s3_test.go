package document_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/kakunin/kakunin/internal/blobstore"
	"github.com/kakunin/kakunin/internal/blobstore/blobstoretest"
	"github.com/kakunin/kakunin/internal/intake"
	"github.com/kakunin/kakunin/internal/servicetest"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

// The whole life of a document on a real S3 server (MinIO in CI): stored as
// ciphertext only, opened back to the sanitised image, destroyed with its
// blob. Skipped without KAKUNIN_TEST_S3.
func TestADocumentLivesAndDiesOnARealS3Bucket(t *testing.T) {
	bucket := blobstoretest.S3URL(t)
	storetest.Engines(t, func(t *testing.T, dsn string) {
		root := t.TempDir()
		tmp := filepath.Join(root, "tmp")
		if err := os.MkdirAll(tmp, 0o700); err != nil {
			t.Fatal(err)
		}
		t.Setenv("TMPDIR", tmp)
		e := &env{Env: servicetest.New(t, dsn, servicetest.Options{Dir: root, Blobs: bucket}), t: t, ctx: t.Context(), events: &endedEvents{}}
		e.Documents.Events = e.events

		upload := sample(t, 3)
		var sanitised bytes.Buffer
		if _, err := intake.Sanitize(e.ctx, bytes.NewReader(upload), &sanitised, e.Documents.Limits); err != nil {
			t.Fatal(err)
		}
		_, _, d := e.submitted(upload)
		r, err := e.Blobs.Get(e.ctx, d.BlobKey)
		if err != nil {
			t.Fatalf("the blob is not in the bucket: %v", err)
		}
		var ct bytes.Buffer
		ct.ReadFrom(r)
		r.Close()
		if ct.Len() == 0 || bytes.Contains(ct.Bytes(), sanitised.Bytes()[:64]) {
			t.Fatal("the object in the bucket is empty or holds plaintext")
		}
		got, err := e.Documents.Open(e.ctx, e.doc(d.ID))
		if err != nil {
			t.Fatalf("open from S3: %v", err)
		}
		if !bytes.Equal(got, sanitised.Bytes()) {
			t.Fatal("the image read back from S3 differs from the sanitised upload")
		}
		if hits := e.filesContaining(needles(sanitised.Bytes())...); len(hits) > 0 {
			t.Fatalf("plaintext on local disk while using S3: %v", hits)
		}
		if err := e.Documents.Destroy(e.ctx, d.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Blobs.Get(e.ctx, d.BlobKey); !blobstore.IsNotFound(err) {
			t.Fatalf("after destroy, reading the object: %v, want not found", err)
		}
	})
}

package blobstore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/kakunin/kakunin/internal/blobstore"
	"github.com/kakunin/kakunin/internal/blobstore/blobstoretest"
)

// s3Client talks to the test server directly, to see what the store left in
// the bucket (incomplete multipart uploads included).
func s3Client(t *testing.T) *s3.Client {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion("us-east-1"))
	if err != nil {
		t.Fatal(err)
	}
	endpoint := os.Getenv(blobstoretest.EnvS3)
	return s3.NewFromConfig(cfg, func(o *s3.Options) { o.BaseEndpoint = aws.String(endpoint); o.UsePathStyle = true })
}

func bucketOf(t *testing.T, raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// A blob larger than one multipart part round-trips through a real S3
// server; a missing one is "not found", and deleting it twice is fine.
func TestABlobRoundTripsThroughARealS3Server(t *testing.T) {
	raw := blobstoretest.S3URL(t)
	ctx := context.Background()
	s, err := blobstore.Open(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	want := make([]byte, 12<<20) // above s3blob's 5 MiB part size: a multipart upload
	rand.Read(want)
	key := "documents/2026-12-03/doc_big"
	if err := s.Put(ctx, key, func(w io.Writer) error { _, err := w.Write(want); return err }); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Exists(ctx, key); !ok || err != nil {
		t.Fatalf("exists: %v %v", ok, err)
	}
	r, err := s.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read back %d bytes (err %v), want the %d written", len(got), err, len(want))
	}
	if keys, err := s.Keys(ctx, "documents/"); err != nil || len(keys) != 1 || keys[0] != key {
		t.Fatalf("keys %v %v", keys, err)
	}
	for range 2 {
		if err := s.Delete(ctx, key); err != nil {
			t.Fatalf("delete: %v", err)
		}
	}
	if _, err := s.Get(ctx, "documents/none"); !blobstore.IsNotFound(err) {
		t.Fatalf("missing object: %v, want not found", err)
	}
}

// A write that fails half-way (the member's connection dropped) leaves no
// object and no incomplete multipart upload holding ciphertext in the
// bucket.
func TestAFailedPutLeavesNothingInARealS3Bucket(t *testing.T) {
	raw := blobstoretest.S3URL(t)
	ctx := context.Background()
	s, err := blobstore.Open(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	boom := errors.New("connection dropped")
	err = s.Put(ctx, "documents/2026-12-03/doc_cut", func(w io.Writer) error {
		w.Write(bytes.Repeat([]byte("c"), 11<<20)) // two parts sent already
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("put: %v", err)
	}
	if ok, _ := s.Exists(ctx, "documents/2026-12-03/doc_cut"); ok {
		t.Fatal("a failed put left an object")
	}
	c := s3Client(t)
	out, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(bucketOf(t, raw))})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Uploads) != 0 {
		var keys []string
		for _, u := range out.Uploads {
			keys = append(keys, aws.ToString(u.Key))
		}
		t.Fatalf("incomplete multipart uploads left: %s", strings.Join(keys, ", "))
	}
}

package blobstore_test

import (
	"context"
	"io"
	"slices"
	"testing"

	"github.com/kakunin/kakunin/internal/blobstore"
	"github.com/kakunin/kakunin/internal/blobstore/blobstoretest"
)

func TestListPagesThroughAnS3BucketOneRequestAPage(t *testing.T) {
	ctx := context.Background()
	s, err := blobstore.Open(ctx, blobstoretest.S3URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var want []string
	for i := range 7 {
		key := "documents/2026-11-24/doc_" + string(rune('a'+i))
		want = append(want, key)
		if err := s.Put(ctx, key, func(w io.Writer) error { _, err := w.Write([]byte("c")); return err }); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Put(ctx, "documents/2026-11-25/doc_z", func(w io.Writer) error { return nil }); err != nil {
		t.Fatal(err)
	}
	var got []string
	pages := 0
	err = s.List(ctx, "documents/2026-11-24/", 3, func(objs []blobstore.Object) error {
		pages++
		for _, o := range objs {
			if o.ModTime.IsZero() {
				t.Errorf("%s has no modification time", o.Key)
			}
			got = append(got, o.Key)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) || pages != 3 {
		t.Errorf("listed %v in %d pages, want %v in 3", got, pages, want)
	}
}

package blobstore

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestAFailedPutLeavesNoBlob(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, "file://"+dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	boom := errors.New("boom")
	err = s.Put(ctx, "documents/a", func(w io.Writer) error {
		w.Write(bytes.Repeat([]byte("x"), 1<<20))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if ok, _ := s.Exists(ctx, "documents/a"); ok {
		t.Fatal("a failed write left a blob")
	}
	if tmp, _ := s.StaleTempFiles(); len(tmp) != 0 {
		t.Fatalf("temp files left: %v", tmp)
	}
}

func TestAPutBlobIsReadableListedAndDeletable(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, "file://"+dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Put(ctx, "documents/2026-11-25/doc_a", func(w io.Writer) error { _, err := w.Write([]byte("cipher")); return err }); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "documents", "2026-11-25", "doc_a")); err != nil {
		t.Fatalf("blob not at its path: %v", err)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "documents", "2026-11-25", "*.attrs")); len(m) != 0 {
		t.Fatalf("metadata sidecars written: %v", m)
	}
	r, err := s.Get(ctx, "documents/2026-11-25/doc_a")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r)
	r.Close()
	if string(b) != "cipher" {
		t.Fatalf("read %q", b)
	}
	keys, _ := s.Keys(ctx, "documents/")
	if len(keys) != 1 {
		t.Fatalf("keys = %v", keys)
	}
	if err := s.Delete(ctx, keys[0]); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, keys[0]); err != nil {
		t.Fatalf("deleting twice: %v", err)
	}
}

func TestListPagesThroughEveryBlobUnderAPrefixOnDiskAndThroughTheBucketAPI(t *testing.T) {
	ctx := context.Background()
	for _, url := range []string{"file://" + t.TempDir(), "mem://"} {
		s, err := Open(ctx, url)
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
		if dir := s.dir; dir != "" {
			// A temp file a dead process left is not a blob.
			if err := os.WriteFile(filepath.Join(dir, "documents", "2026-11-24", "doc_x.1f.tmp"), nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		var got []string
		err = s.List(ctx, "documents/2026-11-24/", 3, func(objs []Object) error {
			if len(objs) > 3 {
				t.Errorf("%s: page of %d, want at most 3", url, len(objs))
			}
			for _, o := range objs {
				if o.ModTime.IsZero() {
					t.Errorf("%s: %s has no modification time", url, o.Key)
				}
				got = append(got, o.Key)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s: listed %v, want %v", url, got, want)
		}
		err = s.List(ctx, "documents/2099-01-01/", 3, func(objs []Object) error {
			t.Errorf("%s: a prefix with no blob listed %v", url, objs)
			return nil
		})
		if err != nil {
			t.Errorf("%s: listing an empty prefix: %v", url, err)
		}
	}
}

func TestBlobFilesAreOwnerOnlyWhileWrittenAndAfter(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, "file://"+dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	key := "documents/2026-11-25/doc_a"
	err = s.Put(ctx, key, func(w io.Writer) error {
		w.Write([]byte("half"))
		tmp, _ := s.StaleTempFiles()
		if len(tmp) != 1 {
			t.Fatalf("temp files while writing: %v", tmp)
		}
		if fi, err := os.Stat(tmp[0]); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("temp file while writing: %v %v, want 0600", fi.Mode(), err)
		}
		_, err := w.Write([]byte(" cipher"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{
		filepath.Join(dir, "documents", "2026-11-25", "doc_a"): 0o600,
		filepath.Join(dir, "documents", "2026-11-25"):          0o700,
		filepath.Join(dir, "documents"):                        0o700,
	} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v (%v), want %v", p, fi.Mode().Perm(), err, want)
		}
	}
}

// Package blobstore keeps document ciphertext in a gocloud.dev bucket (a
// directory by default, S3 in production). It never sees plaintext: callers
// hand it an encrypting writer's output. For a local directory it also
// fsyncs each blob and its directory before reporting success, because an
// upload acknowledged to a member must survive a crash (invariant 8).
package blobstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"gocloud.dev/blob"
	_ "gocloud.dev/blob/fileblob" // file://
	_ "gocloud.dev/blob/memblob"  // mem://, for unit tests
	_ "gocloud.dev/blob/s3blob"   // s3://
	"gocloud.dev/gcerrors"
)

// Store is a bucket of ciphertext blobs.
type Store struct {
	bucket     *blob.Bucket
	dir        string // local directory for file:// buckets, "" otherwise
	writeFault error  // see FailWritesWith
}

// Open opens the bucket at rawURL. For file:// URLs the directory is created
// (0700), temp files are kept beside their blobs so renames stay on one
// filesystem, and no sidecar metadata files are written.
func Open(ctx context.Context, rawURL string) (*Store, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("blob store URL: %w", err)
	}
	var dir string
	if u.Scheme == "file" {
		dir = filepath.FromSlash(u.Path)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create blob directory: %w", err)
		}
		q := u.Query()
		q.Set("metadata", "skip")
		q.Set("no_tmp_dir", "true")
		q.Set("dir_file_mode", "0700")
		u.RawQuery = q.Encode()
	}
	b, err := blob.OpenBucket(ctx, u.String())
	if err != nil {
		return nil, fmt.Errorf("open blob store: %w", err)
	}
	return &Store{bucket: b, dir: dir}, nil
}

// Close closes the bucket.
func (s *Store) Close() error { return s.bucket.Close() }

// ErrNoSpace says the blob store is out of space (ENOSPC, or over a quota):
// the upload is refused with 507 and the operator alerted, rather than a
// generic 500 (issue 17 item 5).
var ErrNoSpace = errors.New("blob store out of space")

// IsNoSpace reports whether err is, or was caused by, a full disk or quota.
func IsNoSpace(err error) bool {
	return errors.Is(err, ErrNoSpace) || errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// Put stores the bytes that write produces under key. If write fails or ctx
// ends, nothing is stored. It returns once the blob is durable. A full disk
// anywhere on the way (a write, the close, the fsync) comes back as
// ErrNoSpace, even when the code between write and the store wrapped the
// error in its own words.
func (s *Store) Put(ctx context.Context, key string, write func(w io.Writer) error) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	bw, err := s.bucket.NewWriter(wctx, key, &blob.WriterOptions{ContentType: "application/octet-stream", BeforeWrite: ownerOnly})
	if err != nil {
		return noSpace(nil, fmt.Errorf("open blob %s: %w", key, err))
	}
	w := &watchedWriter{w: bw, fault: s.writeFault}
	if err := write(w); err != nil {
		cancel() // a cancelled writer discards what it had
		bw.Close()
		return noSpace(w.err, err)
	}
	if err := bw.Close(); err != nil {
		return noSpace(nil, fmt.Errorf("write blob %s: %w", key, err))
	}
	return noSpace(nil, s.sync(key))
}

func noSpace(writeErr, err error) error {
	if err != nil && !errors.Is(err, ErrNoSpace) && (IsNoSpace(writeErr) || IsNoSpace(err)) {
		return fmt.Errorf("%w: %w", ErrNoSpace, err)
	}
	return err
}

// watchedWriter keeps the first write error, so Put can tell a full disk
// from whatever its caller made of it.
type watchedWriter struct {
	w     io.Writer
	fault error // test fault injection: every write fails with it
	err   error
}

func (w *watchedWriter) Write(p []byte) (int, error) {
	if w.fault != nil {
		w.err = w.fault
		return 0, w.fault
	}
	n, err := w.w.Write(p)
	if err != nil && w.err == nil {
		w.err = err
	}
	return n, err
}

// FailWritesWith makes every later write to the store fail with err (nil:
// back to normal). It exists for tests that need a full disk
// (syscall.ENOSPC) without filling one.
func (s *Store) FailWritesWith(err error) { s.writeFault = err }

// Ping checks that the bucket can be reached (for /readyz).
func (s *Store) Ping(ctx context.Context) error {
	ok, err := s.bucket.IsAccessible(ctx)
	if err != nil {
		return fmt.Errorf("blob store: %w", err)
	}
	if !ok {
		return errors.New("blob store: bucket not accessible")
	}
	return nil
}

// FreeBytes is the space left for blobs on a local directory's filesystem;
// ok is false for a remote store (S3 reports no such thing).
func (s *Store) FreeBytes() (free int64, ok bool) {
	if s.dir == "" {
		return 0, false
	}
	return freeBytes(s.dir)
}

// ownerOnly makes a local blob's temp file 0600 before a byte is written
// to it: fileblob creates it 0666 (less the umask), and the rename keeps
// the mode. Ciphertext is unreadable without the keys, but another local
// account has no business copying it. Other buckets have no *os.File.
func ownerOnly(as func(any) bool) error {
	var f *os.File
	if !as(&f) {
		return nil
	}
	if err := f.Chmod(0o600); err != nil {
		return fmt.Errorf("blob file mode: %w", err)
	}
	return nil
}

// sync makes a local blob and its directory entry durable: fileblob renames
// its temp file into place but does not fsync.
func (s *Store) sync(key string) error {
	if s.dir == "" {
		return nil
	}
	path := filepath.Join(s.dir, filepath.FromSlash(key))
	for _, p := range []string{path, filepath.Dir(path)} {
		f, err := os.Open(p)
		if err != nil {
			return fmt.Errorf("sync blob %s: %w", key, err)
		}
		err = f.Sync()
		f.Close()
		if err != nil {
			return fmt.Errorf("sync blob %s: %w", key, err)
		}
	}
	return nil
}

// Get opens a blob for reading.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	r, err := s.bucket.NewReader(ctx, key, nil)
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", key, err)
	}
	return r, nil
}

// IsNotFound reports whether err says a blob does not exist.
func IsNotFound(err error) bool { return gcerrors.Code(err) == gcerrors.NotFound }

// Delete removes a blob; a blob already gone is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	err := s.bucket.Delete(ctx, key)
	if err != nil && gcerrors.Code(err) != gcerrors.NotFound {
		return fmt.Errorf("delete blob %s: %w", key, err)
	}
	return nil
}

// Exists reports whether a blob is present.
func (s *Store) Exists(ctx context.Context, key string) (bool, error) {
	return s.bucket.Exists(ctx, key)
}

// Keys lists the keys under prefix.
func (s *Store) Keys(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	it := s.bucket.List(&blob.ListOptions{Prefix: prefix})
	for {
		obj, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			return keys, nil
		}
		if err != nil {
			return nil, fmt.Errorf("list blobs: %w", err)
		}
		if !obj.IsDir {
			keys = append(keys, obj.Key)
		}
	}
}

// Object is one listed blob.
type Object struct {
	Key     string
	ModTime time.Time
}

// List calls fn with the blobs under prefix, at most pageSize at a time,
// so that memory stays bounded however many blobs the bucket holds: on S3
// each page is one ListObjectsV2 request. A local directory is walked once
// (fileblob's own paging walks the whole tree again for every page). Temp
// files are not listed.
func (s *Store) List(ctx context.Context, prefix string, pageSize int, fn func([]Object) error) error {
	if s.dir != "" {
		return s.listDir(ctx, prefix, pageSize, fn)
	}
	token := blob.FirstPageToken
	for {
		page, next, err := s.bucket.ListPage(ctx, token, pageSize, &blob.ListOptions{Prefix: prefix})
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("list blobs under %s: %w", prefix, err)
		}
		objs := make([]Object, 0, len(page))
		for _, o := range page {
			if !o.IsDir && !strings.HasSuffix(o.Key, ".tmp") {
				objs = append(objs, Object{Key: o.Key, ModTime: o.ModTime})
			}
		}
		if len(objs) > 0 {
			if err := fn(objs); err != nil {
				return err
			}
		}
		if len(next) == 0 {
			return nil
		}
		token = next
	}
}

// listDir is List for a local directory. prefix names a directory
// ("documents/2026-11-24/"); keys are plain paths, as kakunin writes them.
func (s *Store) listDir(ctx context.Context, prefix string, pageSize int, fn func([]Object) error) error {
	root := filepath.Join(s.dir, filepath.FromSlash(strings.TrimSuffix(prefix, "/")))
	page := make([]Object, 0, pageSize)
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if errors.Is(err, os.ErrNotExist) && p == root {
			return filepath.SkipAll
		}
		if err != nil {
			return err
		}
		if d.IsDir() || strings.HasSuffix(p, ".tmp") || strings.HasSuffix(p, ".attrs") {
			return nil
		}
		info, err := d.Info()
		if errors.Is(err, os.ErrNotExist) {
			return nil // deleted while listing
		}
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(s.dir, p)
		if err != nil {
			return err
		}
		page = append(page, Object{Key: filepath.ToSlash(rel), ModTime: info.ModTime()})
		if len(page) < pageSize {
			return ctx.Err()
		}
		err = fn(page)
		page = page[:0]
		return err
	})
	if err != nil {
		return fmt.Errorf("list blobs under %s: %w", prefix, err)
	}
	if len(page) > 0 {
		return fn(page)
	}
	return nil
}

// StaleTempFiles returns, for a local directory, temp files fileblob left
// behind when a process died mid-write (ciphertext without a stored key,
// so unreadable, but still litter to clean).
func (s *Store) StaleTempFiles() ([]string, error) {
	if s.dir == "" {
		return nil, nil
	}
	var out []string
	err := filepath.WalkDir(s.dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".tmp") {
			out = append(out, p)
		}
		return nil
	})
	return out, err
}

// ErrNotLocal says a bucket is not a local directory.
var ErrNotLocal = errors.New("the blob store is not a local directory")

// CopyTo copies every blob of a local directory into dest (created 0700;
// files 0600, synced), leaving out unfinished temp files and any path skip
// reports true for. The copy is readable ciphertext, exactly as stored.
// For S3 it returns ErrNotLocal: a bucket is backed up with its own
// versioning or replication.
func (s *Store) CopyTo(dest string, skip func(path string) bool) (files int, size int64, err error) {
	if s.dir == "" {
		return 0, 0, ErrNotLocal
	}
	err = filepath.WalkDir(s.dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(s.dir, p)
		if err != nil {
			return err
		}
		if skip != nil && skip(p) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		target := filepath.Join(dest, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o700)
		}
		if strings.HasSuffix(p, ".tmp") || !d.Type().IsRegular() {
			return nil
		}
		n, err := copyFile(p, target)
		if errors.Is(err, os.ErrNotExist) {
			return nil // destroyed while the copy ran
		}
		if err != nil {
			return err
		}
		files, size = files+1, size+n
		return nil
	})
	if err != nil {
		return files, size, fmt.Errorf("copy blobs: %w", err)
	}
	return files, size, nil
}

func copyFile(from, to string) (int64, error) {
	in, err := os.Open(from)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return n, err
}

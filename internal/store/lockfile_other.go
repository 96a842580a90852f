//go:build !unix

package store

import "context"

// lockFile does nothing where flock is missing: SQLite there serves one
// process, and two migrating at once is a mistake SQLite's own locking makes
// fail loudly rather than corrupt.
func lockFile(ctx context.Context, path string) (unlock func(), err error) { return func() {}, nil }

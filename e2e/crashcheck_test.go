package e2e

// What the crash loop (crashloop_test.go) checks after its kills: the
// tables, files and job queue of the instance.

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/vault"
)

// crashScopeCheck runs `kakunin incident scope --json` on the stopped
// instance and compares its unclaimed ciphertext with the tables and files.
func crashScopeCheck(t *testing.T, in *instance, round int) {
	t.Helper()
	out := in.CLI("incident", "scope", "--from", "2026-01-01T00:00:00Z", "--to", time.Now().Add(time.Minute).UTC().Format(time.RFC3339), "--json")
	var scope struct {
		Unclaimed struct {
			PendingUploads int64 `json:"pending_uploads"`
			BlobsListed    bool  `json:"blobs_listed"`
			OrphanBlobs    int64 `json:"orphan_blobs"`
		}
	}
	if err := json.Unmarshal([]byte(out), &scope); err != nil {
		t.Fatalf("round %d: scope JSON: %v\n%s", round, err, out)
	}
	pending, _ := crashResidue(t, in)
	claimed := map[string]bool{}
	for _, k := range pending {
		claimed[k] = true
	}
	db := openTestDB(t, in)
	rows, err := db.Query(`SELECT blob_key FROM documents`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k string
		rows.Scan(&k)
		claimed[k] = true
	}
	rows.Close()
	db.Close()
	withoutPending := 0 // blob files that neither a document nor a pending upload claims
	for _, f := range blobFiles(t, in.Data) {
		rel, _ := filepath.Rel(filepath.Join(in.Data, "blobs"), f)
		if !claimed[filepath.ToSlash(rel)] {
			withoutPending++
		}
	}
	u := scope.Unclaimed
	if u.PendingUploads != int64(len(pending)) || !u.BlobsListed || u.OrphanBlobs != int64(withoutPending) {
		t.Errorf("round %d: scope unclaimed = %+v; the tables and files hold %d pending uploads and %d blobs nothing claims",
			round, u, len(pending), withoutPending)
	}
}

// crashUpload posts one upload and returns the status, or 0 when no answer
// came (the server died): an unanswered upload is not acknowledged.
func crashUpload(client *http.Client, uploadURL string, file []byte) int {
	ct, body := uploadForm("passport", "card.jpg", file)
	req, err := http.NewRequest(http.MethodPost, uploadURL, bytes.NewReader(body))
	if err != nil {
		return 0
	}
	req.Header.Set("Content-Type", ct)
	resp, err := client.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return 0
	}
	return resp.StatusCode
}

func openTestDB(t *testing.T, in *instance) *sql.DB {
	t.Helper()
	dsn := in.Database
	if dsn == "" {
		dsn = filepath.Join(in.Data, "kakunin.db")
	}
	db, _, err := store.OpenSQL(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// crashResidue lists what the kills left for the sweep: pending uploads'
// blob keys and temp files.
func crashResidue(t *testing.T, in *instance) (pending, temp []string) {
	t.Helper()
	db := openTestDB(t, in)
	defer db.Close()
	rows, err := db.Query(`SELECT blob_key FROM pending_uploads`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		pending = append(pending, k)
	}
	return pending, tempFiles(in.Data)
}

func tempFiles(data string) []string {
	var out []string
	filepath.WalkDir(filepath.Join(data, "blobs"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".tmp") {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// crashLeftovers counts blob files no document row claims, pending upload
// rows and temp files.
func crashLeftovers(t *testing.T, in *instance) (orphans, pending, temp int) {
	t.Helper()
	db := openTestDB(t, in)
	defer db.Close()
	rows, err := db.Query(`SELECT blob_key FROM documents WHERE blob_deleted_at IS NULL`)
	if err != nil {
		t.Fatal(err)
	}
	claimed := map[string]bool{}
	for rows.Next() {
		var k string
		rows.Scan(&k)
		claimed[filepath.Join(in.Data, "blobs", filepath.FromSlash(k))] = true
	}
	rows.Close()
	for _, f := range blobFiles(t, in.Data) {
		if !claimed[f] {
			orphans++
		}
	}
	if err := db.QueryRow(`SELECT COUNT(*) FROM pending_uploads`).Scan(&pending); err != nil {
		t.Fatal(err)
	}
	return orphans, pending, len(tempFiles(in.Data))
}

// crashCheckPresent says why an acknowledged verification's upload is not
// whole: no submitted record, no document, no blob, or a blob that does not
// decrypt to the recorded size.
func crashCheckPresent(ctx context.Context, db *sql.DB, keys *vault.Vault, data, verificationID string) error {
	var status string
	if err := db.QueryRowContext(ctx, `SELECT status FROM verifications WHERE id = $1`, verificationID).Scan(&status); err != nil {
		return fmt.Errorf("verification: %w", err)
	}
	if status != "submitted" {
		return fmt.Errorf("verification is %s, want submitted", status)
	}
	var id, epoch, key string
	var wrapped []byte
	var size int64
	err := db.QueryRowContext(ctx, `SELECT id, epoch, blob_key, wrapped_key, size FROM documents WHERE verification_id = $1`, verificationID).
		Scan(&id, &epoch, &key, &wrapped, &size)
	if err != nil {
		return fmt.Errorf("document: %w", err)
	}
	blob, err := os.ReadFile(filepath.Join(data, "blobs", filepath.FromSlash(key)))
	if err != nil {
		return fmt.Errorf("blob: %w", err)
	}
	r, err := keys.OpenDocument(ctx, id, epoch, wrapped, bytes.NewReader(blob))
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	plain, err := io.ReadAll(r)
	if err != nil || int64(len(plain)) != size {
		return fmt.Errorf("decrypt: %d of %d bytes, %v", len(plain), size, err)
	}
	return nil
}

// crashJobs counts River jobs still running that a killed process held
// (attempted before the last restart), and those of them running longer
// than the rescue time.
func crashJobs(t *testing.T, db *sql.DB, restarted time.Time) (leftRunning, stuck int, byKind map[string]int) {
	t.Helper()
	rows, err := db.Query(`SELECT kind, attempted_at FROM river_job WHERE state = 'running'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	kinds := map[string]int{}
	for rows.Next() {
		var kind string
		var at any
		if err := rows.Scan(&kind, &at); err != nil {
			t.Fatal(err)
		}
		attempted, ok := riverTime(at)
		if !ok {
			t.Fatalf("river_job.attempted_at %T %v: unknown form", at, at)
		}
		if attempted.Before(restarted) {
			leftRunning++
			kinds[kind]++
		}
		if time.Since(attempted) > rescueAfter {
			stuck++
		}
	}
	return leftRunning, stuck, kinds
}

// riverTime reads a timestamp as either engine's driver returns it.
func riverTime(v any) (time.Time, bool) {
	switch v := v.(type) {
	case time.Time:
		return v, true
	case string:
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999-07:00", "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999"} {
			if at, err := time.Parse(layout, v); err == nil {
				return at, true
			}
		}
	case []byte:
		return riverTime(string(v))
	}
	return time.Time{}, false
}

// riverState logs the job queue's leader and jobs by kind and state, to
// tell a sweep that never ran from one that ran and left things.
func riverState(t *testing.T, in *instance) {
	db := openTestDB(t, in)
	defer db.Close()
	rows, err := db.Query(`SELECT kind, state, COUNT(*) FROM river_job GROUP BY kind, state ORDER BY kind, state`)
	if err == nil {
		for rows.Next() {
			var kind, state string
			var n int
			rows.Scan(&kind, &state, &n)
			t.Logf("river_job %s %s: %d", kind, state, n)
		}
		rows.Close()
	}
	rows, err = db.Query(`SELECT leader_id, elected_at, expires_at FROM river_leader`)
	if err == nil {
		for rows.Next() {
			var id string
			var elected, expires any
			rows.Scan(&id, &elected, &expires)
			t.Logf("river_leader %s elected %v expires %v (now %s)", id, elected, expires, time.Now().UTC().Format(time.RFC3339Nano))
		}
		rows.Close()
	}
}

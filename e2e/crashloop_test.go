package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/vault"
	"github.com/kakunin/kakunin/internal/webhook"
)

// The crash loop (docs/crash-loop.md): rounds of concurrent uploads over
// HTTP, each ended by kill -9 at a random moment, then a restart. At the
// end every upload that was answered with success must be there and
// readable, and once the sweep has run there must be no blob without a
// record, no temp file, no pending upload, no plaintext anywhere under the
// data directory, and no job left running past River's rescue time.
//
//	KAKUNIN_CRASH_ROUNDS  rounds on SQLite (default 10); PostgreSQL runs a fifth, at least 2
//	KAKUNIN_CRASH_SEED    seed of the kill moments (default: the clock; printed)

// rescueAfter is how long River leaves a job a dead process held in
// `running` before it rescues it: River's default, as internal/jobs sets
// no RescueStuckJobsAfter of its own yet. A job running longer is stuck.
const rescueAfter = time.Hour

const (
	crashWorkers = 4
	crashLinks   = 16 // upload links per round
	crashLeavers = 4  // members deleted during a round
	crashAbandon = "2s"
	// A process killed while it led River's queue holds the lead until its
	// lease ends (River: 5 s election interval + 10 s padding), and only
	// the leader runs periodic jobs such as the sweep: allow for that.
	crashSweepLimit = 45 * time.Second
)

func TestAKillNineLoopLosesNoAcknowledgedUploadAndLeavesNothingBehind(t *testing.T) {
	rounds := envInt(t, "KAKUNIN_CRASH_ROUNDS", 10)
	seed := int64(envInt(t, "KAKUNIN_CRASH_SEED", int(time.Now().UnixNano()%1e12)))
	t.Logf("crash loop seed %d (rerun with KAKUNIN_CRASH_SEED=%d KAKUNIN_CRASH_ROUNDS=%d)", seed, seed, rounds)
	engines(t, func(t *testing.T, dsn string) {
		n := rounds
		if dsn != "" {
			n = max(2, rounds/5)
		}
		crashLoop(t, dsn, n, seed)
	})
}

func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

// slowHooks is a host whose webhook endpoint takes a while, so webhook
// jobs are often running when the server is killed.
type slowHooks struct{ secret string }

func (h *slowHooks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	time.Sleep(150 * time.Millisecond)
}

// crashFigures is what one engine's crash loop counted.
type crashFigures struct {
	rounds, attempted, acknowledged, lost int
	residuePending, residueTemp           int // left by the kills, seen before the sweep
	residueBlob                           int // of residuePending, those with a complete blob
	orphans, pending, temp                int // after the sweep
	leftRunning, stuck                    int // jobs
	plaintext                             int // files holding plaintext
}

type crashLink struct{ id, url string }

func crashLoop(t *testing.T, dsn string, rounds int, seed int64) {
	ctx := context.Background()
	hooks := &slowHooks{secret: webhook.NewSecret()}
	hookServer := httptest.NewServer(hooks)
	defer hookServer.Close()
	in := startInstance(t, dsn, "--upload-abandon-after", crashAbandon,
		"--webhook-url", hookServer.URL, "--webhook-secret", hooks.secret)

	files := [][]byte{sampleJPEG(t, 11), sampleJPEG(t, 12), noiseJPEG(t, 640, 480), noiseJPEG(t, 1200, 900)}
	var needles [][]byte
	for _, f := range files {
		needles = append(needles, windows(f, 6, 48)...)
	}
	rng := rand.New(rand.NewPCG(uint64(seed), uint64(len(dsn))))
	fig := crashFigures{rounds: rounds}
	acked := map[string]int{} // verification ID → index of the file it took
	var started time.Time
	residue := map[string]bool{}     // pending blob keys and temp files seen after a restart
	residueBlob := map[string]bool{} // pending uploads whose blob was complete: killed between rename and commit

	for round := range rounds {
		links := make(chan crashLink, crashLinks)
		for i := range crashLinks {
			ext := fmt.Sprintf("crash-%d-%d", round, i)
			if status, _ := in.API("PUT", "/api/v1/members/"+ext, map[string]string{"email": ext + "@example.test", "locale": "ja"}); status >= 300 {
				t.Fatalf("round %d: create member: %d", round, status)
			}
			status, v := in.API("POST", "/api/v1/verifications", map[string]string{"external_id": ext})
			if status != http.StatusCreated {
				t.Fatalf("round %d: create verification: %d %v", round, status, v)
			}
			links <- crashLink{id: v["id"].(string), url: v["upload_url"].(string)}
		}
		close(links)
		// Members who leave during the round: each ending verification is a
		// webhook job to the slow host, likely running at the kill.
		var leavers []string
		for i := range crashLeavers {
			ext := fmt.Sprintf("leaver-%d-%d", round, i)
			in.API("PUT", "/api/v1/members/"+ext, map[string]string{"email": ext + "@example.test", "locale": "ja"})
			if status, _ := in.API("POST", "/api/v1/verifications", map[string]string{"external_id": ext}); status != http.StatusCreated {
				t.Fatalf("round %d: create verification: %d", round, status)
			}
			leavers = append(leavers, ext)
		}
		leaveEvery := time.Duration(10+rng.IntN(60)) * time.Millisecond

		// The kill comes at a random moment after the round's first
		// acknowledgement, so that every round has uploads in flight and
		// uploads already answered.
		killAt := time.Duration(rng.IntN(500)) * time.Millisecond
		firstAck := make(chan struct{})
		var once sync.Once
		var mu sync.Mutex
		var wg sync.WaitGroup
		client := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		for w := range crashWorkers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				i := w
				for l := range links {
					i++
					f := i % len(files)
					status := crashUpload(client, l.url, files[f])
					mu.Lock()
					fig.attempted++
					if status == http.StatusSeeOther {
						acked[l.id] = f
						once.Do(func() { close(firstAck) })
					}
					mu.Unlock()
				}
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, ext := range leavers {
				time.Sleep(leaveEvery)
				req, _ := http.NewRequest(http.MethodDelete, in.URL+"/api/v1/members/"+ext, nil)
				req.Header.Set("Authorization", "Bearer "+in.APIKey)
				if resp, err := client.Do(req); err == nil {
					resp.Body.Close()
				}
			}
		}()
		select {
		case <-firstAck:
		case <-time.After(10 * time.Second):
			t.Fatalf("round %d: no upload acknowledged within 10s", round)
		}
		time.Sleep(killAt)
		in.Kill()
		wg.Wait()

		// Before anything sweeps, the incident scope counts the ciphertext
		// the kill left without a record (every tenth round and the last:
		// each check runs the CLI once).
		if round%10 == 0 || round == rounds-1 {
			crashScopeCheck(t, in, round)
		}

		started = time.Now()
		in.Start()
		p, tmp := crashResidue(t, in)
		withBlob := 0
		for _, k := range p {
			residue[k] = true
			if _, err := os.Stat(filepath.Join(in.Data, "blobs", filepath.FromSlash(k))); err == nil {
				residueBlob[k] = true
				withBlob++
			}
		}
		for _, f := range tmp {
			residue[f] = true
		}
		t.Logf("round %d: killed %v after the first acknowledgement; %d acknowledged so far; present after the restart: %d pending uploads (%d with a complete blob), %d temp files", round, killAt, len(acked), len(p), withBlob, len(tmp))
	}
	fig.acknowledged = len(acked)
	fig.residueBlob = len(residueBlob)
	for k := range residue {
		if strings.HasSuffix(k, ".tmp") {
			fig.residueTemp++
		} else {
			fig.residuePending++
		}
	}

	// The sweep runs every second; uploads older than crashAbandon that never
	// committed are what the kills left.
	deadline := time.Now().Add(crashSweepLimit)
	for {
		fig.orphans, fig.pending, fig.temp = crashLeftovers(t, in)
		if fig.orphans+fig.pending+fig.temp == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}

	// Every acknowledged upload is recorded, and its blob decrypts whole.
	db := openTestDB(t, in)
	kek, err := vault.OpenLocalKeyset(filepath.Join(in.Data, "keys", "master.json"))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := vault.New(ctx, kek, filepath.Join(in.Data, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	for id, f := range acked {
		if err := crashCheckPresent(ctx, db, keys, in.Data, id); err != nil {
			fig.lost++
			t.Errorf("acknowledged upload of %s (file %d) lost: %v", id, f, err)
		}
	}

	fig.leftRunning, fig.stuck = crashJobs(t, db, started)
	db.Close()

	in.Stop() // folds SQLite's WAL into the database file, for the scan
	hits := filesContaining(t, needles, in.Data, in.TempDir)
	fig.plaintext = len(hits)

	engine := "sqlite"
	if dsn != "" {
		engine = "postgres"
	}
	t.Logf("crash loop %s: rounds=%d uploads=%d acknowledged=%d lost=%d | left by kills: pending=%d (complete blob, no record=%d) tmp=%d | after sweep: orphans=%d pending=%d tmp=%d | jobs: running-after-restart=%d stuck-past-rescue(%s)=%d | plaintext files=%d",
		engine, fig.rounds, fig.attempted, fig.acknowledged, fig.lost, fig.residuePending, fig.residueBlob, fig.residueTemp,
		fig.orphans, fig.pending, fig.temp, fig.leftRunning, rescueAfter, fig.stuck, fig.plaintext)

	if fig.acknowledged == 0 {
		t.Error("no upload was acknowledged: the kills came too early to test anything")
	}
	if fig.orphans+fig.pending+fig.temp != 0 {
		t.Errorf("after the sweep: %d orphan blobs, %d pending uploads, %d temp files; want none", fig.orphans, fig.pending, fig.temp)
		riverState(t, in)
	}
	if fig.stuck != 0 {
		t.Errorf("%d jobs running longer than the rescue time (%s)", fig.stuck, rescueAfter)
	}
	if len(hits) > 0 {
		t.Errorf("plaintext at rest:\n%s", strings.Join(hits, "\n"))
	}
}

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
func crashJobs(t *testing.T, db *sql.DB, restarted time.Time) (leftRunning, stuck int) {
	t.Helper()
	rows, err := db.Query(`SELECT kind, attempted_at FROM river_job WHERE state = 'running'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	kinds := map[string]int{}
	defer func() {
		if len(kinds) > 0 {
			t.Logf("jobs left running by the kills, by kind: %v", kinds)
		}
	}()
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
	return leftRunning, stuck
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

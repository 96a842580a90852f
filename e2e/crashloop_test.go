package e2e

import (
	"context"
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

	"github.com/kakunin/kakunin/internal/jobs"
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
//	KAKUNIN_CRASH_AWAIT_RESCUE=1  wait (up to the rescue time) until every job
//	                      the kills left running is rescued, and require it

// rescueAfter is how long a job a dead process held may stay `running`:
// the queue's rescue time, plus one pass of River's rescuer (every 30 s)
// and a margin. A job running longer is stuck.
const rescueAfter = jobs.RescueStuckJobsAfter + 45*time.Second

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
	awaitRescue := os.Getenv("KAKUNIN_CRASH_AWAIT_RESCUE") != ""
	seed := int64(envInt(t, "KAKUNIN_CRASH_SEED", int(time.Now().UnixNano()%1e12)))
	t.Logf("crash loop seed %d (rerun with KAKUNIN_CRASH_SEED=%d KAKUNIN_CRASH_ROUNDS=%d)", seed, seed, rounds)
	engines(t, func(t *testing.T, dsn string) {
		n := rounds
		if dsn != "" {
			n = max(2, rounds/5)
		}
		crashLoop(t, dsn, n, seed, awaitRescue)
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

func crashLoop(t *testing.T, dsn string, rounds int, seed int64, awaitRescue bool) {
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
	// The keys live beside the data directory, not in it (serve's default).
	keyDir := in.KeyDir()
	if _, err := os.Stat(filepath.Join(keyDir, "master.json")); err != nil {
		t.Fatalf("no keyset beside the data: %v", err)
	}
	kek, err := vault.OpenLocalKeyset(filepath.Join(keyDir, "master.json"))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := vault.New(ctx, kek, keyDir)
	if err != nil {
		t.Fatal(err)
	}
	for id, f := range acked {
		if err := crashCheckPresent(ctx, db, keys, in.Data, id); err != nil {
			fig.lost++
			t.Errorf("acknowledged upload of %s (file %d) lost: %v", id, f, err)
		}
	}

	var kinds map[string]int
	fig.leftRunning, fig.stuck, kinds = crashJobs(t, db, started)
	if len(kinds) > 0 {
		t.Logf("jobs the kills left running, by kind: %v", kinds)
	}
	unrescued := "not awaited"
	if awaitRescue {
		// The rescuer must put every job the kills stranded back to work
		// within the rescue time of the last kill.
		left := fig.leftRunning
		for time.Since(started) < rescueAfter && left > 0 {
			time.Sleep(2 * time.Second)
			left, fig.stuck, kinds = crashJobs(t, db, started)
		}
		unrescued = strconv.Itoa(left)
		if left > 0 {
			t.Errorf("%d jobs the kills left running were not rescued within %s: %v", left, rescueAfter, kinds)
		}
	}
	db.Close()

	in.Stop() // folds SQLite's WAL into the database file, for the scan
	hits := filesContaining(t, needles, in.Data, keyDir, in.TempDir)
	fig.plaintext = len(hits)

	engine := "sqlite"
	if dsn != "" {
		engine = "postgres"
	}
	t.Logf("crash loop %s: rounds=%d uploads=%d acknowledged=%d lost=%d | left by kills: pending=%d (complete blob, no record=%d) tmp=%d | after sweep: orphans=%d pending=%d tmp=%d | jobs: left-running-by-kills=%d still-running-after-%s=%s stuck-past-rescue=%d | plaintext files=%d",
		engine, fig.rounds, fig.attempted, fig.acknowledged, fig.lost, fig.residuePending, fig.residueBlob, fig.residueTemp,
		fig.orphans, fig.pending, fig.temp, fig.leftRunning, rescueAfter, unrescued, fig.stuck, fig.plaintext)

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

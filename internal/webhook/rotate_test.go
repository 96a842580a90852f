package webhook_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kakunin/kakunin/internal/servicetest"
	"github.com/kakunin/kakunin/internal/store/storetest"
	"github.com/kakunin/kakunin/internal/webhook"
)

// knowing is a receiver that accepts a delivery only if it verifies under
// one of the secrets it currently knows; it answers 401 otherwise.
type knowing struct {
	*httptest.Server
	mu      sync.Mutex
	secrets []string
	sigs    int // signatures in the last delivery's header
}

func newKnowing(t *testing.T) *knowing {
	k := &knowing{}
	k.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		k.mu.Lock()
		defer k.mu.Unlock()
		k.sigs = len(strings.Fields(r.Header.Get(webhook.HeaderSignature)))
		for _, s := range k.secrets {
			if webhook.Verify(s, r.Header, body, time.Now(), time.Minute) == nil {
				return
			}
		}
		w.WriteHeader(http.StatusUnauthorized)
	}))
	t.Cleanup(k.Close)
	return k
}

func (k *knowing) know(secrets ...string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.secrets = secrets
}

// Rotation without downtime, for the host's webhook and the alert webhook:
// a receiver that knows only the old secret, then both, then only the new
// one accepts every delivery made at each stage.
func TestSecretRotationKeepsEveryStageOfTheReceiverWorking(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		env := servicetest.New(t, dsn, servicetest.Options{})
		ring := &webhook.SecretRing{DB: env.DB, Keys: env.Vault}
		for _, target := range []webhook.Target{webhook.TargetHost, webhook.TargetAlerts} {
			rx := newKnowing(t)
			old := webhook.NewSecret()
			ep := webhook.Endpoint{URL: rx.URL, Secret: old}
			host, alerts := ep, webhook.Endpoint{}
			if target == webhook.TargetAlerts {
				host, alerts = webhook.Endpoint{}, ep
			}
			w, err := webhook.NewRoutingWorker(host, alerts, quiet)
			if err != nil {
				t.Fatal(err)
			}
			w.Secrets = ring.Active
			deliver := func(stage string, wantOK bool, wantSigs int) {
				t.Helper()
				err := w.Work(t.Context(), jobTo(target, newEvent(t)))
				if (err == nil) != wantOK || rx.sigs != wantSigs {
					t.Fatalf("%s %s: Work = %v with %d signatures; want ok=%v, %d", target, stage, err, rx.sigs, wantOK, wantSigs)
				}
			}
			rx.know(old)
			deliver("before rotation", true, 1)

			fresh, err := ring.Rotate(t.Context(), target, old)
			if err != nil || fresh == old || !strings.HasPrefix(fresh, webhook.SecretPrefix) {
				t.Fatalf("Rotate = %q, %v", fresh, err)
			}
			deliver("rotated, receiver knows the old", true, 2)
			rx.know(old, fresh)
			deliver("rotated, receiver knows both", true, 2)
			rx.know(fresh)
			deliver("rotated, receiver knows the new", true, 2)

			if n, err := ring.Retire(t.Context(), target); err != nil || n != 1 {
				t.Fatalf("Retire = %d, %v; want the old one retired", n, err)
			}
			deliver("retired, receiver knows the new", true, 1)
			rx.know(old)
			deliver("retired, receiver knows only the old", false, 1)
			if _, err := ring.Retire(t.Context(), target); err == nil {
				t.Fatal("a second Retire with one secret left succeeded")
			}
		}
		// The stored secrets are sealed.
		var n int
		if err := env.DB.SQL().QueryRowContext(t.Context(), `SELECT COUNT(*) FROM webhook_secrets`).Scan(&n); err != nil || n != 2 {
			t.Fatalf("%d secrets stored (%v), want one per target", n, err)
		}
	})
}

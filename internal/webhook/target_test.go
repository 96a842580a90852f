package webhook_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/kakunin/kakunin/internal/webhook"
)

func jobTo(target webhook.Target, ev webhook.Event) *river.Job[webhook.DeliverArgs] {
	return &river.Job[webhook.DeliverArgs]{JobRow: &rivertype.JobRow{Attempt: 1}, Args: webhook.DeliverArgs{Event: ev, Target: target}}
}

// receiver is an endpoint that checks each request against its own secret.
type receiver struct {
	*httptest.Server
	secret   string
	calls    atomic.Int32
	verified atomic.Int32
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	r := &receiver{secret: webhook.NewSecret()}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.calls.Add(1)
		if webhook.Verify(r.secret, req.Header, body, time.Now(), time.Minute) == nil {
			r.verified.Add(1)
		}
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) endpoint() webhook.Endpoint { return webhook.Endpoint{URL: r.URL, Secret: r.secret} }

func TestHostDeliveriesAreStoredAsBeforeTargetsExisted(t *testing.T) {
	ev := newEvent(t)
	for _, target := range []webhook.Target{"", webhook.TargetHost} {
		stored, err := json.Marshal(webhook.DeliverArgs{Event: ev, Target: target})
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(stored, []byte("target")) {
			t.Fatalf("host job stored as %s, want no target field", stored)
		}
	}
}

func TestJobsStoredBeforeTargetsExistedGoToTheHost(t *testing.T) {
	old := `{"id":"evt_1","event":{"type":"verification.approved","timestamp":"2026-11-25T00:30:00Z","data":{}}}`
	var args webhook.DeliverArgs
	if err := json.Unmarshal([]byte(old), &args); err != nil {
		t.Fatal(err)
	}
	if args.Target != webhook.TargetHost || args.Event.ID != "evt_1" {
		t.Fatalf("old job read as target %q, id %q; want host, evt_1", args.Target, args.Event.ID)
	}
}

func TestAlertTargetSurvivesTheJobTable(t *testing.T) {
	ev := newEvent(t)
	stored, err := json.Marshal(webhook.DeliverArgs{Event: ev, Target: webhook.TargetAlerts})
	if err != nil {
		t.Fatal(err)
	}
	var back webhook.DeliverArgs
	if err := json.Unmarshal(stored, &back); err != nil {
		t.Fatal(err)
	}
	if back.Target != webhook.TargetAlerts || back.Event.ID != ev.ID {
		t.Fatalf("round trip = target %q id %q, want alerts %q", back.Target, back.Event.ID, ev.ID)
	}
}

func TestWorkerSendsEachTargetToItsOwnEndpointWithItsOwnSecret(t *testing.T) {
	host, alerts := newReceiver(t), newReceiver(t)
	w, err := webhook.NewRoutingWorker(host.endpoint(), alerts.endpoint(), quiet)
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range []webhook.Target{webhook.TargetHost, webhook.TargetAlerts, webhook.TargetAlerts, ""} {
		if err := w.Work(t.Context(), jobTo(target, newEvent(t))); err != nil {
			t.Fatalf("Work(%q) = %v", target, err)
		}
	}
	if c, v := host.calls.Load(), host.verified.Load(); c != 2 || v != 2 {
		t.Errorf("host got %d deliveries (%d verified), want 2 (2)", c, v)
	}
	if c, v := alerts.calls.Load(), alerts.verified.Load(); c != 2 || v != 2 {
		t.Errorf("alert endpoint got %d deliveries (%d verified), want 2 (2)", c, v)
	}
}

func TestAlertsWithoutAnAlertEndpointAreDroppedNotSentToTheHost(t *testing.T) {
	host := newReceiver(t)
	var logs bytes.Buffer
	w, err := webhook.NewWorker(host.URL, host.secret, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Work(t.Context(), jobTo(webhook.TargetAlerts, newEvent(t))); err != nil {
		t.Fatalf("Work = %v, want the job completed", err)
	}
	if n := host.calls.Load(); n != 0 {
		t.Fatalf("host received %d alert deliveries, want 0", n)
	}
	if !strings.Contains(logs.String(), "no alert webhook URL configured") {
		t.Fatalf("log = %q, want it to say no alert URL is configured", logs.String())
	}
}

func TestWorkerFailsAJobForAnUnknownTarget(t *testing.T) {
	host, alerts := newReceiver(t), newReceiver(t)
	w, err := webhook.NewRoutingWorker(host.endpoint(), alerts.endpoint(), quiet)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Work(t.Context(), jobTo("auditors", newEvent(t))); err == nil {
		t.Fatal("Work with an unknown target succeeded, want an error")
	}
	if n := host.calls.Load() + alerts.calls.Load(); n != 0 {
		t.Fatalf("%d deliveries for an unknown target, want 0", n)
	}
}

func TestNewRoutingWorkerChecksTheAlertEndpoint(t *testing.T) {
	host := webhook.Endpoint{URL: "https://host/hook", Secret: webhook.NewSecret()}
	for _, alerts := range []webhook.Endpoint{
		{URL: "ftp://ops/hook", Secret: webhook.NewSecret()},
		{URL: "https://ops/hook", Secret: "not-a-secret"},
	} {
		if _, err := webhook.NewRoutingWorker(host, alerts, quiet); err == nil {
			t.Errorf("NewRoutingWorker(…, %q) succeeded, want an error", alerts.URL)
		}
	}
}

func TestEnqueueToRefusesAnUnknownTarget(t *testing.T) {
	err := webhook.EnqueueTo(t.Context(), nil, nil, "auditors", newEvent(t))
	if err == nil || !strings.Contains(err.Error(), "unknown target") {
		t.Fatalf("EnqueueTo = %v, want an unknown-target error", err)
	}
}

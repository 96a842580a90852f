package e2e

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// The real binary serves /metrics on --metrics-addr only, and /readyz on
// --addr, with the database gauges read from the real database.
func TestMetricsAndReadinessOfTheRealServer(t *testing.T) {
	metricsAddr := freeAddr(t)
	in := startInstance(t, "", "--metrics-addr", metricsAddr)
	get := func(url string) (int, string) {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(in.URL + "/readyz"); code != 200 || body != "ready\n" {
		t.Fatalf("readyz: %d %q", code, body)
	}
	_, uploadURL := newUploadLink(t, in, "metrics-member")
	if status, _ := upload(t, uploadURL, "drivers_licence", sampleJPEG(t, 3)); status != http.StatusSeeOther {
		t.Fatalf("upload: %d", status)
	}
	code, body := get("http://" + metricsAddr + "/metrics")
	if code != 200 {
		t.Fatalf("metrics: %d", code)
	}
	for _, want := range []string{
		`kakunin_http_requests_total{code="303",method="POST",route="POST /u/{token}"} 1`,
		`kakunin_upload_bytes_count 1`,
		`kakunin_epoch_keys_alive 1`,
		`kakunin_state_up 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(body, strings.TrimPrefix(uploadURL, in.URL+"/u/")) {
		t.Error("the upload token is in the metrics")
	}
	if code, _ := get(in.URL + "/metrics"); code == 200 {
		t.Error("/metrics is served on the public address too")
	}
}

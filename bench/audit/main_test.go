package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// The benchmark runs end to end on a small chain; it times nothing.
func TestBenchmarkRunsOnASmallChain(t *testing.T) {
	var out bytes.Buffer
	opt := options{n: 2000, baselineN: 100, concurrency: 64, data: t.TempDir()}
	if err := run(context.Background(), opt, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"append, group commit", "one tx per event", "verify whole chain", "sha256sum", "ratio group commit", "ratio verify / sha256sum"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("output lacks %q:\n%s", want, out.String())
		}
	}
}

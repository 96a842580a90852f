package mdoc_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/kakunin/kakunin/internal/mdoc/mdoctest"
)

// TestWriteSeeds regenerates testdata/fuzz when MDOC_WRITE_SEEDS=1.
func TestWriteSeeds(t *testing.T) {
	if os.Getenv("MDOC_WRITE_SEEDS") == "" {
		t.Skip("set MDOC_WRITE_SEEDS=1 to regenerate the seed corpus")
	}
	is, _, _ := setup(t)
	for i, o := range []mdoctest.Options{
		{AgeOver18: true, Origin: origin, Nonce: nonce, Authority: "Tokyo"},
		{AgeOver18: false, Origin: origin, Nonce: nonce, Extra: true},
		{AgeOver18: true, Origin: origin, Nonce: nonce, SwapDigests: true},
	} {
		b, err := is.Issue(o)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join("testdata", "fuzz", "FuzzDeviceResponse", fmt.Sprintf("seed%d", i))
		if err := os.WriteFile(p, []byte(fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

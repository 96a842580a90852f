package mdoc

import (
	"bytes"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"os"
	"testing"
	"time"
)

// The DeviceResponse of ISO/IEC 18013-5:2021 Annex D.4.1.2 ("mdoc response"),
// the "utopia" IACA / document signer. Taken from the public test vectors of
// openwallet-foundation-labs/identity-credential
// (identity-mdoc/src/commonTest/kotlin/com/android/identity/mdoc/TestVectors.kt,
// commit 8a7428265aeafb7e0a3b52fba63576937ca11890), as quoted in Sphereon's
// ssi-sdk tests. Its device authentication is a deviceMac (needs the reader's
// ephemeral key from the proximity flow), and it holds no age_over_18, so the
// test checks everything up to those: parsing, the issuer signature with the
// vector's own certificate, validity at a fixed time, docType and every
// element digest.
func annexD(t *testing.T) []byte {
	t.Helper()
	h, err := os.ReadFile("testdata/annexd_deviceresponse.hex")
	if err != nil {
		t.Fatal(err)
	}
	b, err := hex.DecodeString(string(bytes.TrimSpace(h)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAnnexDVector(t *testing.T) {
	resp := annexD(t)
	at := func(s string) func() time.Time {
		return func() time.Time { tm, _ := time.Parse(time.RFC3339, s); return tm }
	}
	v := &Verifier{Now: at("2021-01-01T00:00:00Z"), skipChain: true}
	// All issuer-side checks pass; the refusal is the missing element.
	if _, err := v.Verify(resp, nil); !errors.Is(err, ErrMissingAgeOver18) {
		t.Fatalf("annex D: got %v, want ErrMissingAgeOver18 (all digests and the issuer signature valid)", err)
	}
	// The real verifier does not trust the utopia IACA.
	if _, err := (&Verifier{Roots: x509.NewCertPool(), Now: v.Now}).Verify(resp, nil); !errors.Is(err, ErrUntrustedIssuer) {
		t.Fatalf("untrusted: got %v", err)
	}
	// After validUntil (2021-10-01T13:30:02Z).
	if _, err := (&Verifier{Now: at("2022-01-01T00:00:00Z"), skipChain: true}).Verify(resp, nil); !errors.Is(err, ErrExpired) {
		t.Fatalf("expired: got %v", err)
	}
	// Edit family_name "Doe" -> "Dof": that element's digest no longer matches.
	edited := bytes.Replace(resp, []byte("cDoe"), []byte("cDof"), 1)
	if bytes.Equal(edited, resp) {
		t.Fatal("vector lacks family_name")
	}
	if _, err := v.Verify(edited, nil); !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("edited: got %v", err)
	}
	// A bit flipped in the issuer signature (its last byte precedes "deviceSigned").
	i := bytes.Index(resp, []byte("ldeviceSigned"))
	sig := bytes.Clone(resp)
	sig[i-1] ^= 1
	if _, err := v.Verify(sig, nil); !errors.Is(err, ErrIssuerSignature) {
		t.Fatalf("signature: got %v", err)
	}
}

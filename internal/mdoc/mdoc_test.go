package mdoc_test

import (
	"errors"
	"testing"
	"time"

	"github.com/kakunin/kakunin/internal/mdoc"
	"github.com/kakunin/kakunin/internal/mdoc/mdoctest"
)

const (
	origin = "https://kakunin.example"
	nonce  = "n-0S6_WzA2Mj"
)

func setup(t testing.TB) (*mdoctest.Issuer, *mdoc.Verifier, []byte) {
	t.Helper()
	is, err := mdoctest.New()
	if err != nil {
		t.Fatal(err)
	}
	st, err := mdoc.DCAPISessionTranscript(origin, nonce, nil)
	if err != nil {
		t.Fatal(err)
	}
	return is, &mdoc.Verifier{Roots: is.Roots()}, st
}

func TestVerifyHappy(t *testing.T) {
	is, v, st := setup(t)
	for _, adult := range []bool{true, false} {
		resp, err := is.Issue(mdoctest.Options{AgeOver18: adult, Origin: origin, Nonce: nonce, Authority: "Tokyo PSC", Extra: true})
		if err != nil {
			t.Fatal(err)
		}
		res, err := v.Verify(resp, st)
		if err != nil {
			t.Fatalf("adult=%v: %v", adult, err)
		}
		if res.AgeOver18 != adult || res.DocType != mdoc.DocTypeMDL || res.IssuingAuthority != "Tokyo PSC" {
			t.Fatalf("adult=%v: got %+v", adult, res)
		}
		if res.ValidUntil.Before(time.Now()) || res.SignedAt.After(time.Now()) {
			t.Fatalf("dates %+v", res)
		}
	}
	// Without issuing_authority the signer certificate's subject is used.
	resp, _ := is.Issue(mdoctest.Options{AgeOver18: true, Origin: origin, Nonce: nonce})
	res, err := v.Verify(resp, st)
	if err != nil || res.IssuingAuthority != is.DSCert.Subject.String() {
		t.Fatalf("%v %+v", err, res)
	}
}

func TestVerifyRefusals(t *testing.T) {
	is, v, st := setup(t)
	other, _ := mdoctest.New()
	ok := mdoctest.Options{AgeOver18: true, Origin: origin, Nonce: nonce}
	with := func(f func(*mdoctest.Options)) mdoctest.Options { o := ok; f(&o); return o }
	otherNonce, _ := mdoc.DCAPISessionTranscript(origin, "another-nonce", nil)
	otherOrigin, _ := mdoc.DCAPISessionTranscript("https://evil.example", nonce, nil)
	withThumb, _ := mdoc.DCAPISessionTranscript(origin, nonce, make([]byte, 32))
	cases := []struct {
		name string
		v    *mdoc.Verifier
		o    mdoctest.Options
		st   []byte
		cut  bool
		want error
	}{
		{"wrong root", &mdoc.Verifier{Roots: other.Roots()}, ok, st, false, mdoc.ErrUntrustedIssuer},
		{"no roots", &mdoc.Verifier{}, ok, st, false, mdoc.ErrUntrustedIssuer},
		{"root expired at verification time", &mdoc.Verifier{Roots: is.Roots(), Now: func() time.Time { return time.Now().Add(2 * 365 * 24 * time.Hour) }}, with(func(o *mdoctest.Options) { o.ValidUntil = time.Now().Add(3 * 365 * 24 * time.Hour) }), st, false, mdoc.ErrUntrustedIssuer},
		{"expired mso", v, with(func(o *mdoctest.Options) {
			o.ValidFrom = time.Now().Add(-48 * time.Hour)
			o.ValidUntil = time.Now().Add(-time.Hour)
		}), st, false, mdoc.ErrExpired},
		{"not yet valid mso", v, with(func(o *mdoctest.Options) { o.ValidFrom = time.Now().Add(time.Hour) }), st, false, mdoc.ErrExpired},
		{"edited value", v, with(func(o *mdoctest.Options) { o.EditValueAfterSigning = true }), st, false, mdoc.ErrDigestMismatch},
		{"swapped digests", v, with(func(o *mdoctest.Options) { o.SwapDigests = true }), st, false, mdoc.ErrDigestMismatch},
		{"md5 digest", v, with(func(o *mdoctest.Options) { o.DigestAlgorithm = "MD5" }), st, false, mdoc.ErrDigestAlgorithm},
		{"other nonce", v, ok, otherNonce, false, mdoc.ErrDeviceSignature},
		{"other origin", v, ok, otherOrigin, false, mdoc.ErrDeviceSignature},
		{"dc_api.jwt thumbprint not bound", v, ok, withThumb, false, mdoc.ErrDeviceSignature},
		{"wrong doctype", v, with(func(o *mdoctest.Options) { o.DocType = "org.example.other" }), st, false, mdoc.ErrDocType},
		{"mso doctype differs", v, with(func(o *mdoctest.Options) { o.MSODocType = "org.example.other" }), st, false, mdoc.ErrDocType},
		{"missing age_over_18", v, with(func(o *mdoctest.Options) { o.OmitAge = true; o.Authority = "x" }), st, false, mdoc.ErrMissingAgeOver18},
		{"truncated", v, ok, st, true, mdoc.ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, err := is.Issue(c.o)
			if err != nil {
				t.Fatal(err)
			}
			if c.cut {
				resp = resp[:len(resp)/2]
			}
			res, err := c.v.Verify(resp, c.st)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, %+v; want %v", err, res, c.want)
			}
		})
	}
}

func TestIssuerSignatureTampered(t *testing.T) {
	is, v, st := setup(t)
	resp, err := is.Issue(mdoctest.Options{AgeOver18: true, Origin: origin, Nonce: nonce, BadIssuerSignature: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(resp, st); !errors.Is(err, mdoc.ErrIssuerSignature) {
		t.Fatalf("got %v", err)
	}
}

func FuzzDeviceResponse(f *testing.F) {
	is, v, st := setup(f)
	for _, adult := range []bool{true, false} {
		resp, err := is.Issue(mdoctest.Options{AgeOver18: adult, Origin: origin, Nonce: nonce, Authority: "A"})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(resp)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := v.Verify(b, st)
		if err == nil && res == nil {
			t.Fatal("nil result without error")
		}
	})
}

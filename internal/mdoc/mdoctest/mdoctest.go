// Package mdoctest is a test issuer and test wallet for internal/mdoc: it
// creates an IACA root, a document signer and a device key, and issues
// DeviceResponses for age_over_18 bound to an origin and nonce.
package mdoctest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"

	"github.com/kakunin/kakunin/internal/mdoc"
)

// Issuer holds the test PKI and device key.
type Issuer struct {
	Root      *x509.Certificate
	DSCert    *x509.Certificate
	dsKey     *ecdsa.PrivateKey
	DeviceKey *ecdsa.PrivateKey
}

// Options selects what Issue produces; the tamper fields break one check each.
type Options struct {
	AgeOver18  bool
	Origin     string
	Nonce      string
	DocType    string // document's docType; mdoc.DocTypeMDL when empty
	MSODocType string // MSO docType; DocType when empty
	ValidFrom  time.Time
	ValidUntil time.Time
	Authority  string // issuing_authority element; omitted when empty
	OmitAge    bool
	Extra      bool // also return family_name (must be ignored)

	EditValueAfterSigning bool // flip age_over_18 after digests are computed
	SwapDigests           bool // swap the two digests of the namespace
	DigestAlgorithm       string
	BadIssuerSignature    bool // flip a bit of the issuer's signature
}

var enc, _ = cbor.CoreDetEncOptions().EncMode()

// New creates a root valid now±1y and a document signer under it.
func New() (*Issuer, error) {
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	rootT := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{Country: []string{"JP"}, CommonName: "kakunin test IACA"},
		NotBefore: now.Add(-365 * 24 * time.Hour), NotAfter: now.Add(365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, BasicConstraintsValid: true, IsCA: true,
		MaxPathLenZero: true,
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootT, rootT, &rootKey.PublicKey, rootKey)
	if err != nil {
		return nil, err
	}
	root, _ := x509.ParseCertificate(rootDER)
	dsKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	dsT := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{Country: []string{"JP"}, CommonName: "kakunin test DS"},
		NotBefore: now.Add(-30 * 24 * time.Hour), NotAfter: now.Add(300 * 24 * time.Hour),
		KeyUsage:           x509.KeyUsageDigitalSignature,
		UnknownExtKeyUsage: []asn1.ObjectIdentifier{{1, 0, 18013, 5, 1, 2}},
	}
	dsDER, err := x509.CreateCertificate(rand.Reader, dsT, root, &dsKey.PublicKey, rootKey)
	if err != nil {
		return nil, err
	}
	ds, _ := x509.ParseCertificate(dsDER)
	dev, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	return &Issuer{Root: root, DSCert: ds, dsKey: dsKey, DeviceKey: dev}, nil
}

// Roots is a pool holding only this issuer's root.
func (is *Issuer) Roots() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(is.Root)
	return p
}

func tag24(v any) []byte {
	b, err := enc.Marshal(v)
	if err != nil {
		panic(err)
	}
	out, err := enc.Marshal(cbor.Tag{Number: 24, Content: b})
	if err != nil {
		panic(err)
	}
	return out
}

func tdate(t time.Time) cbor.Tag {
	return cbor.Tag{Number: 0, Content: t.UTC().Format(time.RFC3339)}
}

// Issue returns an encoded DeviceResponse.
func (is *Issuer) Issue(o Options) ([]byte, error) {
	if o.DocType == "" {
		o.DocType = mdoc.DocTypeMDL
	}
	if o.MSODocType == "" {
		o.MSODocType = o.DocType
	}
	if o.ValidFrom.IsZero() {
		o.ValidFrom = time.Now().Add(-time.Hour)
	}
	if o.ValidUntil.IsZero() {
		o.ValidUntil = time.Now().Add(24 * time.Hour)
	}
	if o.DigestAlgorithm == "" {
		o.DigestAlgorithm = "SHA-256"
	}
	type elem struct {
		id  string
		val any
	}
	var elems []elem
	if !o.OmitAge {
		elems = append(elems, elem{"age_over_18", o.AgeOver18})
	}
	if o.Authority != "" {
		elems = append(elems, elem{"issuing_authority", o.Authority})
	}
	if o.Extra {
		elems = append(elems, elem{"family_name", "YAMADA"})
	}
	if len(elems) < 2 {
		elems = append(elems, elem{"issuing_country", "JP"}) // a second item so SwapDigests has something to swap
	}
	var items []cbor.RawMessage
	digests := map[uint64][]byte{}
	for i, e := range elems {
		rnd := make([]byte, 16)
		rand.Read(rnd)
		item := map[string]any{"digestID": uint64(i), "random": rnd, "elementIdentifier": e.id, "elementValue": e.val}
		raw := tag24(item)
		h := sha256.Sum256(raw)
		digests[uint64(i)] = h[:]
		if o.EditValueAfterSigning && e.id == "age_over_18" {
			item["elementValue"] = !o.AgeOver18
			raw = tag24(item)
		}
		items = append(items, raw)
	}
	if o.SwapDigests {
		digests[0], digests[1] = digests[1], digests[0]
	}
	x, y := is.DeviceKey.X.FillBytes(make([]byte, 32)), is.DeviceKey.Y.FillBytes(make([]byte, 32))
	m := map[string]any{
		"version":         "1.0",
		"digestAlgorithm": o.DigestAlgorithm,
		"valueDigests":    map[string]any{mdoc.Namespace: digests},
		"deviceKeyInfo":   map[string]any{"deviceKey": map[int]any{1: 2, -1: 1, -2: x, -3: y}},
		"docType":         o.MSODocType,
		"validityInfo": map[string]any{
			"signed": tdate(o.ValidFrom), "validFrom": tdate(o.ValidFrom), "validUntil": tdate(o.ValidUntil),
		},
	}
	dsSigner, err := cose.NewSigner(cose.AlgorithmES256, is.dsKey)
	if err != nil {
		return nil, err
	}
	issuerAuth := cose.UntaggedSign1Message{
		Headers: cose.Headers{
			Protected:   cose.ProtectedHeader{cose.HeaderLabelAlgorithm: cose.AlgorithmES256},
			Unprotected: cose.UnprotectedHeader{cose.HeaderLabelX5Chain: is.DSCert.Raw},
		},
		Payload: tag24(m),
	}
	if err := (*cose.Sign1Message)(&issuerAuth).Sign(rand.Reader, nil, dsSigner); err != nil {
		return nil, err
	}
	if o.BadIssuerSignature {
		issuerAuth.Signature[0] ^= 1
	}
	issuerAuthRaw, err := issuerAuth.MarshalCBOR()
	if err != nil {
		return nil, err
	}

	devNS := tag24(map[string]any{})
	st, err := mdoc.DCAPISessionTranscript(o.Origin, o.Nonce, nil)
	if err != nil {
		return nil, err
	}
	dab, err := mdoc.DeviceAuthenticationBytes(st, o.DocType, devNS)
	if err != nil {
		return nil, err
	}
	devSigner, err := cose.NewSigner(cose.AlgorithmES256, is.DeviceKey)
	if err != nil {
		return nil, err
	}
	devSig := cose.UntaggedSign1Message{
		Headers: cose.Headers{Protected: cose.ProtectedHeader{cose.HeaderLabelAlgorithm: cose.AlgorithmES256}},
		Payload: dab,
	}
	if err := (*cose.Sign1Message)(&devSig).Sign(rand.Reader, nil, devSigner); err != nil {
		return nil, err
	}
	devSig.Payload = nil // detached
	devSigRaw, err := devSig.MarshalCBOR()
	if err != nil {
		return nil, err
	}
	resp := map[string]any{
		"version": "1.0",
		"documents": []any{map[string]any{
			"docType": o.DocType,
			"issuerSigned": map[string]any{
				"nameSpaces": map[string]any{mdoc.Namespace: items},
				"issuerAuth": cbor.RawMessage(issuerAuthRaw),
			},
			"deviceSigned": map[string]any{
				"nameSpaces": cbor.RawMessage(devNS),
				"deviceAuth": map[string]any{"deviceSignature": cbor.RawMessage(devSigRaw)},
			},
		}},
		"status": 0,
	}
	return enc.Marshal(resp)
}

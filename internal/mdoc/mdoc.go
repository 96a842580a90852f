// Package mdoc verifies an ISO/IEC 18013-5 mdoc DeviceResponse presented
// through OpenID4VP over the W3C Digital Credentials API, and returns only
// whether the holder is over 18 and who issued the document. Nothing else the
// wallet returns is kept: other elements are skipped without being decoded
// into the result.
package mdoc

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"hash"
	"math/big"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"
)

// Namespace is the ISO 18013-5 mDL namespace holding age_over_18.
const Namespace = "org.iso.18013.5.1"

// DocTypeMDL is the ISO 18013-5 mobile driving licence document type.
const DocTypeMDL = "org.iso.18013.5.1.mDL"

// Each refusal is a distinct error so that callers can log which check failed.
var (
	ErrMalformed        = errors.New("mdoc: malformed device response")
	ErrIssuerSignature  = errors.New("mdoc: issuer signature invalid")
	ErrUntrustedIssuer  = errors.New("mdoc: document signer not trusted")
	ErrExpired          = errors.New("mdoc: mobile security object not valid now")
	ErrDigestAlgorithm  = errors.New("mdoc: digest algorithm not accepted")
	ErrDigestMismatch   = errors.New("mdoc: element digest mismatch")
	ErrDeviceSignature  = errors.New("mdoc: device signature invalid")
	ErrDocType          = errors.New("mdoc: document type mismatch")
	ErrMissingAgeOver18 = errors.New("mdoc: age_over_18 not returned")
	ErrDeviceKey        = errors.New("mdoc: device key unsupported")
)

// Result is everything kakunin keeps from a presentation.
type Result struct {
	AgeOver18        bool
	DocType          string
	IssuingAuthority string // issuing_authority element if returned, else the signer certificate's subject
	SignedAt         time.Time
	ValidUntil       time.Time
}

// Verifier checks device responses against operator-configured IACA roots.
type Verifier struct {
	Roots   *x509.CertPool   // IACA root certificates the operator trusts
	DocType string           // expected document type; DocTypeMDL when empty
	Now     func() time.Time // verification time; time.Now when nil

	// skipChain is for the Annex D vector test only, whose IACA is not
	// trusted: the signature is still checked with the x5chain leaf.
	skipChain bool
}

// oidMdlDS is id-mdl-kp-mdlDS (ISO 18013-5 Annex B), the document signer's extended key usage.
var oidMdlDS = asn1.ObjectIdentifier{1, 0, 18013, 5, 1, 2}

// DCAPISessionTranscript builds the SessionTranscript for OpenID4VP over the
// Digital Credentials API, OpenID4VP 1.0 Appendix B.2.6.2 ("Invocation via the
// Digital Credentials API", #session_transcript_dc_api):
//
//	SessionTranscript = [null, null, ["OpenID4VPDCAPIHandover", sha256(cbor([origin, nonce, jwkThumbprint]))]]
//
// origin is not prefixed with "origin:"; jwkThumbprint is the RFC 7638 SHA-256
// thumbprint of the verifier's encryption key for response mode dc_api.jwt,
// and nil (encoded as CBOR null) for dc_api.
func DCAPISessionTranscript(origin, nonce string, jwkThumbprint []byte) ([]byte, error) {
	var thumb any
	if jwkThumbprint != nil {
		thumb = jwkThumbprint
	}
	info, err := encMode.Marshal([]any{origin, nonce, thumb})
	if err != nil {
		return nil, fmt.Errorf("mdoc: encode handover info: %w", err)
	}
	h := sha256.Sum256(info)
	return encMode.Marshal([]any{nil, nil, []any{"OpenID4VPDCAPIHandover", h[:]}})
}

var encMode, _ = cbor.CoreDetEncOptions().EncMode()

var decMode, _ = cbor.DecOptions{
	DupMapKey:        cbor.DupMapKeyEnforcedAPF,
	MaxNestedLevels:  16,
	MaxArrayElements: 4096,
	MaxMapPairs:      4096,
	IndefLength:      cbor.IndefLengthAllowed,
}.DecMode()

type deviceResponse struct {
	Version   string     `cbor:"version"`
	Documents []document `cbor:"documents"`
	Status    uint64     `cbor:"status"`
}

type document struct {
	DocType      string        `cbor:"docType"`
	IssuerSigned issuerSigned  `cbor:"issuerSigned"`
	DeviceSigned *deviceSigned `cbor:"deviceSigned"`
}

type issuerSigned struct {
	NameSpaces map[string][]cbor.RawMessage `cbor:"nameSpaces"`
	IssuerAuth cbor.RawMessage              `cbor:"issuerAuth"`
}

type deviceSigned struct {
	NameSpaces cbor.RawMessage `cbor:"nameSpaces"` // #6.24(bstr), kept as received
	DeviceAuth struct {
		DeviceSignature cbor.RawMessage `cbor:"deviceSignature"`
		DeviceMac       cbor.RawMessage `cbor:"deviceMac"`
	} `cbor:"deviceAuth"`
}

type issuerSignedItem struct {
	DigestID          uint64          `cbor:"digestID"`
	Random            []byte          `cbor:"random"`
	ElementIdentifier string          `cbor:"elementIdentifier"`
	ElementValue      cbor.RawMessage `cbor:"elementValue"`
}

type mso struct {
	Version         string                       `cbor:"version"`
	DigestAlgorithm string                       `cbor:"digestAlgorithm"`
	ValueDigests    map[string]map[uint64][]byte `cbor:"valueDigests"`
	DeviceKeyInfo   struct {
		DeviceKey cbor.RawMessage `cbor:"deviceKey"`
	} `cbor:"deviceKeyInfo"`
	DocType      string `cbor:"docType"`
	ValidityInfo struct {
		Signed     cbor.RawMessage `cbor:"signed"`
		ValidFrom  cbor.RawMessage `cbor:"validFrom"`
		ValidUntil cbor.RawMessage `cbor:"validUntil"`
	} `cbor:"validityInfo"`
}

// unwrap24 returns the content of #6.24(bstr).
func unwrap24(raw []byte) ([]byte, error) {
	var tag cbor.RawTag
	if err := decMode.Unmarshal(raw, &tag); err != nil || tag.Number != 24 {
		return nil, ErrMalformed
	}
	var b []byte
	if err := decMode.Unmarshal(tag.Content, &b); err != nil {
		return nil, ErrMalformed
	}
	return b, nil
}

// tdate decodes #6.0(tstr) (RFC 3339); an untagged text string is accepted too.
func tdate(raw []byte) (time.Time, error) {
	var t time.Time
	var tag cbor.RawTag
	content := raw
	if decMode.Unmarshal(raw, &tag) == nil {
		if tag.Number != 0 {
			return t, ErrMalformed
		}
		content = tag.Content
	}
	var s string
	if err := decMode.Unmarshal(content, &s); err != nil {
		return t, ErrMalformed
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return t, ErrMalformed
	}
	return t, nil
}

// Verify checks response completely for the given SessionTranscript
// (see DCAPISessionTranscript) and returns the result, or an error wrapping
// exactly one of the Err values.
func (v *Verifier) Verify(response []byte, sessionTranscript []byte) (*Result, error) {
	now := time.Now()
	if v.Now != nil {
		now = v.Now()
	}
	wantDocType := v.DocType
	if wantDocType == "" {
		wantDocType = DocTypeMDL
	}
	var resp deviceResponse
	if err := decMode.Unmarshal(response, &resp); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(resp.Documents) != 1 {
		return nil, fmt.Errorf("%w: %d documents", ErrMalformed, len(resp.Documents))
	}
	doc := resp.Documents[0]
	if doc.DocType != wantDocType {
		return nil, ErrDocType
	}

	// Issuer signature over the MSO, with the signer from x5chain.
	m, leaf, signedAt, validUntil, err := v.verifyIssuerAuth(doc.IssuerSigned.IssuerAuth, now)
	if err != nil {
		return nil, err
	}
	if m.DocType != doc.DocType {
		return nil, ErrDocType
	}
	var newHash func() hash.Hash
	switch m.DigestAlgorithm {
	case "SHA-256":
		newHash = sha256.New
	case "SHA-384":
		newHash = sha512.New384
	case "SHA-512":
		newHash = sha512.New
	default:
		return nil, ErrDigestAlgorithm
	}

	// Returned elements: only age_over_18 and issuing_authority are read, but
	// every returned item's digest must match.
	res := &Result{DocType: doc.DocType, SignedAt: signedAt, ValidUntil: validUntil}
	var haveAge bool
	for ns, items := range doc.IssuerSigned.NameSpaces {
		digests := m.ValueDigests[ns]
		for _, raw := range items {
			inner, err := unwrap24(raw)
			if err != nil {
				return nil, err
			}
			var item issuerSignedItem
			if err := decMode.Unmarshal(inner, &item); err != nil {
				return nil, fmt.Errorf("%w: issuer signed item", ErrMalformed)
			}
			want, ok := digests[item.DigestID]
			if !ok {
				return nil, ErrDigestMismatch
			}
			h := newHash()
			h.Write(raw)
			if subtle.ConstantTimeCompare(h.Sum(nil), want) != 1 {
				return nil, ErrDigestMismatch
			}
			if ns != Namespace {
				continue
			}
			switch item.ElementIdentifier {
			case "age_over_18":
				var b bool
				if err := decMode.Unmarshal(item.ElementValue, &b); err != nil {
					return nil, fmt.Errorf("%w: age_over_18 not a bool", ErrMalformed)
				}
				res.AgeOver18, haveAge = b, true
			case "issuing_authority":
				var s string
				if err := decMode.Unmarshal(item.ElementValue, &s); err != nil {
					return nil, fmt.Errorf("%w: issuing_authority not text", ErrMalformed)
				}
				res.IssuingAuthority = s
			}
		}
	}
	if !haveAge {
		return nil, ErrMissingAgeOver18
	}
	if res.IssuingAuthority == "" {
		res.IssuingAuthority = leaf.Subject.String()
	}

	if err := verifyDeviceAuth(doc, m, sessionTranscript); err != nil {
		return nil, err
	}
	return res, nil
}

func (v *Verifier) verifyIssuerAuth(raw []byte, now time.Time) (*mso, *x509.Certificate, time.Time, time.Time, error) {
	var zero time.Time
	var msg cose.UntaggedSign1Message
	if err := msg.UnmarshalCBOR(raw); err != nil {
		return nil, nil, zero, zero, fmt.Errorf("%w: issuerAuth: %v", ErrMalformed, err)
	}
	chain, err := x5chain(&msg)
	if err != nil {
		return nil, nil, zero, zero, err
	}
	leaf := chain[0]
	alg, err := msg.Headers.Protected.Algorithm()
	if err != nil {
		return nil, nil, zero, zero, fmt.Errorf("%w: issuerAuth algorithm", ErrMalformed)
	}
	ver, err := cose.NewVerifier(alg, leaf.PublicKey)
	if err != nil {
		return nil, nil, zero, zero, fmt.Errorf("%w: %v", ErrIssuerSignature, err)
	}
	if err := (*cose.Sign1Message)(&msg).Verify(nil, ver); err != nil {
		return nil, nil, zero, zero, ErrIssuerSignature
	}
	if v.skipChain {
		// test-only, see the field
	} else if err := v.verifyChain(chain, now); err != nil {
		return nil, nil, zero, zero, err
	}
	inner, err := unwrap24(msg.Payload)
	if err != nil {
		return nil, nil, zero, zero, err
	}
	var m mso
	if err := decMode.Unmarshal(inner, &m); err != nil {
		return nil, nil, zero, zero, fmt.Errorf("%w: mso: %v", ErrMalformed, err)
	}
	signed, err1 := tdate(m.ValidityInfo.Signed)
	from, err2 := tdate(m.ValidityInfo.ValidFrom)
	until, err3 := tdate(m.ValidityInfo.ValidUntil)
	if err1 != nil || err2 != nil || err3 != nil {
		return nil, nil, zero, zero, fmt.Errorf("%w: validityInfo", ErrMalformed)
	}
	if now.Before(from) || now.After(until) {
		return nil, nil, zero, zero, ErrExpired
	}
	return &m, leaf, signed, until, nil
}

// x5chain reads label 33 from the unprotected (or protected) header: one
// certificate as bstr or an array of them, leaf first.
func x5chain(msg *cose.UntaggedSign1Message) ([]*x509.Certificate, error) {
	v, ok := msg.Headers.Unprotected[cose.HeaderLabelX5Chain]
	if !ok {
		v, ok = msg.Headers.Protected[cose.HeaderLabelX5Chain]
	}
	if !ok {
		return nil, fmt.Errorf("%w: no x5chain", ErrUntrustedIssuer)
	}
	var ders [][]byte
	switch t := v.(type) {
	case []byte:
		ders = [][]byte{t}
	case []any:
		for _, e := range t {
			b, ok := e.([]byte)
			if !ok {
				return nil, fmt.Errorf("%w: x5chain entry", ErrMalformed)
			}
			ders = append(ders, b)
		}
	default:
		return nil, fmt.Errorf("%w: x5chain type", ErrMalformed)
	}
	if len(ders) == 0 || len(ders) > 4 {
		return nil, fmt.Errorf("%w: x5chain length", ErrMalformed)
	}
	certs := make([]*x509.Certificate, 0, len(ders))
	for _, d := range ders {
		c, err := x509.ParseCertificate(d)
		if err != nil {
			return nil, fmt.Errorf("%w: x5chain certificate: %v", ErrMalformed, err)
		}
		certs = append(certs, c)
	}
	return certs, nil
}

func (v *Verifier) verifyChain(chain []*x509.Certificate, now time.Time) error {
	if v.Roots == nil {
		return fmt.Errorf("%w: no IACA roots configured", ErrUntrustedIssuer)
	}
	leaf := chain[0]
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	// The document signer's EKU (id-mdl-kp-mdlDS) is unknown to crypto/x509,
	// so chain building accepts any EKU and the leaf is checked below.
	if _, err := leaf.Verify(x509.VerifyOptions{
		Roots: v.Roots, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	}); err != nil {
		return fmt.Errorf("%w: %v", ErrUntrustedIssuer, err)
	}
	if leaf.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return fmt.Errorf("%w: signer lacks digitalSignature key usage", ErrUntrustedIssuer)
	}
	hasDS := false
	for _, o := range leaf.UnknownExtKeyUsage {
		if o.Equal(oidMdlDS) {
			hasDS = true
		}
	}
	if !hasDS {
		return fmt.Errorf("%w: signer lacks id-mdl-kp-mdlDS", ErrUntrustedIssuer)
	}
	return nil
}

func verifyDeviceAuth(doc document, m *mso, sessionTranscript []byte) error {
	if doc.DeviceSigned == nil || len(doc.DeviceSigned.DeviceAuth.DeviceSignature) == 0 {
		// deviceMac needs the reader's ephemeral key, which OpenID4VP over the DC API does not have.
		return fmt.Errorf("%w: no deviceSignature", ErrDeviceSignature)
	}
	if _, err := unwrap24(doc.DeviceSigned.NameSpaces); err != nil {
		return err
	}
	key, err := coseKey(m.DeviceKeyInfo.DeviceKey)
	if err != nil {
		return err
	}
	var msg cose.UntaggedSign1Message
	if err := msg.UnmarshalCBOR(doc.DeviceSigned.DeviceAuth.DeviceSignature); err != nil {
		return fmt.Errorf("%w: deviceSignature: %v", ErrMalformed, err)
	}
	if msg.Payload != nil {
		return fmt.Errorf("%w: deviceSignature payload not detached", ErrDeviceSignature)
	}
	alg, err := msg.Headers.Protected.Algorithm()
	if err != nil {
		return fmt.Errorf("%w: deviceSignature algorithm", ErrMalformed)
	}
	dab, err := DeviceAuthenticationBytes(sessionTranscript, doc.DocType, doc.DeviceSigned.NameSpaces)
	if err != nil {
		return err
	}
	ver, err := cose.NewVerifier(alg, key)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrDeviceSignature, err)
	}
	msg.Payload = dab
	if err := (*cose.Sign1Message)(&msg).Verify(nil, ver); err != nil {
		return ErrDeviceSignature
	}
	return nil
}

// DeviceAuthenticationBytes is #6.24(bstr .cbor ["DeviceAuthentication",
// SessionTranscript, DocType, DeviceNameSpacesBytes]) (ISO 18013-5 9.1.3.4),
// with the transcript and the name spaces embedded as their encoded bytes.
func DeviceAuthenticationBytes(sessionTranscript []byte, docType string, deviceNameSpacesBytes []byte) ([]byte, error) {
	inner, err := encMode.Marshal([]any{"DeviceAuthentication", cbor.RawMessage(sessionTranscript), docType, cbor.RawMessage(deviceNameSpacesBytes)})
	if err != nil {
		return nil, fmt.Errorf("%w: device authentication: %v", ErrMalformed, err)
	}
	return encMode.Marshal(cbor.Tag{Number: 24, Content: inner})
}

// coseKey decodes an EC2 COSE_Key (RFC 9053) into an ECDSA public key.
func coseKey(raw []byte) (crypto.PublicKey, error) {
	var k map[int]cbor.RawMessage
	if err := decMode.Unmarshal(raw, &k); err != nil {
		return nil, fmt.Errorf("%w: device key", ErrMalformed)
	}
	var kty, crv int
	var x, y []byte
	if decMode.Unmarshal(k[1], &kty) != nil || kty != 2 {
		return nil, ErrDeviceKey
	}
	if decMode.Unmarshal(k[-1], &crv) != nil || decMode.Unmarshal(k[-2], &x) != nil || decMode.Unmarshal(k[-3], &y) != nil {
		return nil, ErrDeviceKey
	}
	var c elliptic.Curve
	switch crv {
	case 1:
		c = elliptic.P256()
	case 2:
		c = elliptic.P384()
	case 3:
		c = elliptic.P521()
	default:
		return nil, ErrDeviceKey
	}
	size := (c.Params().BitSize + 7) / 8
	if len(x) != size || len(y) != size {
		return nil, ErrDeviceKey
	}
	pub := &ecdsa.PublicKey{Curve: c, X: new(big.Int).SetBytes(x), Y: new(big.Int).SetBytes(y)}
	// Reject points off the curve via the uncompressed encoding round trip.
	enc := append([]byte{4}, append(bytes.Clone(x), y...)...)
	if _, err := ecdsa.ParseUncompressedPublicKey(c, enc); err != nil {
		return nil, ErrDeviceKey
	}
	return pub, nil
}

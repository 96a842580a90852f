// Package passkeytest plays a staff member's authenticator and browser in
// tests: it answers WebAuthn creation and request options as
// navigator.credentials would, with "none" attestation and ES256 keys, in
// the JSON that passkey.js sends. go-webauthn has no software
// authenticator; this one does only what kakunin's ceremonies need, and
// follows WebAuthn Level 3 §6.1 (authenticator data) and §8.7 ("none").
package passkeytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
)

// Authenticator holds passkeys for one person. The zero value is not
// usable: make one with New.
type Authenticator struct {
	// Origin is what the "browser" reports as the page's origin in the
	// client data; a test changes it to play a phishing site.
	Origin string
	creds  []*credential
}

type credential struct {
	id         []byte
	key        *ecdsa.PrivateKey
	rpID       string
	userHandle []byte
	signCount  uint32
}

// New returns an authenticator with no passkeys, used from origin.
func New(origin string) *Authenticator { return &Authenticator{Origin: origin} }

// Clone returns a copy holding the same keys and counters: a cloned
// authenticator, whose counters fall behind once the original is used.
func (a *Authenticator) Clone() *Authenticator {
	c := &Authenticator{Origin: a.Origin}
	for _, cr := range a.creds {
		cp := *cr
		c.creds = append(c.creds, &cp)
	}
	return c
}

var b64 = base64.RawURLEncoding

// Authenticator data flags (WebAuthn §6.1).
const (
	flagUP = 0x01 // user present
	flagUV = 0x04 // user verified
	flagAT = 0x40 // attested credential data included
)

// Create answers creation options ({"publicKey": …}, as the server sends
// them) with a new passkey, as navigator.credentials.create would.
func (a *Authenticator) Create(optionsJSON []byte) ([]byte, error) {
	var opts struct {
		PublicKey struct {
			RP        struct{ ID string } `json:"rp"`
			User      struct{ ID string } `json:"user"`
			Challenge string              `json:"challenge"`
			Params    []struct {
				Alg int `json:"alg"`
			} `json:"pubKeyCredParams"`
			Exclude []struct{ ID string } `json:"excludeCredentials"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(optionsJSON, &opts); err != nil {
		return nil, fmt.Errorf("creation options: %w", err)
	}
	pk := opts.PublicKey
	es256 := false
	for _, p := range pk.Params {
		es256 = es256 || p.Alg == -7
	}
	if !es256 {
		return nil, errors.New("the relying party does not accept ES256")
	}
	for _, ex := range pk.Exclude {
		if a.find(pk.RP.ID, ex.ID) != nil {
			return nil, errors.New("InvalidStateError: this authenticator is already registered")
		}
	}
	user, err := b64.DecodeString(pk.User.ID)
	if err != nil {
		return nil, fmt.Errorf("user id: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	cred := &credential{id: make([]byte, 32), key: key, rpID: pk.RP.ID, userHandle: user}
	rand.Read(cred.id)

	// COSE_Key of an EC2 P-256 key for ES256 (RFC 9053 §7.1.1).
	pub, err := key.PublicKey.ECDH()
	if err != nil {
		return nil, err
	}
	point := pub.Bytes() // 0x04 || X || Y
	coseKey, err := webauthncbor.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: point[1:33], -3: point[33:65]})
	if err != nil {
		return nil, err
	}
	authData := a.authData(cred.rpID, flagUP|flagUV|flagAT, 0)
	authData = append(authData, make([]byte, 16)...) // AAGUID: none
	authData = binary.BigEndian.AppendUint16(authData, uint16(len(cred.id)))
	authData = append(authData, cred.id...)
	authData = append(authData, coseKey...)
	attObj, err := webauthncbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": authData})
	if err != nil {
		return nil, err
	}
	clientData, err := a.clientData("webauthn.create", pk.Challenge)
	if err != nil {
		return nil, err
	}
	a.creds = append(a.creds, cred)
	return json.Marshal(map[string]any{
		"id": b64.EncodeToString(cred.id), "rawId": b64.EncodeToString(cred.id), "type": "public-key",
		"authenticatorAttachment": "platform", "clientExtensionResults": map[string]any{},
		"response": map[string]any{
			"clientDataJSON": b64.EncodeToString(clientData), "attestationObject": b64.EncodeToString(attObj),
			"transports": []string{"internal"},
		},
	})
}

// Get answers request options ({"publicKey": …}) with an assertion by the
// first allowed passkey this authenticator holds, as
// navigator.credentials.get would.
func (a *Authenticator) Get(optionsJSON []byte) ([]byte, error) {
	var opts struct {
		PublicKey struct {
			Challenge string                `json:"challenge"`
			RPID      string                `json:"rpId"`
			Allow     []struct{ ID string } `json:"allowCredentials"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(optionsJSON, &opts); err != nil {
		return nil, fmt.Errorf("request options: %w", err)
	}
	pk := opts.PublicKey
	var cred *credential
	for _, al := range pk.Allow {
		if cred = a.find(pk.RPID, al.ID); cred != nil {
			break
		}
	}
	if cred == nil {
		return nil, errors.New("NotAllowedError: no passkey for this site")
	}
	cred.signCount++
	authData := a.authData(cred.rpID, flagUP|flagUV, cred.signCount)
	clientData, err := a.clientData("webauthn.get", pk.Challenge)
	if err != nil {
		return nil, err
	}
	hash := sha256.Sum256(clientData)
	digest := sha256.Sum256(append(authData, hash[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, cred.key, digest[:])
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{
		"id": b64.EncodeToString(cred.id), "rawId": b64.EncodeToString(cred.id), "type": "public-key",
		"authenticatorAttachment": "platform", "clientExtensionResults": map[string]any{},
		"response": map[string]any{
			"clientDataJSON": b64.EncodeToString(clientData), "authenticatorData": b64.EncodeToString(authData),
			"signature": b64.EncodeToString(sig), "userHandle": b64.EncodeToString(cred.userHandle),
		},
	})
}

func (a *Authenticator) find(rpID, id string) *credential {
	raw, err := b64.DecodeString(id)
	if err != nil {
		return nil
	}
	for _, c := range a.creds {
		if c.rpID == rpID && string(c.id) == string(raw) {
			return c
		}
	}
	return nil
}

// authData is rpIdHash || flags || signCount (WebAuthn §6.1).
func (a *Authenticator) authData(rpID string, flags byte, signCount uint32) []byte {
	h := sha256.Sum256([]byte(rpID))
	out := append(h[:], flags)
	return binary.BigEndian.AppendUint32(out, signCount)
}

func (a *Authenticator) clientData(typ, challenge string) ([]byte, error) {
	return json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": a.Origin, "crossOrigin": false})
}

package vault

import (
	"bytes"
	"testing"

	"github.com/kakunin/kakunin"
)

func TestSealedFieldOpensOnlyForItsPurpose(t *testing.T) {
	v, _ := newTestVault(t)
	ct, err := v.SealField("member-email", []byte("member@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(ct, []byte("member@example.com")) {
		t.Fatal("ciphertext contains the plaintext")
	}
	if pt, err := v.OpenField("member-email", ct); err != nil || string(pt) != "member@example.com" {
		t.Fatalf("OpenField = %q, %v", pt, err)
	}
	if _, err := v.OpenField("totp-secret", ct); err == nil {
		t.Error("opened a field under another purpose")
	}
	tampered := bytes.Clone(ct)
	tampered[len(tampered)-1] ^= 1
	if _, err := v.OpenField("member-email", tampered); err == nil {
		t.Error("opened a tampered field")
	}
	if _, err := v.SealField("", []byte("x")); kakunin.ErrorCode(err) != kakunin.EINVALID {
		t.Errorf("empty purpose: got %v, want an invalid error", err)
	}
}

func TestBlindIndexIsADeterministicKeyedHashSeparatedByPurpose(t *testing.T) {
	v, _ := newTestVault(t)
	other, _ := newTestVault(t)
	idx := v.BlindIndex("member-email", []byte("a@example.com"))
	if len(idx) != 32 {
		t.Fatalf("len = %d, want 32", len(idx))
	}
	if !bytes.Equal(idx, v.BlindIndex("member-email", []byte("a@example.com"))) {
		t.Error("not deterministic")
	}
	differ := []struct {
		name string
		got  []byte
	}{
		{"another value", v.BlindIndex("member-email", []byte("b@example.com"))},
		{"another purpose", v.BlindIndex("staff-email", []byte("a@example.com"))},
		{"another key", other.BlindIndex("member-email", []byte("a@example.com"))},
		{"the MAC of the same input", v.MAC("member-email", []byte("a@example.com"))},
	}
	for _, d := range differ {
		if bytes.Equal(idx, d.got) {
			t.Errorf("equals the index of %s", d.name)
		}
	}
	// Unframed concatenation would make these two equal.
	if bytes.Equal(v.BlindIndex("ab", []byte("c")), v.BlindIndex("a", []byte("bc"))) {
		t.Error("purpose and value are not framed")
	}
}

func TestVerifyMACAcceptsOnlyTheTagOfTheSameMessageAndPurpose(t *testing.T) {
	v, _ := newTestVault(t)
	other, _ := newTestVault(t)
	msg := []byte("upload/ver-1/2026-11-25T10:00:00Z")
	tag := v.MAC("upload-link", msg)
	if len(tag) != 32 {
		t.Fatalf("len = %d, want 32", len(tag))
	}
	flipped := bytes.Clone(tag)
	flipped[0] ^= 1
	tests := []struct {
		name    string
		purpose string
		msg     []byte
		tag     []byte
		want    bool
	}{
		{"the tag it made", "upload-link", msg, tag, true},
		{"a tag with a flipped bit", "upload-link", msg, flipped, false},
		{"a truncated tag", "upload-link", msg, tag[:16], false},
		{"no tag", "upload-link", msg, nil, false},
		{"another message", "upload-link", []byte("upload/ver-2/2026-11-25T10:00:00Z"), tag, false},
		{"another purpose", "login-link", msg, tag, false},
		{"the blind index of the message", "upload-link", msg, v.BlindIndex("upload-link", msg), false},
		{"a tag made with another key", "upload-link", msg, other.MAC("upload-link", msg), false},
	}
	for _, tt := range tests {
		if got := v.VerifyMAC(tt.purpose, tt.msg, tt.tag); got != tt.want {
			t.Errorf("%s: VerifyMAC = %v, want %v", tt.name, got, tt.want)
		}
	}
}

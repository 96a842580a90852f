//go:build ignore

// gen_testdata regenerates the fixed vectors in testdata/. Run it only when
// the format changes on purpose (a new version), never to make a failing
// vector test pass:
//
//	cd internal/vault && go run gen_testdata.go
package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"log"
	"os"
	"path/filepath"

	"github.com/kakunin/kakunin/internal/vault"
)

func main() {
	ctx := context.Background()
	dir := "testdata"
	for _, p := range []string{"kek.json", "keys", "vectors.json"} {
		if err := os.RemoveAll(filepath.Join(dir, p)); err != nil {
			log.Fatal(err)
		}
	}
	kek, err := vault.OpenLocalKeyset(filepath.Join(dir, "kek.json"))
	if err != nil {
		log.Fatal(err)
	}
	v, err := vault.New(ctx, kek, filepath.Join(dir, "keys"))
	if err != nil {
		log.Fatal(err)
	}

	const (
		docID     = "doc-vector-1"
		epoch     = "2026-11-25"
		plaintext = "kakunin test vector: not a real identity document.\n"
		email     = "member@example.com"
	)
	var ct bytes.Buffer
	w, wrapped, err := v.SealDocument(ctx, docID, epoch, &ct)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := w.Write([]byte(plaintext)); err != nil {
		log.Fatal(err)
	}
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}
	field, err := v.SealField("member-email", []byte(email))
	if err != nil {
		log.Fatal(err)
	}

	vectors := map[string]string{
		"doc_id":          docID,
		"epoch":           epoch,
		"plaintext":       plaintext,
		"wrapped_key_hex": hex.EncodeToString(wrapped),
		"ciphertext_hex":  hex.EncodeToString(ct.Bytes()),
		"field_purpose":   "member-email",
		"field_plaintext": email,
		"field_hex":       hex.EncodeToString(field),
		"blind_index_hex": hex.EncodeToString(v.BlindIndex("member-email", []byte(email))),
		"mac_message":     "upload/ver-1",
		"mac_hex":         hex.EncodeToString(v.MAC("upload-link", []byte("upload/ver-1"))),
	}
	out, err := json.MarshalIndent(vectors, "", "  ")
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "vectors.json"), append(out, '\n'), 0o644); err != nil {
		log.Fatal(err)
	}
}

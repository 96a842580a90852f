package vault

import (
	"context"
	"io"
	"testing"
)

func BenchmarkSealDocument1MB(b *testing.B) {
	v, _ := newTestVault(b)
	plaintext := randomBytes(1<<20, 8)
	b.SetBytes(int64(len(plaintext)))
	for b.Loop() {
		w, _, err := v.SealDocument(context.Background(), "doc-1", "2026-11-25", io.Discard)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := w.Write(plaintext); err != nil {
			b.Fatal(err)
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

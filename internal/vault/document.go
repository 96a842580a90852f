package vault

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/streamingaead"

	"github.com/kakunin/kakunin"
)

// SealDocument returns a writer that encrypts everything written to it into
// dst, and the document's wrapped data key, which is what the database keeps.
// The epoch key is created if absent; sealing into a destroyed epoch fails
// with ErrKeyDestroyed. Close the writer to finish the ciphertext (it does not
// close dst); until then the ciphertext is truncated and will not open.
func (v *Vault) SealDocument(ctx context.Context, docID, epoch string, dst io.Writer) (io.WriteCloser, []byte, error) {
	if err := validDocument(docID, epoch); err != nil {
		return nil, nil, err
	}
	epochKey, err := v.sealingEpochKey(ctx, epoch)
	if err != nil {
		return nil, nil, fmt.Errorf("seal document %s: epoch %s: %w", docID, epoch, err)
	}
	// A fresh key per document: a leaked data key exposes one image only.
	dataKey, err := keyset.NewHandle(streamingaead.AES256GCMHKDF1MBKeyTemplate())
	if err != nil {
		return nil, nil, fmt.Errorf("seal document %s: generate data key: %w", docID, err)
	}
	var wrapped bytes.Buffer
	if err := dataKey.WriteWithAssociatedData(keyset.NewBinaryWriter(&wrapped), epochKey, []byte(adDocumentKey+docID)); err != nil {
		return nil, nil, fmt.Errorf("seal document %s: wrap data key: %w", docID, err)
	}
	sa, err := streamingaead.New(dataKey)
	if err != nil {
		return nil, nil, fmt.Errorf("seal document %s: %w", docID, err)
	}
	w, err := sa.NewEncryptingWriter(dst, []byte(adDocument+docID))
	if err != nil {
		return nil, nil, fmt.Errorf("seal document %s: %w", docID, err)
	}
	return w, wrapped.Bytes(), nil
}

// OpenDocument returns a reader of the plaintext of a document sealed by
// SealDocument. It fails with ErrKeyDestroyed when the epoch key is gone, and
// with another error when the wrapped key was altered or belongs to another
// document. The ciphertext is checked segment by segment as it is read: the
// caller must read to io.EOF and discard everything on any read error, which
// is how an altered, swapped or truncated blob shows.
func (v *Vault) OpenDocument(ctx context.Context, docID, epoch string, wrappedKey []byte, src io.Reader) (io.Reader, error) {
	if err := validDocument(docID, epoch); err != nil {
		return nil, err
	}
	epochKey, err := v.epochKey(ctx, epoch)
	if err != nil {
		return nil, fmt.Errorf("open document %s: epoch %s: %w", docID, epoch, err)
	}
	dataKey, err := keyset.ReadWithAssociatedData(keyset.NewBinaryReader(bytes.NewReader(wrappedKey)), epochKey, []byte(adDocumentKey+docID))
	if err != nil {
		return nil, fmt.Errorf("open document %s: unwrap data key: %w", docID, err)
	}
	sa, err := streamingaead.New(dataKey)
	if err != nil {
		return nil, fmt.Errorf("open document %s: %w", docID, err)
	}
	r, err := sa.NewDecryptingReader(src, []byte(adDocument+docID))
	if err != nil {
		return nil, fmt.Errorf("open document %s: %w", docID, err)
	}
	return r, nil
}

func validDocument(docID, epoch string) error {
	if docID == "" {
		return kakunin.Errorf(kakunin.EINVALID, "document ID is empty")
	}
	return validEpoch(epoch)
}

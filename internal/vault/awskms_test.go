package vault

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/aws/session"
	"github.com/aws/aws-sdk-go/service/kms"
)

// testKMS returns a KMS client on the real local-kms named by
// KAKUNIN_TEST_KMS, or skips.
func testKMS(t *testing.T) *kms.KMS {
	t.Helper()
	ep := os.Getenv("KAKUNIN_TEST_KMS")
	if ep == "" {
		t.Skip(`KAKUNIN_TEST_KMS is not set; run eval "$(.ci/local-kms.sh start "$(mktemp -d)")" to test against a real local-kms`)
	}
	t.Setenv("AWS_ENDPOINT_URL_KMS", ep)
	sess, err := session.NewSession(&aws.Config{Region: aws.String("us-east-1"), Endpoint: aws.String(ep)})
	if err != nil {
		t.Fatal(err)
	}
	return kms.New(sess)
}

func createKMSKey(t *testing.T, c *kms.KMS) string {
	t.Helper()
	out, err := c.CreateKey(&kms.CreateKeyInput{Description: aws.String("kakunin test KEK")})
	if err != nil {
		t.Fatal(err)
	}
	return "aws-kms://" + *out.KeyMetadata.Arn
}

// A vault whose KEK is a real KMS key seals and opens documents, and what it
// wrote to its key directory opens nothing under another KMS key.
func TestAWSKMSVaultSealsAndOpens(t *testing.T) {
	c := testKMS(t)
	ctx := context.Background()
	kek, err := OpenAWSKMS(ctx, createKMSKey(t, c))
	if err != nil {
		t.Fatal(err)
	}
	keyDir := filepath.Join(t.TempDir(), "keys")
	v, err := New(ctx, kek, keyDir)
	if err != nil {
		t.Fatal(err)
	}
	epoch := "2026-12-03"
	plain := randomBytes(100_000, 7)
	wrapped, ct := seal(t, v, "doc-1", epoch, plain)
	got, err := open(v, "doc-1", epoch, wrapped, ct)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("open under the KMS KEK: err %v, equal %v", err, bytes.Equal(got, plain))
	}

	// The same key directory under a different KMS key opens nothing.
	other, err := OpenAWSKMS(ctx, createKMSKey(t, c))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(ctx, other, keyDir); err == nil {
		v2, _ := New(ctx, other, keyDir)
		if _, err := open(v2, "doc-1", epoch, wrapped, ct); err == nil {
			t.Fatal("a key directory wrapped by one KMS key opened under another")
		}
	}
}

// A KMS key pending deletion wraps and unwraps nothing at once: the state
// kakunin relies on to refuse an epoch's images during the 7-day window.
func TestAWSKMSKeyPendingDeletionIsRefused(t *testing.T) {
	c := testKMS(t)
	ctx := context.Background()
	uri := createKMSKey(t, c)
	kek, err := OpenAWSKMS(ctx, uri)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := kek.KEK(ctx)
	ct, err := a.Encrypt([]byte("epoch keyset"), []byte("ad"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Decrypt(ct, []byte("ad")); err != nil {
		t.Fatalf("decrypt before deletion: %v", err)
	}
	arn := uri[len("aws-kms://"):]
	if _, err := c.ScheduleKeyDeletion(&kms.ScheduleKeyDeletionInput{KeyId: aws.String(arn), PendingWindowInDays: aws.Int64(7)}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Decrypt(ct, []byte("ad")); err == nil {
		t.Fatal("a KMS key pending deletion still decrypted")
	}
}

func TestOpenAWSKMSRefusesMalformedURIs(t *testing.T) {
	for _, uri := range []string{"", "local", "aws-kms://", "aws-kms://key/123", "aws-kms://arn:aws:s3:::bucket", "aws-kms://arn:aws:kms::1:key/x"} {
		if _, err := OpenAWSKMS(context.Background(), uri); err == nil {
			t.Errorf("OpenAWSKMS(%q) accepted", uri)
		}
	}
}

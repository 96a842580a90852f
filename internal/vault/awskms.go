package vault

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/aws/session"
	"github.com/aws/aws-sdk-go/service/kms"
	"github.com/tink-crypto/tink-go-awskms/v2/integration/awskms"
	"github.com/tink-crypto/tink-go/v2/tink"

	"github.com/kakunin/kakunin"
)

// AWSKMS is a KeyProvider whose KEK is a key in AWS KMS, or in any server
// that speaks its API: kakunin never sees the key, every wrap and unwrap is a
// KMS call (docs/keys.md). Credentials and region come from the AWS SDK's
// environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, a profile or an
// instance role), never from a flag; AWS_ENDPOINT_URL_KMS points it at
// another server speaking the API (local-kms in the tests).
type AWSKMS struct {
	uri  string
	aead tink.AEAD
}

// OpenAWSKMS returns the provider for keyURI, of the form
// aws-kms://arn:aws:kms:REGION:ACCOUNT:key/ID (or …:alias/NAME).
func OpenAWSKMS(ctx context.Context, keyURI string) (*AWSKMS, error) {
	arn, ok := strings.CutPrefix(keyURI, "aws-kms://")
	if !ok || !strings.HasPrefix(arn, "arn:") {
		return nil, kakunin.Errorf(kakunin.EINVALID, "KMS key %q is not of the form aws-kms://arn:aws:kms:REGION:ACCOUNT:key/ID", keyURI)
	}
	parts := strings.Split(arn, ":")
	if len(parts) < 6 || parts[2] != "kms" || parts[3] == "" {
		return nil, kakunin.Errorf(kakunin.EINVALID, "KMS key %q has no region in its ARN", keyURI)
	}
	cfg := &aws.Config{Region: aws.String(parts[3])}
	if ep := os.Getenv("AWS_ENDPOINT_URL_KMS"); ep != "" {
		cfg.Endpoint = aws.String(ep)
	}
	sess, err := session.NewSession(cfg)
	if err != nil {
		return nil, fmt.Errorf("vault: AWS session for the KMS: %w", err)
	}
	client, err := awskms.NewClientWithOptions(keyURI, awskms.WithKMS(kms.New(sess)))
	if err != nil {
		return nil, fmt.Errorf("vault: KMS client: %w", err)
	}
	a, err := client.GetAEAD(keyURI)
	if err != nil {
		return nil, fmt.Errorf("vault: KMS key: %w", err)
	}
	return &AWSKMS{uri: keyURI, aead: a}, nil
}

// KEK returns the AEAD whose calls go to the KMS.
func (k *AWSKMS) KEK(context.Context) (tink.AEAD, error) { return k.aead, nil }

// Package blobstoretest gives tests a real S3 bucket when KAKUNIN_TEST_S3
// names an S3-compatible endpoint (MinIO on loopback: .ci/minio.sh start
// DIR prints it with the AWS_* credentials); without it they are skipped.
package blobstoretest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// EnvS3 names the variable holding the S3 endpoint for tests.
const EnvS3 = "KAKUNIN_TEST_S3"

// S3URL creates a fresh bucket at KAKUNIN_TEST_S3 and returns its
// blobstore URL, or skips t with how to run it.
func S3URL(t testing.TB) string {
	t.Helper()
	endpoint := os.Getenv(EnvS3)
	if endpoint == "" {
		t.Skipf("S3 tests skipped: set %s to an S3 endpoint (.ci/minio.sh start DIR) with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY", EnvS3)
	}
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion("us-east-1"))
	if err != nil {
		t.Fatalf("S3 test config: %v", err)
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) { o.BaseEndpoint = aws.String(endpoint); o.UsePathStyle = true })
	b := make([]byte, 6)
	rand.Read(b)
	name := "kakunin-test-" + hex.EncodeToString(b)
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
	return "s3://" + name + "?region=us-east-1&use_path_style=true&endpoint=" + url.QueryEscape(endpoint)
}

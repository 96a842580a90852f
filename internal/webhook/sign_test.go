package webhook_test

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kakunin/kakunin/internal/webhook"
)

// The Standard Webhooks reference vector, from the specification's test
// suite: a change that breaks compatibility with every receiver fails here.
const (
	refSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	refID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	refTimestamp = 1614265330
	refBody      = `{"test": 2432232314}`
	refSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func TestSignMatchesStandardWebhooksReferenceVector(t *testing.T) {
	got, err := webhook.Sign(refSecret, refID, time.Unix(refTimestamp, 0), []byte(refBody))
	if err != nil {
		t.Fatal(err)
	}
	if got != refSignature {
		t.Fatalf("Sign = %q, want %q", got, refSignature)
	}
}

func refHeader(sig string) http.Header {
	h := http.Header{}
	h.Set(webhook.HeaderID, refID)
	h.Set(webhook.HeaderTimestamp, strconv.Itoa(refTimestamp))
	h.Set(webhook.HeaderSignature, sig)
	return h
}

func TestVerify(t *testing.T) {
	at := time.Unix(refTimestamp, 0)
	other := webhook.NewSecret()
	tests := []struct {
		name   string
		secret string
		header http.Header
		body   string
		now    time.Time
		want   error // nil for success
	}{
		{"accepts the reference message", refSecret, refHeader(refSignature), refBody, at, nil},
		{"accepts one valid signature among several", refSecret, refHeader("v1,bm90IGl0 v2,whatever " + refSignature), refBody, at, nil},
		{"accepts a timestamp just within tolerance", refSecret, refHeader(refSignature), refBody, at.Add(webhook.DefaultTolerance), nil},
		{"rejects a tampered body", refSecret, refHeader(refSignature), `{"test": 2432232315}`, at, webhook.ErrInvalidSignature},
		{"rejects a wrong secret", other, refHeader(refSignature), refBody, at, webhook.ErrInvalidSignature},
		{"rejects a stale timestamp", refSecret, refHeader(refSignature), refBody, at.Add(webhook.DefaultTolerance + time.Second), webhook.ErrStaleTimestamp},
		{"rejects a timestamp from the future", refSecret, refHeader(refSignature), refBody, at.Add(-webhook.DefaultTolerance - time.Second), webhook.ErrStaleTimestamp},
		{"rejects a signature of another version", refSecret, refHeader("v2," + strings.TrimPrefix(refSignature, "v1,")), refBody, at, webhook.ErrInvalidSignature},
		{"rejects a missing signature", refSecret, refHeader(""), refBody, at, webhook.ErrMissingHeaders},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := webhook.Verify(tt.secret, tt.header, []byte(tt.body), tt.now, 0)
			if tt.want == nil && err != nil {
				t.Fatalf("Verify = %v, want success", err)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestVerifyRejectsAnIDSwappedIntoAnotherMessage(t *testing.T) {
	h := refHeader(refSignature)
	h.Set(webhook.HeaderID, "msg_other")
	if err := webhook.Verify(refSecret, h, []byte(refBody), time.Unix(refTimestamp, 0), 0); !errors.Is(err, webhook.ErrInvalidSignature) {
		t.Fatalf("Verify = %v, want ErrInvalidSignature", err)
	}
}

func TestNewSecretSignsAndVerifies(t *testing.T) {
	secret := webhook.NewSecret()
	if !strings.HasPrefix(secret, webhook.SecretPrefix) {
		t.Fatalf("NewSecret = %q, want the %s prefix", secret, webhook.SecretPrefix)
	}
	if secret == webhook.NewSecret() {
		t.Fatal("NewSecret returned the same secret twice")
	}
	now := time.Now()
	sig, err := webhook.Sign(secret, "evt_1", now, []byte("{}"))
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set(webhook.HeaderID, "evt_1")
	h.Set(webhook.HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	h.Set(webhook.HeaderSignature, sig)
	if err := webhook.Verify(secret, h, []byte("{}"), now, time.Minute); err != nil {
		t.Fatalf("Verify = %v", err)
	}
}

func TestSignRefusesMalformedSecretsWithoutQuotingThem(t *testing.T) {
	for _, secret := range []string{"", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_not*base64", "whsec_c2hvcnQ="} {
		_, err := webhook.Sign(secret, "evt_1", time.Now(), nil)
		if err == nil {
			t.Errorf("Sign accepted secret %q", secret)
			continue
		}
		if secret != "" && strings.Contains(err.Error(), strings.TrimPrefix(secret, "whsec_")) {
			t.Errorf("error %q quotes the secret", err)
		}
	}
}

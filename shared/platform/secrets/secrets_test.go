package secrets_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/stagemover/stagemover/shared/platform/secrets"
	"github.com/stagemover/stagemover/shared/testkit/lambdatest"
)

// counting wraps the real client to count calls to Secrets Manager.
type counting struct {
	secrets.API
	calls atomic.Int32
}

func (c *counting) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	c.calls.Add(1)
	return c.API.GetSecretValue(ctx, in, opts...)
}

func TestCacheReadsSecretsManagerOncePerTTL(t *testing.T) {
	sm := lambdatest.StartSecretsManager(t)
	jsonARN := sm.Put(t, "pipedrive", `{"api_token":"tok-123"}`)
	plainARN := sm.Put(t, "plain", "  tok-plain\n")
	emptyARN := sm.Put(t, "nofield", `{"other":"x"}`)
	api := &counting{API: sm.Client}
	cache := secrets.NewCache(api, time.Hour)
	ctx := context.Background()

	for i := 0; i < 3; i++ {
		v, err := cache.Field(ctx, jsonARN, "api_token")
		if err != nil || v != "tok-123" {
			t.Fatalf("Field = %q, %v", v, err)
		}
	}
	if n := api.calls.Load(); n != 1 {
		t.Fatalf("Secrets Manager calls = %d, want 1 within the TTL", n)
	}
	if v, err := cache.Field(ctx, plainARN, "api_token"); err != nil || v != "tok-plain" {
		t.Fatalf("plain secret = %q, %v", v, err)
	}
	if _, err := cache.Field(ctx, emptyARN, "api_token"); !errors.Is(err, secrets.ErrEmpty) {
		t.Fatalf("missing field: err = %v, want ErrEmpty", err)
	}
	_, err := cache.String(ctx, "arn:aws:secretsmanager:us-east-1:000000000000:secret:nope")
	if err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("missing secret: err = %v, want an error naming it", err)
	}
	if strings.Contains(err.Error(), "tok-") {
		t.Fatal("an error carries a secret value")
	}
}

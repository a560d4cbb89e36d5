package calendly_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stagemover/stagemover/shared/platform/secrets"
	"github.com/stagemover/stagemover/shared/source/calendly"
	"github.com/stagemover/stagemover/shared/source/ingest"
	"github.com/stagemover/stagemover/shared/testkit/lambdatest"
)

// TestSecretsFromSecretsManager reads both secrets from an in-process
// Secrets Manager, as JSON and as plain text, and drives the Keeper and a
// signature check with them.
func TestSecretsFromSecretsManager(t *testing.T) {
	sm := lambdatest.StartSecretsManager(t)
	cache := secrets.NewCache(sm.Client, time.Minute)
	keyJSON := sm.Put(t, "calendly-signing-key", `{"signing_key":"`+testKey+`"}`)
	keyPlain := sm.Put(t, "calendly-signing-key-plain", testKey)
	tokenJSON := sm.Put(t, "calendly-api-token", `{"api_token":"`+apiToken+`"}`)
	ctx := context.Background()

	for _, id := range []string{keyJSON, keyPlain} {
		k, err := ingest.KeyFromSecret(cache, id, calendly.SecretFieldSigningKey)(ctx)
		if err != nil || string(k) != testKey {
			t.Fatalf("signing key from %s: %q %v", id, k, err)
		}
	}
	s, _ := newStandIn(t)
	c := &calendly.Client{BaseURL: s.URL, Token: calendly.TokenFromSecret(cache, tokenJSON)}
	k := &calendly.Keeper{Client: c, Spec: spec(s, "https://api.example/webhooks/calendly"), SigningKey: ingest.KeyFromSecret(cache, keyJSON, calendly.SecretFieldSigningKey),
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := k.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if subs := s.Subscriptions(); len(subs) != 1 {
		t.Fatalf("%d subscriptions", len(subs))
	}
	// a secret without the field fails without quoting the secret
	wrong := sm.Put(t, "calendly-wrong", `{"token":"`+apiToken+`"}`)
	_, err := calendly.TokenFromSecret(cache, wrong)(ctx)
	if err == nil || strings.Contains(err.Error(), apiToken) {
		t.Fatalf("missing field: %v", err)
	}
}

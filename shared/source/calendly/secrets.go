package calendly

import (
	"context"

	"github.com/stagemover/stagemover/shared/platform/secrets"
	"github.com/stagemover/stagemover/shared/source/ingest"
)

// Secret fields. Each secret may also hold the bare value as plain text.
const (
	SecretFieldSigningKey = "signing_key" // CalendlySigningKeySecret: {"signing_key":"..."}
	SecretFieldAPIToken   = "api_token"   // CalendlyApiTokenSecret: {"api_token":"..."} (personal access token)
)

// SigningKeyFromSecret reads the webhook signing key through the cache
// (one Secrets Manager call per TTL in a warm function).
func SigningKeyFromSecret(c *secrets.Cache, secretID string) ingest.KeyFunc {
	return func(ctx context.Context) ([]byte, error) {
		v, err := c.Field(ctx, secretID, SecretFieldSigningKey)
		if err != nil {
			return nil, err
		}
		return []byte(v), nil
	}
}

// TokenFromSecret reads the Calendly API token through the cache, for
// Client.Token.
func TokenFromSecret(c *secrets.Cache, secretID string) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		return c.Field(ctx, secretID, SecretFieldAPIToken)
	}
}

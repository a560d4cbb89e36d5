package calendly

import (
	"context"

	"github.com/stagemover/stagemover/shared/platform/secrets"
)

// Secret fields. Each secret may also hold the bare value as plain text.
// The signing key is read with ingest.KeyFromSecret(cache, id,
// SecretFieldSigningKey).
const (
	SecretFieldSigningKey = "signing_key" // CalendlySigningKeySecret: {"signing_key":"..."}
	SecretFieldAPIToken   = "api_token"   // CalendlyApiTokenSecret: {"api_token":"..."} (personal access token)
)

// TokenFromSecret reads the Calendly API token through the cache, for
// Client.Token.
func TokenFromSecret(c *secrets.Cache, secretID string) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		return c.Field(ctx, secretID, SecretFieldAPIToken)
	}
}

package app

import (
	"fmt"
	"os"
	"strings"

	"github.com/stagemover/stagemover/shared/platform/config"
	"github.com/stagemover/stagemover/shared/source/calendly"
	"github.com/stagemover/stagemover/shared/source/ingest"
)

// Calendly environment variables.
const (
	VarCalendlySigningKey = "CALENDLY_SIGNING_KEY_SECRET_ARN"
	VarCalendlyToken      = "CALENDLY_API_TOKEN_SECRET_ARN"
	VarCalendlyURL        = "CALENDLY_WEBHOOK_URL"
	VarCalendlyOrg        = "CALENDLY_ORGANIZATION"
)

// IngestCalendly builds the handler for POST /webhooks/calendly. signingKey,
// when set, replaces the Secrets Manager read (local mode).
func IngestCalendly(d Deps, signingKey string) (*ingest.Handler, error) {
	d.defaults()
	key, err := d.key(routeKey{what: "Calendly signing key", local: signingKey, envVar: VarCalendlySigningKey, arn: os.Getenv(VarCalendlySigningKey),
		field: calendly.SecretFieldSigningKey})
	if err != nil {
		return nil, err
	}
	return d.route("ingest-calendly", calendly.Webhook{}, key), nil
}

// CalendlyKeeper builds the scheduled job that keeps the webhook
// subscription in place.
func CalendlyKeeper(d Deps) (*calendly.Keeper, error) {
	d.defaults()
	var missing []string
	env := map[string]string{}
	for _, name := range []string{VarCalendlySigningKey, VarCalendlyToken, VarCalendlyURL, VarCalendlyOrg} {
		if env[name] = os.Getenv(name); env[name] == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: %s is required but not set", config.ErrConfig, strings.Join(missing, ", "))
	}
	if d.Secrets == nil {
		return nil, fmt.Errorf("%w: no Secrets Manager client", config.ErrConfig)
	}
	cache := d.secretCache()
	return &calendly.Keeper{
		Client: &calendly.Client{BaseURL: os.Getenv("CALENDLY_BASE_URL"), Token: calendly.TokenFromSecret(cache, env[VarCalendlyToken])},
		Spec: calendly.SubscriptionSpec{
			URL:          env[VarCalendlyURL],
			Organization: env[VarCalendlyOrg],
			Scope:        os.Getenv("CALENDLY_SCOPE"),
			User:         os.Getenv("CALENDLY_USER"),
		},
		SigningKey: ingest.KeyFromSecret(cache, env[VarCalendlySigningKey], calendly.SecretFieldSigningKey),
		Log:        d.Log.With("function", "calendly-subscribe"),
	}, nil
}

package app

import (
	"context"
	"fmt"
	"os"

	"github.com/stagemover/stagemover/shared/config"
	"github.com/stagemover/stagemover/shared/doctype"
	"github.com/stagemover/stagemover/shared/docusign"
	"github.com/stagemover/stagemover/shared/metrics"
	"github.com/stagemover/stagemover/shared/pandadoc"
	"github.com/stagemover/stagemover/shared/secrets"
	"github.com/stagemover/stagemover/shared/webhook"
)

// Document source environment variables.
const (
	VarPandaDocKey  = "PANDADOC_SHARED_KEY_SECRET_ARN" // {"shared_key":"..."}
	VarDocuSignKeys = "DOCUSIGN_HMAC_SECRET_ARN"       // {"hmac_keys":"k1,k2"}
	VarDocTypeRules = "DOC_TYPE_RULES_FILE"            // optional YAML; default doctype.Default()
)

func docTypeRules() (*doctype.Rules, error) {
	if p := os.Getenv(VarDocTypeRules); p != "" {
		return doctype.Load(p) // errors name the file and line
	}
	return doctype.Default(), nil
}

// webhookKey is the key a source verifies deliveries with: the given local
// key (local mode), else the Secrets Manager secret arn (configured by the
// variable envVar), read through the cache by fromSecret.
func webhookKey(d Deps, key, envVar, arn string, fromSecret func(c *secrets.Cache, arn string) webhook.SecretFunc) (webhook.SecretFunc, error) {
	if key != "" {
		return func(context.Context) ([]byte, error) { return []byte(key), nil }, nil
	}
	if arn == "" || d.Secrets == nil {
		return nil, fmt.Errorf("%w: %s is required", config.ErrConfig, envVar)
	}
	return fromSecret(d.secretCache(), arn), nil
}

// IngestPandaDoc builds POST /webhooks/pandadoc; a non-empty key is the
// local mode's shared key.
func IngestPandaDoc(d Deps, key string) (*pandadoc.Handler, error) {
	d.defaults()
	rules, err := docTypeRules()
	if err != nil {
		return nil, err
	}
	secret, err := webhookKey(d, key, VarPandaDocKey, os.Getenv(VarPandaDocKey), pandadoc.SharedKeyFromSecret)
	if err != nil {
		return nil, err
	}
	return &pandadoc.Handler{Store: d.store(), Secret: secret, Rules: rules, InternalDomains: d.Config.InternalDomains,
		Now: d.Now, Log: d.Log.With("function", "ingest-pandadoc"),
		Metrics: metrics.New(d.Metrics, d.Config.MetricsNamespace, "ingest-pandadoc")}, nil
}

// IngestDocuSign builds POST /webhooks/docusign (Connect, JSON SIM).
func IngestDocuSign(d Deps, key string) (*docusign.Handler, error) {
	d.defaults()
	rules, err := docTypeRules()
	if err != nil {
		return nil, err
	}
	secret, err := webhookKey(d, key, VarDocuSignKeys, os.Getenv(VarDocuSignKeys), docusign.HMACKeysFromSecret)
	if err != nil {
		return nil, err
	}
	return &docusign.Handler{Store: d.store(), Secret: secret, Rules: rules, InternalDomains: d.Config.InternalDomains,
		Now: d.Now, Log: d.Log.With("function", "ingest-docusign"),
		Metrics: metrics.New(d.Metrics, d.Config.MetricsNamespace, "ingest-docusign")}, nil
}

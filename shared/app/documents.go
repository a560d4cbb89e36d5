package app

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/stagemover/stagemover/shared/platform/config"
	"github.com/stagemover/stagemover/shared/platform/secrets"
	"github.com/stagemover/stagemover/shared/source/doctype"
	"github.com/stagemover/stagemover/shared/source/docusign"
	"github.com/stagemover/stagemover/shared/source/ingest"
	"github.com/stagemover/stagemover/shared/source/pandadoc"
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
// variable envVar), read through the cache by fromSecret. split is how the
// source reads several keys from one value; ingest.CheckKeys decides if
// they are usable. A local key that is not stops the build. A secret that
// is not fails each read with an ingest.KeyError, which the handler answers
// with 503 "not configured" without reading the body: the operator fixes a
// secret without a redeploy, and the provider retries a 503 until then.
func webhookKey(d Deps, key, what, envVar, arn string, fromSecret func(c *secrets.Cache, arn string) ingest.KeyFunc, split func([]byte) [][]byte) (ingest.KeyFunc, error) {
	if key != "" {
		if err := ingest.CheckKeys("the local "+what, split([]byte(key))); err != nil {
			return nil, fmt.Errorf("%w: %w", config.ErrConfig, err)
		}
		return func(context.Context) ([]byte, error) { return []byte(key), nil }, nil
	}
	if arn == "" || d.Secrets == nil {
		return nil, fmt.Errorf("%w: %s is required", config.ErrConfig, envVar)
	}
	read, name := fromSecret(d.secretCache(), arn), "the secret named by "+envVar
	return func(ctx context.Context) ([]byte, error) {
		v, err := read(ctx)
		if errors.Is(err, secrets.ErrEmpty) {
			return nil, &ingest.KeyError{Name: name, Reason: "is empty"}
		}
		if err != nil {
			return nil, err
		}
		if err := ingest.CheckKeys(name, split(v)); err != nil {
			return nil, err
		}
		return v, nil
	}, nil
}

// oneKey is split for a source whose secret is one key.
func oneKey(v []byte) [][]byte { return [][]byte{v} }

// IngestPandaDoc builds POST /webhooks/pandadoc; a non-empty key is the
// local mode's shared key.
func IngestPandaDoc(d Deps, key string) (*ingest.Handler, error) {
	d.defaults()
	rules, err := docTypeRules()
	if err != nil {
		return nil, err
	}
	keys, err := webhookKey(d, key, "PandaDoc shared key", VarPandaDocKey, os.Getenv(VarPandaDocKey), pandadoc.SharedKeyFromSecret, pandadoc.Keys)
	if err != nil {
		return nil, err
	}
	return d.route("ingest-pandadoc", pandadoc.Webhook{Rules: rules, InternalDomains: d.Config.InternalDomains}, keys), nil
}

// IngestDocuSign builds POST /webhooks/docusign (Connect, JSON SIM).
func IngestDocuSign(d Deps, key string) (*ingest.Handler, error) {
	d.defaults()
	rules, err := docTypeRules()
	if err != nil {
		return nil, err
	}
	keys, err := webhookKey(d, key, "DocuSign HMAC key", VarDocuSignKeys, os.Getenv(VarDocuSignKeys), docusign.HMACKeysFromSecret, docusign.Keys)
	if err != nil {
		return nil, err
	}
	return d.route("ingest-docusign", docusign.Webhook{Rules: rules, InternalDomains: d.Config.InternalDomains}, keys), nil
}

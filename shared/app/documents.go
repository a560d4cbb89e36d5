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

// routeKey says where a route's key comes from.
type routeKey struct {
	what   string // names the key in errors: "Calendly signing key"
	local  string // the key itself (local mode); "" reads the secret
	envVar string // the variable naming the secret
	arn    string // the secret
	field  string // its JSON field; "" for a plain-text secret
	// split reads several keys from one value (a rotation); nil: one key.
	split func([]byte) [][]byte
}

// key is the key a route verifies deliveries with: k.local, else the
// secret k.arn read through the cache. ingest.CheckKeys decides whether the
// key (every key of a split value) is usable. A local key that is not
// stops the build. A secret that is not fails each read with an
// ingest.KeyError, which the handler answers with 503 "not configured"
// without reading the body: the operator fixes a secret without a
// redeploy, and the provider retries a 503 until then.
func (d Deps) key(k routeKey) (ingest.KeyFunc, error) {
	split := k.split
	if split == nil {
		split = func(v []byte) [][]byte { return [][]byte{v} }
	}
	if k.local != "" {
		if err := ingest.CheckKeys("the local "+k.what, split([]byte(k.local))); err != nil {
			return nil, fmt.Errorf("%w: %w", config.ErrConfig, err)
		}
		return func(context.Context) ([]byte, error) { return []byte(k.local), nil }, nil
	}
	if k.arn == "" || d.Secrets == nil {
		return nil, fmt.Errorf("%w: %s is required", config.ErrConfig, k.envVar)
	}
	read, name := ingest.KeyFromSecret(d.secretCache(), k.arn, k.field), "the secret named by "+k.envVar
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

// IngestPandaDoc builds POST /webhooks/pandadoc; a non-empty key is the
// local mode's shared key.
func IngestPandaDoc(d Deps, key string) (*ingest.Handler, error) {
	d.defaults()
	rules, err := docTypeRules()
	if err != nil {
		return nil, err
	}
	keys, err := d.key(routeKey{what: "PandaDoc shared key", local: key, envVar: VarPandaDocKey, arn: os.Getenv(VarPandaDocKey),
		field: pandadoc.SecretFieldSharedKey, split: pandadoc.Keys})
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
	keys, err := d.key(routeKey{what: "DocuSign HMAC key", local: key, envVar: VarDocuSignKeys, arn: os.Getenv(VarDocuSignKeys),
		field: docusign.SecretFieldHMACKeys, split: docusign.Keys})
	if err != nil {
		return nil, err
	}
	return d.route("ingest-docusign", docusign.Webhook{Rules: rules, InternalDomains: d.Config.InternalDomains}, keys), nil
}

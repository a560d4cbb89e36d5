package docusign

import (
	"context"

	"github.com/stagemover/stagemover/shared/source/doctype"
	"github.com/stagemover/stagemover/shared/source/ingest"
	"github.com/stagemover/stagemover/shared/store"
)

// Webhook is the ingest.Source of POST /webhooks/docusign (Connect, JSON
// SIM): one message per delivery, signed with one X-DocuSign-Signature-N
// header per HMAC key active on the account (the handler's key: several,
// comma or newline separated), each one document signal or a documented
// event this source does not use.
type Webhook struct {
	Rules           *doctype.Rules // nil: doctype.Default()
	InternalDomains []string
}

// Name implements ingest.Source.
func (Webhook) Name() string { return Source }

// Verify checks the signature headers against every key.
func (Webhook) Verify(_ context.Context, r *ingest.Request) error {
	return Verify(Keys(r.Key), Signatures(r.HTTP), r.Body)
}

// Parse normalises the message.
func (w Webhook) Parse(_ context.Context, r *ingest.Request) ([]ingest.Item, error) {
	it, err := Parse(r.Body, Config{Rules: w.Rules, InternalDomains: w.InternalDomains})
	if err != nil {
		return nil, err
	}
	if it.Ignored != "" {
		return []ingest.Item{{Skip: ingest.Unused, Why: it.Ignored, Event: it.Event}}, nil
	}
	rec := store.SignalRecord{Source: Source, EventID: it.EventID, PersonEmail: it.PersonEmail, ReceivedAt: r.Received, Signal: it.Signal}
	return []ingest.Item{{Signal: &rec, Event: it.Event, Attrs: []any{"action", it.Signal.Action, "doc_type", it.Signal.DocType}}}, nil
}

// SecretFieldHMACKeys is the field of DocuSignHmacSecret:
// {"hmac_keys":"key1,key2"} (or the bare key(s)).
const SecretFieldHMACKeys = "hmac_keys"

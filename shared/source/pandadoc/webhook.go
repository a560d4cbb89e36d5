package pandadoc

import (
	"context"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stagemover/stagemover/shared/source/doctype"
	"github.com/stagemover/stagemover/shared/source/ingest"
	"github.com/stagemover/stagemover/shared/store"
)

// HeaderEventID is PandaDoc's stable id of one delivery (logged; the
// signals' own ids come from the body, one per notification).
const HeaderEventID = "X-PandaDoc-Webhook-Event-Id"

// Webhook is the ingest.Source of POST /webhooks/pandadoc: a delivery is a
// list of notifications signed with the subscription's shared key(s) (the
// handler's key: several, comma or newline separated, during a rotation),
// each one document signal or a documented event or status this source
// does not use. It is answered with counts (ingest.CountAnswer).
type Webhook struct {
	Rules           *doctype.Rules // nil: doctype.Default()
	InternalDomains []string       // the vendor's email domains
}

// Name implements ingest.Source.
func (Webhook) Name() string { return Source }

// Verify checks the signature query parameter with every shared key.
func (Webhook) Verify(_ context.Context, r *ingest.Request) error {
	return Verify(Keys(r.Key), r.Query(QueryParamSignature), r.Body)
}

// Parse normalises every notification of the delivery.
func (w Webhook) Parse(_ context.Context, r *ingest.Request) ([]ingest.Item, error) {
	list, err := Parse(r.Body, Config{Rules: w.Rules, InternalDomains: w.InternalDomains})
	if err != nil {
		return nil, err
	}
	delivery := doctype.Clip(r.Header(HeaderEventID), 100)
	items := make([]ingest.Item, 0, len(list))
	for _, it := range list {
		item := ingest.Item{Event: it.Event, Attrs: []any{"delivery", delivery, "index", it.Index, "status", it.Status}}
		if it.Ignored != "" {
			item.Skip, item.Why = ingest.Unused, it.Ignored
		} else {
			item.Signal = &store.SignalRecord{Source: Source, EventID: it.EventID, PersonEmail: it.PersonEmail, ReceivedAt: r.Received, Signal: it.Signal}
			item.Attrs = append(item.Attrs, "action", it.Signal.Action, "doc_type", it.Signal.DocType)
		}
		items = append(items, item)
	}
	return items, nil
}

// Answer gives PandaDoc the counts of its list (ingest.CountAnswer).
func (Webhook) Answer(o ingest.Outcome) events.APIGatewayV2HTTPResponse { return ingest.CountAnswer(o) }

// SecretFieldSharedKey is the field of PandaDocSharedKeySecret:
// {"shared_key":"..."} (or the bare key; several keys comma separated).
const SecretFieldSharedKey = "shared_key"

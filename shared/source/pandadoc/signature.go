// Package pandadoc turns PandaDoc webhook deliveries (document_state_changed,
// recipient_completed) into document signals and verifies their signature.
//
// Documentation followed:
//   - events and payloads: https://developers.pandadoc.com/docs/webhook-events
//     and https://developers.pandadoc.com/reference/handledocumentstatechanged
//     (document.sent, document.viewed, document.completed, document.declined,
//     ...; the payload "partially mirrors the Document Details API response")
//     and https://developers.pandadoc.com/reference/handlerecipientcompleteddocument
//     (the same plus action_by and action_date)
//   - the body: "Webhook data is provided in the form of an array and may
//     contain multiple notification objects" (https://developers.pandadoc.com/docs/webhooks)
//   - a delivered body as PandaDoc logs it (GET /public/v1/webhook-events/{id},
//     request_body): data.id, name, date_created, date_modified, created_by,
//     status, recipients[{id, first_name, last_name, email, recipient_type,
//     has_completed, role, signing_order, ...}], sent_by, template{id, name}
//   - signature: https://developers.pandadoc.com/docs/webhook-verification
//     (HMAC-SHA256 of the raw body with the subscription's shared key, hex,
//     in the "signature" query parameter)
package pandadoc

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"

	"github.com/stagemover/stagemover/shared/source/doctype"
	"github.com/stagemover/stagemover/shared/source/ingest"
)

// QueryParamSignature is the query parameter PandaDoc appends to the
// subscription URL: hex(HMAC-SHA256(shared key, raw body)).
const QueryParamSignature = "signature"

// MaxKeys bounds how many shared keys one secret may hold (one per
// subscription pointing at the same URL, or two during a rotation).
const MaxKeys = 10

// ErrSignature wraps every authenticity failure (ingest.ErrSignature).
var ErrSignature = ingest.ErrSignature

// Sign returns the signature PandaDoc sends for body.
func Sign(key, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Verify checks sig (the query parameter's value) against body with every
// key; one match is enough. PandaDoc signs no timestamp, so a captured
// delivery could be replayed: replays are harmless because every signal is
// stored once per event id. Refusals are ingest.Unauthorized (wrapping
// ErrSignature) and never contain a key or the expected MAC; no key at all
// is not a refusal but our failure.
func Verify(keys [][]byte, sig string, body []byte) error {
	if len(keys) == 0 {
		return errors.New("pandadoc: no shared key")
	}
	sig = strings.TrimSpace(sig)
	if sig == "" {
		return ingest.Unauthorized("the %q query parameter is required", QueryParamSignature)
	}
	got, err := hex.DecodeString(sig)
	if err != nil || len(got) != sha256.Size {
		return ingest.Unauthorized("the %q query parameter must be a hex HMAC-SHA256", QueryParamSignature)
	}
	ok := false
	for _, k := range keys {
		m := hmac.New(sha256.New, k)
		m.Write(body)
		if hmac.Equal(got, m.Sum(nil)) {
			ok = true
		}
	}
	if !ok {
		return ingest.Unauthorized("signature does not match")
	}
	return nil
}

// Keys splits the secret into shared keys (comma or newline separated).
func Keys(secret []byte) [][]byte { return doctype.SplitKeys(secret, MaxKeys) }

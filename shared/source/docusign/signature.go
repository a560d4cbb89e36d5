// Package docusign turns DocuSign Connect notifications (JSON SIM messages:
// envelope-sent, envelope-delivered, envelope-completed, envelope-declined,
// recipient-delivered, recipient-completed, recipient-declined) into
// document signals and verifies their HMAC signatures.
//
// Documentation followed:
//   - message format: https://developers.docusign.com/platform/webhooks/connect/json-sim-event-model
//     ("event", "apiVersion", "uri", "retryCount", "configurationId",
//     "generatedDateTime", "data": {accountId, userId, envelopeId,
//     recipientId for recipient events, envelopeSummary when the
//     configuration's eventData.includeData asks for it})
//   - envelopeSummary is the eSignature REST v2.1 Envelope: status,
//     emailSubject, sender{userName, email}, recipients{signers,
//     carbonCopies, ...: email, name, recipientId, status,
//     deliveredDateTime, signedDateTime, declinedDateTime},
//     envelopeDocuments[{documentId, name}], sentDateTime,
//     deliveredDateTime, completedDateTime, declinedDateTime
//     (https://developers.docusign.com/docs/esign-rest-api/reference/envelopes/envelopes/get)
//   - recipient statuses: https://developers.docusign.com/docs/esign-rest-api/esign101/concepts/recipients/status-codes
//   - HMAC: https://developers.docusign.com/platform/webhooks/connect/hmac
//     (X-DocuSign-Signature-1 ... -N, one per active key: base64 of
//     HMAC-SHA256 over the raw body with the account's Connect key)
package docusign

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stagemover/stagemover/shared/source/doctype"
	"github.com/stagemover/stagemover/shared/source/ingest"
)

// HeaderSignaturePrefix starts the signature headers: X-DocuSign-Signature-1,
// -2, ... one for each HMAC key active on the account.
const HeaderSignaturePrefix = "X-DocuSign-Signature-"

// MaxKeys bounds the keys a secret may hold and the signature headers read
// (DocuSign allows up to 100 Connect HMAC keys per account).
const MaxKeys = 100

// ErrSignature wraps every authenticity failure (ingest.ErrSignature).
var ErrSignature = ingest.ErrSignature

// Sign returns the value DocuSign sends in a signature header for body.
func Sign(key, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Signatures returns the request's X-DocuSign-Signature-N values, in N
// order (at most MaxKeys; headers API Gateway joined with commas are split).
func Signatures(req events.APIGatewayV2HTTPRequest) []string {
	type sig struct {
		n int
		v string
	}
	var found []sig
	prefix := strings.ToLower(HeaderSignaturePrefix)
	for k, v := range req.Headers {
		lk := strings.ToLower(k)
		if !strings.HasPrefix(lk, prefix) {
			continue
		}
		n, err := strconv.Atoi(lk[len(prefix):])
		if err != nil || n < 1 || n > MaxKeys {
			continue
		}
		for _, part := range strings.Split(v, ",") {
			found = append(found, sig{n, strings.TrimSpace(part)})
		}
	}
	sort.SliceStable(found, func(i, j int) bool { return found[i].n < found[j].n })
	out := make([]string, 0, len(found))
	for _, s := range found {
		if len(out) == MaxKeys {
			break
		}
		out = append(out, s.v)
	}
	return out
}

// Verify accepts the body when any signature header equals the HMAC of the
// body under any configured key (compared in constant time). DocuSign
// signs no timestamp: a replayed message is harmless because each signal
// is stored once per event id. Refusals are ingest.Unauthorized (wrapping
// ErrSignature) and never contain a key or an expected MAC; no key at all
// is not a refusal but our failure.
func Verify(keys [][]byte, sigs []string, body []byte) error {
	if len(keys) == 0 {
		return errors.New("docusign: no HMAC key")
	}
	if len(sigs) == 0 {
		return ingest.Unauthorized("an %s1 header is required (enable HMAC in the Connect configuration)", HeaderSignaturePrefix)
	}
	var got [][]byte
	for _, s := range sigs {
		b, err := base64.StdEncoding.DecodeString(s)
		if err == nil && len(b) == sha256.Size {
			got = append(got, b)
		}
	}
	if len(got) == 0 {
		return ingest.Unauthorized("%sN headers must be base64 HMAC-SHA256 values", HeaderSignaturePrefix)
	}
	ok := false
	for _, k := range keys {
		m := hmac.New(sha256.New, k)
		m.Write(body)
		want := m.Sum(nil)
		for _, g := range got {
			if hmac.Equal(g, want) {
				ok = true
			}
		}
	}
	if !ok {
		return ingest.Unauthorized("no signature matches a configured key")
	}
	return nil
}

// Keys splits the secret into HMAC keys (comma or newline separated).
func Keys(secret []byte) [][]byte { return doctype.SplitKeys(secret, MaxKeys) }

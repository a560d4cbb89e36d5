// Package calendly turns Calendly webhook deliveries (webhook subscriptions
// v2: invitee.created, invitee.canceled) into meeting signals, verifies the
// Calendly-Webhook-Signature header, and keeps the webhook subscription that
// sends them in place.
//
// Documentation followed:
//   - signatures: https://developer.calendly.com/api-docs/overview/webhooks/webhook-signatures
//   - payload: https://developer.calendly.com/api-docs/69c58da556b61-webhook-payload
//     (Webhook Payload: event, created_at, created_by, payload = Invitee Payload
//     with scheduled_event embedded)
//   - rescheduling: https://developer.calendly.com/docs/api-guides/see-how-webhook-payloads-change-when-invitees-reschedule-events
//   - subscriptions: https://developer.calendly.com/api-docs/calendly-api/webhooks/list-webhook-subscriptions
//     and create-webhook-subscription, delete-webhook-subscription
package calendly

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/stagemover/stagemover/shared/source/ingest"
)

// HeaderSignature carries "t=<unix seconds>,v1=<hex HMAC-SHA256>"; the MAC
// is over "<t>.<raw body>", keyed with the subscription's signing key.
const HeaderSignature = "Calendly-Webhook-Signature"

// DefaultTolerance is how far the signed timestamp may be from our clock.
// Calendly's own verification example rejects signatures older than three
// minutes.
const DefaultTolerance = 3 * time.Minute

const (
	maxHeaderLen  = 2048 // a real header is ~80 bytes
	maxSignatures = 8    // several v1 values appear only while a key rotates
)

// ErrSignature wraps every authenticity failure; it is ingest.ErrSignature,
// so callers can treat all sources alike.
var ErrSignature = ingest.ErrSignature

// SignatureHeader is a parsed Calendly-Webhook-Signature value.
type SignatureHeader struct {
	Timestamp int64    // t: unix seconds
	rawT      string   // t as sent (canonical digits): the MAC covers these bytes
	V1        [][]byte // every v1 value, decoded (32 bytes each)
}

// ParseSignatureHeader splits the header into its timestamp and v1
// signatures. Unknown keys (a future scheme version) are ignored; a missing
// or repeated t, a t that is not canonical unix seconds, no v1, a v1 that
// is not 64 hex digits, or an element without "=" is malformed.
func ParseSignatureHeader(h string) (SignatureHeader, error) {
	var out SignatureHeader
	if strings.TrimSpace(h) == "" {
		return out, ingest.Unauthorized("%s header is required", HeaderSignature)
	}
	if len(h) > maxHeaderLen {
		return out, ingest.Unauthorized("%s header is too long", HeaderSignature)
	}
	seenT := false
	for _, part := range strings.Split(h, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return out, malformed("every element must be key=value")
		}
		switch strings.TrimSpace(k) {
		case "t":
			if seenT {
				return out, malformed("t appears more than once")
			}
			seenT = true
			v = strings.TrimSpace(v)
			if v == "" || len(v) > 12 || strings.Trim(v, "0123456789") != "" || (len(v) > 1 && v[0] == '0') {
				return out, malformed("t must be unix seconds")
			}
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return out, malformed("t must be unix seconds")
			}
			out.Timestamp, out.rawT = n, v
		case "v1":
			if len(out.V1) == maxSignatures {
				return out, malformed("too many v1 signatures")
			}
			sig, err := hex.DecodeString(strings.TrimSpace(v))
			if err != nil || len(sig) != sha256.Size {
				return out, malformed("v1 must be a hex HMAC-SHA256")
			}
			out.V1 = append(out.V1, sig)
		}
	}
	if !seenT {
		return out, malformed("t is required")
	}
	if len(out.V1) == 0 {
		return out, malformed("a v1 signature is required")
	}
	return out, nil
}

func malformed(why string) error {
	return ingest.Unauthorized("malformed %s header: %s", HeaderSignature, why)
}

// Sign returns the header value Calendly would send for body at ts; the
// stand-in and the tests use it, so the scheme is written once.
func Sign(key []byte, ts time.Time, body []byte) string {
	t := strconv.FormatInt(ts.Unix(), 10)
	return "t=" + t + ",v1=" + hex.EncodeToString(mac(key, t, body))
}

func mac(key []byte, t string, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(t))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks header against body and key: a v1 must match
// HMAC-SHA256(key, t + "." + body) (compared in constant time, every v1
// tried), and t must be within tolerance of now, so a captured delivery
// cannot be replayed later. Refusals are ingest.Unauthorized (wrapping
// ErrSignature) and never contain the key or the expected MAC; an empty key
// is not a refusal but our failure.
func Verify(key []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if len(key) == 0 {
		return errors.New("calendly: empty signing key")
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	h, err := ParseSignatureHeader(header)
	if err != nil {
		return err
	}
	if skew := now.Sub(time.Unix(h.Timestamp, 0)); skew > tolerance || skew < -tolerance {
		return ingest.Unauthorized("timestamp outside the %s tolerance (replay or clock skew)", tolerance)
	}
	want := mac(key, h.rawT, body)
	match := 0
	for _, sig := range h.V1 {
		if hmac.Equal(sig, want) {
			match++
		}
	}
	if match == 0 {
		return ingest.Unauthorized("signature does not match")
	}
	return nil
}

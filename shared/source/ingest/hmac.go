// Package ingest verifies and normalises inbound webhooks into stored
// signals. Every source answers the same way: 2xx once stored (or already
// stored), 4xx with a JSON reason otherwise, and nothing stored on a 4xx.
package ingest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Headers of the generic source's signature scheme.
const (
	HeaderTimestamp = "X-Stagemover-Timestamp" // unix seconds
	HeaderSignature = "X-Stagemover-Signature" // "sha256=" + hex(HMAC-SHA256(secret, timestamp + "." + body))
)

// ErrSignature means the request is not authentic (or is a replay).
var ErrSignature = errors.New("signature")

// Sign returns the signature header value for body at ts; senders and tests
// use it, so the scheme is defined once.
func Sign(secret []byte, ts time.Time, body []byte) (timestamp, signature string) {
	timestamp = strconv.FormatInt(ts.Unix(), 10)
	return timestamp, "sha256=" + hex.EncodeToString(mac(secret, timestamp, body))
}

func mac(secret []byte, timestamp string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks signature over timestamp and body, and that timestamp is
// within tolerance of now, so a captured request cannot be replayed later.
func Verify(secret []byte, timestamp, signature string, body []byte, now time.Time, tolerance time.Duration) error {
	if timestamp == "" || signature == "" {
		return fmt.Errorf("%w: %s and %s headers are required", ErrSignature, HeaderTimestamp, HeaderSignature)
	}
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %s must be unix seconds", ErrSignature, HeaderTimestamp)
	}
	if skew := now.Sub(time.Unix(sec, 0)); skew > tolerance || skew < -tolerance {
		return fmt.Errorf("%w: timestamp outside the %s tolerance (replay or clock skew)", ErrSignature, tolerance)
	}
	hexSig, ok := strings.CutPrefix(signature, "sha256=")
	if !ok {
		return fmt.Errorf("%w: signature must start with sha256=", ErrSignature)
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil || !hmac.Equal(got, mac(secret, timestamp, body)) {
		return fmt.Errorf("%w: signature does not match", ErrSignature)
	}
	return nil
}

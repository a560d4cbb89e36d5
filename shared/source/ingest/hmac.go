package ingest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Headers of the generic source's signature scheme.
const (
	HeaderTimestamp = "X-Stagemover-Timestamp" // unix seconds
	HeaderSignature = "X-Stagemover-Signature" // "sha256=" + hex(HMAC-SHA256(secret, timestamp + "." + body))
)

// ErrSignature means the request is not authentic (or is a replay). Every
// source's signature check refuses with Unauthorized, which wraps it.
var ErrSignature = errors.New("signature")

// Unauthorized is a 401 RejectError wrapping ErrSignature.
func Unauthorized(format string, args ...any) error {
	return Reject(http.StatusUnauthorized, ErrSignature, format, args...)
}

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
		return Unauthorized("%s and %s headers are required", HeaderTimestamp, HeaderSignature)
	}
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return Unauthorized("%s must be unix seconds", HeaderTimestamp)
	}
	if skew := now.Sub(time.Unix(sec, 0)); skew > tolerance || skew < -tolerance {
		return Unauthorized("timestamp outside the %s tolerance (replay or clock skew)", tolerance)
	}
	hexSig, ok := strings.CutPrefix(signature, "sha256=")
	if !ok {
		return Unauthorized("signature must start with sha256=")
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil || !hmac.Equal(got, mac(secret, timestamp, body)) {
		return Unauthorized("signature does not match")
	}
	return nil
}

package calendly_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stagemover/stagemover/shared/source/calendly"
	"github.com/stagemover/stagemover/shared/source/ingest"
)

const testKey = "calendly-test-signing-key"

var sigNow = time.Date(2026, 3, 2, 10, 15, 9, 0, time.UTC)

// reference computes the documented scheme independently of Sign:
// hex(HMAC-SHA256(key, t + "." + body)).
func reference(key, t string, body []byte) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(t + "." + string(body)))
	return hex.EncodeToString(m.Sum(nil))
}

func TestSignMatchesDocumentedScheme(t *testing.T) {
	body := []byte(`{"event":"invitee.created"}`)
	ts := strconv.FormatInt(sigNow.Unix(), 10)
	want := "t=" + ts + ",v1=" + reference(testKey, ts, body)
	if got := calendly.Sign([]byte(testKey), sigNow, body); got != want {
		t.Fatalf("Sign = %q, want %q", got, want)
	}
}

func TestVerify(t *testing.T) {
	body := []byte(`{"event":"invitee.created","payload":{}}`)
	ts := strconv.FormatInt(sigNow.Unix(), 10)
	good := reference(testKey, ts, body)
	other := reference("another-key", ts, body)
	tests := []struct {
		name   string
		header string
		body   []byte
		now    time.Time
		ok     bool
		reason string
	}{
		{name: "valid", header: "t=" + ts + ",v1=" + good, ok: true},
		{name: "valid with spaces", header: " t=" + ts + " , v1=" + good + " ", ok: true},
		{name: "valid, elements reversed", header: "v1=" + good + ",t=" + ts, ok: true},
		{name: "unknown scheme ignored", header: "t=" + ts + ",v0=abc,v1=" + good, ok: true},
		{name: "multiple v1, second matches (key rotation)", header: "t=" + ts + ",v1=" + other + ",v1=" + good, ok: true},
		{name: "multiple v1, none matches", header: "t=" + ts + ",v1=" + other + ",v1=" + other, reason: "does not match"},
		{name: "wrong key", header: "t=" + ts + ",v1=" + other, reason: "does not match"},
		{name: "body changed", header: "t=" + ts + ",v1=" + good, body: []byte(`{"event":"invitee.canceled","payload":{}}`), reason: "does not match"},
		{name: "timestamp changed", header: "t=" + strconv.FormatInt(sigNow.Unix()-1, 10) + ",v1=" + good, reason: "does not match"},
		{name: "stale (replay)", header: "t=" + ts + ",v1=" + good, now: sigNow.Add(3*time.Minute + time.Second), reason: "tolerance"},
		{name: "from the future", header: "t=" + ts + ",v1=" + good, now: sigNow.Add(-3*time.Minute - time.Second), reason: "tolerance"},
		{name: "edge of the window", header: "t=" + ts + ",v1=" + good, now: sigNow.Add(3 * time.Minute), ok: true},
		{name: "missing", header: "", reason: "required"},
		{name: "no t", header: "v1=" + good, reason: "t is required"},
		{name: "no v1", header: "t=" + ts, reason: "v1 signature is required"},
		{name: "t twice", header: "t=" + ts + ",t=" + ts + ",v1=" + good, reason: "more than once"},
		{name: "t not a number", header: "t=abc,v1=" + good, reason: "unix seconds"},
		{name: "t negative", header: "t=-5,v1=" + good, reason: "unix seconds"},
		{name: "t with leading zeros", header: "t=0" + ts + ",v1=" + good, reason: "unix seconds"},
		{name: "t huge", header: "t=99999999999999999999,v1=" + good, reason: "unix seconds"},
		{name: "v1 not hex", header: "t=" + ts + ",v1=zz" + good[2:], reason: "hex"},
		{name: "v1 truncated", header: "t=" + ts + ",v1=" + good[:62], reason: "hex"},
		{name: "element without =", header: "t=" + ts + ",v1", reason: "key=value"},
		{name: "stagemover scheme", header: "sha256=" + good, reason: "malformed"},
		{name: "too many v1", header: "t=" + ts + strings.Repeat(",v1="+other, 9), reason: "too many"},
		{name: "too long", header: "t=" + ts + ",v1=" + good + ",x=" + strings.Repeat("a", 3000), reason: "too long"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := body
			if tc.body != nil {
				b = tc.body
			}
			now := sigNow
			if !tc.now.IsZero() {
				now = tc.now
			}
			err := calendly.Verify([]byte(testKey), tc.header, b, now, calendly.DefaultTolerance)
			if tc.ok {
				if err != nil {
					t.Fatalf("Verify: %v, want ok", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Verify accepted a bad signature")
			}
			if !errors.Is(err, ingest.ErrSignature) {
				t.Errorf("error %v does not wrap ingest.ErrSignature", err)
			}
			if !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("error %q does not say %q", err, tc.reason)
			}
			if strings.Contains(err.Error(), testKey) || strings.Contains(err.Error(), good) && !strings.Contains(tc.header, good) {
				t.Errorf("error leaks the key or the expected MAC: %q", err)
			}
		})
	}
}

func TestVerifyDefaultsAndEmptyKey(t *testing.T) {
	body := []byte(`{}`)
	h := calendly.Sign([]byte(testKey), sigNow, body)
	// tolerance 0 means the documented default (3 minutes), not "no window"
	if err := calendly.Verify([]byte(testKey), h, body, sigNow.Add(2*time.Minute), 0); err != nil {
		t.Fatalf("within default tolerance: %v", err)
	}
	if err := calendly.Verify([]byte(testKey), h, body, sigNow.Add(4*time.Minute), 0); err == nil {
		t.Fatal("accepted a 4 minute old signature with the default tolerance")
	}
	if err := calendly.Verify(nil, h, body, sigNow, 0); err == nil {
		t.Fatal("an empty key verified a signature")
	}
}

func TestParseSignatureHeader(t *testing.T) {
	body := []byte("x")
	h := calendly.Sign([]byte(testKey), sigNow, body) + ",v1=" + strings.Repeat("ab", 32)
	p, err := calendly.ParseSignatureHeader(h)
	if err != nil {
		t.Fatal(err)
	}
	if p.Timestamp != sigNow.Unix() || len(p.V1) != 2 || len(p.V1[0]) != 32 {
		t.Fatalf("parsed %+v", p)
	}
}

package ingest

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestVerify(t *testing.T) {
	secret := []byte("s3cret")
	now := time.Unix(1_770_000_000, 0)
	body := []byte(`{"a":1}`)
	ts, sig := Sign(secret, now, body)
	tests := []struct {
		name          string
		secret        []byte
		ts, sig       string
		body          []byte
		now           time.Time
		wantErr       bool
		wantSubstring string
	}{
		{name: "valid", secret: secret, ts: ts, sig: sig, body: body, now: now},
		{name: "valid within tolerance", secret: secret, ts: ts, sig: sig, body: body, now: now.Add(4 * time.Minute)},
		{name: "replay after tolerance", secret: secret, ts: ts, sig: sig, body: body, now: now.Add(6 * time.Minute), wantErr: true, wantSubstring: "tolerance"},
		{name: "from the future", secret: secret, ts: ts, sig: sig, body: body, now: now.Add(-6 * time.Minute), wantErr: true},
		{name: "tampered body", secret: secret, ts: ts, sig: sig, body: []byte(`{"a":2}`), now: now, wantErr: true, wantSubstring: "does not match"},
		{name: "wrong secret", secret: []byte("other"), ts: ts, sig: sig, body: body, now: now, wantErr: true},
		{name: "timestamp swapped", secret: secret, ts: "1770000001", sig: sig, body: body, now: now, wantErr: true},
		{name: "missing headers", secret: secret, body: body, now: now, wantErr: true, wantSubstring: "required"},
		{name: "bad prefix", secret: secret, ts: ts, sig: "md5=" + sig[7:], body: body, now: now, wantErr: true},
		{name: "not hex", secret: secret, ts: ts, sig: "sha256=zz", body: body, now: now, wantErr: true},
		{name: "timestamp not a number", secret: secret, ts: "yesterday", sig: sig, body: body, now: now, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(tt.secret, tt.ts, tt.sig, tt.body, tt.now, 5*time.Minute)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrSignature) {
				t.Fatalf("err = %v, not ErrSignature", err)
			}
			if tt.wantSubstring != "" && (err == nil || !strings.Contains(err.Error(), tt.wantSubstring)) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.wantSubstring)
			}
		})
	}
}

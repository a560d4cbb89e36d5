package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stagemover/stagemover/shared/source/ingest"
	"github.com/stagemover/stagemover/shared/testkit"
)

// sampleSecret is the secret events/ingest-generic.json is signed with (events/README.md).
const sampleSecret = testkit.SampleIngestSecret

func sampleEventPath(t *testing.T) string {
	t.Helper()
	p := testkit.RepoPath(t, "events/ingest-generic.json")
	if _, err := os.Stat(p); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSignNowVerifies(t *testing.T) {
	var out, errs bytes.Buffer
	before := time.Now()
	if code := runSign(context.Background(), []string{"--secret", "s3cret", "--now", sampleEventPath(t)}, &out, &errs); code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	var req events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(out.Bytes(), &req); err != nil {
		t.Fatalf("output is not an API Gateway v2 event: %v\n%s", err, out.String())
	}
	body, _ := ingest.RequestBody(req)
	ts, sig := ingest.Header(req, ingest.HeaderTimestamp), ingest.Header(req, ingest.HeaderSignature)
	if err := ingest.Verify([]byte("s3cret"), ts, sig, body, time.Now(), 5*time.Second); err != nil {
		t.Fatalf("re-signed event does not verify now: %v", err)
	}
	if err := ingest.Verify([]byte(sampleSecret), ts, sig, body, time.Now(), 5*time.Second); err == nil {
		t.Fatal("signature verifies with a different secret")
	}
	if req.RequestContext.TimeEpoch < before.UnixMilli() || req.RequestContext.TimeEpoch > time.Now().UnixMilli() {
		t.Errorf("requestContext.timeEpoch %d not updated to now", req.RequestContext.TimeEpoch)
	}
	if n := strings.Count(out.String(), "x-stagemover-signature"); n != 1 {
		t.Errorf("%d signature headers", n)
	}
}

// Signing the sample at its own time with the documented secret reproduces
// the file byte for byte: the command keeps the event's field order and
// layout, and the README's secret is the one the sample is signed with.
func TestSignReproducesSample(t *testing.T) {
	path := sampleEventPath(t)
	want, _ := os.ReadFile(path)
	var out, errs bytes.Buffer
	args := []string{"--secret", sampleSecret, "--at", "2026-03-02T09:41:20.317Z", path}
	if code := runSign(context.Background(), args, &out, &errs); code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	if out.String() != string(want) {
		t.Errorf("output differs from %s:\n%s", path, out.String())
	}
}

func TestSignHeadersCaseInsensitiveAndBase64(t *testing.T) {
	dir := t.TempDir()
	in := `{"version":"2.0","routeKey":"POST /signals","headers":{"X-Stagemover-Signature":"sha256=00","Content-Type":"application/json"},` +
		`"body":"eyJhIjoxfQ==","isBase64Encoded":true}`
	p := filepath.Join(dir, "e.json")
	if err := os.WriteFile(p, []byte(in), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errs bytes.Buffer
	if code := runSign(context.Background(), []string{"--secret", "k", "--at", "1700000000", p}, &out, &errs); code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	var req events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(out.Bytes(), &req); err != nil {
		t.Fatal(err)
	}
	if len(req.Headers) != 3 || req.Headers["Content-Type"] != "application/json" {
		t.Errorf("headers: %v", req.Headers)
	}
	ts, sig := ingest.Sign([]byte("k"), time.Unix(1700000000, 0), []byte(`{"a":1}`))
	if req.Headers["x-stagemover-timestamp"] != ts || req.Headers["x-stagemover-signature"] != sig {
		t.Errorf("signed over the decoded body? headers %v, want %s %s", req.Headers, ts, sig)
	}
}

func TestSignErrors(t *testing.T) {
	dir := t.TempDir()
	v1 := filepath.Join(dir, "v1.json")
	_ = os.WriteFile(v1, []byte(`{"httpMethod":"POST","body":"{}"}`), 0o600)
	t.Setenv("STAGEMOVER_INGEST_SECRET", "")
	for name, tc := range map[string]struct {
		args []string
		code int
	}{
		"no secret":   {[]string{sampleEventPath(t)}, 2},
		"no file":     {[]string{"--secret", "k"}, 2},
		"missing":     {[]string{"--secret", "k", filepath.Join(dir, "nope.json")}, 1},
		"not v2":      {[]string{"--secret", "k", v1}, 1},
		"bad --at":    {[]string{"--secret", "k", "--at", "yesterday", sampleEventPath(t)}, 2},
		"extra files": {[]string{"--secret", "k", v1, v1}, 2},
	} {
		var out, errs bytes.Buffer
		if code := runSign(context.Background(), tc.args, &out, &errs); code != tc.code {
			t.Errorf("%s: exit %d, want %d (%s)", name, code, tc.code, errs.String())
		}
		if out.Len() != 0 {
			t.Errorf("%s: wrote to stdout on error", name)
		}
	}
}

package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stagemover/stagemover/shared/pipedrive/pipedrivetest"
)

// Registering twice leaves one webhook per event in the sandbox; the token
// and the password come from the environment and appear in no output.
func TestPipedriveWebhooksCommandIsIdempotent(t *testing.T) {
	const token, password = "pd-token-4b1f9e7c2a", "pw-secret-8d3e6a0f5b"
	pd, err := pipedrivetest.Start(pipedrivetest.Options{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	defer pd.Close()
	t.Setenv("PIPEDRIVE_BASE_URL", pd.URL())
	t.Setenv("PIPEDRIVE_API_TOKEN", token)
	t.Setenv("PIPEDRIVE_WEBHOOK_PASSWORD", password)
	t.Setenv("PIPEDRIVE_INTEGRATION_USER_ID", fmt.Sprint(pd.IntegrationUserID()))
	const hook = "https://r8k2m4x7q1.execute-api.us-east-1.amazonaws.com/pipedrive"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var outs []string
	for run := 1; run <= 2; run++ {
		var out, errb bytes.Buffer
		if code := dispatch(ctx, []string{"pipedrive-webhooks", "--url", hook}, &out, &errb); code != 0 {
			t.Fatalf("run %d: exit %d: %s", run, code, errb.String())
		}
		outs = append(outs, out.String()+errb.String())
		events := map[string]int{}
		for _, s := range pd.Subscriptions() {
			if s.URL != hook || s.Version != "2.0" || s.User != "stagemover" || s.Password != password || s.UserID != pd.IntegrationUserID() {
				t.Errorf("run %d: webhook %+v", run, s)
			}
			events[s.EventAction+"."+s.EventObject]++
		}
		if fmt.Sprint(events) != "map[*.pipeline:1 *.stage:1 change.deal:1 delete.deal:1]" {
			t.Fatalf("run %d: webhooks per event %v, want one each of change.deal, delete.deal, *.stage, *.pipeline", run, events)
		}
	}
	if !strings.Contains(outs[0], "change.deal webhook") || !strings.Contains(outs[0], "delete.deal webhook") || strings.Count(outs[0], " created") != 4 || strings.Count(outs[1], " kept") != 4 {
		t.Errorf("output:\nfirst run:\n%s\nsecond run:\n%s", outs[0], outs[1])
	}
	if n := pd.Count("POST", "/v1/webhooks"); n != 4 {
		t.Errorf("%d POST /v1/webhooks over two runs, want 4", n)
	}
	for _, v := range pd.ValidationErrors() {
		t.Errorf("request broke Pipedrive's OpenAPI spec: %s", v)
	}
	for _, o := range outs {
		if strings.Contains(o, token) || strings.Contains(o, password) {
			t.Errorf("a secret appears in the output:\n%s", o)
		}
	}

	// No password in the environment: refused before any request, naming it.
	t.Setenv("PIPEDRIVE_WEBHOOK_PASSWORD", "")
	var out, errb bytes.Buffer
	if code := dispatch(ctx, []string{"pipedrive-webhooks", "--url", hook}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "PIPEDRIVE_WEBHOOK_PASSWORD") {
		t.Errorf("without a password: exit %d, %s", code, errb.String())
	}
	if code := dispatch(ctx, []string{"pipedrive-webhooks"}, &out, &errb); code != 2 {
		t.Errorf("without --url: exit %d, want 2", code)
	}
}

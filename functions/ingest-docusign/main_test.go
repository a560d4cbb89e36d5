package main

// These tests run the real bootstrap (built as for Lambda) under the Lambda
// Runtime Interface Emulator with lambdatest.Fixture: DynamoDB Local and an
// in-process Secrets Manager (kumo) holding the DocuSign Connect HMAC key,
// in the environment template.yaml gives the function. The sample
// events/ingest-docusign.json is re-signed with the stored key, as Connect
// signs each message (the X-DocuSign-Signature-1 header).

import (
	"net/http"
	"os"
	"testing"

	"github.com/stagemover/stagemover/shared/source/docusign"
	"github.com/stagemover/stagemover/shared/testkit"
	"github.com/stagemover/stagemover/shared/testkit/lambdatest"
)

func TestMain(m *testing.M) { os.Exit(lambdatest.RunTests(m)) }

func setup(t *testing.T) (*lambdatest.Fixture, string) {
	return lambdatest.NewKeyedFixture(t, "ingest-docusign", "dsgn-", "DOCUSIGN_HMAC_SECRET_ARN", "stagemover/docusign-hmac-keys", "hmac_keys")
}

// signed returns the sample with X-DocuSign-Signature-1 made with key.
func signed(t *testing.T, sample []byte, key string) []byte {
	t.Helper()
	body := testkit.DecodeHTTPEvent(t, sample).Body
	return testkit.WithHeaders(t, sample, nil, map[string]string{"x-docusign-signature-1": docusign.Sign([]byte(key), []byte(body))})
}

func TestIngestDocuSignSample(t *testing.T) {
	f, key := setup(t)
	rie := f.Start(t)
	sample := testkit.Event(t, "ingest-docusign.json")

	// Refused, storing nothing: the sample's own signature (made with the
	// sample key) and a signature made with another key.
	for name, ev := range map[string][]byte{"sample signature": sample, "wrong key": signed(t, sample, "not-the-hmac-key")} {
		if resp := rie.InvokeHTTP(t, ev); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: %d %s, want 401", name, resp.StatusCode, resp.Body)
		}
	}
	if n := len(f.Signals(t)); n != 0 {
		t.Fatalf("%d signals stored by refused deliveries, want 0", n)
	}

	good := signed(t, sample, key)
	sigs := f.DeliverStored(t, rie, good, "signed sample", 1)
	if s := sigs[0]; s.Source != docusign.Source || s.Signal.Kind != "document" || s.Signal.Action != "completed" {
		t.Errorf("stored signal %+v", s)
	}

	// The provider redelivers the same notification.
	f.AssertRedelivered(t, rie, good, 1)

	f.AssertIngestLogged(t, rie)
}

// A missing variable stops the function at init, naming the variable.
func TestIngestDocuSignMissingEnvFailsInit(t *testing.T) {
	f, key := setup(t)
	event := signed(t, testkit.Event(t, "ingest-docusign.json"), key)
	f.AssertInitFailsStoringNoSignals(t, event, []string{"DOCUSIGN_HMAC_SECRET_ARN", "TABLE_NAME"})
}

// An HMAC key nobody should sign with (the template's own placeholder, an
// empty or short key) verifies nothing: the route answers 503 "not
// configured" before reading the body, stores nothing, and the log names
// the secret's variable but never the key.
func TestIngestDocuSignRefusesUnusableKey(t *testing.T) {
	f, key := setup(t)
	sample := testkit.Event(t, "ingest-docusign.json")
	template := testkit.TemplateSecretString(t, "DocuSignHmacSecret")
	f.AssertRefusesUnusableKeys(t, "DOCUSIGN_HMAC_SECRET_ARN", "hmac_keys", []lambdatest.UnusableKey{
		{Name: "the template's secret", Secret: template},
		{Name: "empty", Secret: `{"hmac_keys":""}`},
		{Name: "15 bytes", Secret: `{"hmac_keys":"dsgn-15-bytes-k"}`},
		{Name: "a placeholder among keys", Secret: `{"hmac_keys":"` + key + `,REPLACE_ME"}`},
	}, func(t *testing.T, k string) []byte { return signed(t, sample, k) },
		func(t *testing.T) int { return len(f.Signals(t)) })
}

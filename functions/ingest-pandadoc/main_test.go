package main

// These tests run the real bootstrap (built as for Lambda) under the Lambda
// Runtime Interface Emulator with lambdatest.Fixture: DynamoDB Local and an
// in-process Secrets Manager (kumo) holding the PandaDoc shared key, in the
// environment template.yaml gives the function. The sample
// events/ingest-pandadoc.json is re-signed with the stored key, as PandaDoc
// signs each delivery (the signature query parameter).

import (
	"net/http"
	"os"
	"testing"

	"github.com/stagemover/stagemover/shared/source/pandadoc"
	"github.com/stagemover/stagemover/shared/testkit"
	"github.com/stagemover/stagemover/shared/testkit/lambdatest"
)

func TestMain(m *testing.M) { os.Exit(lambdatest.RunTests(m)) }

func setup(t *testing.T) (*lambdatest.Fixture, string) {
	return lambdatest.NewKeyedFixture(t, "ingest-pandadoc", "pdoc-", "PANDADOC_SHARED_KEY_SECRET_ARN", "stagemover/pandadoc-shared-key", "shared_key")
}

// signed returns the sample with its signature query parameter made with key.
func signed(t *testing.T, sample []byte, key string) []byte {
	t.Helper()
	return testkit.EditEvent(t, sample, func(doc map[string]any) {
		body, _ := doc["body"].(string)
		sig := pandadoc.Sign([]byte(key), []byte(body))
		doc["rawQueryString"] = "signature=" + sig
		doc["queryStringParameters"] = map[string]string{"signature": sig}
	})
}

func TestIngestPandaDocSample(t *testing.T) {
	f, key := setup(t)
	rie := f.Start(t)
	sample := testkit.Event(t, "ingest-pandadoc.json")

	// Refused, storing nothing: the sample's own signature (made with the
	// sample key) and a signature made with another key.
	for name, ev := range map[string][]byte{"sample signature": sample, "wrong key": signed(t, sample, "not-the-shared-key")} {
		if resp := rie.InvokeHTTP(t, ev); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: %d %s, want 401", name, resp.StatusCode, resp.Body)
		}
	}
	if n := len(f.Signals(t)); n != 0 {
		t.Fatalf("%d signals stored by refused deliveries, want 0", n)
	}

	good := signed(t, sample, key)
	// The sample is one delivery of two notifications: the vendor's
	// countersignature (recipient_completed, kept as the vendor's: the
	// engine discounts it) and the buyer-side document.completed.
	sigs := f.DeliverStored(t, rie, good, "signed sample", 2)
	actors := map[string]bool{}
	for _, s := range sigs {
		if s.Source != pandadoc.Source || s.Signal.Kind != "document" || s.Signal.Action != "completed" || s.PersonEmail != "dana.whitfield@northwind-logistics.com" {
			t.Errorf("stored signal %+v", s)
		}
		actors[s.Signal.Actor] = true
	}
	if !actors["dana.whitfield@northwind-logistics.com"] || !actors["priya.nair@acme-routing.io"] {
		t.Errorf("signal actors %v, want the buyer and the vendor's countersigner", actors)
	}

	// The provider redelivers the same notification.
	f.AssertRedelivered(t, rie, good, 2)

	f.AssertIngestLogged(t, rie)
}

// A missing variable stops the function at init, naming the variable.
func TestIngestPandaDocMissingEnvFailsInit(t *testing.T) {
	f, key := setup(t)
	event := signed(t, testkit.Event(t, "ingest-pandadoc.json"), key)
	f.AssertInitFailsStoringNoSignals(t, event, []string{"PANDADOC_SHARED_KEY_SECRET_ARN", "TABLE_NAME"})
}

// A shared key nobody should sign with (the template's own placeholder, an
// empty or short key) verifies nothing: the route answers 503 "not
// configured" before reading the body, stores nothing, and the log names
// the secret's variable but never the key.
func TestIngestPandaDocRefusesUnusableKey(t *testing.T) {
	f, key := setup(t)
	sample := testkit.Event(t, "ingest-pandadoc.json")
	template := testkit.TemplateSecretString(t, "PandaDocSharedKeySecret")
	f.AssertRefusesUnusableKeys(t, "PANDADOC_SHARED_KEY_SECRET_ARN", "shared_key", []lambdatest.UnusableKey{
		{Name: "the template's secret", Secret: template},
		{Name: "empty", Secret: `{"shared_key":""}`},
		{Name: "15 bytes", Secret: `{"shared_key":"pdoc-15-bytes-k"}`},
		{Name: "a placeholder among keys", Secret: `{"shared_key":"` + key + `,changeme"}`},
	}, func(t *testing.T, k string) []byte { return signed(t, sample, k) },
		func(t *testing.T) int { return len(f.Signals(t)) })
}

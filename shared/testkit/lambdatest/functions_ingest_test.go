package lambdatest_test

// The rows of functionCases for the ingest functions: each stores the
// signal (or fetch) of its sample delivery.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stagemover/stagemover/shared/source/calendly"
	"github.com/stagemover/stagemover/shared/source/docusign"
	"github.com/stagemover/stagemover/shared/source/gmail/gmailtest"
	"github.com/stagemover/stagemover/shared/source/pandadoc"
	"github.com/stagemover/stagemover/shared/testkit"
	"github.com/stagemover/stagemover/shared/testkit/lambdatest"
)

func ingestGeneric(t *testing.T, f *lambdatest.Fixture, sample []byte) ([]byte, expect) {
	secret := testkit.RandomSecret(t, "hmac-")
	f.PutSecret(t, "INGEST_SECRET_ARN", "stagemover/ingest-hmac", secret, secret)
	return lambdatest.SignHTTPEvent(t, sample, nil, secret, time.Now()), expect{ran: func(t *testing.T, rie *lambdatest.RIE) {
		wantKey := "SIG#generic#gmail-18e0f4c2a7b9d316"
		wantHTTP(t, rie, rie.InvokeHTTP(t, lambdatest.SignHTTPEvent(t, sample, nil, secret, time.Now())), http.StatusAccepted, `"stored"`, wantKey)
		sigs := f.Signals(t)
		if len(sigs) != 1 || sigs[0].Key() != wantKey || sigs[0].DealID != 4217 || sigs[0].Signal.Kind != "email" {
			t.Errorf("stored signals %+v, want the sample's", sigs)
		}
		if !strings.Contains(rie.Output(), `"result":"stored"`) {
			t.Errorf("expected the function's JSON log lines in its output:\n%s", rie.Output())
		}
	}}
}

func ingestCalendly(t *testing.T, f *lambdatest.Fixture, sample []byte) ([]byte, expect) {
	key := testkit.RandomSecret(t, "cal-")
	f.PutSecret(t, "CALENDLY_SIGNING_KEY_SECRET_ARN", "stagemover/calendly-signing-key", testkit.SecretJSON("signing_key", key), key)
	body := []byte(testkit.DecodeHTTPEvent(t, sample).Body)
	signed := func() []byte {
		return testkit.WithHeaders(t, sample, body, map[string]string{"calendly-webhook-signature": calendly.Sign([]byte(key), time.Now(), body)})
	}
	return signed(), expect{ran: func(t *testing.T, rie *lambdatest.RIE) {
		wantHTTP(t, rie, rie.InvokeHTTP(t, signed()), http.StatusAccepted, `"stored"`)
		sigs := f.Signals(t)
		if len(sigs) != 1 || sigs[0].Source != calendly.Source || sigs[0].PersonEmail != buyer || sigs[0].Signal.Kind != "meeting" {
			t.Errorf("stored signals %+v, want one meeting of %s", sigs, buyer)
		}
	}}
}

func ingestGmail(t *testing.T, f *lambdatest.Fixture, sample []byte) ([]byte, expect) {
	keys, err := gmailtest.NewKeySetFromPEM(testkit.ReadRepoFile(t, "shared/source/gmail/testdata/sample-oidc-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	google := gmailtest.NewServerWithKeys(keys)
	t.Cleanup(google.Close)
	f.Env["GOOGLE_CERTS_URL"] = google.CertsURL()
	// The sample's token, issued now (the sample's own has expired).
	parts := strings.Split(strings.TrimPrefix(testkit.DecodeHTTPEvent(t, sample).Headers["authorization"], "Bearer "), ".")
	if len(parts) != 3 {
		t.Fatal("the sample carries no JWT bearer token")
	}
	var claims gmailtest.PushClaims
	if raw, err := base64.RawURLEncoding.DecodeString(parts[1]); err != nil || json.Unmarshal(raw, &claims) != nil || claims.Email == "" {
		t.Fatalf("the sample's token claims: %v", err)
	}
	claims.Iat, claims.Exp = time.Now().Unix(), time.Now().Add(time.Hour).Unix()
	event := testkit.WithHeaders(t, sample, nil, map[string]string{"authorization": "Bearer " + keys.Mint(claims)})
	return event, expect{ran: func(t *testing.T, rie *lambdatest.RIE) {
		wantHTTP(t, rie, rie.InvokeHTTP(t, event), http.StatusAccepted, `"stored"`)
		want := sampleFetch(t, "fetcher-gmail.json")
		if got := f.Fetches(t); len(got) != 1 || got[0].Key() != want.Key() || got[0].Payload != want.Payload {
			t.Errorf("stored fetch items %+v, want the one events/fetcher-gmail.json holds: %+v", got, want)
		}
	}}
}

func ingestGraph(t *testing.T, f *lambdatest.Fixture, sample []byte) ([]byte, expect) {
	f.PutSecret(t, "GRAPH_CLIENT_STATE_SECRET_ARN", "stagemover/graph-client-state",
		testkit.SecretJSON("client_state", testkit.SampleGraphClientState), testkit.SampleGraphClientState)
	return sample, expect{ran: func(t *testing.T, rie *lambdatest.RIE) {
		wantHTTP(t, rie, rie.InvokeHTTP(t, sample), http.StatusAccepted, `"stored":1`)
		want := sampleFetch(t, "fetcher-graph.json")
		if got := f.Fetches(t); len(got) != 1 || got[0].Key() != want.Key() || got[0].Payload != want.Payload {
			t.Errorf("stored fetch items %+v, want the one events/fetcher-graph.json holds: %+v", got, want)
		}
	}}
}

func ingestPipedrive(t *testing.T, f *lambdatest.Fixture, sample []byte) ([]byte, expect) {
	f.Pipedrive(t)
	f.PutSecret(t, "PIPEDRIVE_WEBHOOK_SECRET_ARN", "stagemover/pipedrive-webhook",
		testkit.SecretJSON("http_auth_user", testkit.SamplePipedriveUser, "http_auth_password", testkit.SamplePipedrivePassword),
		testkit.SamplePipedrivePassword)
	return sample, expect{ran: func(t *testing.T, rie *lambdatest.RIE) {
		wantHTTP(t, rie, rie.InvokeHTTP(t, sample), http.StatusOK, `"processed"`)
		mirror, err := f.Store().GetDealState(context.Background(), 4217)
		if err != nil || mirror.StageID != stageDemoScheduled || mirror.Pipeline != "Sales" || mirror.Status != "open" {
			t.Errorf("mirror of deal 4217: %+v %v, want Sales / Demo Scheduled, open", mirror, err)
		}
	}}
}

func ingestPandaDoc(t *testing.T, f *lambdatest.Fixture, sample []byte) ([]byte, expect) {
	f.PutSecret(t, "PANDADOC_SHARED_KEY_SECRET_ARN", "stagemover/pandadoc-shared-key",
		testkit.SecretJSON("shared_key", testkit.SamplePandaDocSharedKey), testkit.SamplePandaDocSharedKey)
	return sample, expect{ran: func(t *testing.T, rie *lambdatest.RIE) {
		wantHTTP(t, rie, rie.InvokeHTTP(t, sample), http.StatusAccepted, `"stored"`)
		sigs := f.Signals(t)
		if len(sigs) != 2 {
			t.Fatalf("%d signals after one delivery of two notifications, want 2", len(sigs))
		}
		for _, s := range sigs {
			if s.Source != pandadoc.Source || s.Signal.Kind != "document" || s.Signal.Action != "completed" || s.PersonEmail != buyer {
				t.Errorf("stored signal %+v", s)
			}
		}
	}}
}

func ingestDocuSign(t *testing.T, f *lambdatest.Fixture, sample []byte) ([]byte, expect) {
	f.PutSecret(t, "DOCUSIGN_HMAC_SECRET_ARN", "stagemover/docusign-hmac-keys",
		testkit.SecretJSON("hmac_keys", testkit.SampleDocuSignHMACKey), testkit.SampleDocuSignHMACKey)
	return sample, expect{ran: func(t *testing.T, rie *lambdatest.RIE) {
		wantHTTP(t, rie, rie.InvokeHTTP(t, sample), http.StatusAccepted, `"stored"`)
		sigs := f.Signals(t)
		if len(sigs) != 1 || sigs[0].Source != docusign.Source || sigs[0].Signal.Kind != "document" || sigs[0].Signal.Action != "completed" {
			t.Errorf("stored signals %+v, want one completed document", sigs)
		}
	}}
}

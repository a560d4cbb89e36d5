package lambdatest_test

// TestEveryFunctionWithItsSample runs every function of template.yaml the
// way it is deployed: its bootstrap built as `sam build` builds it, under
// the Lambda Runtime Interface Emulator, with exactly the environment the
// template gives it (testkit.TemplateEnv with testkit.SampleParameters),
// pointed at local stand-ins (DynamoDB Local, an in-process Secrets
// Manager, the Pipedrive sandbox, the Graph, Google and Calendly stand-ins).
// Each function is invoked with its events/ sample and must do what its
// row in functionCases expects, without any secret in its output.
//
// The functions are read from the template, so a new one fails this test
// until it has a row. A row's required variables are each removed in turn:
// the function must then fail its init naming the variable, having done
// nothing. A function's further behaviour is tested in
// functions/<name>/main_test.go with the same lambdatest.Fixture.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stagemover/stagemover/shared/pipedrive/pipedrivetest"
	"github.com/stagemover/stagemover/shared/platform/apigw"
	"github.com/stagemover/stagemover/shared/source/calendly"
	"github.com/stagemover/stagemover/shared/source/calendly/calendlytest"
	"github.com/stagemover/stagemover/shared/source/docusign"
	"github.com/stagemover/stagemover/shared/source/gmail"
	"github.com/stagemover/stagemover/shared/source/gmail/gmailtest"
	"github.com/stagemover/stagemover/shared/source/graph"
	"github.com/stagemover/stagemover/shared/source/graph/graphtest"
	"github.com/stagemover/stagemover/shared/source/pandadoc"
	"github.com/stagemover/stagemover/shared/source/pdhooks"
	"github.com/stagemover/stagemover/shared/store"
	"github.com/stagemover/stagemover/shared/testkit"
	"github.com/stagemover/stagemover/shared/testkit/lambdatest"
)

// functionCase is what one function does with its sample.
type functionCase struct {
	sample string // events/<sample>
	opts   []lambdatest.Option
	// required are variables without which the function fails its init.
	required []string
	// arrange gives the function its secrets and stand-ins and returns
	// the event to invoke it with (the sample, signed anew where its
	// signature is only good around its own time) and the expectations.
	arrange func(t *testing.T, f *lambdatest.Fixture, sample []byte) ([]byte, expect)
}

type expect struct {
	// ran invokes the started function and checks what it did.
	ran func(t *testing.T, rie *lambdatest.RIE)
	// untouched checks, after an init failure, that nothing was done.
	untouched func(t *testing.T)
}

// functionCases has one row per function of template.yaml, by logical id.
var functionCases = map[string]functionCase{
	"IngestGenericFunction":  {sample: "ingest-generic.json", arrange: ingestGeneric},
	"EvaluatorFunction":      {sample: "evaluator.json", arrange: evaluatorRecordsOneDecision},
	"MoverFunction":          {sample: "mover.json", arrange: moverMovesOnce},
	"FetcherFunction":        {sample: "fetcher-graph.json", arrange: fetcherStoresTheGraphMessage, required: []string{"TABLE_NAME"}},
	"IngestCalendlyFunction": {sample: "ingest-calendly-created.json", arrange: ingestCalendly},
	"CalendlySubscribeFunction": {sample: "schedule.json", opts: []lambdatest.Option{lambdatest.NoTable()}, arrange: calendlySubscribes,
		required: []string{"CALENDLY_SIGNING_KEY_SECRET_ARN", "CALENDLY_API_TOKEN_SECRET_ARN", "CALENDLY_ORGANIZATION", "CALENDLY_WEBHOOK_URL", "TABLE_NAME"}},
	"MoverSweeperFunction": {sample: "schedule.json", arrange: sweeperRedrivesAnOpenDecision,
		required: []string{"PIPEDRIVE_TOKEN_SECRET_ARN", "PIPEDRIVE_BASE_URL", "TABLE_NAME"}},
	"IngestGmailFunction": {sample: "ingest-gmail.json", arrange: ingestGmail},
	"GmailRenewFunction": {sample: "schedule.json", arrange: gmailRenewWatchesTheMailbox,
		required: []string{"GMAIL_MAILBOXES", "GMAIL_PUBSUB_TOPIC", "GMAIL_CREDENTIALS_SECRET_ARN", "TABLE_NAME"}},
	"IngestGraphFunction": {sample: "ingest-graph-notification.json", arrange: ingestGraph},
	"GraphSubscriptionsFunction": {sample: "schedule.json", opts: []lambdatest.Option{lambdatest.NoTable()}, arrange: graphSubscribes,
		required: []string{"GRAPH_CLIENT_STATE_SECRET_ARN", "GRAPH_CREDENTIALS_SECRET_ARN", "GRAPH_MAILBOXES", "GRAPH_NOTIFICATION_URL", "TABLE_NAME"}},
	"IngestPipedriveFunction": {sample: "ingest-pipedrive.json", arrange: ingestPipedrive},
	"PipedriveWebhooksFunction": {sample: "schedule.json", opts: []lambdatest.Option{lambdatest.NoTable()}, arrange: pipedriveWebhooksRegisterOncePerEvent,
		required: []string{"PIPEDRIVE_WEBHOOK_URL", "PIPEDRIVE_WEBHOOK_SECRET_ARN", "PIPEDRIVE_TOKEN_SECRET_ARN"}},
	"RevertReportFunction":   {sample: "schedule.json", arrange: revertReportEmitsRevertRate, required: []string{"TABLE_NAME"}},
	"IngestPandaDocFunction": {sample: "ingest-pandadoc.json", arrange: ingestPandaDoc},
	"IngestDocuSignFunction": {sample: "ingest-docusign.json", arrange: ingestDocuSign},
}

func TestEveryFunctionWithItsSample(t *testing.T) {
	fns := testkit.TemplateFunctions(t)
	inTemplate := map[string]bool{}
	for _, fn := range fns {
		inTemplate[fn.LogicalID] = true
	}
	for id := range functionCases {
		if !inTemplate[id] {
			t.Errorf("functionCases has %s, which template.yaml does not", id)
		}
	}
	for _, fn := range fns {
		c, ok := functionCases[fn.LogicalID]
		if !ok {
			t.Errorf("%s (functions/%s) has no row in functionCases: give it its events/ sample and what it must do", fn.LogicalID, fn.Dir)
			continue
		}
		t.Run(fn.LogicalID, func(t *testing.T) {
			t.Parallel()
			f := lambdatest.NewFixture(t, fn.Dir, c.opts...)
			event, exp := c.arrange(t, f, testkit.Event(t, c.sample))
			f.AssertInitFailsWithout(t, event, c.required, exp.untouched)
			rie := f.Start(t)
			exp.ran(t, rie)
			f.AssertNoSecrets(t, rie.Output())
		})
	}
}

// ---------------------------------------------------------------- helpers

// sandbox's seeded "Sales" pipeline.
const (
	stageDemoScheduled = 3
	stageProposalMade  = 4
)

const buyer = "dana.whitfield@northwind-logistics.com"

// sampleFetch is the fetch item of a fetcher sample's record.
func sampleFetch(t *testing.T, name string) store.FetchRecord {
	t.Helper()
	rec, err := store.FetchFromItem(lambdatest.NewImage(t, lambdatest.StreamEvent(t, testkit.Event(t, name)), 0))
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// wantHTTP fails the test unless resp has status and its body every part.
func wantHTTP(t *testing.T, rie *lambdatest.RIE, resp events.APIGatewayV2HTTPResponse, status int, parts ...string) {
	t.Helper()
	ok := resp.StatusCode == status
	for _, p := range parts {
		ok = ok && strings.Contains(resp.Body, p)
	}
	if !ok {
		t.Fatalf("answered %d %s, want %d with %q\n%s", resp.StatusCode, resp.Body, status, parts, rie.Output())
	}
}

// ---------------------------------------------------------------- ingest

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
		if !strings.Contains(rie.Output(), "signal stored") {
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

// ---------------------------------------------------------------- streams

func evaluatorRecordsOneDecision(t *testing.T, f *lambdatest.Fixture, sample []byte) ([]byte, expect) {
	pd, _ := f.Pipedrive(t)
	// The signal of the sample event, stored as the ingest function stores it.
	rec, err := store.SignalFromItem(lambdatest.NewImage(t, lambdatest.StreamEvent(t, sample), 0))
	if err != nil {
		t.Fatal(err)
	}
	if created, err := f.Store().PutSignal(context.Background(), rec); err != nil || !created {
		t.Fatalf("PutSignal: %v %v", created, err)
	}
	pd.AddDeal(pipedrivetest.Deal{ID: rec.DealID, StageID: stageDemoScheduled, Title: "Northwind Logistics - route optimisation, 40 seats"})

	return sample, expect{ran: func(t *testing.T, rie *lambdatest.RIE) {
		invoke := func() {
			t.Helper()
			if resp := rie.InvokeBatch(t, sample); len(resp.BatchItemFailures) != 0 {
				t.Fatalf("batch item failures %v\n%s", resp.BatchItemFailures, rie.Output())
			}
		}
		invoke()
		decisions := f.Items(t, store.TypeDecision)
		if len(decisions) != 1 {
			t.Fatalf("%d decision items after one evaluation, want 1\n%s", len(decisions), rie.Output())
		}
		d, err := store.DecisionFromItem(decisions[0])
		if err != nil {
			t.Fatal(err)
		}
		if d.DealID != rec.DealID || d.SignalKey != rec.Key() || (d.Action != store.ActionMove && d.Action != store.ActionStay) {
			t.Errorf("decision %+v does not belong to signal %s", d, rec.Key())
		}
		wantState := store.StateRecorded
		if d.Action == store.ActionMove {
			wantState = store.StatePending
		}
		if d.State != wantState || (d.Action == store.ActionMove && len(d.Reasons) == 0) {
			t.Errorf("decision %+v: want state %s (and reasons for a move)", d, wantState)
		}
		t.Logf("decision: %s %q (rule %s, %d reasons)", d.Action, d.TargetStage, d.Rule, len(d.Reasons))

		// The stream delivers the same record again: nothing new is written.
		invoke()
		again := f.Items(t, store.TypeDecision)
		if len(again) != 1 {
			t.Errorf("%d decision items after a redelivery, want still 1", len(again))
		} else if d2, _ := store.DecisionFromItem(again[0]); !d2.UpdatedAt.Equal(d.UpdatedAt) || d2.State != d.State {
			t.Errorf("decision rewritten on redelivery: %+v", d2)
		}
	}}
}

func moverMovesOnce(t *testing.T, f *lambdatest.Fixture, sample []byte) ([]byte, expect) {
	pd, _ := f.Pipedrive(t)
	// The decision of the sample event, stored as the evaluator stores it,
	// for a deal the sandbox has, one stage before the target.
	dec, err := store.DecisionFromItem(lambdatest.NewImage(t, lambdatest.StreamEvent(t, sample), 0))
	if err != nil {
		t.Fatal(err)
	}
	pd.AddDeal(pipedrivetest.Deal{ID: dec.DealID, StageID: stageDemoScheduled, Title: "Northwind Logistics - route optimisation, 40 seats"})
	st := f.Store()
	if created, err := st.PutDecision(context.Background(), dec); err != nil || !created {
		t.Fatalf("PutDecision: %v %v", created, err)
	}
	patchPath := fmt.Sprintf("/api/v2/deals/%d", dec.DealID)
	current := func(t *testing.T) store.Decision {
		d, err := st.GetDecision(context.Background(), dec.DealID, dec.SortKey())
		if err != nil {
			t.Fatal(err)
		}
		return d
	}

	return sample, expect{ran: func(t *testing.T, rie *lambdatest.RIE) {
		if resp := rie.InvokeBatch(t, sample); len(resp.BatchItemFailures) != 0 {
			t.Fatalf("batch item failures %v\n%s", resp.BatchItemFailures, rie.Output())
		}
		if n := pd.Count("PATCH", patchPath); n != 1 {
			t.Fatalf("%d PATCH %s, want 1\n%s", n, patchPath, rie.Output())
		}
		if deal, ok := pd.Deal(dec.DealID); !ok || deal.StageID != stageProposalMade {
			t.Errorf("deal at stage %d, want %d (Proposal Made)", deal.StageID, stageProposalMade)
		}
		d := current(t)
		if d.State != store.StateDone || d.Shadow || d.FromStageID != stageDemoScheduled || d.ToStageID != stageProposalMade || d.Attempts != 1 {
			t.Errorf("decision after the move: %+v", d)
		}

		// The stream delivers the record again (a retry of the batch).
		if resp := rie.InvokeBatch(t, sample); len(resp.BatchItemFailures) != 0 {
			t.Errorf("redelivery: batch item failures %v", resp.BatchItemFailures)
		}
		if n := pd.Count("PATCH", patchPath); n != 1 {
			t.Errorf("%d PATCH %s after a redelivery, want still 1", n, patchPath)
		}
		if d2 := current(t); d2.State != store.StateDone || d2.Attempts != 1 || d2.StateReason != d.StateReason {
			t.Errorf("decision changed on redelivery: %+v", d2)
		}
		for _, v := range pd.ValidationErrors() {
			t.Errorf("request broke Pipedrive's OpenAPI spec: %s", v)
		}
	}}
}

// The user id of the Graph sample's resource path.
const sampleUserID = "5b2f7c1e-8d3a-4f6b-9c0e-1a2b3c4d5e6f"

func fetcherStoresTheGraphMessage(t *testing.T, f *lambdatest.Fixture, sample []byte) ([]byte, expect) {
	gr := graphtest.New()
	t.Cleanup(gr.Close)
	google, err := gmailtest.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(google.Close)
	keyFile, err := google.AddServiceAccount("stagemover-reader@acme-routing-mail.iam.gserviceaccount.com", "acme-routing.io")
	if err != nil {
		t.Fatal(err)
	}
	clientState := testkit.RandomSecret(t, "cs")
	// A line from the middle of the PEM key: the whole key would be logged
	// JSON-escaped, a line of it as it is.
	pemLines := strings.Split(strings.TrimSpace(testkit.SecretField(t, string(keyFile), "private_key")), "\n")
	if len(pemLines) < 5 {
		t.Fatal("the service account key is not a PEM block")
	}
	f.PutSecret(t, "GMAIL_CREDENTIALS_SECRET_ARN", "stagemover/gmail-credentials", string(keyFile), pemLines[len(pemLines)/2])
	f.PutSecret(t, "GRAPH_CREDENTIALS_SECRET_ARN", "stagemover/graph-credentials", gr.CredentialsJSON(), gr.ClientSecret)
	f.PutSecret(t, "GRAPH_CLIENT_STATE_SECRET_ARN", "stagemover/graph-client-state", testkit.SecretJSON("client_state", clientState), clientState)
	for k, v := range map[string]string{"GRAPH_BASE_URL": gr.GraphURL(), "GRAPH_LOGIN_URL": gr.LoginURL(), "GMAIL_BASE_URL": google.URL, "GOOGLE_TOKEN_URL": google.TokenURL()} {
		f.Env[k] = v
	}
	// The message the sample notification is about, in the sample's
	// mailbox, and the fetch item as the ingest function stored it.
	gr.AddUserWithID(testkit.SampleMailbox, sampleUserID)
	id := gr.AddMessage(testkit.SampleMailbox, testkit.ReadRepoFile(t, "shared/source/graph/testdata/message-buyer-reply.json"))
	if created, err := f.Store().PutFetch(context.Background(), sampleFetch(t, "fetcher-graph.json")); err != nil || !created {
		t.Fatalf("PutFetch: %v %v", created, err)
	}

	return sample, expect{
		untouched: func(t *testing.T) {
			if n := len(f.Signals(t)); n != 0 {
				t.Errorf("%d signals stored by a function that failed init", n)
			}
		},
		ran: func(t *testing.T, rie *lambdatest.RIE) {
			if resp := rie.InvokeBatch(t, sample); len(resp.BatchItemFailures) != 0 {
				t.Fatalf("batch item failures %+v\n%s", resp.BatchItemFailures, rie.Output())
			}
			sigs := f.Signals(t)
			if len(sigs) != 1 {
				t.Fatalf("%d signals after the fetch, want 1\n%s", len(sigs), rie.Output())
			}
			s := sigs[0]
			if s.Source != "graph" || !strings.Contains(s.EventID, "CAH7pQx1N3u8r=Zt4kWv0dYf2sLq9m") || s.PersonEmail != buyer ||
				s.Signal.From != buyer || !strings.Contains(s.Signal.Body, "proposal with pricing") {
				t.Errorf("stored signal %+v: want the Graph message %s", s, id)
			}
			// A redelivery of the same record stores nothing new.
			if resp := rie.InvokeBatch(t, sample); len(resp.BatchItemFailures) != 0 {
				t.Errorf("redelivery: batch item failures %+v", resp.BatchItemFailures)
			}
			if n := len(f.Signals(t)); n != 1 {
				t.Errorf("%d signals after a redelivery, want still 1", n)
			}
			if !strings.Contains(rie.Output(), `"msg":"fetched"`) {
				t.Errorf("expected the function's JSON log lines in its output:\n%s", rie.Output())
			}
		},
	}
}

// ---------------------------------------------------------------- schedules

func sweeperRedrivesAnOpenDecision(t *testing.T, f *lambdatest.Fixture, sample []byte) ([]byte, expect) {
	pd, _ := f.Pipedrive(t)
	// The pending move decision of events/mover.json, recorded an hour ago
	// (its stream delivery lost or its retries spent), for a deal the
	// sandbox has one stage before the target.
	d, err := store.DecisionFromItem(lambdatest.NewImage(t, lambdatest.StreamEvent(t, testkit.Event(t, "mover.json")), 0))
	if err != nil {
		t.Fatal(err)
	}
	pd.AddDeal(pipedrivetest.Deal{ID: d.DealID, StageID: stageDemoScheduled, Title: "Northwind Logistics - route optimisation, 40 seats"})
	ctx := context.Background()
	old := store.New(f.Table.DB, f.Table.Name, store.WithClock(func() time.Time { return time.Now().Add(-time.Hour) }))
	if created, err := old.PutDecision(ctx, d); err != nil || !created {
		t.Fatalf("PutDecision: %v %v", created, err)
	}
	// A second one made just now, for another deal: not the sweeper's yet.
	young := d
	young.DealID, young.SignalKey, young.EventID = d.DealID+1, d.SignalKey+"-2", d.EventID+"-2"
	pd.AddDeal(pipedrivetest.Deal{ID: young.DealID, StageID: stageDemoScheduled, Title: "Contoso - fleet pilot"})
	st := f.Store()
	if created, err := st.PutDecision(ctx, young); err != nil || !created {
		t.Fatalf("PutDecision: %v %v", created, err)
	}
	current := func(t *testing.T, d store.Decision) store.Decision {
		got, err := st.GetDecision(ctx, d.DealID, d.SortKey())
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	patches := func(d store.Decision) int { return pd.Count("PATCH", fmt.Sprintf("/api/v2/deals/%d", d.DealID)) }

	return sample, expect{
		untouched: func(t *testing.T) {
			if n := patches(d); n != 0 {
				t.Errorf("%d PATCH by a function that failed init", n)
			}
		},
		ran: func(t *testing.T, rie *lambdatest.RIE) {
			rie.RunScheduled(t, sample)
			if n := patches(d); n != 1 {
				t.Fatalf("%d PATCH of deal %d, want 1\n%s", n, d.DealID, rie.Output())
			}
			if deal, ok := pd.Deal(d.DealID); !ok || deal.StageID != stageProposalMade {
				t.Errorf("deal %d at stage %d, want %d (Proposal Made)", d.DealID, deal.StageID, stageProposalMade)
			}
			got := current(t, d)
			if got.State != store.StateDone || got.Shadow || got.FromStageID != stageDemoScheduled || got.ToStageID != stageProposalMade || got.Attempts != 1 {
				t.Errorf("decision after the sweep: %+v", got)
			}
			if n := patches(young); n != 0 {
				t.Errorf("%d PATCH of deal %d, whose decision is only minutes old; want 0", n, young.DealID)
			}
			if y := current(t, young); y.State != store.StatePending || y.Attempts != 0 {
				t.Errorf("young decision touched by the sweep: %+v", y)
			}

			// The next run (15 minutes later, or a duplicate schedule
			// delivery) finds nothing open: the deal is not patched again.
			rie.RunScheduled(t, sample)
			if n := patches(d); n != 1 {
				t.Errorf("%d PATCH of deal %d after a second sweep, want still 1", n, d.DealID)
			}
			if d2 := current(t, d); d2.State != store.StateDone || d2.Attempts != 1 {
				t.Errorf("decision changed by a second sweep: %+v", d2)
			}
			for _, v := range pd.ValidationErrors() {
				t.Errorf("request broke Pipedrive's OpenAPI spec: %s", v)
			}
			if !strings.Contains(rie.Output(), `"msg":"sweep"`) {
				t.Errorf("expected the sweeper's JSON log lines in its output:\n%s", rie.Output())
			}
		},
	}
}

func calendlySubscribes(t *testing.T, f *lambdatest.Fixture, sample []byte) ([]byte, expect) {
	signingKey, apiToken := testkit.RandomSecret(t, "cal-"), testkit.RandomSecret(t, "pat-")
	cal := calendlytest.New(apiToken)
	t.Cleanup(cal.Close)
	// The callback: what POST /webhooks/calendly would check first. It
	// counts the webhook POSTs whose signature verifies with signingKey.
	var verified atomic.Int64
	callback := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := calendly.Verify([]byte(signingKey), r.Header.Get(calendly.HeaderSignature), body, time.Now(), 0); err != nil {
			http.Error(w, `{"error":"signature"}`, http.StatusUnauthorized)
			return
		}
		verified.Add(1)
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(callback.Close)
	webhookURL := callback.URL + "/webhooks/calendly"
	f.PutSecret(t, "CALENDLY_SIGNING_KEY_SECRET_ARN", "stagemover/calendly-signing-key", testkit.SecretJSON("signing_key", signingKey), signingKey)
	f.PutSecret(t, "CALENDLY_API_TOKEN_SECRET_ARN", "stagemover/calendly-api-token", testkit.SecretJSON("api_token", apiToken), apiToken)
	f.Env["CALENDLY_ORGANIZATION"] = cal.Organization
	f.Env["CALENDLY_WEBHOOK_URL"] = webhookURL
	f.Env["CALENDLY_BASE_URL"] = cal.URL

	var ev events.CloudWatchEvent
	dec := json.NewDecoder(bytes.NewReader(sample))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ev); err != nil || ev.Source != "aws.events" || ev.DetailType != "Scheduled Event" {
		t.Fatalf("events/schedule.json is not an EventBridge scheduled event: %+v %v", ev, err)
	}

	return sample, expect{
		untouched: func(t *testing.T) {
			if n := len(cal.Subscriptions()); n != 0 {
				t.Errorf("%d subscriptions created by a function that failed init", n)
			}
		},
		ran: func(t *testing.T, rie *lambdatest.RIE) {
			rie.RunScheduled(t, sample)
			subs := cal.Subscriptions()
			if len(subs) != 1 {
				t.Fatalf("%d subscriptions in the Calendly stand-in after the run, want 1\n%s", len(subs), rie.Output())
			}
			s := subs[0]
			if s.CallbackURL != webhookURL || s.State != "active" || s.Scope != "organization" ||
				s.Organization != cal.Organization || !slices.Contains(s.Events, "invitee.created") || !slices.Contains(s.Events, "invitee.canceled") {
				t.Errorf("subscription %+v", s)
			}
			// The subscription signs with the key in the secret: a delivery
			// verifies at the callback.
			body := []byte(`{"event":"invitee.created","created_at":"2026-03-02T10:15:08.000000Z","payload":{}}`)
			ds, err := cal.Deliver(context.Background(), body)
			if err != nil || len(ds) != 1 || ds[0].Status != http.StatusAccepted || verified.Load() != 1 {
				t.Errorf("delivery through the new subscription: %+v %v (verified %d), want one 202 verified with the stored key", ds, err, verified.Load())
			}

			// The next scheduled run keeps the subscription as it is.
			rie.RunScheduled(t, sample)
			if n := len(cal.Subscriptions()); n != 1 {
				t.Errorf("%d subscriptions after a second run, want still 1", n)
			}
			if n := cal.Requests("POST /webhook_subscriptions"); n != 1 {
				t.Errorf("%d create calls after two runs, want 1", n)
			}
			// Calendly disabled it after failed deliveries: the next run replaces it.
			cal.Disable(s.URI)
			rie.RunScheduled(t, sample)
			subs = cal.Subscriptions()
			if len(subs) != 1 || subs[0].State != "active" || subs[0].URI == s.URI {
				t.Errorf("after the disabled subscription's run: %+v, want one new active subscription", subs)
			}
			if n := f.DynamoDBCalls(); n != 0 {
				t.Errorf("the function made %d DynamoDB calls; its role grants none", n)
			}
			if !strings.Contains(rie.Output(), "calendly webhook subscription ensured") {
				t.Errorf("expected the function's JSON log lines in its output:\n%s", rie.Output())
			}
		},
	}
}

func gmailRenewWatchesTheMailbox(t *testing.T, f *lambdatest.Fixture, sample []byte) ([]byte, expect) {
	google, err := gmailtest.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(google.Close)
	mailbox := testkit.SampleMailbox
	creds := google.AddRefreshToken(mailbox)
	f.PutSecret(t, "GMAIL_CREDENTIALS_SECRET_ARN", "stagemover/gmail-credentials", string(creds),
		testkit.SecretField(t, string(creds), "client_secret"), testkit.SecretField(t, string(creds), "refresh_token"))
	f.Env["GMAIL_BASE_URL"], f.Env["GOOGLE_TOKEN_URL"] = google.URL, google.TokenURL()
	topic := testkit.SampleParameters["GmailPubsubTopic"]
	state := gmail.StoreState{Docs: f.Store()}

	return sample, expect{
		untouched: func(t *testing.T) {
			if n := google.Count(gmailtest.OpWatch); n != 0 {
				t.Errorf("%d users.watch calls by a function that failed init", n)
			}
		},
		ran: func(t *testing.T, rie *lambdatest.RIE) {
			ctx := context.Background()
			rie.RunScheduled(t, sample)
			ws := google.Watches()
			if len(ws) != 1 || ws[0].Mailbox != mailbox || ws[0].TopicName != topic {
				t.Fatalf("users.watch calls %+v, want one for %s on %s\n%s", ws, mailbox, topic, rie.Output())
			}
			exp, found, err := state.GetWatchExpiry(ctx, mailbox)
			if err != nil || !found || exp.Before(time.Now().Add(6*24*time.Hour)) || exp.After(time.Now().Add(7*24*time.Hour+time.Minute)) {
				t.Errorf("stored watch expiry %s (found %v, %v), want Gmail's 7 days ahead", exp, found, err)
			}
			// The watch's history id is the mailbox's first cursor, so the
			// first notification's change is fetched too.
			c, found, err := state.GetCursor(ctx, mailbox)
			if err != nil || !found || c.HistoryID != google.HistoryID(mailbox) {
				t.Errorf("cursor %+v (found %v, %v), want the watch's history id %d", c, found, err, google.HistoryID(mailbox))
			}
			// Twelve hours later (the next run) the watch is still good for
			// days: no call to Gmail.
			rie.RunScheduled(t, sample)
			if n := google.Count(gmailtest.OpWatch); n != 1 {
				t.Errorf("%d users.watch calls after two runs, want 1", n)
			}
			if out := rie.Output(); !strings.Contains(out, "gmail watch renewed") || !strings.Contains(out, "gmail watch still valid") {
				t.Errorf("expected the function's JSON log lines in its output:\n%s", out)
			}
		},
	}
}

// ingestFetches keeps what the in-process ingest handler stores.
type ingestFetches struct {
	mu   sync.Mutex
	recs map[string]store.FetchRecord
}

func (f *ingestFetches) PutFetch(_ context.Context, r store.FetchRecord) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.recs[r.Key()]; ok {
		return false, nil
	}
	f.recs[r.Key()] = r
	return true, nil
}

func (f *ingestFetches) all() []store.FetchRecord {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []store.FetchRecord
	for _, r := range f.recs {
		out = append(out, r)
	}
	return out
}

func graphSubscribes(t *testing.T, f *lambdatest.Fixture, sample []byte) ([]byte, expect) {
	mailbox := testkit.SampleMailbox
	gr := graphtest.New()
	t.Cleanup(gr.Close)
	gr.AddUser(mailbox)
	clientState := testkit.RandomSecret(t, "cs")
	// Graph validates every new subscription's notification URL: POST
	// /webhooks/graph is the ingest-graph handler with the same
	// clientState, served as API Gateway calls it.
	ingest := &ingestFetches{recs: map[string]store.FetchRecord{}}
	h := &graph.Handler{
		Store:       ingest,
		Mailboxes:   []string{mailbox},
		ClientState: func(context.Context) (string, error) { return clientState, nil },
		Now:         time.Now,
		Log:         testkit.DiscardLogger(),
	}
	mux := http.NewServeMux()
	mux.Handle("POST /webhooks/graph", apigw.Handler("POST /webhooks/graph", h.Handle))
	api := httptest.NewServer(mux)
	t.Cleanup(api.Close)
	notificationURL := api.URL + "/webhooks/graph"
	f.PutSecret(t, "GRAPH_CLIENT_STATE_SECRET_ARN", "stagemover/graph-client-state", testkit.SecretJSON("client_state", clientState), clientState)
	f.PutSecret(t, "GRAPH_CREDENTIALS_SECRET_ARN", "stagemover/graph-credentials", gr.CredentialsJSON(), gr.ClientSecret)
	f.Env["GRAPH_NOTIFICATION_URL"] = notificationURL
	f.Env["GRAPH_BASE_URL"], f.Env["GRAPH_LOGIN_URL"] = gr.GraphURL(), gr.LoginURL()
	creates := func() int {
		n := 0
		for _, r := range gr.Requests() {
			if r == "POST /v1.0/subscriptions" {
				n++
			}
		}
		return n
	}

	return sample, expect{
		untouched: func(t *testing.T) {
			if n := creates(); n != 0 {
				t.Errorf("%d subscriptions created by a function that failed init", n)
			}
		},
		ran: func(t *testing.T, rie *lambdatest.RIE) {
			rie.RunScheduled(t, sample)
			subs := gr.Subscriptions()
			if len(subs) != 2 {
				t.Fatalf("%d subscriptions in the Graph stand-in after the run, want 2 (mail, calendar)\n%s", len(subs), rie.Output())
			}
			kinds := map[string]string{}
			for _, s := range subs {
				u, err := url.Parse(s.NotificationURL)
				if err != nil || !strings.HasPrefix(s.NotificationURL, notificationURL+"?") || u.Query().Get("mailbox") != mailbox {
					t.Errorf("subscription %s notification URL %q", s.ID, s.NotificationURL)
				}
				if s.ClientState != clientState {
					t.Errorf("subscription %s does not carry the clientState secret", s.ID)
				}
				if s.Expires.Before(time.Now().Add(48*time.Hour)) || s.Expires.After(time.Now().Add(graphtest.MaxLifetime)) {
					t.Errorf("subscription %s expires %s: want close to Graph's maximum of %s", s.ID, s.Expires, graphtest.MaxLifetime)
				}
				kinds[strings.ToLower(s.Resource)] = s.ChangeType
			}
			if kinds["users/"+mailbox+"/messages"] != "created" || kinds["users/"+mailbox+"/events"] != "created,updated" {
				t.Errorf("subscriptions by resource: %v", kinds)
			}
			vs := gr.Validations()
			if len(vs) != 2 {
				t.Errorf("%d validation requests, want 2", len(vs))
			}
			for _, v := range vs {
				if v.Status != http.StatusOK || !strings.HasPrefix(v.ContentType, "text/plain") || v.Body != v.Token || v.Err != "" {
					t.Errorf("validation of %s: %d %q %q (%s)", v.URL, v.Status, v.ContentType, v.Body, v.Err)
				}
			}
			// The subscription delivers to the ingest handler, which
			// accepts its clientState.
			id := gr.AddMessage(mailbox, []byte(`{"subject":"Re: pilot","receivedDateTime":"2026-03-02T09:41:07Z"}`))
			codes, err := gr.Notify(context.Background(), mailbox, "messages", id, "created")
			if err != nil || len(codes) != 1 || codes[0] != http.StatusAccepted {
				t.Errorf("notification through the new subscription: %v %v, want one 202", codes, err)
			}
			if got := ingest.all(); len(got) != 1 || got[0].Mailbox != mailbox || got[0].Source != graph.Source {
				t.Errorf("fetch items stored by the ingest handler: %+v, want one for %s", got, mailbox)
			}
			// The next scheduled run finds both current: nothing created.
			rie.RunScheduled(t, sample)
			if n := len(gr.Subscriptions()); n != 2 {
				t.Errorf("%d subscriptions after a second run, want still 2", n)
			}
			if n := creates(); n != 2 {
				t.Errorf("%d create calls after two runs, want 2", n)
			}
			if n := gr.TokenRequests(); n != 1 {
				t.Errorf("%d token requests over two warm runs, want 1 (cached)", n)
			}
			if n := f.DynamoDBCalls(); n != 0 {
				t.Errorf("the function made %d DynamoDB calls; its role grants none", n)
			}
			if !strings.Contains(rie.Output(), "graph subscription created") {
				t.Errorf("expected the function's JSON log lines in its output:\n%s", rie.Output())
			}
		},
	}
}

func pipedriveWebhooksRegisterOncePerEvent(t *testing.T, f *lambdatest.Fixture, sample []byte) ([]byte, expect) {
	pd, _ := f.Pipedrive(t)
	password := testkit.RandomSecret(t, "pw-")
	f.PutSecret(t, "PIPEDRIVE_WEBHOOK_SECRET_ARN", "stagemover/pipedrive-webhook",
		testkit.SecretJSON("http_auth_user", "stagemover", "http_auth_password", password), password)
	hookURL := f.Environment(t)["PIPEDRIVE_WEBHOOK_URL"]
	if hookURL != "https://"+testkit.SampleAPIDomain+"/pipedrive" {
		t.Fatalf("PIPEDRIVE_WEBHOOK_URL %q is not the API's /pipedrive route", hookURL)
	}
	f.Hide("old-password")
	// events lists the sandbox's webhooks to hookURL as "action.object" (sorted).
	hooks := func() []string {
		var out []string
		for _, s := range pd.Subscriptions() {
			if s.URL == hookURL {
				out = append(out, s.EventAction+"."+s.EventObject)
			}
		}
		sort.Strings(out)
		return out
	}

	return sample, expect{
		untouched: func(t *testing.T) {
			if n := len(pd.Subscriptions()); n != 0 {
				t.Errorf("%d webhooks registered by a function that failed init", n)
			}
		},
		ran: func(t *testing.T, rie *lambdatest.RIE) {
			// A webhook left from before a password rotation: replaced, not kept.
			stale := pd.Subscribe(hookURL, "stagemover", "old-password", "change", "deal")
			want := []string{"*.pipeline", "*.stage", "change.deal", "delete.deal"}
			rie.RunScheduled(t, sample)
			if got := hooks(); strings.Join(got, " ") != strings.Join(want, " ") {
				t.Fatalf("webhooks after the first run: %v, want %v\n%s", got, want, rie.Output())
			}
			first := pd.Subscriptions()
			for _, s := range first {
				if s.ID == stale {
					t.Errorf("the webhook with the old password was kept")
				}
				if s.User != "stagemover" || s.Password != password || s.Version != "2.0" {
					t.Errorf("webhook %d: user %q, version %q, password matches %v", s.ID, s.User, s.Version, s.Password == password)
				}
			}
			posts := pd.Count("POST", "/v1/webhooks")

			// The next day's run (or a duplicate schedule delivery) changes nothing.
			rie.RunScheduled(t, sample)
			second := pd.Subscriptions()
			if len(second) != len(first) {
				t.Fatalf("%d webhooks after the second run, want %d (one per event)", len(second), len(first))
			}
			for i := range second {
				if second[i].ID != first[i].ID {
					t.Errorf("webhook %d replaced by %d on the second run", first[i].ID, second[i].ID)
				}
			}
			if n := pd.Count("POST", "/v1/webhooks"); n != posts {
				t.Errorf("%d POST /v1/webhooks on the second run, want 0", n-posts)
			}
			for _, v := range pd.ValidationErrors() {
				t.Errorf("request broke Pipedrive's OpenAPI spec: %s", v)
			}
			for _, w := range []string{"pipedrive webhook created", "pipedrive webhook kept", "pipedrive webhook replaced"} {
				if !strings.Contains(rie.Output(), w) {
					t.Errorf("no %q in the function's output:\n%s", w, rie.Output())
				}
			}
		},
	}
}

func revertReportEmitsRevertRate(t *testing.T, f *lambdatest.Fixture, sample []byte) ([]byte, expect) {
	// Two done, live moves by rule proposal-asked in "Sales" and a
	// person's revert of the first.
	ctx := context.Background()
	st := f.Store()
	for i, dealID := range []int64{4217, 4218} {
		d := store.Decision{DealID: dealID, SignalKey: "SIG#generic#crm-" + string(rune('a'+i)), EventID: "crm-" + string(rune('a'+i)),
			Action: store.ActionMove, TargetStage: "Proposal Made", TargetPipeline: "Sales", Rule: "proposal-asked"}
		if created, err := st.PutDecision(ctx, d); err != nil || !created {
			t.Fatalf("PutDecision: %v %v", created, err)
		}
		if _, err := st.Claim(ctx, dealID, d.SortKey(), "seed", time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := st.Finish(ctx, dealID, d.SortKey(), "seed", store.Outcome{State: store.StateDone, FromStageID: 3, ToStageID: 4}); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			m := pdhooks.Measure{Type: pdhooks.TypeRevert, DealID: dealID, EventID: "7f1c2a4e-0b9d-4c3e-9a51-2d8e6f0b7c19", DecisionKey: d.SortKey(),
				Rule: "proposal-asked", Pipeline: "Sales", PipelineID: 1, Kind: "backward", FromStageID: 4, ToStageID: 3, UserID: 1001, At: time.Now()}
			if created, err := (pdhooks.Table{DB: f.Table.DB, Name: f.Table.Name}).PutMeasure(ctx, m, time.Now()); err != nil || !created {
				t.Fatalf("PutMeasure: %v %v", created, err)
			}
		}
	}
	// emf returns the EMF lines of the output with the given dimensions.
	emf := func(out, pipeline, rule string) []map[string]any {
		var lines []map[string]any
		for _, m := range testkit.Records(out) {
			if _, ok := m["_aws"]; ok && m["Pipeline"] == pipeline && m["Rule"] == rule {
				lines = append(lines, m)
			}
		}
		return lines
	}

	return sample, expect{ran: func(t *testing.T, rie *lambdatest.RIE) {
		rie.RunScheduled(t, sample)
		var logs string
		lambdatest.WaitFor(t, 5*time.Second, "the EMF lines", func() bool {
			logs = rie.Output()
			return len(emf(logs, "all", "all")) > 0
		})
		for _, c := range []struct {
			pipeline, rule string
			moves, reverts float64
			rate           float64
		}{{"Sales", "proposal-asked", 2, 1, 50}, {"all", "all", 2, 1, 50}} {
			lines := emf(logs, c.pipeline, c.rule)
			if len(lines) != 1 {
				t.Fatalf("%d EMF lines for %s/%s, want 1:\n%s", len(lines), c.pipeline, c.rule, logs)
			}
			l := lines[0]
			if l["Moves"] != c.moves || l["Reverts"] != c.reverts || l["RevertRate"] != c.rate {
				t.Errorf("%s/%s: %v", c.pipeline, c.rule, l)
			}
			aws, _ := json.Marshal(l["_aws"])
			if !strings.Contains(string(aws), `"Namespace":"StageMover"`) || !strings.Contains(string(aws), `{"Name":"RevertRate","Unit":"Percent"}`) {
				t.Errorf("%s/%s: EMF metadata %s", c.pipeline, c.rule, aws)
			}
		}
	}}
}

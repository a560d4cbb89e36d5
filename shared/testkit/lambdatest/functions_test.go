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
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

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

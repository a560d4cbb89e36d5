package lambdatest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/stagemover/stagemover/shared/dev/ddblocal"
	"github.com/stagemover/stagemover/shared/pipedrive/pipedrivetest"
	"github.com/stagemover/stagemover/shared/store"
	"github.com/stagemover/stagemover/shared/testkit"
)

// RunTests runs a package's tests, then stops the shared DynamoDB Local and
// every emulator and removes the bootstraps:
//
//	func TestMain(m *testing.M) { os.Exit(lambdatest.RunTests(m)) }
func RunTests(m *testing.M) int {
	code := ddblocal.RunTests(m)
	Cleanup()
	return code
}

// Fixture is one function of template.yaml under test: its bootstrap, built
// as `sam build` builds it, and the environment the template gives it,
// pointed at local stand-ins: a fresh table in DynamoDB Local (or, with
// NoTable, an endpoint that refuses and counts every DynamoDB call) and an
// in-process Secrets Manager.
type Fixture struct {
	Function  testkit.TemplateFunction
	Bootstrap string
	Table     *ddblocal.TestTable // nil with NoTable
	Secrets   *SecretsManager
	// Env is what the test gives the function over the template's
	// environment: the table, the secrets' ARNs, stand-in endpoints, and
	// any value the test changes. Environment merges the two.
	Env map[string]string

	hidden   []string
	ddbCalls atomic.Int64
}

// Option changes what NewFixture sets up.
type Option func(*Fixture, testing.TB)

// NoTable is for a function whose role grants no table access: instead of
// a table, DynamoDB is an endpoint that refuses every call (as IAM would)
// and counts it (DynamoDBCalls).
func NoTable() Option {
	return func(f *Fixture, t testing.TB) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			f.ddbCalls.Add(1)
			w.Header().Set("Content-Type", "application/x-amz-json-1.0")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"__type":"com.amazonaws.dynamodb.v20120810#AccessDeniedException","message":"the function's role grants no table access"}`)
		}))
		t.Cleanup(srv.Close)
		f.Table = nil
		f.Env["TABLE_NAME"] = "stagemover-Table-not-used"
		f.Env["AWS_ENDPOINT_URL_DYNAMODB"] = srv.URL
	}
}

// NewFixture sets up functions/<dir> (see Fixture).
func NewFixture(t testing.TB, dir string, opts ...Option) *Fixture {
	t.Helper()
	f := &Fixture{Function: testkit.TemplateFunctionByDir(t, dir), Bootstrap: Build(t, dir), Secrets: StartSecretsManager(t)}
	f.Env = map[string]string{"AWS_ENDPOINT_URL_SECRETS_MANAGER": f.Secrets.Endpoint}
	for _, o := range opts {
		o(f, t)
	}
	if _, set := f.Env["AWS_ENDPOINT_URL_DYNAMODB"]; !set {
		f.Table = ddblocal.ForTest(t)
		f.Env["TABLE_NAME"] = f.Table.Name
		f.Env["AWS_ENDPOINT_URL_DYNAMODB"] = f.Table.Instance.Endpoint()
	}
	return f
}

// PutSecret stores value in the Secrets Manager as name and gives its ARN
// to the function as envVar. hidden are the parts of value that must never
// appear in the function's output (AssertNoSecrets).
func (f *Fixture) PutSecret(t testing.TB, envVar, name, value string, hidden ...string) string {
	t.Helper()
	arn := f.Secrets.Put(t, name, value)
	if envVar != "" {
		f.Env[envVar] = arn
	}
	f.Hide(hidden...)
	return arn
}

// Hide adds values that must never appear in the function's output.
func (f *Fixture) Hide(values ...string) { f.hidden = append(f.hidden, values...) }

// Hidden are the values AssertNoSecrets looks for.
func (f *Fixture) Hidden() []string { return f.hidden }

// AssertNoSecrets fails the test when a hidden value appears in output.
func (f *Fixture) AssertNoSecrets(t testing.TB, output string) {
	t.Helper()
	testkit.AssertNoSecrets(t, output, f.hidden...)
}

// DynamoDBCalls counts the calls NoTable's endpoint refused.
func (f *Fixture) DynamoDBCalls() int64 { return f.ddbCalls.Load() }

// Environment is the function's environment: the template's with Env over
// it. It fails the test when the template names a stack resource (the
// table, a secret) that Env does not provide.
func (f *Fixture) Environment(t testing.TB) map[string]string {
	t.Helper()
	return testkit.TemplateEnv(t, f.Function.LogicalID, f.Env)
}

// Start runs the function under the emulator with Environment.
func (f *Fixture) Start(t testing.TB) *RIE {
	t.Helper()
	return Start(t, f.Bootstrap, f.Environment(t))
}

// StartWithout runs the function with Environment less the variable name.
func (f *Fixture) StartWithout(t testing.TB, name string) *RIE {
	t.Helper()
	env := f.Environment(t)
	delete(env, name)
	return Start(t, f.Bootstrap, env)
}

// AssertInitFailsWithout checks, for each variable of names in a subtest,
// that the function started without it fails its init on event with logs
// that name the variable and hold no hidden value; then untouched (when
// not nil) checks that nothing was done.
func (f *Fixture) AssertInitFailsWithout(t *testing.T, event []byte, names []string, untouched func(t *testing.T)) {
	t.Helper()
	for _, name := range names {
		t.Run("without "+name, func(t *testing.T) {
			rie := f.StartWithout(t, name)
			logs := rie.InitFailure(t, event)
			if !strings.Contains(logs, "init failed") || !strings.Contains(logs, name) {
				t.Errorf("init failure does not name %s:\n%s", name, logs)
			}
			if untouched != nil {
				untouched(t)
			}
			f.AssertNoSecrets(t, logs)
		})
	}
}

// Pipedrive starts the Pipedrive sandbox with a new API token, stores the
// token as the secret PIPEDRIVE_TOKEN_SECRET_ARN names (hidden), and points
// the function at the sandbox and its integration user.
func (f *Fixture) Pipedrive(t testing.TB) (pd *pipedrivetest.Server, token string) {
	t.Helper()
	token = testkit.RandomSecret(t, "pd-")
	pd, err := pipedrivetest.Start(pipedrivetest.Options{Token: token})
	if err != nil {
		t.Fatalf("pipedrive sandbox: %v", err)
	}
	t.Cleanup(pd.Close)
	f.PutSecret(t, "PIPEDRIVE_TOKEN_SECRET_ARN", "stagemover/pipedrive-token", testkit.SecretJSON("api_token", token), token)
	f.Env["PIPEDRIVE_BASE_URL"] = pd.URL()
	f.Env["PIPEDRIVE_INTEGRATION_USER_ID"] = fmt.Sprint(pd.IntegrationUserID())
	return pd, token
}

// Store is the project's store over the fixture's table.
func (f *Fixture) Store() *store.Store { return store.New(f.Table.DB, f.Table.Name) }

// Signals are the table's signal items, decoded.
func (f *Fixture) Signals(t testing.TB) []store.SignalRecord {
	t.Helper()
	var out []store.SignalRecord
	for _, item := range f.Items(t, store.TypeSignal) {
		rec, err := store.SignalFromItem(item)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rec)
	}
	return out
}

// Fetches are the table's fetch items (notifications for the fetcher), decoded.
func (f *Fixture) Fetches(t testing.TB) []store.FetchRecord {
	t.Helper()
	var out []store.FetchRecord
	for _, item := range f.Items(t, store.TypeFetch) {
		rec, err := store.FetchFromItem(item)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rec)
	}
	return out
}

// Items returns the table's items of type itemType.
func (f *Fixture) Items(t testing.TB, itemType string) []map[string]types.AttributeValue {
	t.Helper()
	return Items(t, f.Table.DB, f.Table.Name, itemType)
}

// ---------------------------------------------------------------- invoking

// InvokeTimeout bounds one invoke of the Invoke* helpers.
var InvokeTimeout = 60 * time.Second

// MustInvoke invokes the function and returns its response payload; a
// failed init or a crash fails the test with the function's output.
func (r *RIE) MustInvoke(t testing.TB, event []byte) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), InvokeTimeout)
	defer cancel()
	out, err := r.Invoke(ctx, event)
	var ie *InvokeError
	if errors.As(err, &ie) && strings.Contains(r.Output(), "init failed") {
		t.Fatalf("the function cannot start: %v\n%s", err, r.Output())
	}
	if err != nil {
		t.Fatalf("invoke: %v\nfunction output:\n%s", err, r.Output())
	}
	return out
}

// InvokeBatch invokes a stream function and returns its batch response.
func (r *RIE) InvokeBatch(t testing.TB, event []byte) events.DynamoDBEventResponse {
	t.Helper()
	out := r.MustInvoke(t, event)
	var resp events.DynamoDBEventResponse
	if err := json.Unmarshal(out, &resp); err != nil || strings.Contains(string(out), "errorMessage") {
		t.Fatalf("not a batch response: %s\nfunction output:\n%s", out, r.Output())
	}
	return resp
}

// InvokeHTTP invokes an HTTP API function and returns its response.
func (r *RIE) InvokeHTTP(t testing.TB, event []byte) events.APIGatewayV2HTTPResponse {
	t.Helper()
	out := r.MustInvoke(t, event)
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &resp); err != nil || resp.StatusCode == 0 {
		t.Fatalf("not an HTTP API response: %s\nfunction output:\n%s", out, r.Output())
	}
	return resp
}

// InvokeScheduled invokes a scheduled function and returns the error it
// answered with ("" for success, Lambda's null); any other answer fails
// the test.
func (r *RIE) InvokeScheduled(t testing.TB, event []byte) string {
	t.Helper()
	out := r.MustInvoke(t, event)
	if strings.TrimSpace(string(out)) == "null" {
		return ""
	}
	var e struct {
		ErrorMessage string `json:"errorMessage"`
	}
	if json.Unmarshal(out, &e) != nil || e.ErrorMessage == "" {
		t.Fatalf("the scheduled run answered %s, want null or a Lambda error\nfunction output:\n%s", out, r.Output())
	}
	return e.ErrorMessage
}

// RunScheduled invokes a scheduled function and fails the test unless it
// succeeds.
func (r *RIE) RunScheduled(t testing.TB, event []byte) {
	t.Helper()
	if msg := r.InvokeScheduled(t, event); msg != "" {
		t.Fatalf("the scheduled run failed: %s, want null (success)\nfunction output:\n%s", msg, r.Output())
	}
}

// InitFailure invokes a function that must fail its init and returns its
// output once the failure has reached it (the emulator may answer before
// it has copied the function's stderr).
func (r *RIE) InitFailure(t testing.TB, event []byte) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := r.Invoke(ctx, event)
	var ie *InvokeError
	if !errors.As(err, &ie) {
		t.Fatalf("invoke: %s, %v; want an init failure\n%s", out, err, r.Output())
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(r.Output(), "init failed") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	return r.Output()
}

// UnusableKey is a key secret a route must refuse to verify with.
type UnusableKey struct{ Name, Secret string }

// AssertRefusesUnusableKeys checks, for each secret in a subtest, that the
// function given it as envVar's secret answers every delivery signed with
// one of its keys (field, comma-separated) 503 "not configured", stores
// nothing (stored counts what it would store), and logs envVar but never
// a key. sign returns the delivery signed with a key.
func (f *Fixture) AssertRefusesUnusableKeys(t *testing.T, envVar, field string, secrets []UnusableKey, sign func(t *testing.T, key string) []byte, stored func(t *testing.T) int) {
	t.Helper()
	for _, tc := range secrets {
		t.Run(tc.Name, func(t *testing.T) {
			keys := strings.Split(testkit.SecretField(t, tc.Secret, field), ",")
			f.PutSecret(t, envVar, "stagemover/unusable-key", tc.Secret)
			rie := f.Start(t)
			for _, k := range keys {
				resp := rie.InvokeHTTP(t, sign(t, k))
				if resp.StatusCode != http.StatusServiceUnavailable || resp.Body != `{"error":"not configured"}` {
					t.Errorf("signed with the secret's key: %d %s, want 503 not configured", resp.StatusCode, resp.Body)
				}
			}
			if n := stored(t); n != 0 {
				t.Fatalf("%d items stored with an unusable key, want 0", n)
			}
			out := rie.Output()
			if !strings.Contains(out, envVar) {
				t.Errorf("the log does not name the secret's variable:\n%s", out)
			}
			testkit.AssertNoSecrets(t, out, keys...)
		})
	}
}

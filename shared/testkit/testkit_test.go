package testkit_test

import (
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stagemover/stagemover/shared/testkit"
)

// failures runs f with a testing.TB that records failures instead of
// failing t.
func failures(t *testing.T, f func(tb testing.TB)) []string {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	return r.msgs
}

type recorder struct {
	testing.TB
	msgs []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, a ...any) {
	r.msgs = append(r.msgs, fmt.Sprintf(format, a...))
}
func (r *recorder) Fatalf(format string, a ...any) {
	r.Errorf(format, a...)
	runtime.Goexit()
}

func TestLogBuffer(t *testing.T) {
	log, buf := testkit.NewLogger()
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			log.Debug("stored", "deal_id", 4217, "n", i)
		}()
	}
	wg.Wait()
	if n := len(buf.Records()); n != 20 {
		t.Fatalf("%d records, want 20:\n%s", n, buf)
	}
	buf.AssertLogged(t, "stored", "deal_id", 4217, "n", 7)
	if got := failures(t, func(tb testing.TB) { buf.AssertLogged(tb, "stored", "deal_id", 1) }); len(got) != 1 {
		t.Errorf("AssertLogged of a record not logged: %v", got)
	}
	if got := failures(t, func(tb testing.TB) { buf.AssertNoSecrets(tb, "nothing-like-it", "deal_id") }); len(got) != 1 || strings.Contains(got[0], "deal_id") {
		t.Errorf("AssertNoSecrets: %v, want one failure that does not quote the secret", got)
	}
	buf.Reset()
	if buf.String() != "" {
		t.Error("Reset kept the output")
	}
	if n := len(testkit.Records("START RequestId: x\n{\"msg\":\"a\"}\nnot json {\n")); n != 1 {
		t.Errorf("Records kept %d lines, want the one JSON line", n)
	}
}

func TestClock(t *testing.T) {
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	c := testkit.NewClock(at)
	now := c.Now
	if !now().Equal(at) {
		t.Fatal(now())
	}
	if got := c.Advance(time.Minute); !got.Equal(at.Add(time.Minute)) || !c.Now().Equal(got) {
		t.Errorf("Advance: %s", got)
	}
	c.Set(at)
	if !c.Now().Equal(at) {
		t.Errorf("Set: %s", c.Now())
	}
}

// Every function of the template is built from its own functions/ folder
// and gets the Globals environment.
func TestTemplateFunctions(t *testing.T) {
	fns := testkit.TemplateFunctions(t)
	if len(fns) < 16 {
		t.Fatalf("%d functions", len(fns))
	}
	dirs := map[string]bool{}
	for _, fn := range fns {
		if fn.Dir == "" || dirs[fn.Dir] {
			t.Errorf("%s: build folder %q missing or shared", fn.LogicalID, fn.Dir)
		}
		dirs[fn.Dir] = true
		if fn.Env["METRICS_NAMESPACE"].Value != "StageMover" || fn.Env["TABLE_NAME"].Resource != "Table" || len(fn.Events) == 0 {
			t.Errorf("%s: %+v", fn.LogicalID, fn)
		}
	}
	if got := testkit.TemplateFunctionByDir(t, "fetcher").LogicalID; got != "FetcherFunction" {
		t.Errorf("fetcher is built for %s", got)
	}
}

func TestTemplateEnv(t *testing.T) {
	env := testkit.TemplateEnv(t, "GraphSubscriptionsFunction", map[string]string{
		"TABLE_NAME": "t", "GRAPH_CLIENT_STATE_SECRET_ARN": "arn:1", "GRAPH_CREDENTIALS_SECRET_ARN": "arn:2",
		"GRAPH_BASE_URL": "http://127.0.0.1:1",
	})
	want := map[string]string{
		"TABLE_NAME": "t", "STAGEMOVER_MODE": "live", "PIPEDRIVE_BASE_URL": "https://api.pipedrive.com",
		"PIPEDRIVE_INTEGRATION_USER_ID": "1000", "INTERNAL_DOMAINS": "acme-routing.io", "METRICS_NAMESPACE": "StageMover",
		"GRAPH_CLIENT_STATE_SECRET_ARN": "arn:1", "GRAPH_CREDENTIALS_SECRET_ARN": "arn:2",
		"GRAPH_MAILBOXES":        testkit.SampleMailbox,
		"GRAPH_NOTIFICATION_URL": "https://r8k2m4x7q1.execute-api.us-east-1.amazonaws.com/webhooks/graph",
		"GRAPH_BASE_URL":         "http://127.0.0.1:1",
	}
	a, _ := json.Marshal(env)
	b, _ := json.Marshal(want)
	if string(a) != string(b) {
		t.Errorf("env\n got  %s\n want %s", a, b)
	}
	// A stack resource the test does not provide fails it, naming both.
	got := failures(t, func(tb testing.TB) {
		testkit.TemplateEnv(tb, "EvaluatorFunction", map[string]string{"TABLE_NAME": "t"})
	})
	if len(got) != 1 || !strings.Contains(got[0], "PIPEDRIVE_TOKEN_SECRET_ARN") || !strings.Contains(got[0], "PipedriveTokenSecret") {
		t.Errorf("missing secret: %v", got)
	}
}

func TestNewHTTPEvent(t *testing.T) {
	at := time.Date(2026, 3, 2, 9, 41, 20, 317_000_000, time.UTC)
	e := testkit.NewHTTPEvent(testkit.HTTPRequest{Path: "/signals", Body: []byte(`{}`), SourceIP: "203.0.113.24",
		Headers: map[string]string{"Content-Type": "application/json"}, At: at})
	req := testkit.DecodeHTTPEvent(t, testkit.MarshalIndent(t, e))
	if req.RouteKey != "POST /signals" || req.RequestContext.RouteKey != req.RouteKey || req.Headers["content-type"] != "application/json" ||
		req.Headers["content-length"] != "2" || req.Headers["host"] != testkit.SampleAPIDomain || req.RequestContext.TimeEpoch != at.UnixMilli() ||
		req.RequestContext.Time != "02/Mar/2026:09:41:20 +0000" || req.Body != "{}" {
		t.Errorf("%+v", req)
	}
	edited := testkit.DecodeHTTPEvent(t, testkit.WithHeaders(t, testkit.MarshalIndent(t, e), []byte(`{"a":1}`), map[string]string{"X-Sig": "s"}))
	if edited.Headers["x-sig"] != "s" || edited.Headers["content-length"] != "7" || edited.Body != `{"a":1}` || edited.RawPath != "/signals" {
		t.Errorf("WithHeaders: %+v", edited)
	}
}

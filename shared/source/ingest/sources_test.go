package ingest_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/stagemover/stagemover"
	"github.com/stagemover/stagemover/shared/dev/ddblocal"
	"github.com/stagemover/stagemover/shared/platform/metrics"
	"github.com/stagemover/stagemover/shared/source/calendly"
	"github.com/stagemover/stagemover/shared/source/docusign"
	"github.com/stagemover/stagemover/shared/source/gmail"
	"github.com/stagemover/stagemover/shared/source/gmail/gmailtest"
	"github.com/stagemover/stagemover/shared/source/graph"
	"github.com/stagemover/stagemover/shared/source/ingest"
	"github.com/stagemover/stagemover/shared/source/pandadoc"
	"github.com/stagemover/stagemover/shared/source/pdhooks"
	"github.com/stagemover/stagemover/shared/store"
	"github.com/stagemover/stagemover/shared/testkit"
)

// route is one of the seven routes as its provider calls it.
type route struct {
	name string
	// source builds the route's source on a fresh table.
	source func(t *testing.T, tbl *ddblocal.TestTable) ingest.Source
	key    string // the route's key; "" for a source without one (Gmail)
	// deliver is body as the provider sends it: signed with the key when
	// authentic, else with another.
	deliver func(t *testing.T, body []byte, authentic bool) events.APIGatewayV2HTTPRequest
	good    []byte // a delivery stored as one or more items
	ignored []byte // a delivery of something the source does not use; nil: it has none
	// single is a delivery of one notification (good when nil), for the
	// concurrent redeliveries: each of a batch's items races on its own.
	single []byte
	skip   ingest.Skip
}

const routeKey = "a-usable-route-key-0123456789"

func eventSample(t *testing.T, name string) events.APIGatewayV2HTTPRequest {
	t.Helper()
	b, err := stagemover.Events.ReadFile("events/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var req events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(b, &req); err != nil {
		t.Fatal(err)
	}
	body, err := ingest.RequestBody(req)
	if err != nil {
		t.Fatal(err)
	}
	req.Body, req.IsBase64Encoded = string(body), false
	return req
}

func key(authentic bool) []byte {
	if authentic {
		return []byte(routeKey)
	}
	return []byte("another-key-that-is-not-the-route-key")
}

// with returns req carrying body and the headers set.
func with(req events.APIGatewayV2HTTPRequest, body []byte, headers map[string]string) events.APIGatewayV2HTTPRequest {
	req.Body = string(body)
	h := map[string]string{}
	for k, v := range req.Headers {
		h[k] = v
	}
	for k, v := range headers {
		h[strings.ToLower(k)] = v
	}
	req.Headers = h
	return req
}

var clientStateField = regexp.MustCompile(`"clientState":"[^"]*"`)

func routes(t *testing.T) []route {
	google, err := gmailtest.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(google.Close)
	const audience = "https://stagemover.example/gmail/push"
	graphReq := eventSample(t, "ingest-graph-notification.json")
	gmailReq := eventSample(t, "ingest-gmail.json")
	return []route{
		{
			name:   "generic",
			source: func(*testing.T, *ddblocal.TestTable) ingest.Source { return ingest.Generic{} },
			key:    routeKey,
			deliver: func(t *testing.T, body []byte, authentic bool) events.APIGatewayV2HTTPRequest {
				ts, sig := ingest.Sign(key(authentic), time.Now(), body)
				return with(eventSample(t, "ingest-generic.json"), body, map[string]string{ingest.HeaderTimestamp: ts, ingest.HeaderSignature: sig})
			},
			good: []byte(eventSample(t, "ingest-generic.json").Body),
		},
		{
			name:   "calendly",
			source: func(*testing.T, *ddblocal.TestTable) ingest.Source { return calendly.Webhook{} },
			key:    routeKey,
			deliver: func(t *testing.T, body []byte, authentic bool) events.APIGatewayV2HTTPRequest {
				return with(eventSample(t, "ingest-calendly-created.json"), body, map[string]string{calendly.HeaderSignature: calendly.Sign(key(authentic), time.Now(), body)})
			},
			good:    []byte(eventSample(t, "ingest-calendly-created.json").Body),
			ignored: []byte(`{"event":"invitee_no_show.created","created_at":"2026-03-02T10:00:00Z","payload":{}}`),
			skip:    ingest.Unused,
		},
		{
			name:   "pandadoc",
			source: func(*testing.T, *ddblocal.TestTable) ingest.Source { return pandadoc.Webhook{} },
			key:    routeKey,
			deliver: func(t *testing.T, body []byte, authentic bool) events.APIGatewayV2HTTPRequest {
				req := with(eventSample(t, "ingest-pandadoc.json"), body, nil)
				sig := pandadoc.Sign(key(authentic), body)
				req.RawQueryString, req.QueryStringParameters = "signature="+sig, map[string]string{"signature": sig}
				return req
			},
			good:    []byte(eventSample(t, "ingest-pandadoc.json").Body),
			single:  testkit.ReadRepoFile(t, "shared/source/pandadoc/testdata/state-viewed.json"),
			ignored: []byte(`[{"event":"document_updated","data":{}}]`),
			skip:    ingest.Unused,
		},
		{
			name:   "docusign",
			source: func(*testing.T, *ddblocal.TestTable) ingest.Source { return docusign.Webhook{} },
			key:    routeKey,
			deliver: func(t *testing.T, body []byte, authentic bool) events.APIGatewayV2HTTPRequest {
				return with(eventSample(t, "ingest-docusign.json"), body, map[string]string{docusign.HeaderSignaturePrefix + "1": docusign.Sign(key(authentic), body)})
			},
			good:    []byte(eventSample(t, "ingest-docusign.json").Body),
			ignored: []byte(`{"event":"envelope-voided","data":{}}`),
			skip:    ingest.Unused,
		},
		{
			name: "graph",
			source: func(*testing.T, *ddblocal.TestTable) ingest.Source {
				return graph.Webhook{Mailboxes: []string{graphReq.QueryStringParameters[graph.QueryMailbox]}}
			},
			key: routeKey,
			// Graph signs nothing: each notification carries the clientState.
			deliver: func(_ *testing.T, body []byte, authentic bool) events.APIGatewayV2HTTPRequest {
				return with(graphReq, clientStateField.ReplaceAll(body, []byte(`"clientState":"`+string(key(authentic))+`"`)), nil)
			},
			good:    []byte(graphReq.Body),
			ignored: []byte(`{"value":[{"subscriptionId":"s","clientState":"x","changeType":"unknownFutureValue","resource":"Users/u/Messages/m"}]}`),
			skip:    ingest.Unused,
		},
		{
			name: "gmail",
			source: func(*testing.T, *ddblocal.TestTable) ingest.Source {
				return gmail.Webhook{
					Verifier:  &gmail.Verifier{Keys: &gmail.KeySet{URL: google.CertsURL()}, Audience: audience, Email: gmailtest.PushServiceAccount},
					Mailboxes: []string{"sam.ortega@acme-routing.io"},
				}
			},
			deliver: func(_ *testing.T, body []byte, authentic bool) events.APIGatewayV2HTTPRequest {
				aud := audience
				if !authentic {
					aud = "https://elsewhere.example/push"
				}
				return with(gmailReq, body, map[string]string{"Authorization": "Bearer " + google.Keys.Mint(gmailtest.DefaultPushClaims(aud, time.Now()))})
			},
			good: []byte(gmailReq.Body),
			ignored: []byte(`{"message":{"data":"` + base64.StdEncoding.EncodeToString([]byte(`{"emailAddress":"eve@elsewhere.example","historyId":7}`)) +
				`","messageId":"77"},"subscription":"projects/p/subscriptions/s"}`),
			skip: ingest.Unwatched,
		},
		{
			name: "pipedrive",
			source: func(_ *testing.T, tbl *ddblocal.TestTable) ingest.Source {
				return &pdhooks.Webhook{Table: pdhooks.Table{Store: store.New(tbl.DB, tbl.Name)}, Mirror: store.New(tbl.DB, tbl.Name), IntegrationUserID: 1000}
			},
			key: "stagemover:" + routeKey,
			deliver: func(t *testing.T, body []byte, authentic bool) events.APIGatewayV2HTTPRequest {
				pass := routeKey
				if !authentic {
					pass = "wrong-" + routeKey
				}
				auth := "Basic " + base64.StdEncoding.EncodeToString([]byte("stagemover:"+pass))
				return with(eventSample(t, "ingest-pipedrive.json"), body, map[string]string{"Authorization": auth})
			},
			good: []byte(eventSample(t, "ingest-pipedrive.json").Body),
		},
	}
}

type routeFixture struct {
	h       *ingest.Handler
	tbl     *ddblocal.TestTable
	metrics *metrics.Recorder
}

func newRoute(t *testing.T, r route, keyErr error) *routeFixture {
	t.Helper()
	f := &routeFixture{tbl: ddblocal.ForTest(t), metrics: metrics.New(nil, "StageMover", "ingest-"+r.name)}
	f.h = &ingest.Handler{Source: r.source(t, f.tbl), Store: store.New(f.tbl.DB, f.tbl.Name), Metrics: f.metrics}
	if r.key != "" {
		f.h.Key = func(context.Context) ([]byte, error) { return []byte(r.key), keyErr }
	}
	return f
}

func (f *routeFixture) items(t *testing.T) int {
	t.Helper()
	out, err := f.tbl.DB.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(f.tbl.Name), Select: "COUNT"})
	if err != nil {
		t.Fatal(err)
	}
	return int(out.Count)
}

// all are the table's items.
func (f *routeFixture) all(t *testing.T) []map[string]types.AttributeValue {
	t.Helper()
	out, err := f.tbl.DB.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(f.tbl.Name), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	return out.Items
}

// signals are the items that decode as signals, by key.
func signals(items []map[string]types.AttributeValue) map[string]store.SignalRecord {
	out := map[string]store.SignalRecord{}
	for _, item := range items {
		if rec, err := store.SignalFromItem(item); err == nil {
			out[rec.Key()] = rec
		}
	}
	return out
}

func (f *routeFixture) count(name, source string, dims ...string) float64 {
	ds := []metrics.Dim{{Name: "Source", Value: source}}
	for i := 0; i+1 < len(dims); i += 2 {
		ds = append(ds, metrics.Dim{Name: dims[i], Value: dims[i+1]})
	}
	return f.metrics.TotalWith(name, ds...)
}

func (f *routeFixture) handle(t *testing.T, req events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	t.Helper()
	resp, err := f.h.Handle(context.Background(), req)
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	return resp
}

// refusal is the one shape of every refusal: a JSON object holding "error".
func refusal(t *testing.T, resp events.APIGatewayV2HTTPResponse) string {
	t.Helper()
	var out map[string]string
	if err := json.Unmarshal([]byte(resp.Body), &out); err != nil || len(out) != 1 || out["error"] == "" {
		t.Fatalf("refusal %d %s is not {\"error\": reason}", resp.StatusCode, resp.Body)
	}
	if resp.Headers["Content-Type"] != "application/json" {
		t.Fatalf("refusal content type %q", resp.Headers["Content-Type"])
	}
	return out["error"]
}

// TestEverySourceAnswersAlike: the seven routes give the same status, the
// same JSON and the same metrics for the same situation, whatever their
// provider (the handler is one, by construction).
func TestEverySourceAnswersAlike(t *testing.T) {
	for _, r := range routes(t) {
		t.Run(r.name+"/unusable key", func(t *testing.T) {
			if r.key == "" {
				t.Skip("no key of its own")
			}
			f := newRoute(t, r, &ingest.KeyError{Name: "ROUTE_KEY", Reason: "is a placeholder"})
			resp := f.handle(t, r.deliver(t, r.good, true))
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Body != `{"error":"not configured"}` {
				t.Fatalf("%d %s, want 503 not configured", resp.StatusCode, resp.Body)
			}
			if f.count(ingest.MetricUnavailable, r.name, "Reason", "not_configured") != 1 || f.items(t) != 0 {
				t.Fatalf("not counted as not configured, or stored %d items", f.items(t))
			}
		})
		t.Run(r.name+"/oversize body", func(t *testing.T) {
			f := newRoute(t, r, nil)
			resp := f.handle(t, r.deliver(t, []byte(strings.Repeat("x", ingest.MaxBody+1)), true))
			if want := `{"error":"body is larger than ` + strconv.Itoa(ingest.MaxBody) + ` bytes"}`; resp.StatusCode != http.StatusRequestEntityTooLarge || resp.Body != want {
				t.Fatalf("%d %s, want 413 %s", resp.StatusCode, resp.Body, want)
			}
			if f.count(ingest.MetricRejected, r.name, "Status", "413") != 1 || f.items(t) != 0 {
				t.Fatal("not counted as a 413 rejection, or stored")
			}
		})
		t.Run(r.name+"/bad signature", func(t *testing.T) {
			f := newRoute(t, r, nil)
			resp := f.handle(t, r.deliver(t, r.good, false))
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("%d %s, want 401", resp.StatusCode, resp.Body)
			}
			if reason := refusal(t, resp); strings.Contains(reason, routeKey) {
				t.Fatal("the reason quotes the key")
			}
			if f.count(ingest.MetricRejected, r.name, "Status", "401") != 1 || f.items(t) != 0 {
				t.Fatal("not counted as a 401 rejection, or stored")
			}
		})
		t.Run(r.name+"/bad JSON", func(t *testing.T) {
			f := newRoute(t, r, nil)
			resp := f.handle(t, r.deliver(t, []byte("not json"), true))
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(refusal(t, resp), "invalid JSON") {
				t.Fatalf("%d %s, want 400 saying invalid JSON", resp.StatusCode, resp.Body)
			}
			if f.count(ingest.MetricRejected, r.name, "Status", "400") != 1 || f.items(t) != 0 {
				t.Fatal("not counted as a 400 rejection, or stored")
			}
		})
		t.Run(r.name+"/redelivery", func(t *testing.T) {
			f := newRoute(t, r, nil)
			first := f.handle(t, r.deliver(t, r.good, true))
			stored, items := f.count(ingest.MetricStored, r.name), f.items(t)
			again := f.handle(t, r.deliver(t, r.good, true))
			if first.StatusCode/100 != 2 || again.StatusCode/100 != 2 {
				t.Fatalf("first %d %s, again %d %s: want 2xx both", first.StatusCode, first.Body, again.StatusCode, again.Body)
			}
			if stored < 1 || f.count(ingest.MetricDuplicate, r.name) != stored || f.count(ingest.MetricStored, r.name) != stored || f.items(t) != items {
				t.Fatalf("stored %v then %v, duplicates %v, items %d then %d: the redelivery stored something",
					stored, f.count(ingest.MetricStored, r.name), f.count(ingest.MetricDuplicate, r.name), items, f.items(t))
			}
		})
		t.Run(r.name+"/ignored event", func(t *testing.T) {
			if r.ignored == nil {
				t.Skip("every delivery is used")
			}
			f := newRoute(t, r, nil)
			resp := f.handle(t, r.deliver(t, r.ignored, true))
			if resp.StatusCode/100 != 2 || !strings.Contains(resp.Body, `"ignored"`) {
				t.Fatalf("%d %s, want 2xx ignored", resp.StatusCode, resp.Body)
			}
			if f.count(ingest.MetricIgnored, r.name, "Reason", string(r.skip)) != 1 || f.items(t) != 0 {
				t.Fatalf("not counted as ignored (%s), or stored", r.skip)
			}
			// an ignored event still has to be authentic
			if resp := f.handle(t, r.deliver(t, r.ignored, false)); resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("wrongly signed ignored event: %d %s, want 401", resp.StatusCode, resp.Body)
			}
			if f.items(t) != 0 {
				t.Fatal("a wrongly signed ignored event stored something")
			}
		})
		// 50 concurrent redeliveries of one delivery store what one
		// delivery stores: one answer is the first delivery's, 49 are
		// 200 duplicate, and each is counted.
		t.Run(r.name+"/50 concurrent redeliveries", func(t *testing.T) {
			body := r.single
			if body == nil {
				body = r.good
			}
			ref := newRoute(t, r, nil)
			once := ref.handle(t, r.deliver(t, body, true))
			want, stored, n1 := signals(ref.all(t)), ref.count(ingest.MetricStored, r.name), ref.items(t)
			again := ref.handle(t, r.deliver(t, body, true))
			if once.StatusCode/100 != 2 || stored < 1 || again.StatusCode/100 != 2 {
				t.Fatalf("one delivery: %d %s, stored %v; again: %d %s", once.StatusCode, once.Body, stored, again.StatusCode, again.Body)
			}
			f := newRoute(t, r, nil)
			reqs := make([]events.APIGatewayV2HTTPRequest, 50)
			for i := range reqs {
				reqs[i] = r.deliver(t, body, true) // each signed anew, as retries are
			}
			resps := make([]events.APIGatewayV2HTTPResponse, len(reqs))
			var wg sync.WaitGroup
			for i := range reqs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					resps[i], _ = f.h.Handle(context.Background(), reqs[i])
				}()
			}
			wg.Wait()
			firsts, dups := 0, 0
			for _, resp := range resps {
				switch {
				case resp.StatusCode == again.StatusCode && resp.Body == again.Body:
					dups++
				case resp.StatusCode == once.StatusCode && resp.Body == once.Body:
					firsts++
				default:
					t.Errorf("answer %d %s, want %d %s (first) or %d %s (duplicate)", resp.StatusCode, resp.Body, once.StatusCode, once.Body, again.StatusCode, again.Body)
				}
			}
			if firsts != 1 || dups != 49 {
				t.Fatalf("%d first answers and %d duplicates, want 1 and 49", firsts, dups)
			}
			if got := f.count(ingest.MetricDuplicate, r.name); got != 49*stored {
				t.Fatalf("duplicates counted = %v, want %v", got, 49*stored)
			}
			if n := f.items(t); n != n1 {
				t.Fatalf("items = %d, want %d, as one delivery stores", n, n1)
			}
			got := signals(f.all(t))
			if len(got) != len(want) {
				t.Fatalf("%d signals, want %d", len(got), len(want))
			}
			for k, w := range want {
				g, ok := got[k]
				if !ok || g.Source != r.name || g.Source != w.Source || g.PersonEmail != w.PersonEmail || g.Signal.Action != w.Signal.Action || g.Signal.Kind != w.Signal.Kind {
					t.Fatalf("signal %s = %+v, want %+v from %s", k, g, w, r.name)
				}
			}
		})
		// Our own failures answer 503 (the provider retries) and store
		// nothing: the key cannot be read, the table cannot be written.
		t.Run(r.name+"/unavailable key or table", func(t *testing.T) {
			f := newRoute(t, r, nil)
			if r.key != "" {
				f.h.Key = func(context.Context) ([]byte, error) { return nil, errors.New("secrets manager: throttled") }
				if resp := f.handle(t, r.deliver(t, r.good, true)); resp.StatusCode != http.StatusServiceUnavailable {
					t.Fatalf("key unavailable: %d %s, want 503", resp.StatusCode, resp.Body)
				}
				f.h.Key = func(context.Context) ([]byte, error) { return []byte(r.key), nil }
			}
			missing := *f.tbl
			missing.Name = "no-such-table"
			f.h.Store, f.h.Source = store.New(f.tbl.DB, missing.Name), r.source(t, &missing)
			if resp := f.handle(t, r.deliver(t, r.good, true)); resp.StatusCode != http.StatusServiceUnavailable {
				t.Fatalf("table unavailable: %d %s, want 503", resp.StatusCode, resp.Body)
			}
			if n := f.items(t); n != 0 {
				t.Fatalf("%d items stored", n)
			}
		})
	}
}

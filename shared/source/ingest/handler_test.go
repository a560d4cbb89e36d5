package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stagemover/stagemover/shared/platform/metrics"
	"github.com/stagemover/stagemover/shared/source/ingest"
	"github.com/stagemover/stagemover/shared/store"
)

// fake is a source whose steps the test sets.
type fake struct {
	verify    func(r *ingest.Request) error
	items     []ingest.Item
	parseErr  error
	handshake bool
	verified  bool
}

func (*fake) Name() string { return "fake" }

func (f *fake) Verify(_ context.Context, r *ingest.Request) error {
	f.verified = true
	if f.verify != nil {
		return f.verify(r)
	}
	return nil
}

func (f *fake) Parse(context.Context, *ingest.Request) ([]ingest.Item, error) {
	return f.items, f.parseErr
}

func (f *fake) Handshake(_ context.Context, r *ingest.Request) (events.APIGatewayV2HTTPResponse, bool, error) {
	if !f.handshake {
		return events.APIGatewayV2HTTPResponse{}, false, nil
	}
	return events.APIGatewayV2HTTPResponse{StatusCode: http.StatusOK, Body: r.Query("token")}, true, nil
}

// memory is an ingest.Writer in memory, failing with err when set.
type memory struct {
	keys map[string]bool
	err  error
}

func (m *memory) put(key string) (bool, error) {
	if m.err != nil {
		return false, m.err
	}
	if m.keys[key] {
		return false, nil
	}
	m.keys[key] = true
	return true, nil
}

func (m *memory) PutSignal(_ context.Context, rec store.SignalRecord) (bool, error) {
	return m.put(rec.Key())
}
func (m *memory) PutFetch(_ context.Context, rec store.FetchRecord) (bool, error) {
	return m.put(rec.Key())
}

var errInvalidFake = errors.New("invalid fake delivery")

func signalItem(id string) ingest.Item {
	return ingest.Item{Signal: &store.SignalRecord{Source: "fake", EventID: id}}
}

func TestPipeline(t *testing.T) {
	noKey := func(context.Context) ([]byte, error) { return nil, errors.New("secrets manager: throttled") }
	tests := []struct {
		name       string
		src        *fake
		key        ingest.KeyFunc
		store      *memory
		req        events.APIGatewayV2HTTPRequest
		wantStatus int
		wantBody   string // exact, or "" to skip
		wantMetric string
		wantDims   []string
		verified   bool
		header     [2]string
	}{
		{name: "key unavailable: 503, body unread", src: &fake{}, key: noKey,
			wantStatus: 503, wantBody: `{"error":"temporarily unavailable"}`, wantMetric: ingest.MetricUnavailable, wantDims: []string{"Reason", "key"}},
		{name: "empty key: 503", src: &fake{}, key: func(context.Context) ([]byte, error) { return nil, nil },
			wantStatus: 503, wantBody: `{"error":"temporarily unavailable"}`, wantMetric: ingest.MetricUnavailable, wantDims: []string{"Reason", "key"}},
		{name: "body not base64: 400", src: &fake{}, req: events.APIGatewayV2HTTPRequest{Body: "!!", IsBase64Encoded: true},
			wantStatus: 400, wantBody: `{"error":"body is not valid base64"}`, wantMetric: ingest.MetricRejected, wantDims: []string{"Status", "400"}},
		{name: "verify could not check: 503", src: &fake{verify: func(*ingest.Request) error { return errors.New("keys unreachable") }},
			wantStatus: 503, wantBody: `{"error":"temporarily unavailable"}`, wantMetric: ingest.MetricUnavailable, wantDims: []string{"Reason", "error"}, verified: true},
		{name: "verify refuses with a challenge: 401", src: &fake{verify: func(*ingest.Request) error {
			return &ingest.RejectError{Status: 401, Reason: "wrong password", Challenge: `Basic realm="x"`}
		}}, wantStatus: 401, wantBody: `{"error":"wrong password"}`, wantMetric: ingest.MetricRejected, wantDims: []string{"Status", "401"},
			verified: true, header: [2]string{"WWW-Authenticate", `Basic realm="x"`}},
		{name: "parse refuses: the reason without its kind", src: &fake{parseErr: ingest.Reject(400, errInvalidFake, "event %q is not supported", "x")},
			wantStatus: 400, wantBody: `{"error":"event \"x\" is not supported"}`, wantMetric: ingest.MetricRejected, wantDims: []string{"Status", "400"}, verified: true},
		{name: "store fails: 503", src: &fake{items: []ingest.Item{signalItem("e1")}}, store: &memory{err: errors.New("throttled")},
			wantStatus: 503, wantBody: `{"error":"could not store the delivery; retry"}`, wantMetric: ingest.MetricUnavailable, wantDims: []string{"Reason", "store"}, verified: true},
		{name: "signal too large to store: 413", src: &fake{items: []ingest.Item{signalItem("e1")}}, store: &memory{err: fmt.Errorf("put: %w", store.ErrTooLarge)},
			wantStatus: 413, wantMetric: ingest.MetricRejected, wantDims: []string{"Status", "413"}, verified: true},
		{name: "no item authentic: 401", src: &fake{items: []ingest.Item{{Skip: ingest.NotAuthentic, Why: "clientState does not match"}, {Skip: ingest.NotAuthentic, Why: "clientState does not match"}}},
			wantStatus: 401, wantBody: `{"error":"no item is authentic: clientState does not match"}`, wantMetric: ingest.MetricIgnored, wantDims: []string{"Reason", "not_authentic"}, verified: true},
		{name: "stored: 202 with its key", src: &fake{items: []ingest.Item{signalItem("e1")}},
			wantStatus: 202, wantBody: `{"signal_key":"SIG#fake#e1","status":"stored"}`, wantMetric: ingest.MetricStored, verified: true},
		{name: "ignored: 200 naming the event", src: &fake{items: []ingest.Item{{Skip: ingest.Unused, Event: "thing.happened"}}},
			wantStatus: 200, wantBody: `{"event":"thing.happened","status":"ignored"}`, wantMetric: ingest.MetricIgnored, wantDims: []string{"Reason", "unused"}, verified: true},
		{name: "handshake: answered before the key is read", src: &fake{handshake: true}, key: noKey,
			req: events.APIGatewayV2HTTPRequest{QueryStringParameters: map[string]string{"token": "abc"}}, wantStatus: 200, wantBody: "abc"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := metrics.New(nil, "StageMover", "fake")
			if tc.key == nil {
				tc.key = func(context.Context) ([]byte, error) { return []byte("a-usable-key-0123456789"), nil }
			}
			if tc.store == nil {
				tc.store = &memory{keys: map[string]bool{}}
			}
			h := &ingest.Handler{Source: tc.src, Key: tc.key, Store: tc.store, Now: func() time.Time { return time.Unix(1_770_000_000, 0) }, Metrics: m}
			resp, err := h.Handle(context.Background(), tc.req)
			if err != nil || resp.StatusCode != tc.wantStatus || (tc.wantBody != "" && resp.Body != tc.wantBody) {
				t.Fatalf("%d %s %v, want %d %s", resp.StatusCode, resp.Body, err, tc.wantStatus, tc.wantBody)
			}
			if tc.src.verified != tc.verified {
				t.Fatalf("verified %v, want %v", tc.src.verified, tc.verified)
			}
			if tc.header[0] != "" && resp.Headers[tc.header[0]] != tc.header[1] {
				t.Fatalf("%s = %q, want %q", tc.header[0], resp.Headers[tc.header[0]], tc.header[1])
			}
			if tc.wantMetric != "" {
				dims := []metrics.Dim{{Name: "Source", Value: "fake"}}
				for i := 0; i+1 < len(tc.wantDims); i += 2 {
					dims = append(dims, metrics.Dim{Name: tc.wantDims[i], Value: tc.wantDims[i+1]})
				}
				if m.TotalWith(tc.wantMetric, dims...) < 1 {
					t.Fatalf("%s %v not counted", tc.wantMetric, tc.wantDims)
				}
			}
		})
	}
}

// A RejectError reads as its kind and reason (for errors.Is and the log)
// and answers with the reason alone.
func TestRejectError(t *testing.T) {
	err := ingest.Reject(400, errInvalidFake, "event is required")
	var re *ingest.RejectError
	if !errors.As(err, &re) || !errors.Is(err, errInvalidFake) || re.Reason != "event is required" || err.Error() != "invalid fake delivery: event is required" {
		t.Fatalf("%v (%+v)", err, re)
	}
	if err := ingest.Unauthorized("signature does not match"); !errors.Is(err, ingest.ErrSignature) || !strings.HasSuffix(err.Error(), "signature does not match") {
		t.Fatalf("Unauthorized: %v", err)
	}
}

func TestDescribeJSON(t *testing.T) {
	type obj struct {
		N int       `json:"n"`
		T time.Time `json:"t"`
	}
	for _, tc := range []struct{ body, want string }{
		{``, "body is empty"},
		{`{"n":`, "body is truncated"},
		{`nope`, "invalid JSON at byte 2"},
		{`[]`, "it has the wrong JSON type (want a JSON object)"},
		{`{"n":"x"}`, `field "n" has the wrong type`},
		{`{"t":"monday"}`, "times must be RFC 3339"},
		{`{} {}`, "body must hold exactly one JSON value"},
	} {
		var v obj
		err := ingest.DecodeJSON([]byte(tc.body), &v)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "ingest_test") {
			t.Errorf("%q: %v, want %q", tc.body, err, tc.want)
		}
	}
}

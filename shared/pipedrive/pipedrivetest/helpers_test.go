package pipedrivetest

// Helpers the sandbox's tests share: a fake clock, a started sandbox, raw
// requests and their decoded answers.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stagemover/stagemover/shared/testkit"
)

func newClock() *testkit.Clock {
	return testkit.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
}

func start(t *testing.T, opts Options) *Server {
	t.Helper()
	srv, err := Start(opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(srv.Close)
	return srv
}

type result struct {
	status int
	header http.Header
	body   []byte
	json   map[string]any
}

func doReq(t *testing.T, srv *Server, method, path string, body any, hdr ...string) result {
	t.Helper()
	return callCtx(t, context.Background(), srv, method, path, body, hdr...)
}

// callCtx sends a request with x-api-token set unless hdr overrides auth
// (hdr is name, value pairs; "x-api-token", "" removes the default).
func callCtx(t *testing.T, ctx context.Context, srv *Server, method, path string, body any, hdr ...string) result {
	t.Helper()
	var rdr io.Reader
	if body != nil {
		switch b := body.(type) {
		case string:
			rdr = strings.NewReader(b)
		default:
			js, _ := json.Marshal(b)
			rdr = bytes.NewReader(js)
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, srv.URL()+path, rdr)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("x-api-token", srv.Token())
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return result{status: -1, body: []byte(err.Error())}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := result{status: resp.StatusCode, header: resp.Header, body: b}
	_ = json.Unmarshal(b, &r.json)
	return r
}

// checkSearch runs GET path?query, checks the status is code and, for 200,
// that the items' ids are want in order. It returns the response.
func checkSearch(t *testing.T, srv *Server, path, query string, want []int64, code int) result {
	t.Helper()
	r := doReq(t, srv, "GET", path+"?"+query, nil)
	if r.status != code {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if code != 200 {
		return r
	}
	var got []int64
	for _, it := range data(r)["items"].([]any) {
		got = append(got, num(it.(map[string]any)["item"].(map[string]any)["id"]))
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v want %v (%s)", got, want, r.body)
	}
	return r
}

func data(r result) map[string]any {
	m, _ := r.json["data"].(map[string]any)
	return m
}

func num(v any) int64 {
	f, _ := v.(float64)
	return int64(f)
}

func assertErrorShape(t *testing.T, r result) {
	t.Helper()
	for _, k := range []string{"success", "error", "error_info", "data", "additional_data"} {
		if _, ok := r.json[k]; !ok {
			t.Errorf("error body lacks %q: %s", k, r.body)
		}
	}
	if r.json["success"] != false || r.json["data"] != nil || r.json["additional_data"] != nil {
		t.Errorf("bad error shape: %s", r.body)
	}
	if s, _ := r.json["error"].(string); s == "" {
		t.Errorf("empty error message: %s", r.body)
	}
}

func noValidationErrors(t *testing.T, srv *Server) {
	t.Helper()
	if v := srv.ValidationErrors(); len(v) > 0 {
		t.Errorf("validation errors:\n%s", strings.Join(v, "\n"))
	}
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer = testkit.LogBuffer

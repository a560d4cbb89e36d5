package pipedrive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stagemover/stagemover/shared/platform/retry"
)

const html403 = `<!DOCTYPE html><html><head><title>403 Forbidden</title></head><body><h1>Forbidden</h1><p>Too many requests</p></body></html>`

func TestErrorMappingNeverRetried(t *testing.T) {
	cases := []struct {
		name     string
		status   int
		ctype    string
		body     string
		sentinel error
		msg      string
		nonJSON  bool
	}{
		{"400", 400, "application/json", `{"success":false,"error":"Stage not found","error_info":"Please check developers.pipedrive.com","data":null,"additional_data":null}`, ErrBadRequest, "Stage not found", false},
		{"401", 401, "application/json", `{"success":false,"error":"unauthorized access","errorCode":401}`, ErrUnauthorized, "unauthorized access", false},
		{"403json", 403, "application/json", `{"success":false,"error":"You do not have permission","error_info":"x"}`, ErrForbidden, "You do not have permission", false},
		{"403html", 403, "text/html; charset=utf-8", html403, ErrForbidden, "Forbidden", true},
		{"404", 404, "application/json", `{"success":false,"error":"Deal not found","error_info":"","data":null}`, ErrNotFound, "Deal not found", false},
		{"404empty", 404, "", ``, ErrNotFound, "Not Found", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
				if tc.ctype != "" {
					w.Header().Set("Content-Type", tc.ctype)
				}
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			})
			for _, call := range []func() error{
				func() error { _, err := h.c.GetDeal(context.Background(), 9); return err },
				func() error {
					_, err := h.c.UpdateDeal(context.Background(), 9, DealPatch{StageID: Ptr[int64](2)})
					return err
				},
			} {
				before := h.hits.Load()
				err := call()
				if !errors.Is(err, tc.sentinel) {
					t.Fatalf("err %v does not match %v", err, tc.sentinel)
				}
				var ae *APIError
				if !errors.As(err, &ae) || ae.Status != tc.status || ae.Message != tc.msg || ae.NonJSON != tc.nonJSON || ae.ID != 9 {
					t.Errorf("APIError %+v", ae)
				}
				if h.hits.Load()-before != 1 {
					t.Errorf("%d requests, want 1 (no retry)", h.hits.Load()-before)
				}
				if retry.IsLater(err) {
					t.Errorf("%v reported retryable", err)
				}
				if got := IsRateLimitLockout(err); got != (tc.name == "403html") {
					t.Errorf("IsRateLimitLockout = %v", got)
				}
				h.assertNoTokenLeak(err)
			}
			if len(h.clock.Sleeps()) != 0 {
				t.Errorf("slept %v", h.clock.Sleeps())
			}
		})
	}
}

func TestTokenNeverLeaks(t *testing.T) {
	// A server that echoes the token back in its error body and headers.
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		tok := r.Header.Get("x-api-token")
		writeJSON(w, 401, errBody("invalid token "+tok, "token "+tok+" is not valid"))
	})
	_, err := h.c.GetDeal(context.Background(), 1)
	if !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("err %v", err)
	}
	h.assertNoTokenLeak(err)
	if !strings.Contains(err.Error(), "[REDACTED]") {
		t.Errorf("expected redaction marker in %q", err)
	}

	// Search: the term (an email) goes in the query, the token never does.
	_, err = h.c.SearchPersonsByEmail(context.Background(), "a@b.example")
	h.assertNoTokenLeak(err)
	if strings.Contains(h.logs.String(), "a@b.example") {
		t.Errorf("search term logged: %s", h.logs.String())
	}

	// Transport error: a closed server.
	h.srv.Close()
	_, err = h.c.GetDeal(context.Background(), 1)
	if !errors.Is(err, ErrNetwork) || !retry.IsLater(err) {
		t.Fatalf("err %v", err)
	}
	h.assertNoTokenLeak(err)

	// Token source failure does not leak either, and sends nothing.
	c, _ := New(Config{BaseURL: "http://127.0.0.1:1", Token: func(context.Context) (string, error) { return "", errors.New("secrets manager down") }})
	if _, err := c.GetDeal(context.Background(), 1); err == nil || !strings.Contains(err.Error(), "secrets manager down") {
		t.Errorf("err %v", err)
	}
}

func TestNonJSONSuccessAndSuccessFalse(t *testing.T) {
	var n atomic.Int64
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, "<html>maintenance</html>")
			return
		}
		io.WriteString(w, `{"success":false,"error":"weird","data":null}`)
	})
	if _, err := h.c.GetDeal(context.Background(), 1); err == nil || !strings.Contains(err.Error(), "decoding") {
		t.Errorf("err %v", err)
	}
	_, err := h.c.GetDeal(context.Background(), 1)
	var ae *APIError
	if !errors.As(err, &ae) || ae.Message != "weird" {
		t.Errorf("err %v", err)
	}
}

func TestIsUnknownStage(t *testing.T) {
	mk := func(status int, msg, info string) error {
		return fmt.Errorf("wrapped: %w", &APIError{Op: "updateDeal", Status: status, Message: msg, Info: info})
	}
	yes := []error{
		mk(400, "Stage not found", ""),
		mk(400, "Invalid stage_id", ""),
		mk(404, "Stage with id 99 does not exist", ""),
		mk(400, "Validation failed", "stage_id: stage not found"),
		mk(422, "Unknown stage", ""),
	}
	no := []error{
		mk(400, "Deal not found", ""),
		mk(404, "Deal not found", ""),
		mk(500, "Stage not found", ""),
		mk(400, "Invalid status", ""),
		errors.New("stage not found"),
		nil,
	}
	for _, e := range yes {
		if !IsUnknownStage(e) {
			t.Errorf("IsUnknownStage(%v) = false", e)
		}
	}
	for _, e := range no {
		if IsUnknownStage(e) {
			t.Errorf("IsUnknownStage(%v) = true", e)
		}
	}
}

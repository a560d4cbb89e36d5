package pipedrive

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/stagemover/stagemover/shared/pipedrive/pipedrivetest"
)

func TestWebhooksAgainstSandbox(t *testing.T) {
	const token, password = "tok-hooks-5d2c", "hook-pass-9f3a71"
	srv, err := pipedrivetest.Start(pipedrivetest.Options{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	logs := &syncBuffer{}
	c, err := New(Config{BaseURL: srv.URL(), Token: StaticToken(token), Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if list, err := c.ListWebhooks(ctx); err != nil || len(list) != 0 {
		t.Fatalf("empty list: %v %v", list, err)
	}
	w, err := c.AddWebhook(ctx, NewWebhook{SubscriptionURL: "https://hooks.example/pipedrive", EventAction: "change", EventObject: "deal",
		Name: "stagemover change.deal", HTTPAuthUser: "stagemover", HTTPAuthPassword: password, Version: "2.0"})
	if err != nil || w.ID == 0 || w.EventAction != "change" || w.EventObject != "deal" || w.Version != "2.0" {
		t.Fatalf("AddWebhook: %+v %v", w, err)
	}
	if strings.Contains(w.String(), password) {
		t.Errorf("String shows the password: %s", w)
	}
	list, err := c.ListWebhooks(ctx)
	if err != nil || len(list) != 1 || list[0].ID != w.ID || list[0].SubscriptionURL != "https://hooks.example/pipedrive" || list[0].HTTPAuthUser == nil || *list[0].HTTPAuthUser != "stagemover" {
		t.Fatalf("ListWebhooks: %+v %v", list, err)
	}
	if err := c.DeleteWebhook(ctx, w.ID); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteWebhook(ctx, w.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleting twice: %v, want ErrNotFound", err)
	}
	// A rejected body is a 400 naming the field (v1 "errors"), never retried.
	if _, err := c.AddWebhook(ctx, NewWebhook{SubscriptionURL: "not a url", EventAction: "*", EventObject: "stage", Name: "x", HTTPAuthPassword: password, Version: "2.0"}); !errors.Is(err, ErrBadRequest) || !strings.Contains(err.Error(), "subscription_url") {
		t.Fatalf("bad URL: %v", err)
	}
	if spent, counted := srv.TokenCostSpent(), c.Usage().TokenCost; spent != counted {
		t.Errorf("client counted %d, sandbox charged %d", counted, spent)
	}
	// 429 is retried like any call: the limiter and the counters see it.
	srv.InjectFault(pipedrivetest.Fault{Method: http.MethodGet, PathPrefix: "/v1/webhooks", Status: 429, Times: 1})
	if _, err := c.ListWebhooks(ctx); err != nil {
		t.Fatalf("after one 429: %v", err)
	}
	u := c.Usage()
	for op, want := range map[string]OpUsage{
		"getWebhooks":   {Requests: 4, Retries: 1, Refused: 1, TokenCost: 3 * opGetWebhooks.Cost},
		"addWebhook":    {Requests: 2, TokenCost: 2 * opAddWebhook.Cost},
		"deleteWebhook": {Requests: 2, TokenCost: 2 * opDeleteWebhook.Cost},
	} {
		if got := u.ByOperation[op]; got != want {
			t.Errorf("%s usage %+v, want %+v", op, got, want)
		}
	}
	if v := srv.ValidationErrors(); len(v) > 0 {
		t.Errorf("requests broke the v1 spec: %v", v)
	}
	if out := logs.String(); strings.Contains(out, token) || strings.Contains(out, password) {
		t.Errorf("a secret in the logs: %s", out)
	}
}

// The webhook password is redacted from errors like the token, even when
// Pipedrive echoes the request back.
func TestAddWebhookRedactsPassword(t *testing.T) {
	const password = "hook-pass-echoed-4e1b"
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		writeJSON(w, 400, map[string]any{"status": "error", "success": false, "errors": map[string]any{"body": []string{"rejected " + string(b) + " token " + r.Header.Get("x-api-token")}}})
	})
	_, err := h.c.AddWebhook(context.Background(), NewWebhook{SubscriptionURL: "https://hooks.example/pipedrive", EventAction: "change", EventObject: "deal", Name: "x", HTTPAuthUser: "u", HTTPAuthPassword: password})
	if !errors.Is(err, ErrBadRequest) || strings.Contains(err.Error(), password) || !strings.Contains(err.Error(), "[REDACTED]") {
		t.Fatalf("err %v", err)
	}
	h.assertNoTokenLeak(err)
	if r := h.requests()[0]; r.Method != http.MethodPost || r.URL.Path != "/v1/webhooks" {
		t.Fatalf("request %s %s", r.Method, r.URL.Path)
	}
}

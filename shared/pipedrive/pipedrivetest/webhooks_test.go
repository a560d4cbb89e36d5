package pipedrivetest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"
)

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type hookReceiver struct {
	mu       sync.Mutex
	payloads []map[string]any
	auth     []string
	fail     int // answer 500 to this many requests first
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	u, p, _ := r.BasicAuth()
	h.auth = append(h.auth, u+":"+p)
	var m map[string]any
	_ = json.NewDecoder(r.Body).Decode(&m)
	h.payloads = append(h.payloads, m)
	if h.fail > 0 {
		h.fail--
		w.WriteHeader(500)
		return
	}
	w.WriteHeader(200)
}

func (h *hookReceiver) take() []map[string]any {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := h.payloads
	h.payloads = nil
	return out
}

func TestWebhooks(t *testing.T) {
	recv := &hookReceiver{}
	hs := httptest.NewServer(recv)
	defer hs.Close()
	srv := start(t, Options{WebhookRetryDelays: []time.Duration{10 * time.Millisecond, 20 * time.Millisecond}})
	human := int64(2002)
	id := srv.AddDeal(Deal{Title: "Hooked", StageID: 1})

	// subscribe through the v1 API, validated against openapi-v1.yaml
	r := doReq(t, srv, "POST", "/v1/webhooks", map[string]any{
		"subscription_url": hs.URL + "/hook", "event_action": "change", "event_object": "deal",
		"name": "stagemover", "http_auth_user": "hookuser", "http_auth_password": "hookpass", "version": "2.0",
	})
	if r.status != 201 || data(r)["version"] != "2.0" || num(data(r)["id"]) == 0 {
		t.Fatalf("add webhook: %d %s", r.status, r.body)
	}
	hookID := num(data(r)["id"])
	if r := doReq(t, srv, "GET", "/v1/webhooks", nil); r.status != 200 || len(r.json["data"].([]any)) != 1 {
		t.Fatalf("list webhooks: %d %s", r.status, r.body)
	}
	// a non-matching subscription must not fire
	srv.Subscribe(hs.URL+"/persons", "", "", "change", "person")

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	steps := []struct {
		name         string
		do           func()
		source       string
		user         int64
		stageChanged bool
		prevStage    int64
	}{
		{"api stage move", func() { doReq(t, srv, "PATCH", fmt.Sprintf("/api/v2/deals/%d", id), map[string]any{"stage_id": 3}) }, "api", DefaultIntegrationUserID, true, 1},
		{"api title change", func() {
			doReq(t, srv, "PATCH", fmt.Sprintf("/api/v2/deals/%d", id), map[string]any{"title": "Renamed"})
		}, "api", DefaultIntegrationUserID, false, 0},
		{"human move in app", func() {
			if err := srv.MoveDealAsUser(id, 2, human); err != nil {
				t.Fatal(err)
			}
		}, "app", human, true, 3},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.do()
			if err := srv.WaitWebhooks(ctx); err != nil {
				t.Fatal(err)
			}
			got := recv.take()
			if len(got) != 1 {
				t.Fatalf("got %d deliveries", len(got))
			}
			meta := got[0]["meta"].(map[string]any)
			wantMeta := map[string]any{
				"action": "change", "entity": "deal", "entity_id": strconv.FormatInt(id, 10), "change_source": st.source,
				"user_id": strconv.FormatInt(st.user, 10), "version": "2.0", "is_bulk_edit": false, "type": "general",
				"host": "sandbox.pipedrive.com", "webhook_id": strconv.FormatInt(hookID, 10), "company_id": "1",
			}
			for k, v := range wantMeta {
				if meta[k] != v {
					t.Errorf("meta.%s = %v, want %v", k, meta[k], v)
				}
			}
			if meta["attempt"] != float64(1) || len(meta["id"].(string)) != 36 || len(meta["correlation_id"].(string)) != 36 {
				t.Errorf("meta = %v", meta)
			}
			if _, err := time.Parse(time.RFC3339, meta["timestamp"].(string)); err != nil {
				t.Errorf("timestamp: %v", err)
			}
			prev := got[0]["previous"].(map[string]any)
			ps, has := prev["stage_id"]
			if has != st.stageChanged || (has && num(ps) != st.prevStage) {
				t.Errorf("previous = %v", prev)
			}
			if _, has := prev["update_time"]; has {
				t.Errorf("previous should only hold changed fields: %v", prev)
			}
			d := got[0]["data"].(map[string]any)
			if num(d["id"]) != id {
				t.Errorf("data = %v", d)
			}
		})
	}
	// no-op change: no webhook
	doReq(t, srv, "PATCH", fmt.Sprintf("/api/v2/deals/%d", id), map[string]any{"stage_id": 2})
	_ = srv.WaitWebhooks(ctx)
	if got := recv.take(); len(got) != 0 {
		t.Errorf("no-op PATCH fired %d webhooks", len(got))
	}
	recv.mu.Lock()
	for _, a := range recv.auth {
		if a != "hookuser:hookpass" {
			t.Errorf("basic auth %q", a)
		}
	}
	recv.mu.Unlock()

	t.Run("retries", func(t *testing.T) {
		recv.mu.Lock()
		recv.fail = 2
		recv.mu.Unlock()
		before := len(srv.Deliveries())
		if err := srv.MoveDealAsUser(id, 4, human); err != nil {
			t.Fatal(err)
		}
		_ = srv.WaitWebhooks(ctx)
		ds := srv.Deliveries()[before:]
		if len(ds) != 3 || ds[0].OK || ds[1].OK || !ds[2].OK || ds[2].Attempt != 3 || ds[0].EventID != ds[2].EventID {
			t.Errorf("deliveries %+v", ds)
		}
		got := recv.take()
		if len(got) != 3 || got[2]["meta"].(map[string]any)["attempt"] != float64(3) {
			t.Errorf("payload attempts: %d", len(got))
		}
	})

	if r := doReq(t, srv, "DELETE", fmt.Sprintf("/v1/webhooks/%d", hookID), nil); r.status != 200 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if r := doReq(t, srv, "DELETE", fmt.Sprintf("/v1/webhooks/%d", hookID), nil); r.status != 404 {
		t.Fatalf("delete again: %d %s", r.status, r.body)
	}
	if err := srv.MoveDealAsUser(id, 1, human); err != nil {
		t.Fatal(err)
	}
	_ = srv.WaitWebhooks(ctx)
	if got := recv.take(); len(got) != 0 {
		t.Errorf("deleted webhook fired")
	}
	noValidationErrors(t, srv)

	// the v1 spec requires name: a webhook without it is rejected by validation
	r = doReq(t, srv, "POST", "/v1/webhooks", map[string]any{"subscription_url": hs.URL, "event_action": "change", "event_object": "deal"})
	if r.status != 400 || len(srv.ValidationErrors()) != 1 {
		t.Errorf("webhook without name: %d %s %v", r.status, r.body, srv.ValidationErrors())
	}
}

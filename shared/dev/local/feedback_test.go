package local_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io/fs"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stagemover/stagemover"
	"github.com/stagemover/stagemover/shared/dev/local"
	"github.com/stagemover/stagemover/shared/pipedrive/pipedrivetest"
	"github.com/stagemover/stagemover/shared/source/docusign"
	"github.com/stagemover/stagemover/shared/source/pandadoc"
)

func waitWebhooks(t *testing.T, sys *local.System) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := sys.WaitWebhooks(ctx); err != nil {
		t.Fatal(err)
	}
}

// The local system registers POST /pipedrive with the sandbox (one webhook
// per event), every PATCH of the mover echoes back and is recognised as
// our own (no second PATCH: no loop), and a person's move back of our move
// is one revert against the move's rule in the report.
func TestPipedriveWebhooksEchoOwnMovesAndRecordReverts(t *testing.T) {
	sys, _ := start(t)
	sb := sys.Sandbox
	if n := len(sys.PipedriveWebhooks); n != 4 {
		t.Fatalf("%d webhooks registered, want 4 (change.deal, delete.deal, *.stage, *.pipeline): %+v", n, sys.PipedriveWebhooks)
	}
	if n := len(sb.Subscriptions()); n != 4 {
		t.Fatalf("%d sandbox subscriptions, want 4", n)
	}

	const n = 5
	var deals []int64
	for i := 0; i < n; i++ {
		id := sb.AddDeal(pipedrivetest.Deal{Title: "Echo deal", PipelineID: 1, StageID: 1, Status: "open"})
		deals = append(deals, id)
		if code := post(t, sys, map[string]any{"event_id": "form-echo-" + string(rune('a'+i)), "deal_id": id,
			"signal": map[string]any{"kind": "stage_request", "stage": "Demo Scheduled"}}); code != http.StatusAccepted {
			t.Fatalf("POST /signals: %d", code)
		}
	}
	drain(t, sys)
	waitWebhooks(t, sys)
	drain(t, sys)
	if got := sb.Count("PATCH", "/api/v2/deals/"); got != n {
		t.Fatalf("%d PATCHes for %d moves, want exactly %d (webhook echoes must not trigger moves)", got, n, n)
	}
	echoes := 0
	for _, d := range sb.Deliveries() {
		if d.Entity == "deal" && d.ChangeSource == "api" {
			echoes++
			if !d.OK {
				t.Errorf("echo delivery answered %d %s", d.Status, d.Err)
			}
		}
	}
	if echoes != n {
		t.Errorf("%d echoes of our PATCHes delivered, want %d", echoes, n)
	}

	// A person moves the first deal back to where it was.
	if err := sb.MoveDealAsUser(deals[0], 1, pipedrivetest.DefaultOwnerID); err != nil {
		t.Fatal(err)
	}
	waitWebhooks(t, sys)
	drain(t, sys)
	if got := sb.Count("PATCH", "/api/v2/deals/"); got != n {
		t.Errorf("%d PATCHes after a person's change, want still %d", got, n)
	}
	rep, err := sys.Report(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Total.Moves != n || rep.Total.Reverts != 1 || len(rep.Rows) != 1 || rep.Rows[0].Rule != "stage-request" || rep.Rows[0].Reverts != 1 {
		t.Errorf("report %+v, want %d moves and one revert against rule stage-request", rep, n)
	}
	mirror, err := sys.Store.GetDealState(context.Background(), deals[0])
	if err != nil || mirror.StageID != 1 {
		t.Errorf("mirror of deal %d: %+v %v, want stage 1", deals[0], mirror, err)
	}

	// Wrong basic auth: 401.
	req, _ := http.NewRequest(http.MethodPost, sys.URL+"/pipedrive", strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(local.DevPipedriveWebhookUser+":wrong")))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("POST /pipedrive with a wrong password: %d, want 401", resp.StatusCode)
	}
}

func postRaw(t *testing.T, url string, body []byte, headers map[string]string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func sampleBody(t *testing.T, file string) []byte {
	t.Helper()
	raw := readEvent(t, file)
	var ev struct{ Body string }
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	return []byte(ev.Body)
}

// The document routes take the providers' samples signed with the local
// dev keys, once; a wrong signature gets 401.
func TestDocumentRoutesWithDevKeys(t *testing.T) {
	sys, _ := start(t)
	pd := sampleBody(t, "events/ingest-pandadoc.json")
	ds := sampleBody(t, "events/ingest-docusign.json")
	pdURL := sys.URL + "/webhooks/pandadoc?signature="
	for _, c := range []struct {
		name string
		got  int
		want int
	}{
		{"pandadoc, wrong key", postRaw(t, pdURL+pandadoc.Sign([]byte("wrong"), pd), pd, nil), 401},
		{"pandadoc", postRaw(t, pdURL+pandadoc.Sign([]byte(local.DevPandaDocKey), pd), pd, nil), 202},
		{"pandadoc again", postRaw(t, pdURL+pandadoc.Sign([]byte(local.DevPandaDocKey), pd), pd, nil), 200},
		{"docusign, wrong key", postRaw(t, sys.URL+"/webhooks/docusign", ds, map[string]string{"X-DocuSign-Signature-1": docusign.Sign([]byte("wrong"), ds)}), 401},
		{"docusign", postRaw(t, sys.URL+"/webhooks/docusign", ds, map[string]string{"X-DocuSign-Signature-1": docusign.Sign([]byte(local.DevDocuSignKey), ds)}), 202},
		{"docusign again", postRaw(t, sys.URL+"/webhooks/docusign", ds, map[string]string{"X-DocuSign-Signature-1": docusign.Sign([]byte(local.DevDocuSignKey), ds)}), 200},
	} {
		if c.got != c.want {
			t.Errorf("%s: %d, want %d", c.name, c.got, c.want)
		}
	}
}

func readEvent(t *testing.T, file string) []byte {
	t.Helper()
	raw, err := fs.ReadFile(stagemover.Events, file)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

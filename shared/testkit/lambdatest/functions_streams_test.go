package lambdatest_test

// The rows of functionCases for the stream functions: the evaluator, the
// mover and the fetcher.

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stagemover/stagemover/shared/pipedrive/pipedrivetest"
	"github.com/stagemover/stagemover/shared/source/gmail/gmailtest"
	"github.com/stagemover/stagemover/shared/source/graph/graphtest"
	"github.com/stagemover/stagemover/shared/store"
	"github.com/stagemover/stagemover/shared/testkit"
	"github.com/stagemover/stagemover/shared/testkit/lambdatest"
)

func evaluatorRecordsOneDecision(t *testing.T, f *lambdatest.Fixture, sample []byte) ([]byte, expect) {
	pd, _ := f.Pipedrive(t)
	// The signal of the sample event, stored as the ingest function stores it.
	rec, err := store.SignalFromItem(lambdatest.NewImage(t, lambdatest.StreamEvent(t, sample), 0))
	if err != nil {
		t.Fatal(err)
	}
	if created, err := f.Store().PutSignal(context.Background(), rec); err != nil || !created {
		t.Fatalf("PutSignal: %v %v", created, err)
	}
	pd.AddDeal(pipedrivetest.Deal{ID: rec.DealID, StageID: stageDemoScheduled, Title: "Northwind Logistics - route optimisation, 40 seats"})

	return sample, expect{ran: func(t *testing.T, rie *lambdatest.RIE) {
		invoke := func() {
			t.Helper()
			if resp := rie.InvokeBatch(t, sample); len(resp.BatchItemFailures) != 0 {
				t.Fatalf("batch item failures %v\n%s", resp.BatchItemFailures, rie.Output())
			}
		}
		invoke()
		decisions := f.Items(t, store.TypeDecision)
		if len(decisions) != 1 {
			t.Fatalf("%d decision items after one evaluation, want 1\n%s", len(decisions), rie.Output())
		}
		d, err := store.DecisionFromItem(decisions[0])
		if err != nil {
			t.Fatal(err)
		}
		if d.DealID != rec.DealID || d.SignalKey != rec.Key() || (d.Action != store.ActionMove && d.Action != store.ActionStay) {
			t.Errorf("decision %+v does not belong to signal %s", d, rec.Key())
		}
		wantState := store.StateRecorded
		if d.Action == store.ActionMove {
			wantState = store.StatePending
		}
		if d.State != wantState || (d.Action == store.ActionMove && len(d.Reasons) == 0) {
			t.Errorf("decision %+v: want state %s (and reasons for a move)", d, wantState)
		}
		t.Logf("decision: %s %q (rule %s, %d reasons)", d.Action, d.TargetStage, d.Rule, len(d.Reasons))

		// The stream delivers the same record again: nothing new is written.
		invoke()
		again := f.Items(t, store.TypeDecision)
		if len(again) != 1 {
			t.Errorf("%d decision items after a redelivery, want still 1", len(again))
		} else if d2, _ := store.DecisionFromItem(again[0]); !d2.UpdatedAt.Equal(d.UpdatedAt) || d2.State != d.State {
			t.Errorf("decision rewritten on redelivery: %+v", d2)
		}
	}}
}

func moverMovesOnce(t *testing.T, f *lambdatest.Fixture, sample []byte) ([]byte, expect) {
	pd, _ := f.Pipedrive(t)
	// The decision of the sample event, stored as the evaluator stores it,
	// for a deal the sandbox has, one stage before the target.
	dec, err := store.DecisionFromItem(lambdatest.NewImage(t, lambdatest.StreamEvent(t, sample), 0))
	if err != nil {
		t.Fatal(err)
	}
	pd.AddDeal(pipedrivetest.Deal{ID: dec.DealID, StageID: stageDemoScheduled, Title: "Northwind Logistics - route optimisation, 40 seats"})
	st := f.Store()
	if created, err := st.PutDecision(context.Background(), dec); err != nil || !created {
		t.Fatalf("PutDecision: %v %v", created, err)
	}
	patchPath := fmt.Sprintf("/api/v2/deals/%d", dec.DealID)
	current := func(t *testing.T) store.Decision {
		d, err := st.GetDecision(context.Background(), dec.DealID, dec.SortKey())
		if err != nil {
			t.Fatal(err)
		}
		return d
	}

	return sample, expect{ran: func(t *testing.T, rie *lambdatest.RIE) {
		if resp := rie.InvokeBatch(t, sample); len(resp.BatchItemFailures) != 0 {
			t.Fatalf("batch item failures %v\n%s", resp.BatchItemFailures, rie.Output())
		}
		if n := pd.Count("PATCH", patchPath); n != 1 {
			t.Fatalf("%d PATCH %s, want 1\n%s", n, patchPath, rie.Output())
		}
		if deal, ok := pd.Deal(dec.DealID); !ok || deal.StageID != stageProposalMade {
			t.Errorf("deal at stage %d, want %d (Proposal Made)", deal.StageID, stageProposalMade)
		}
		d := current(t)
		if d.State != store.StateDone || d.Shadow || d.FromStageID != stageDemoScheduled || d.ToStageID != stageProposalMade || d.Attempts != 1 {
			t.Errorf("decision after the move: %+v", d)
		}

		// The stream delivers the record again (a retry of the batch).
		if resp := rie.InvokeBatch(t, sample); len(resp.BatchItemFailures) != 0 {
			t.Errorf("redelivery: batch item failures %v", resp.BatchItemFailures)
		}
		if n := pd.Count("PATCH", patchPath); n != 1 {
			t.Errorf("%d PATCH %s after a redelivery, want still 1", n, patchPath)
		}
		if d2 := current(t); d2.State != store.StateDone || d2.Attempts != 1 || d2.StateReason != d.StateReason {
			t.Errorf("decision changed on redelivery: %+v", d2)
		}
		for _, v := range pd.ValidationErrors() {
			t.Errorf("request broke Pipedrive's OpenAPI spec: %s", v)
		}
	}}
}

// The user id of the Graph sample's resource path.
const sampleUserID = "5b2f7c1e-8d3a-4f6b-9c0e-1a2b3c4d5e6f"

func fetcherStoresTheGraphMessage(t *testing.T, f *lambdatest.Fixture, sample []byte) ([]byte, expect) {
	gr := graphtest.New()
	t.Cleanup(gr.Close)
	google, err := gmailtest.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(google.Close)
	keyFile, err := google.AddServiceAccount("stagemover-reader@acme-routing-mail.iam.gserviceaccount.com", "acme-routing.io")
	if err != nil {
		t.Fatal(err)
	}
	clientState := testkit.RandomSecret(t, "cs")
	// A line from the middle of the PEM key: the whole key would be logged
	// JSON-escaped, a line of it as it is.
	pemLines := strings.Split(strings.TrimSpace(testkit.SecretField(t, string(keyFile), "private_key")), "\n")
	if len(pemLines) < 5 {
		t.Fatal("the service account key is not a PEM block")
	}
	f.PutSecret(t, "GMAIL_CREDENTIALS_SECRET_ARN", "stagemover/gmail-credentials", string(keyFile), pemLines[len(pemLines)/2])
	f.PutSecret(t, "GRAPH_CREDENTIALS_SECRET_ARN", "stagemover/graph-credentials", gr.CredentialsJSON(), gr.ClientSecret)
	f.PutSecret(t, "GRAPH_CLIENT_STATE_SECRET_ARN", "stagemover/graph-client-state", testkit.SecretJSON("client_state", clientState), clientState)
	for k, v := range map[string]string{"GRAPH_BASE_URL": gr.GraphURL(), "GRAPH_LOGIN_URL": gr.LoginURL(), "GMAIL_BASE_URL": google.URL, "GOOGLE_TOKEN_URL": google.TokenURL()} {
		f.Env[k] = v
	}
	// The message the sample notification is about, in the sample's
	// mailbox, and the fetch item as the ingest function stored it.
	gr.AddUserWithID(testkit.SampleMailbox, sampleUserID)
	id := gr.AddMessage(testkit.SampleMailbox, testkit.ReadRepoFile(t, "shared/source/graph/testdata/message-buyer-reply.json"))
	if created, err := f.Store().PutFetch(context.Background(), sampleFetch(t, "fetcher-graph.json")); err != nil || !created {
		t.Fatalf("PutFetch: %v %v", created, err)
	}

	return sample, expect{
		untouched: func(t *testing.T) {
			if n := len(f.Signals(t)); n != 0 {
				t.Errorf("%d signals stored by a function that failed init", n)
			}
		},
		ran: func(t *testing.T, rie *lambdatest.RIE) {
			if resp := rie.InvokeBatch(t, sample); len(resp.BatchItemFailures) != 0 {
				t.Fatalf("batch item failures %+v\n%s", resp.BatchItemFailures, rie.Output())
			}
			sigs := f.Signals(t)
			if len(sigs) != 1 {
				t.Fatalf("%d signals after the fetch, want 1\n%s", len(sigs), rie.Output())
			}
			s := sigs[0]
			if s.Source != "graph" || !strings.Contains(s.EventID, "CAH7pQx1N3u8r=Zt4kWv0dYf2sLq9m") || s.PersonEmail != buyer ||
				s.Signal.From != buyer || !strings.Contains(s.Signal.Body, "proposal with pricing") {
				t.Errorf("stored signal %+v: want the Graph message %s", s, id)
			}
			// A redelivery of the same record stores nothing new.
			if resp := rie.InvokeBatch(t, sample); len(resp.BatchItemFailures) != 0 {
				t.Errorf("redelivery: batch item failures %+v", resp.BatchItemFailures)
			}
			if n := len(f.Signals(t)); n != 1 {
				t.Errorf("%d signals after a redelivery, want still 1", n)
			}
			if !strings.Contains(rie.Output(), `"msg":"fetched"`) {
				t.Errorf("expected the function's JSON log lines in its output:\n%s", rie.Output())
			}
		},
	}
}

package lambdatest

import (
	"net/http"
	"strings"
	"testing"
)

// AssertInitFailsStoringNoSignals is AssertInitFailsWithout for an ingest
// function: after each failed init the table holds no signal.
func (f *Fixture) AssertInitFailsStoringNoSignals(t *testing.T, event []byte, names []string) {
	t.Helper()
	f.AssertInitFailsWithout(t, event, names, func(t *testing.T) {
		if n := len(f.Signals(t)); n != 0 {
			t.Errorf("%d signals stored by a function that failed init", n)
		}
	})
}

// AssertDuplicate delivers event again: it must be answered 200 duplicate.
func (r *RIE) AssertDuplicate(t testing.TB, event []byte) {
	t.Helper()
	resp := r.InvokeHTTP(t, event)
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Body, `"duplicate"`) {
		t.Errorf("redelivery: %d %s, want 200 duplicate", resp.StatusCode, resp.Body)
	}
}

// AssertIngestLogged: the function's output holds its JSON log lines for a
// stored and a rejected delivery, and none of the fixture's hidden values.
func (f *Fixture) AssertIngestLogged(t testing.TB, r *RIE) {
	t.Helper()
	out := r.Output()
	if !strings.Contains(out, `"result":"stored"`) || !strings.Contains(out, `"msg":"ingest rejected"`) {
		t.Errorf("expected the function's JSON log lines in its output:\n%s", out)
	}
	f.AssertNoSecrets(t, out)
}

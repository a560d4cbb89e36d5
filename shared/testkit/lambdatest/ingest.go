package lambdatest

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stagemover/stagemover/shared/store"
	"github.com/stagemover/stagemover/shared/testkit"
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

// NewKeyedFixture is the fixture of the function in dir with a new random
// key (prefixed) stored, hidden, as the JSON secret {field: key} that
// envVar names.
func NewKeyedFixture(t *testing.T, dir, prefix, envVar, secretName, field string) (*Fixture, string) {
	f := NewFixture(t, dir)
	key := testkit.RandomSecret(t, prefix)
	f.PutSecret(t, envVar, secretName, testkit.SecretJSON(field, key), key)
	return f, key
}

// AssertRedelivered delivers event again: it must be answered 200
// duplicate, and the table must still hold want signals.
func (f *Fixture) AssertRedelivered(t testing.TB, r *RIE, event []byte, want int) {
	t.Helper()
	r.AssertDuplicate(t, event)
	if n := len(f.Signals(t)); n != want {
		t.Errorf("%d signals after a redelivery, want still %d", n, want)
	}
}

// DeliverStored delivers event (what names it in failures): it must be
// answered 202 stored, leaving want signals, which it returns.
func (f *Fixture) DeliverStored(t testing.TB, r *RIE, event []byte, what string, want int) []store.SignalRecord {
	t.Helper()
	resp := r.InvokeHTTP(t, event)
	if resp.StatusCode != http.StatusAccepted || !strings.Contains(resp.Body, `"stored"`) {
		t.Fatalf("%s: %d %s, want 202 stored\n%s", what, resp.StatusCode, resp.Body, r.Output())
	}
	sigs := f.Signals(t)
	if len(sigs) != want {
		t.Fatalf("%d signals after one delivery (%s), want %d", len(sigs), what, want)
	}
	return sigs
}

// AssertOneFetch: after one delivery (what), the table holds one fetch
// item, equal to want (the sample events/<sample>), and no signal: the
// fetcher stores those. It returns the item.
func (f *Fixture) AssertOneFetch(t testing.TB, want store.FetchRecord, what, sample string) store.FetchRecord {
	t.Helper()
	got := f.Fetches(t)
	if len(got) != 1 {
		t.Fatalf("%d fetch items after one %s, want 1", len(got), what)
	}
	if n := len(f.Signals(t)); n != 0 {
		t.Errorf("%d signals stored by the ingest function; the fetcher stores them", n)
	}
	g := got[0]
	if g.Key() != want.Key() || g.Source != want.Source || g.Mailbox != want.Mailbox || g.Resource != want.Resource || g.Payload != want.Payload {
		t.Errorf("stored fetch item differs from events/%s:\n got  %+v\n want %+v", sample, g, want)
	}
	return g
}

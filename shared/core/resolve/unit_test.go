package resolve

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestFreeMail(t *testing.T) {
	fm := DefaultFreeMail()
	free := []string{
		"gmail.com", "GMAIL.COM", "googlemail.com", "outlook.com", "outlook.de", "hotmail.com", "hotmail.co.uk", "hotmail.fr",
		"live.com", "msn.com", "yahoo.com", "yahoo.co.jp", "ymail.com", "icloud.com", "me.com", "aol.com", "gmx.de", "gmx.net",
		"mail.gmx.net", "web.de", "proton.me", "protonmail.com", "protonmail.ch", "yandex.ru", "yandex.com", "mail.ru",
		"zoho.com", "fastmail.com", "t-online.de", "orange.fr", "free.fr", "libero.it", "privaterelay.appleid.com", "gmail.com.",
	}
	for _, d := range free {
		if !fm.Contains(d) {
			t.Errorf("%s should be free mail", d)
		}
	}
	company := []string{
		"acme.example", "acme.co.uk", "google.com", "microsoft.com", "gmail-consulting.com", "notgmail.com",
		"hotmailer.com", "mygmx.de", "webde.com", "yahoo-partners.example", "zohocorp.com", "live-events.com", "", ".",
	}
	for _, d := range company {
		if fm.Contains(d) {
			t.Errorf("%s should be a company domain", d)
		}
	}
	own := fm.With("Vendor.example", "@acme.example", "mybrand.*", "")
	if !own.Contains("sales.vendor.example") || !own.Contains("acme.example") || !own.Contains("mybrand.co.uk") || !own.Contains("gmail.com") {
		t.Error("With did not add entries")
	}
	if fm.Contains("vendor.example") {
		t.Error("With changed the default set")
	}
	var none *DomainSet
	if none.Contains("gmail.com") || len(none.Entries()) != 0 {
		t.Error("nil set")
	}
	entries := fm.Entries()
	if len(entries) < 100 || !strings.Contains(strings.Join(entries, " "), "hotmail.*") {
		t.Errorf("%d entries", len(entries))
	}
}

func TestNormalizeEmail(t *testing.T) {
	cases := []struct{ in, addr, domain string }{
		{"jane@acme.example", "jane@acme.example", "acme.example"},
		{"  Jane.Doe+tag@EU.Acme.Example ", "jane.doe+tag@eu.acme.example", "eu.acme.example"},
		{"Jane Doe <JANE@acme.example>", "jane@acme.example", "acme.example"},
		{`"Doe, Jane" <jane@acme.example>`, "jane@acme.example", "acme.example"},
		{"jane@acme.example.", "jane@acme.example", "acme.example"},
		{"jürgen@müller.example", "jürgen@müller.example", "müller.example"},
	}
	for _, c := range cases {
		a, d, err := NormalizeEmail(c.in)
		if err != nil || a != c.addr || d != c.domain {
			t.Errorf("%q: %q %q %v", c.in, a, d, err)
		}
	}
	for _, bad := range []string{"", "jane", "jane@", "@acme.example", "jane@acme", "jane@acme..example", "ja ne@acme.example",
		"jane@[192.0.2.1]", "jane@192.0.2.1", "a@b@", "jane@acme_corp.example", "\xff@acme.example", "jane@acme.example, joe@acme.example"} {
		if a, _, err := NormalizeEmail(bad); !errors.Is(err, ErrInvalidEmail) {
			t.Errorf("%q accepted as %q", bad, a)
		}
	}
}

func TestSiteAndWebsites(t *testing.T) {
	for host, want := range map[string]string{
		"acme.example": "acme.example", "eu.acme.example": "acme.example", "www.acme.co.uk": "acme.co.uk",
		"shop.acme.com.au": "acme.com.au", "acme.github.io": "acme.github.io",
	} {
		if got, ok := Site(host); !ok || got != want {
			t.Errorf("Site(%q) = %q %v", host, got, ok)
		}
	}
	for _, host := range []string{"co.uk", "com", "", "192.0.2.1"} {
		if got, ok := Site(host); ok {
			t.Errorf("Site(%q) = %q", host, got)
		}
	}
	for _, w := range []string{"https://www.acme.example/en/", "acme.example", "www.acme.example", "http://shop.acme.example:8080/x?y", "@acme.example", " ACME.example "} {
		if !sameSite(w, "acme.example") {
			t.Errorf("%q should be acme.example", w)
		}
	}
	for _, w := range []string{"", "https://acme-widgets.example", "acme.example.evil.example", "https://evil.example/acme.example", "not a url at all"} {
		if sameSite(w, "acme.example") {
			t.Errorf("%q should not be acme.example", w)
		}
	}
}

func TestNewest(t *testing.T) {
	d := func(id int64, at string) DealRef { return DealRef{ID: id, UpdateTime: at} }
	cases := []struct {
		deals []DealRef
		id    int64
		ok    bool
	}{
		{[]DealRef{d(1, "2026-01-01T00:00:00Z"), d(2, "2026-01-02T00:00:00Z")}, 2, true},
		{[]DealRef{d(1, "2026-01-03T00:00:00Z"), d(2, "2026-01-02T00:00:00Z")}, 1, true},
		{[]DealRef{d(1, "2026-01-02 00:00:00"), d(2, "2026-01-01T23:00:00Z")}, 1, true},
		{[]DealRef{d(1, "2026-01-02T00:00:00Z"), d(2, "2026-01-02T00:00:00Z")}, 0, false},
		{[]DealRef{d(1, "2026-01-02T00:00:00Z"), d(2, "2026-01-02T00:00:00Z"), d(3, "2026-01-03T00:00:00Z")}, 3, true},
		{[]DealRef{d(1, ""), d(2, "2026-01-02T00:00:00Z")}, 0, false},
		{[]DealRef{d(1, "yesterday"), d(2, "2026-01-02T00:00:00Z")}, 0, false},
	}
	for i, c := range cases {
		if id, ok := newest(c.deals); id != c.id && c.ok || ok != c.ok {
			t.Errorf("case %d: %d %v", i, id, ok)
		}
	}
}

func TestResultRule(t *testing.T) {
	r := &Resolver{}
	res := r.result(Entry{Via: ViaPerson, PersonID: 4, Deals: []DealRef{{ID: 7}}})
	if id, ok := res.Deal(); !ok || id != 7 || res.Reason != ReasonOneDeal {
		t.Errorf("%+v", res)
	}
	res = r.result(Entry{Via: ViaPerson, PersonID: 4})
	if _, ok := res.Deal(); ok || res.NeedsReview() || res.Reason != ReasonNoDeal || len(res.DealIDs) != 0 {
		t.Errorf("%+v", res)
	}
}

func TestEntryRoundTripAndDecode(t *testing.T) {
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	e := Entry{Via: ViaOrganization, OrgID: 3, Deals: []DealRef{{ID: 5, UpdateTime: "2026-03-01T00:00:00Z"}}, ResolvedAt: at, ExpiresAt: at.Add(time.Hour)}
	b, _ := json.Marshal(e)
	got, err := decodeEntry(b)
	if err != nil || got.OrgID != 3 || len(got.Deals) != 1 || !got.ExpiresAt.Equal(e.ExpiresAt) {
		t.Errorf("%+v %v", got, err)
	}
	for _, bad := range []string{``, `null`, `{}`, `{"via":"x"}`, `{"via":"none","deals":[{"id":1}]}`, `{"via":"person","deals":[{"id":0}]}`,
		`{"via":"person","person_id":-1}`, `[]`, `{"via":"person","deals":"x"}`} {
		if _, err := decodeEntry([]byte(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	if _, err := decodeEntry([]byte(`{"via":"person","reason":"` + strings.Repeat("x", maxPayload) + `"}`)); err == nil {
		t.Error("oversized entry accepted")
	}
}

func TestMemoryCache(t *testing.T) {
	var c MemoryCache
	ctx := context.Background()
	if _, ok, err := c.Get(ctx, "a@b.example"); ok || err != nil {
		t.Fatal("empty cache hit")
	}
	if err := c.Put(ctx, "a@b.example", Entry{Via: ViaNone}); err != nil {
		t.Fatal(err)
	}
	if e, ok, _ := c.Get(ctx, "a@b.example"); !ok || e.Via != ViaNone {
		t.Errorf("%+v %v", e, ok)
	}
}

func TestFlightWaiterHonoursItsContext(t *testing.T) {
	var f flight
	release := make(chan struct{})
	started := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, shared, err := f.do(context.Background(), "k", func() (Entry, error) {
			close(started)
			<-release
			return Entry{Via: ViaNone}, nil
		})
		if shared || err != nil {
			t.Errorf("leader: %v %v", shared, err)
		}
	}()
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, shared, err := f.do(ctx, "k", func() (Entry, error) { t.Error("second call ran"); return Entry{}, nil }); !shared || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waiter: %v %v", shared, err)
	}
	close(release)
	wg.Wait()
	// a panicking lookup does not leave waiters with a zero success
	func() {
		defer func() { _ = recover() }()
		_, _, _ = f.do(context.Background(), "p", func() (Entry, error) { panic("boom") })
	}()
	if _, _, err := f.do(context.Background(), "p", func() (Entry, error) { return Entry{Via: ViaNone}, nil }); err != nil {
		t.Errorf("after panic: %v", err)
	}
}

// ---------------------------------------------------------------- fuzz

// FuzzNormalizeEmail: parsing any input never panics; an accepted address
// is lower-case, ends in "@"+domain and normalizes to itself; free-mail and
// site checks never panic on it.
func FuzzNormalizeEmail(f *testing.F) {
	for _, s := range []string{"jane@acme.example", "Jane Doe <JANE@acme.example>", `"Doe, Jane" <jane@acme.example>`,
		"stranger@hotmail.co.uk", "jane@[192.0.2.1]", "jürgen@müller.example", "a@b", "", "@", "a@b.c.", "x@-y.example",
		"new.buyer@eu.acme.example", "privaterelay@privaterelay.appleid.com"} {
		f.Add(s)
	}
	fm := DefaultFreeMail()
	f.Fuzz(func(t *testing.T, s string) {
		addr, domain, err := NormalizeEmail(s)
		_ = fm.Contains(s)
		_, _ = Site(s)
		_ = sameSite(s, "acme.example")
		if err != nil {
			return
		}
		if addr != strings.ToLower(addr) || !strings.HasSuffix(addr, "@"+domain) || len(addr) > 254 {
			t.Fatalf("%q -> %q %q", s, addr, domain)
		}
		a2, d2, err := NormalizeEmail(addr)
		if err != nil || a2 != addr || d2 != domain {
			t.Fatalf("not idempotent: %q -> %q -> %q %v", s, addr, a2, err)
		}
		_ = fm.Contains(domain)
		_, _ = Site(domain)
	})
}

// FuzzDecodeEntry: a cache payload from the table never panics the decoder,
// and an accepted one re-encodes to an accepted one.
func FuzzDecodeEntry(f *testing.F) {
	for _, s := range []string{
		`{"via":"person","person_id":4,"deals":[{"id":7,"update_time":"2026-03-01T00:00:00Z"}],"resolved_at":"2026-03-02T09:00:00Z","expires_at":"2026-03-03T09:00:00Z"}`,
		`{"via":"none","reason":"no person with this email; free-mail domain, no organization lookup"}`,
		`{"via":"organization","org_id":3,"deals":[{"id":1},{"id":2}]}`, `{}`, `null`, `{"via":"none","deals":[{"id":1}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := decodeEntry(b)
		if err != nil {
			return
		}
		r := (&Resolver{PreferMostRecentlyUpdated: true}).result(e)
		if len(r.DealIDs) > len(e.Deals) {
			t.Fatalf("result %+v from %+v", r, e)
		}
		b2, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := decodeEntry(b2); err != nil {
			t.Fatalf("re-encoded entry rejected: %v", err)
		}
	})
}

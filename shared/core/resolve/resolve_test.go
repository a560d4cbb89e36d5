package resolve

// Tests run the resolver against the Pipedrive sandbox over real HTTP on
// 127.0.0.1 (every request and response checked against openapi-v2.yaml,
// x-token-cost charged) and cache in DynamoDB Local, in a table created from
// template.yaml. Every test ends by checking that the sandbox recorded no
// validation errors, that the client's token accounting matches what the
// sandbox charged, and that neither the API token nor any looked-up address
// appears in the logs.

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/stagemover/stagemover/shared/pipedrive"
	"github.com/stagemover/stagemover/shared/pipedrive/pipedrivetest"
	"github.com/stagemover/stagemover/shared/store"
)

// ---------------------------------------------------------------- tests

func TestOneOpenDeal(t *testing.T) {
	e := newEnv(t)
	org := e.srv.AddOrganizationFull(pipedrivetest.Organization{Name: "Acme Corp", Website: "https://acme.example"})
	jane := e.srv.AddPersonFull(pipedrivetest.Person{Name: "Jane Doe", Emails: []string{"jane@acme.example"}, OrgID: org})
	e.srv.AddPerson("Janet", "janet@acme.example")
	deal := e.srv.AddDeal(pipedrivetest.Deal{PersonID: jane, StageID: 2})
	e.srv.AddDeal(pipedrivetest.Deal{PersonID: jane, Status: "won"})
	e.srv.AddDeal(pipedrivetest.Deal{PersonID: jane, Status: "lost"})
	e.srv.AddDeal(pipedrivetest.Deal{PersonID: jane, IsArchived: true})
	e.srv.AddDeal(pipedrivetest.Deal{OrgID: org}) // an org deal must not be mixed in once the person is known
	r := e.resolver()

	res := e.resolve(r, "  Jane@ACME.example ")
	if got, ok := res.Deal(); !ok || got != deal || res.Via != ViaPerson || res.PersonID != jane || res.OrgID != 0 ||
		res.Reason != ReasonOneDeal || res.Cached || res.NeedsReview() || ids(res.Candidates...) != ids(deal) {
		t.Fatalf("result %+v", res)
	}
	// token cost accounting: person search 20, the person's open deals 10
	u := r.API.(*pipedrive.Client).Usage()
	if u.ByOperation["searchPersons"].TokenCost != 20 || u.ByOperation["searchPersons"].Requests != 1 ||
		u.ByOperation["getDeals"].TokenCost != 10 || u.TokenCost != 30 || e.srv.TokenCostSpent() != 30 {
		t.Errorf("usage %+v, sandbox charged %d", u, e.srv.TokenCostSpent())
	}
	if e.srv.Count("GET", "/api/v2/organizations") != 0 {
		t.Error("organization lookup although the person was found")
	}
	last := e.srv.Requests()[0]
	if last.Path != "/api/v2/persons/search" || !strings.Contains(last.Query, "exact_match=true") || !strings.Contains(last.Query, "fields=email") {
		t.Errorf("person search %+v", last)
	}
	if strings.Contains(last.Query, testToken) {
		t.Error("token in query")
	}

	// the resolution is in the table with a 24 h TTL
	item := e.item("jane@acme.example")
	if attrS(item, "type") != store.TypeResolve || attrS(item, "via") != ViaPerson ||
		attrN(item, "expires_at") != e.clock.Now().Add(24*time.Hour).Unix() {
		t.Errorf("cache item %v", item)
	}
}

func TestCachedSecondLookupCostsNoRequest(t *testing.T) {
	e := newEnv(t)
	jane, deal := e.janeDeal()
	r := e.resolver()
	first := e.resolve(r, "jane@acme.example")
	before, spent := e.requests(), e.srv.TokenCostSpent()
	if before != 2 || first.Cached {
		t.Fatalf("first lookup: %d requests, %+v", before, first)
	}

	second := e.resolve(r, "JANE@acme.example")
	if e.requests() != before || e.srv.TokenCostSpent() != spent {
		t.Errorf("cached lookup sent %d requests", e.requests()-before)
	}
	if !second.Cached || ids(second.DealIDs...) != ids(deal) || second.Via != ViaPerson || second.PersonID != jane {
		t.Errorf("second %+v", second)
	}
	// Another Lambda instance (new client, empty memory) reads the same table.
	other := e.resolver()
	third := e.resolve(other, "jane@acme.example")
	if e.requests() != before || !third.Cached || ids(third.DealIDs...) != ids(deal) {
		t.Errorf("other instance: %d new requests, %+v", e.requests()-before, third)
	}
	if u := other.API.(*pipedrive.Client).Usage(); u.Requests != 0 {
		t.Errorf("other instance usage %+v", u)
	}
}

func TestSeveralOpenDeals(t *testing.T) {
	e := newEnv(t)
	jane := e.srv.AddPerson("Jane", "jane@acme.example")
	base := time.Date(2026, 2, 1, 10, 0, 0, 0, time.UTC)
	older := e.srv.AddDeal(pipedrivetest.Deal{PersonID: jane, AddTime: base, UpdateTime: base.Add(48 * time.Hour)})
	newer := e.srv.AddDeal(pipedrivetest.Deal{PersonID: jane, AddTime: base, UpdateTime: base.Add(72 * time.Hour)})
	oldest := e.srv.AddDeal(pipedrivetest.Deal{PersonID: jane, AddTime: base, UpdateTime: base})

	res := e.resolve(e.resolver(), "jane@acme.example")
	if _, ok := res.Deal(); ok || !res.NeedsReview() || ids(res.DealIDs...) != ids(older, newer, oldest) ||
		ids(res.Candidates...) != ids(older, newer, oldest) || res.Reason != ReasonSeveral || res.Via != ViaPerson {
		t.Fatalf("no guess expected: %+v", res)
	}

	// The explicit rule picks the most recently updated, also from the cache.
	before := e.requests()
	picked := e.resolve(e.resolver(func(r *Resolver) { r.PreferMostRecentlyUpdated = true }), "jane@acme.example")
	if got, ok := picked.Deal(); !ok || got != newer || picked.Reason != ReasonPicked || !picked.Cached ||
		ids(picked.Candidates...) != ids(older, newer, oldest) {
		t.Errorf("picked %+v", picked)
	}
	if e.requests() != before {
		t.Errorf("rule re-asked Pipedrive")
	}
	// The evaluator's adapter returns all candidates without the rule ...
	got, err := e.resolver().OpenDealsFor(context.Background(), "jane@acme.example")
	if err != nil || ids(got...) != ids(older, newer, oldest) {
		t.Errorf("OpenDealsFor %v %v", got, err)
	}
	// ... and the pick with it.
	got, err = e.resolver(func(r *Resolver) { r.PreferMostRecentlyUpdated = true }).OpenDealsFor(context.Background(), "jane@acme.example")
	if err != nil || ids(got...) != ids(newer) {
		t.Errorf("OpenDealsFor with rule %v %v", got, err)
	}
}

func TestMostRecentlyUpdatedTieIsNotBroken(t *testing.T) {
	e := newEnv(t)
	jane := e.srv.AddPerson("Jane", "jane@acme.example")
	at := time.Date(2026, 2, 1, 10, 0, 0, 0, time.UTC)
	a := e.srv.AddDeal(pipedrivetest.Deal{PersonID: jane, AddTime: at, UpdateTime: at})
	b := e.srv.AddDeal(pipedrivetest.Deal{PersonID: jane, AddTime: at, UpdateTime: at})
	res := e.resolve(e.resolver(func(r *Resolver) { r.PreferMostRecentlyUpdated = true }), "jane@acme.example")
	if ids(res.DealIDs...) != ids(a, b) || res.Reason != ReasonSeveral {
		t.Errorf("tie must stay for review: %+v", res)
	}
}

func TestNoPersonFreeMailNoOrgLookup(t *testing.T) {
	e := newEnv(t)
	// Bait: organizations that would match if free-mail domains were looked up.
	for _, w := range []string{"https://gmail.com", "https://www.hotmail.co.uk", "https://gmx.de", "https://orange.fr"} {
		o := e.srv.AddOrganizationFull(pipedrivetest.Organization{Name: "Gmail Hotmail GMX Orange fans", Website: w})
		e.srv.AddDeal(pipedrivetest.Deal{OrgID: o})
	}
	r := e.resolver()
	addrs := []string{"stranger@gmail.com", "stranger@hotmail.co.uk", "stranger@mail.gmx.de", "stranger@orange.fr", "stranger@googlemail.com"}
	for _, a := range addrs {
		res := e.resolve(r, a)
		if res.Via != ViaNone || len(res.DealIDs) != 0 || res.Reason != ReasonFreeMail || res.PersonID != 0 || res.OrgID != 0 {
			t.Errorf("%s: %+v", a, res)
		}
	}
	if n := e.srv.Count("GET", "/api/v2/organizations"); n != 0 {
		t.Errorf("sandbox saw %d organization requests for free-mail addresses", n)
	}
	if n := e.srv.Count("GET", "/api/v2/persons/search"); n != len(addrs) {
		t.Errorf("%d person searches, want %d", n, len(addrs))
	}
	// "none" is cached for an hour
	item := e.item("stranger@gmail.com")
	if attrS(item, "via") != ViaNone || attrN(item, "expires_at") != e.clock.Now().Add(time.Hour).Unix() {
		t.Errorf("none item %v", item)
	}

	// A known person at a free-mail domain still resolves through the person.
	p := e.srv.AddPerson("Known", "known@gmail.com")
	d := e.srv.AddDeal(pipedrivetest.Deal{PersonID: p})
	if res := e.resolve(r, "known@gmail.com"); ids(res.DealIDs...) != ids(d) || res.Via != ViaPerson {
		t.Errorf("known free-mail person %+v", res)
	}
}

func TestNoPersonCompanyDomainOneOrgDeal(t *testing.T) {
	e := newEnv(t)
	acme := e.srv.AddOrganizationFull(pipedrivetest.Organization{Name: "Acme Corp", Website: "https://www.acme.example/en/"})
	widgets := e.srv.AddOrganizationFull(pipedrivetest.Organization{Name: "Acme Widgets", Website: "acme-widgets.example"})
	e.srv.AddOrganization("Acme Without Website")
	deal := e.srv.AddDeal(pipedrivetest.Deal{OrgID: acme, StageID: 3})
	e.srv.AddDeal(pipedrivetest.Deal{OrgID: acme, Status: "won"})
	e.srv.AddDeal(pipedrivetest.Deal{OrgID: widgets}) // same name, other domain: never linked
	r := e.resolver()

	res := e.resolve(r, "new.buyer@eu.acme.example")
	if got, ok := res.Deal(); !ok || got != deal || res.Via != ViaOrganization || res.OrgID != acme || res.PersonID != 0 || res.Reason != ReasonOneDeal {
		t.Fatalf("result %+v", res)
	}
	var search pipedrivetest.LoggedRequest
	for _, rq := range e.srv.Requests() {
		if rq.Path == "/api/v2/organizations/search" {
			search = rq
		}
	}
	if !strings.Contains(search.Query, "term=acme") || !strings.Contains(search.Query, "fields=name") {
		t.Errorf("organization search %+v", search)
	}
	// person search 20, org search 20, 3 org reads 1 each, org deals 10
	u := r.API.(*pipedrive.Client).Usage()
	if u.ByOperation["searchPersons"].TokenCost != 20 || u.ByOperation["searchOrganization"].TokenCost != 20 ||
		u.ByOperation["getOrganization"].Requests != 3 || u.ByOperation["getDeals"].Requests != 1 || u.TokenCost != 53 {
		t.Errorf("usage %+v", u.ByOperation)
	}
	if q := e.srv.Requests()[len(e.srv.Requests())-1].Query; !strings.Contains(q, fmt.Sprintf("org_id=%d", acme)) || !strings.Contains(q, "status=open") {
		t.Errorf("deals query %q", q)
	}
	before := e.requests()
	if again := e.resolve(r, "new.buyer@eu.acme.example"); !again.Cached || again.OrgID != acme || e.requests() != before {
		t.Errorf("org resolution not cached: %+v", again)
	}
}

func TestCompanyDomainOutcomes(t *testing.T) {
	// Many searches from several clients: widen the search window (10 per
	// 2 s) so the test does not wait for it.
	e := newEnv(t, func(o *pipedrivetest.Options) { o.SearchBurstLimit = 50 })
	globex := e.srv.AddOrganizationFull(pipedrivetest.Organization{Name: "Globex Logistics", Website: "globex.example"})
	d1 := e.srv.AddDeal(pipedrivetest.Deal{OrgID: globex})
	d2 := e.srv.AddDeal(pipedrivetest.Deal{OrgID: globex})
	e.srv.AddOrganizationFull(pipedrivetest.Organization{Name: "Initrode", Website: "https://initrode.example"})
	e.srv.AddOrganizationFull(pipedrivetest.Organization{Name: "Umbrella Health", Website: "https://umbrella-health.example"})
	r := e.resolver()

	if res := e.resolve(r, "a@globex.example"); ids(res.DealIDs...) != ids(d1, d2) || !res.NeedsReview() || res.OrgID != globex {
		t.Errorf("several org deals: %+v", res)
	}
	if res := e.resolve(r, "a@initrode.example"); res.Via != ViaOrganization || len(res.DealIDs) != 0 || res.Reason != ReasonOrgNoDeal {
		t.Errorf("org without deal: %+v", res)
	}
	// hyphenated domain label finds the spaced name
	if res := e.resolve(r, "a@umbrella-health.example"); res.Via != ViaOrganization || res.Reason != ReasonOrgNoDeal {
		t.Errorf("hyphenated domain: %+v", res)
	}
	if res := e.resolve(r, "a@unknown-company.example"); res.Via != ViaNone || res.Reason != ReasonNoOrg {
		t.Errorf("unknown company: %+v", res)
	}
	// two organizations with the same website: their deals are candidates, no org is named
	t1 := e.srv.AddOrganizationFull(pipedrivetest.Organization{Name: "Twin Corp", Website: "twin.example"})
	t2 := e.srv.AddOrganizationFull(pipedrivetest.Organization{Name: "Twin Corp (old)", Website: "https://twin.example"})
	td1 := e.srv.AddDeal(pipedrivetest.Deal{OrgID: t1})
	td2 := e.srv.AddDeal(pipedrivetest.Deal{OrgID: t2})
	if res := e.resolve(r, "a@twin.example"); res.Via != ViaOrganization || res.OrgID != 0 || ids(res.DealIDs...) != ids(td1, td2) {
		t.Errorf("twin orgs: %+v", res)
	}
	// MaxOrgCandidates bounds the confirming reads
	for i := 0; i < 4; i++ {
		e.srv.AddOrganizationFull(pipedrivetest.Organization{Name: "Many " + strconv.Itoa(i), Website: "https://other-" + strconv.Itoa(i) + ".example"})
	}
	reads := e.srv.Count("GET", "/api/v2/organizations/")
	capped := e.resolver(func(r *Resolver) { r.MaxOrgCandidates = 2 })
	if res := e.resolve(capped, "a@many.example"); res.Via != ViaNone {
		t.Errorf("many: %+v", res)
	}
	if n := e.srv.Count("GET", "/api/v2/organizations/") - reads; n != 3 { // 1 search + 2 reads
		t.Errorf("%d organization requests with MaxOrgCandidates 2", n)
	}
	// our own domain, excluded like free mail
	own := e.resolver(func(r *Resolver) { r.FreeMail = DefaultFreeMail().With("globex.example") })
	before := e.srv.Count("GET", "/api/v2/organizations")
	if res := e.resolve(own, "b@globex.example"); res.Via != ViaNone || res.Reason != ReasonFreeMail ||
		e.srv.Count("GET", "/api/v2/organizations") != before {
		t.Errorf("excluded domain: %+v", res)
	}
}

func TestOrgDomainCustomField(t *testing.T) {
	e := newEnv(t)
	const field = "5f2c1e0d9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e"
	initech := e.srv.AddOrganizationFull(pipedrivetest.Organization{Name: "Initech GmbH",
		CustomFields: map[string]any{field: "initech.example, initech.de"}})
	// matches the search on another custom field, but not the domain field
	e.srv.AddOrganizationFull(pipedrivetest.Organization{Name: "Reseller", CustomFields: map[string]any{"other": "initech.example"}})
	deal := e.srv.AddDeal(pipedrivetest.Deal{OrgID: initech})
	r := e.resolver(func(r *Resolver) { r.OrgDomainField = field })

	res := e.resolve(r, "peter@initech.example")
	if got, ok := res.Deal(); !ok || got != deal || res.OrgID != initech || res.Via != ViaOrganization {
		t.Fatalf("result %+v", res)
	}
	var q string
	for _, rq := range e.srv.Requests() {
		if rq.Path == "/api/v2/organizations/search" {
			q = rq.Query
		}
	}
	if !strings.Contains(q, "fields=custom_fields") || !strings.Contains(q, "term=initech.example") {
		t.Errorf("search query %q", q)
	}
	if res := e.resolve(r, "hans@initech.de"); ids(res.DealIDs...) != ids(deal) {
		t.Errorf("second domain of the field: %+v", res)
	}
}

func TestCacheExpiry(t *testing.T) {
	e := newEnv(t)
	jane, deal := e.janeDeal()
	r := e.resolver()

	e.resolve(r, "jane@acme.example") // found: 24 h
	e.resolve(r, "nobody@gmail.com")  // none: 1 h
	searches := func() int { return e.srv.Count("GET", "/api/v2/persons/search") }
	if searches() != 2 {
		t.Fatalf("%d searches", searches())
	}
	e.clock.Advance(59 * time.Minute)
	if res := e.resolve(r, "nobody@gmail.com"); !res.Cached || searches() != 2 {
		t.Errorf("none within its hour: %+v, %d searches", res, searches())
	}
	e.clock.Advance(time.Minute) // exactly 1 h: expired
	if res := e.resolve(r, "nobody@gmail.com"); res.Cached || searches() != 3 {
		t.Errorf("none after its hour: %+v, %d searches", res, searches())
	}
	e.clock.Advance(22*time.Hour + 59*time.Minute) // 23 h 59 m after the first lookup
	if res := e.resolve(r, "jane@acme.example"); !res.Cached || searches() != 3 {
		t.Errorf("found within 24 h: %+v, %d searches", res, searches())
	}
	// A new deal appears; after the TTL the lookup sees it.
	second := e.srv.AddDeal(pipedrivetest.Deal{PersonID: jane})
	e.clock.Advance(time.Minute)
	res := e.resolve(r, "jane@acme.example")
	if res.Cached || searches() != 4 || ids(res.DealIDs...) != ids(deal, second) {
		t.Errorf("after 24 h: %+v, %d searches", res, searches())
	}
	if exp := attrN(e.item("jane@acme.example"), "expires_at"); exp != e.clock.Now().Add(24*time.Hour).Unix() {
		t.Errorf("refreshed expires_at %d", exp)
	}
	// custom TTLs
	short := e.resolver(func(r *Resolver) { r.TTL = time.Minute; r.NoneTTL = time.Second })
	e.clock.Advance(48 * time.Hour)
	e.resolve(short, "jane@acme.example")
	e.resolve(short, "nobody@gmail.com")
	if attrN(e.item("jane@acme.example"), "expires_at") != e.clock.Now().Add(time.Minute).Unix() ||
		attrN(e.item("nobody@gmail.com"), "expires_at") != e.clock.Now().Add(time.Second).Unix() {
		t.Error("custom TTLs not applied")
	}
}

func TestConcurrentLookupsShareOneSearch(t *testing.T) {
	e := newEnv(t)
	_, deal := e.janeDeal()
	// Hold the search long enough for every goroutine to arrive.
	e.srv.InjectFault(pipedrivetest.Fault{Method: "GET", PathPrefix: "/api/v2/persons/search", Delay: 300 * time.Millisecond, Times: 1})
	r := e.resolver(func(r *Resolver) { r.Cache = nil }) // no cache: only the flight can share
	const n = 8
	var wg sync.WaitGroup
	results := make([]Result, n)
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			results[i], errs[i] = r.Resolve(context.Background(), "jane@acme.example")
		}(i)
	}
	wg.Wait()
	e.emails = append(e.emails, "jane@acme.example")
	for i := range results {
		if errs[i] != nil || ids(results[i].DealIDs...) != ids(deal) {
			t.Errorf("goroutine %d: %+v %v", i, results[i], errs[i])
		}
	}
	if c := e.srv.Count("GET", "/api/v2/persons/search"); c != 1 {
		t.Errorf("%d person searches for %d concurrent lookups", c, n)
	}
	// without a cache, a later lookup asks again
	e.resolve(r, "jane@acme.example")
	if c := e.srv.Count("GET", "/api/v2/persons/search"); c != 2 {
		t.Errorf("%d searches", c)
	}
}

func TestPipedriveErrorIsReturnedAndNotCached(t *testing.T) {
	e := newEnv(t)
	_, deal := e.janeDeal()
	e.srv.InjectFault(pipedrivetest.Fault{Method: "GET", PathPrefix: "/api/v2/persons/search", Status: 500, Times: 1})
	r := &Resolver{API: e.client(func(c *pipedrive.Config) { c.MaxRetries = -1 }), Cache: e.cache, Now: e.clock.Now, Log: e.logger()}
	e.emails = append(e.emails, "jane@acme.example")
	if _, err := r.Resolve(context.Background(), "jane@acme.example"); !errors.Is(err, pipedrive.ErrServer) {
		t.Fatalf("want a server error, got %v", err)
	}
	if item := e.item("jane@acme.example"); len(item) != 0 {
		t.Errorf("error cached: %v", item)
	}
	if res := e.resolve(r, "jane@acme.example"); ids(res.DealIDs...) != ids(deal) || res.Cached {
		t.Errorf("after the failure: %+v", res)
	}
}

func TestBrokenCacheIsBypassed(t *testing.T) {
	e := newEnv(t)
	_, deal := e.janeDeal()
	r := e.resolver(func(r *Resolver) { r.Cache = StoreCache{Store: store.New(e.tbl.DB, "no-such-table")} })
	for i := 0; i < 2; i++ {
		if res := e.resolve(r, "jane@acme.example"); ids(res.DealIDs...) != ids(deal) || res.Cached {
			t.Errorf("lookup %d: %+v", i, res)
		}
	}
	if n := e.srv.Count("GET", "/api/v2/persons/search"); n != 2 {
		t.Errorf("%d searches", n)
	}
	if !strings.Contains(e.logs.String(), "cache unreadable") || !strings.Contains(e.logs.String(), "not cached") {
		t.Errorf("cache failures not logged")
	}
	// A corrupt item is a miss, and is replaced.
	_, err := e.tbl.DB.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: &e.tbl.Name, Item: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "RESOLVE#jane@acme.example"}, "sk": &types.AttributeValueMemberS{Value: "CURRENT"},
		"payload": &types.AttributeValueMemberS{Value: `{"via":"teleport"}`}, "expires_at": &types.AttributeValueMemberN{Value: "99999999999"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	good := e.resolver()
	if res := e.resolve(good, "jane@acme.example"); res.Cached || ids(res.DealIDs...) != ids(deal) {
		t.Errorf("corrupt item: %+v", res)
	}
	if attrS(e.item("jane@acme.example"), "via") != ViaPerson {
		t.Error("corrupt item not replaced")
	}
}

func TestInvalidEmailCostsNothing(t *testing.T) {
	e := newEnv(t)
	r := e.resolver()
	for _, a := range []string{"", "   ", "not-an-email", "a@b", "@acme.example", "jane@", "jane@[192.0.2.1]", "jane@192.0.2.1",
		"a b@acme.example", "jane@acme..example", "jane@-acme.example", "Jane <jane@acme.example", strings.Repeat("a", 250) + "@acme.example"} {
		res := e.resolve(r, a)
		if res.Via != ViaNone || res.Reason != ReasonInvalidEmail || len(res.DealIDs) != 0 {
			t.Errorf("%q: %+v", a, res)
		}
	}
	if n := e.requests(); n != 0 {
		t.Errorf("%d requests for invalid addresses", n)
	}
	if _, err := (&Resolver{}).Resolve(context.Background(), "jane@acme.example"); err == nil {
		t.Error("nil API accepted")
	}
}

func TestDuplicatePersonsAndHeaderForm(t *testing.T) {
	e := newEnv(t)
	p1 := e.srv.AddPerson("Jane", "jane@acme.example")
	p2 := e.srv.AddPerson("Jane (dup)", "JANE@acme.example", "jd@acme.example")
	d1 := e.srv.AddDeal(pipedrivetest.Deal{PersonID: p1})
	d2 := e.srv.AddDeal(pipedrivetest.Deal{PersonID: p2})
	res := e.resolve(e.resolver(), "Jane Doe <jane@acme.example>")
	if res.PersonID != p1 || ids(res.DealIDs...) != ids(d1, d2) || !res.NeedsReview() {
		t.Errorf("duplicates: %+v", res)
	}
	if n := e.srv.Count("GET", "/api/v2/deals"); n != 2 {
		t.Errorf("%d deal lists", n)
	}
}

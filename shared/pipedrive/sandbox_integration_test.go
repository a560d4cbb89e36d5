package pipedrive

// Integration tests: the client against the Pipedrive sandbox
// (shared/pipedrive/pipedrivetest) over real HTTP on 127.0.0.1. The sandbox routes
// and validates every request and response against the official v2 spec and
// charges each operation's x-token-cost; every test ends by checking that
// the client's Usage matches what the sandbox charged and that the sandbox
// recorded no validation errors.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stagemover/stagemover/shared/pipedrive/pipedrivetest"
	"github.com/stagemover/stagemover/shared/platform/retry"
)

const sandboxToken = "sbx-TOKEN-5f0e8c1d2b3a4958"

type sbxEnv struct {
	t     *testing.T
	srv   *pipedrivetest.Server
	clock *fakeClock // shared by the sandbox and the clients: Sleep advances both
	logs  *syncBuffer
	cls   []*Client
	// faultCharges: tokens the sandbox charged for injected faults that a
	// real Pipedrive would not (an injected HTML 403 is charged; the real
	// lockout page is not).
	faultCharges int
}

// startSandbox starts a sandbox whose clock is the shared fake clock, and
// registers end-of-test checks (usage vs TokenCostSpent, no validation
// errors, no token in logs).
func startSandbox(t *testing.T, opts pipedrivetest.Options) *sbxEnv {
	t.Helper()
	e := &sbxEnv{t: t, clock: newFakeClock(), logs: &syncBuffer{}}
	opts.Token = sandboxToken
	opts.Now = e.clock.Now
	srv, err := pipedrivetest.Start(opts)
	if err != nil {
		t.Fatalf("pipedrivetest.Start: %v", err)
	}
	e.srv = srv
	t.Cleanup(func() {
		srv.Close()
		if t.Failed() {
			return
		}
		charged, requests := 0, 0
		for _, c := range e.cls {
			u := c.Usage()
			charged += u.TokenCost
			requests += u.Requests
		}
		if spent := srv.TokenCostSpent() - e.faultCharges; charged != spent {
			t.Errorf("clients counted token cost %d, sandbox charged %d", charged, spent)
		}
		if n := len(srv.Requests()); requests != n {
			t.Errorf("clients counted %d requests, sandbox logged %d", requests, n)
		}
		if v := srv.ValidationErrors(); len(v) != 0 {
			t.Errorf("sandbox validation errors:\n%s", strings.Join(v, "\n"))
		}
		if strings.Contains(e.logs.String(), sandboxToken) {
			t.Errorf("token in client logs")
		}
	})
	return e
}

// client returns a new Client (a new Lambda instance: fresh rate-limit
// state) on the sandbox with the given token.
func (e *sbxEnv) client(token string, mod ...func(*Config)) *Client {
	e.t.Helper()
	c := newTestClient(e.t, e.srv.URL(), token, e.logs, e.clock, mod...)
	e.cls = append(e.cls, c)
	return c
}

func (e *sbxEnv) statuses(method, prefix string) []int {
	var out []int
	for _, r := range e.srv.Requests() {
		if r.Method == method && strings.HasPrefix(r.Path, prefix) {
			out = append(out, r.Status)
		}
	}
	return out
}

func TestSandboxGetAndPatchDeal(t *testing.T) {
	e := startSandbox(t, pipedrivetest.Options{})
	c := e.client(sandboxToken)
	ctx := context.Background()
	person := e.srv.AddPerson("Jane Doe", "jane@acme.example")
	id := e.srv.AddDeal(pipedrivetest.Deal{Title: "Acme renewal", StageID: 1, PersonID: person, Value: 1200, Currency: "USD"})
	noPerson := e.srv.AddDeal(pipedrivetest.Deal{Title: "Orphan", StageID: 2})

	d, err := c.GetDeal(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if d.ID != id || d.Title != "Acme renewal" || d.StageID != 1 || d.PipelineID != 1 || d.PersonID != person ||
		d.Status != StatusOpen || d.Value != 1200 || d.Currency != "USD" || d.IsArchived || d.UpdateTime == "" {
		t.Errorf("deal %+v", d)
	}
	if _, err := ParseTime(d.UpdateTime); err != nil {
		t.Errorf("update_time %q: %v", d.UpdateTime, err)
	}
	if d2, err := c.GetDeal(ctx, noPerson); err != nil || d2.PersonID != 0 || d2.OrgID != 0 {
		t.Errorf("deal without person: %+v %v", d2, err)
	}

	moved, err := c.UpdateDeal(ctx, id, DealPatch{StageID: Ptr[int64](3)})
	if err != nil {
		t.Fatal(err)
	}
	if moved.StageID != 3 || moved.PipelineID != 1 {
		t.Errorf("moved %+v", moved)
	}
	if sd, _ := e.srv.Deal(id); sd.StageID != 3 {
		t.Errorf("sandbox deal stage %d", sd.StageID)
	}
	reqs := e.srv.Requests()
	if last := reqs[len(reqs)-1]; last.Method != "PATCH" || last.Body != `{"stage_id":3}` || last.Query != "" {
		t.Errorf("PATCH request %+v", last)
	}

	won, err := c.UpdateDeal(ctx, id, DealPatch{Status: Ptr(StatusWon)})
	if err != nil || won.Status != StatusWon || won.WonTime == "" || won.CloseTime == "" {
		t.Errorf("won %+v %v", won, err)
	}

	_, err = c.GetDeal(ctx, 99999)
	var ae *APIError
	if !errors.Is(err, ErrNotFound) || !errors.As(err, &ae) || ae.ID != 99999 {
		t.Errorf("missing deal: %v", err)
	}
	if u := c.Usage(); u.ByOperation["getDeal"].TokenCost != 3 || u.ByOperation["updateDeal"].TokenCost != 10 {
		t.Errorf("usage %+v", u)
	}
}

func TestSandboxUnknownStage(t *testing.T) {
	e := startSandbox(t, pipedrivetest.Options{})
	c := e.client(sandboxToken)
	ctx := context.Background()
	id := e.srv.AddDeal(pipedrivetest.Deal{StageID: 2})

	_, err := c.UpdateDeal(ctx, id, DealPatch{StageID: Ptr[int64](999)})
	if !IsUnknownStage(err) || !errors.Is(err, ErrBadRequest) || retry.IsLater(err) {
		t.Fatalf("err %v", err)
	}
	// A stage deleted in Pipedrive after the mover cached the stage map.
	e.srv.DeleteStage(5)
	_, err = c.UpdateDeal(ctx, id, DealPatch{StageID: Ptr[int64](5)})
	if !IsUnknownStage(err) {
		t.Fatalf("deleted stage: %v", err)
	}
	// Other 400s are not unknown-stage errors.
	e.srv.AddPipeline("Partners", "Lead", "Signed")
	_, err = c.UpdateDeal(ctx, id, DealPatch{StageID: Ptr[int64](3), PipelineID: Ptr[int64](2)})
	if !errors.Is(err, ErrBadRequest) || IsUnknownStage(err) {
		t.Errorf("stage/pipeline mismatch: %v (unknown stage: %v)", err, IsUnknownStage(err))
	}
	if n := e.srv.Count("PATCH", "/api/v2/deals/"); n != 3 {
		t.Errorf("%d PATCHes, want 3 (400s are not retried)", n)
	}
	if d, _ := e.srv.Deal(id); d.StageID != 2 {
		t.Errorf("deal moved to %d", d.StageID)
	}
	// The refreshed stage map no longer lists the deleted stage.
	st, err := c.ListStages(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		if s.ID == 5 {
			t.Errorf("deleted stage listed: %+v", s)
		}
	}
}

func TestSandboxUnauthorized(t *testing.T) {
	e := startSandbox(t, pipedrivetest.Options{})
	const wrong = "wrong-TOKEN-a1b2c3d4e5f6"
	c := e.client(wrong)
	_, err := c.GetDeal(context.Background(), 1)
	var ae *APIError
	if !errors.Is(err, ErrUnauthorized) || !errors.As(err, &ae) || ae.Message != "unauthorized access" {
		t.Fatalf("err %v", err)
	}
	if retry.IsLater(err) || e.srv.Count("", "/api/v2/") != 1 {
		t.Errorf("retried: %d requests", e.srv.Count("", "/api/v2/"))
	}
	for _, s := range []string{err.Error(), e.logs.String()} {
		if strings.Contains(s, wrong) || strings.Contains(s, sandboxToken) {
			t.Errorf("token leaked: %s", s)
		}
	}
	for _, r := range e.srv.Requests() {
		if strings.Contains(r.Query, wrong) || strings.Contains(r.Path, wrong) {
			t.Errorf("token in URL: %+v", r)
		}
	}
	if u := c.Usage(); u.TokenCost != 0 || u.Refused != 1 {
		t.Errorf("usage %+v (401s are not charged)", u)
	}
}

func TestSandboxBurstWindowNever429s(t *testing.T) {
	// One client alone keeps under the burst window: it reads
	// x-ratelimit-remaining and waits for x-ratelimit-reset itself.
	e := startSandbox(t, pipedrivetest.Options{BurstLimit: 3})
	c := e.client(sandboxToken)
	id := e.srv.AddDeal(pipedrivetest.Deal{})
	for i := 0; i < 10; i++ {
		if _, err := c.GetDeal(context.Background(), id); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range e.statuses("GET", "/api/v2/deals") {
		if s != 200 {
			t.Fatalf("statuses %v: the client overran the burst window", e.statuses("GET", "/api/v2/deals"))
		}
	}
	sl := e.clock.Sleeps()
	if len(sl) != 3 {
		t.Errorf("sleeps %v, want 3 waits for the window", sl)
	}
	for _, d := range sl {
		if d != 2*time.Second {
			t.Errorf("sleep %s, want the 2 s reset", d)
		}
	}
}

func TestSandbox429BackoffObeysReset(t *testing.T) {
	// Two Lambda instances share the token: instance A fills the window,
	// instance B (no rate-limit state yet) gets a 429 and must wait exactly
	// x-ratelimit-reset before retrying.
	e := startSandbox(t, pipedrivetest.Options{BurstLimit: 2, RateLimitPenalty: 5 * time.Second})
	a, b := e.client(sandboxToken), e.client(sandboxToken)
	id := e.srv.AddDeal(pipedrivetest.Deal{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := 0; i < 2; i++ {
		if _, err := a.GetDeal(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	moved, err := b.UpdateDeal(ctx, id, DealPatch{StageID: Ptr[int64](4)})
	if err != nil {
		t.Fatal(err)
	}
	if moved.StageID != 4 {
		t.Errorf("moved %+v", moved)
	}
	if got := e.statuses("PATCH", "/api/v2/deals/"); fmt.Sprint(got) != "[429 200]" {
		t.Errorf("PATCH statuses %v, want [429 200]", got)
	}
	if sl := e.clock.Sleeps(); len(sl) != 1 || sl[0] != 5*time.Second {
		t.Errorf("sleeps %v, want [5s] (x-ratelimit-reset with the 5 s penalty)", sl)
	}
	u := b.Usage()
	if u.Requests != 2 || u.Retries != 1 || u.Refused != 1 || u.TokenCost != 5 {
		t.Errorf("usage %+v", u)
	}
}

func TestSandboxGivesUpBeforeDeadline(t *testing.T) {
	e := startSandbox(t, pipedrivetest.Options{BurstLimit: 1, RateLimitPenalty: 10 * time.Second})
	a, b := e.client(sandboxToken), e.client(sandboxToken)
	id := e.srv.AddDeal(pipedrivetest.Deal{})
	if _, err := a.GetDeal(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	// The Lambda has 3 s left; the sandbox says come back in 10 s.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	start := time.Now()
	_, err := b.UpdateDeal(ctx, id, DealPatch{StageID: Ptr[int64](2)})
	if !errors.Is(err, ErrRateLimited) || !retry.IsLater(err) {
		t.Fatalf("err %v", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("took %s", el)
	}
	if len(e.clock.Sleeps()) != 0 || e.srv.Count("PATCH", "/api/v2/deals/") != 1 {
		t.Errorf("sleeps %v, PATCHes %d", e.clock.Sleeps(), e.srv.Count("PATCH", "/api/v2/deals/"))
	}
	// Client A knows the window is full (remaining 0): it gives up without
	// sending when its deadline is nearer than the reset.
	before := len(e.srv.Requests())
	ctx2, cancel2 := context.WithTimeout(context.Background(), time.Second)
	defer cancel2()
	if _, err := a.GetDeal(ctx2, id); !errors.Is(err, ErrRateLimited) {
		t.Errorf("err %v", err)
	}
	if len(e.srv.Requests()) != before {
		t.Errorf("client A sent a request into a full window")
	}
}

func TestSandboxForbiddenHTML(t *testing.T) {
	e := startSandbox(t, pipedrivetest.Options{})
	c := e.client(sandboxToken)
	id := e.srv.AddDeal(pipedrivetest.Deal{})
	e.srv.InjectFault(pipedrivetest.Fault{Method: "GET", PathPrefix: "/api/v2/deals/", Status: 403, HTMLBody: true, Times: 1})
	e.faultCharges = 1 // the sandbox charges injected faults
	_, err := c.GetDeal(context.Background(), id)
	var ae *APIError
	if !errors.Is(err, ErrForbidden) || !errors.As(err, &ae) || !ae.NonJSON || !IsRateLimitLockout(err) || retry.IsLater(err) {
		t.Fatalf("err %v", err)
	}
	if e.srv.Count("GET", "/api/v2/deals/") != 1 {
		t.Error("403 retried")
	}
	if _, err := c.GetDeal(context.Background(), id); err != nil {
		t.Errorf("after the fault: %v", err)
	}
}

func TestSandboxRealLockoutPage(t *testing.T) {
	// Fresh Lambda instances without retries keep calling into a full
	// window: after BlockAfter refusals the sandbox serves its HTML 403.
	e := startSandbox(t, pipedrivetest.Options{BurstLimit: 1, BlockAfter: 1})
	id := e.srv.AddDeal(pipedrivetest.Deal{})
	if _, err := e.client(sandboxToken).GetDeal(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	var errs []error
	for i := 0; i < 3; i++ {
		_, err := e.client(sandboxToken, func(c *Config) { c.MaxRetries = -1 }).GetDeal(context.Background(), id)
		errs = append(errs, err)
	}
	if !errors.Is(errs[0], ErrRateLimited) || !errors.Is(errs[1], ErrRateLimited) {
		t.Errorf("errors %v", errs)
	}
	if !IsRateLimitLockout(errs[2]) || !errors.Is(errs[2], ErrForbidden) {
		t.Errorf("lockout: %v", errs[2])
	}
	if got := e.statuses("GET", "/api/v2/deals/"); fmt.Sprint(got) != "[200 429 429 403]" {
		t.Errorf("statuses %v", got)
	}
}

func TestSandboxServerErrors(t *testing.T) {
	e := startSandbox(t, pipedrivetest.Options{})
	c := e.client(sandboxToken)
	id := e.srv.AddDeal(pipedrivetest.Deal{StageID: 1})
	ctx := context.Background()

	// GET: retried with backoff.
	e.srv.InjectFault(pipedrivetest.Fault{Method: "GET", PathPrefix: "/api/v2/deals/", Status: 503, Times: 2})
	if _, err := c.GetDeal(ctx, id); err != nil {
		t.Fatal(err)
	}
	if got := e.statuses("GET", "/api/v2/deals/"); fmt.Sprint(got) != "[503 503 200]" {
		t.Errorf("GET statuses %v", got)
	}
	if len(e.clock.Sleeps()) != 2 {
		t.Errorf("sleeps %v", e.clock.Sleeps())
	}

	// PATCH: the change is applied, then the answer is a 502. Not retried:
	// the caller learns the outcome is unknown and re-reads.
	e.srv.InjectFault(pipedrivetest.Fault{Method: "PATCH", PathPrefix: "/api/v2/deals/", Status: 502, Times: 1, ApplyBeforeDelay: true})
	_, err := c.UpdateDeal(ctx, id, DealPatch{StageID: Ptr[int64](2)})
	if !errors.Is(err, ErrServer) || !retry.IsLater(err) {
		t.Fatalf("err %v", err)
	}
	if n := e.srv.Count("PATCH", "/api/v2/deals/"); n != 1 {
		t.Errorf("PATCH sent %d times", n)
	}
	if d, err := c.GetDeal(ctx, id); err != nil || d.StageID != 2 {
		t.Errorf("re-read: %+v %v", d, err)
	}
}

func TestSandboxPatchTimeoutNotRetried(t *testing.T) {
	e := startSandbox(t, pipedrivetest.Options{})
	c := e.client(sandboxToken)
	id := e.srv.AddDeal(pipedrivetest.Deal{StageID: 1})
	e.srv.InjectFault(pipedrivetest.Fault{Method: "PATCH", PathPrefix: "/api/v2/deals/", Delay: 2 * time.Second, ApplyBeforeDelay: true, Times: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := c.UpdateDeal(ctx, id, DealPatch{StageID: Ptr[int64](4)})
	if !errors.Is(err, ErrNetwork) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v", err)
	}
	// Let the sandbox log the abandoned request before the usage check.
	deadline := time.Now().Add(5 * time.Second)
	for e.srv.Count("PATCH", "/api/v2/deals/") == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := e.srv.Count("PATCH", "/api/v2/deals/"); n != 1 {
		t.Errorf("PATCH sent %d times", n)
	}
	if d, _ := e.srv.Deal(id); d.StageID != 4 {
		t.Errorf("stage %d: the sandbox applied the change before stalling", d.StageID)
	}
}

func TestSandboxPagingStagesAndPipelines(t *testing.T) {
	e := startSandbox(t, pipedrivetest.Options{})
	c := e.client(sandboxToken)
	ctx := context.Background()
	pid, _ := e.srv.AddPipeline("Big")
	for i := 0; i < 620; i++ {
		e.srv.AddStage(pid, fmt.Sprintf("S%03d", i), 0)
	}
	for i := 0; i < 505; i++ {
		e.srv.AddPipeline(fmt.Sprintf("P%03d", i))
	}

	st, err := c.ListStages(ctx, pid)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 620 {
		t.Fatalf("%d stages", len(st))
	}
	seen := map[int64]bool{}
	for _, s := range st {
		if s.PipelineID != pid || seen[s.ID] || s.Name == "" {
			t.Fatalf("stage %+v (dup %v)", s, seen[s.ID])
		}
		seen[s.ID] = true
	}
	if n := e.srv.Count("GET", "/api/v2/stages"); n != 2 {
		t.Errorf("%d stage pages, want 2", n)
	}

	sales, err := c.ListStages(ctx, 1)
	if err != nil || len(sales) != 5 {
		t.Fatalf("sales stages %d %v", len(sales), err)
	}
	for i, s := range sales {
		if s.ID != int64(i+1) || s.OrderNr != i+1 || s.PipelineID != 1 {
			t.Errorf("stage %+v", s)
		}
	}
	all, err := c.ListStages(ctx, 0)
	if err != nil || len(all) != 625 {
		t.Errorf("all stages %d %v", len(all), err)
	}

	pl, err := c.ListPipelines(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(pl) != 507 || pl[0].ID != 1 || pl[0].Name != "Sales" {
		t.Errorf("%d pipelines, first %+v", len(pl), pl[0])
	}
	if n := e.srv.Count("GET", "/api/v2/pipelines"); n != 2 {
		t.Errorf("%d pipeline pages, want 2", n)
	}
}

func TestSandboxSearchPersonsAndOpenDeals(t *testing.T) {
	e := startSandbox(t, pipedrivetest.Options{})
	c := e.client(sandboxToken)
	ctx := context.Background()
	org := e.srv.AddOrganization("Acme")
	jane := e.srv.AddPersonFull(pipedrivetest.Person{Name: "Jane Doe", Emails: []string{"jane@acme.example", "jd@home.example"}, OrgID: org})
	e.srv.AddPerson("Janet", "janet@acme.example")
	e.srv.AddPerson("Plus", "a+b@acme.example")

	ps, err := c.SearchPersonsByEmail(ctx, "JANE@acme.example")
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1 || ps[0].ID != jane || ps[0].Name != "Jane Doe" || len(ps[0].Emails) != 2 || ps[0].OrgID != org {
		t.Errorf("persons %+v", ps)
	}
	if ps, err := c.SearchPersonsByEmail(ctx, "a+b@acme.example"); err != nil || len(ps) != 1 {
		t.Errorf("plus address: %+v %v", ps, err)
	}
	if ps, err := c.SearchPersonsByEmail(ctx, "nobody@acme.example"); err != nil || len(ps) != 0 {
		t.Errorf("no match: %+v %v", ps, err)
	}

	open1 := e.srv.AddDeal(pipedrivetest.Deal{PersonID: jane, StageID: 2})
	open2 := e.srv.AddDeal(pipedrivetest.Deal{PersonID: jane, StageID: 4})
	e.srv.AddDeal(pipedrivetest.Deal{PersonID: jane, Status: "won"})
	e.srv.AddDeal(pipedrivetest.Deal{PersonID: jane, Status: "lost"})
	e.srv.AddDeal(pipedrivetest.Deal{PersonID: jane + 100})
	ds, err := c.ListOpenDealsByPerson(ctx, jane)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 2 || ds[0].ID != open1 || ds[1].ID != open2 || ds[1].StageID != 4 {
		t.Errorf("open deals %+v", ds)
	}
	u := c.Usage()
	if u.ByOperation["searchPersons"].TokenCost != 60 || u.ByOperation["getDeals"].TokenCost != 10 {
		t.Errorf("usage %+v", u)
	}
}

func TestSandboxSearchBurstWindow(t *testing.T) {
	// Search has its own, smaller window; deal reads are not held up by it.
	e := startSandbox(t, pipedrivetest.Options{SearchBurstLimit: 2})
	c := e.client(sandboxToken)
	ctx := context.Background()
	e.srv.AddPerson("Jane", "jane@acme.example")
	id := e.srv.AddDeal(pipedrivetest.Deal{})
	for i := 0; i < 2; i++ {
		if _, err := c.SearchPersonsByEmail(ctx, "jane@acme.example"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.GetDeal(ctx, id); err != nil {
		t.Fatal(err)
	}
	if len(e.clock.Sleeps()) != 0 {
		t.Errorf("deal read waited for the search window: %v", e.clock.Sleeps())
	}
	if _, err := c.SearchPersonsByEmail(ctx, "jane@acme.example"); err != nil {
		t.Fatal(err)
	}
	if sl := e.clock.Sleeps(); len(sl) != 1 || sl[0] != 2*time.Second {
		t.Errorf("sleeps %v", sl)
	}
	for _, s := range e.statuses("GET", "/api/v2/persons/search") {
		if s != 200 {
			t.Errorf("search statuses %v", e.statuses("GET", "/api/v2/persons/search"))
			break
		}
	}
}

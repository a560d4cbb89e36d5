package resolve

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/stagemover/stagemover/shared/core/evaluator"
	"github.com/stagemover/stagemover/shared/dev/ddblocal"
	"github.com/stagemover/stagemover/shared/pipedrive"
	"github.com/stagemover/stagemover/shared/pipedrive/pipedrivetest"
	"github.com/stagemover/stagemover/shared/store"
	"github.com/stagemover/stagemover/shared/testkit"
)

func TestMain(m *testing.M) { os.Exit(ddblocal.RunTests(m)) }

// The adapter satisfies the evaluator's interface.
var _ evaluator.Resolver = (*Resolver)(nil)

const testToken = "rsv-TOKEN-9c2f4e71d0b8a635"

type env struct {
	t       *testing.T
	srv     *pipedrivetest.Server
	tbl     *ddblocal.TestTable
	cache   StoreCache
	clock   *testkit.Clock
	logs    *testkit.LogBuffer
	clients []*pipedrive.Client
	emails  []string // addresses looked up: must never be logged
}

// newEnv starts a sandbox and a fresh table and registers the end-of-test checks.
func newEnv(t *testing.T, mod ...func(*pipedrivetest.Options)) *env {
	t.Helper()
	opts := pipedrivetest.Options{Token: testToken}
	for _, m := range mod {
		m(&opts)
	}
	srv, err := pipedrivetest.Start(opts)
	if err != nil {
		t.Fatalf("sandbox: %v", err)
	}
	tbl := ddblocal.ForTest(t)
	e := &env{
		t: t, srv: srv, tbl: tbl,
		cache: StoreCache{Store: store.New(tbl.DB, tbl.Name)},
		clock: testkit.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)),
		logs:  &testkit.LogBuffer{},
	}
	t.Cleanup(func() {
		srv.Close()
		if v := srv.ValidationErrors(); len(v) != 0 {
			t.Errorf("sandbox validation errors:\n%s", strings.Join(v, "\n"))
		}
		charged := 0
		for _, c := range e.clients {
			charged += c.Usage().TokenCost
		}
		if spent := srv.TokenCostSpent(); charged != spent {
			t.Errorf("clients counted token cost %d, sandbox charged %d", charged, spent)
		}
		logs := e.logs.String()
		if strings.Contains(logs, testToken) {
			t.Error("API token in logs")
		}
		for _, a := range e.emails {
			if a = strings.ToLower(strings.TrimSpace(a)); a != "" && strings.Contains(strings.ToLower(logs), a) {
				t.Errorf("address %q in logs", a)
			}
		}
	})
	return e
}

func (e *env) logger() *slog.Logger { return e.logs.Logger() }

// client is a new Pipedrive client (a new Lambda instance) on the sandbox.
func (e *env) client(mod ...func(*pipedrive.Config)) *pipedrive.Client {
	e.t.Helper()
	cfg := pipedrive.Config{BaseURL: e.srv.URL(), Token: pipedrive.StaticToken(testToken), Logger: e.logger()}
	for _, m := range mod {
		m(&cfg)
	}
	c, err := pipedrive.New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	e.clients = append(e.clients, c)
	return c
}

// resolver is a resolver on a new client, caching in the test table.
func (e *env) resolver(mod ...func(*Resolver)) *Resolver {
	r := &Resolver{API: e.client(), Cache: e.cache, Now: e.clock.Now, Log: e.logger()}
	for _, m := range mod {
		m(r)
	}
	return r
}

func (e *env) resolve(r *Resolver, email string) Result {
	e.t.Helper()
	e.emails = append(e.emails, email)
	res, err := r.Resolve(context.Background(), email)
	if err != nil {
		e.t.Fatalf("Resolve(%q): %v", email, err)
	}
	return res
}

func (e *env) requests() int { return len(e.srv.Requests()) }

// item reads the cache item of an address straight from the table.
func (e *env) item(email string) map[string]types.AttributeValue {
	e.t.Helper()
	out, err := e.tbl.DB.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: &e.tbl.Name, Key: cacheKey(email), ConsistentRead: boolPtr(true)})
	if err != nil {
		e.t.Fatal(err)
	}
	return out.Item
}

// cacheKey is the key of an address's resolution item (the store's layout).
func cacheKey(email string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "RESOLVE#" + email},
		"sk": &types.AttributeValueMemberS{Value: "CURRENT"},
	}
}

func boolPtr(b bool) *bool { return &b }

func attrN(item map[string]types.AttributeValue, name string) int64 {
	n, _ := item[name].(*types.AttributeValueMemberN)
	if n == nil {
		return 0
	}
	v, _ := strconv.ParseInt(n.Value, 10, 64)
	return v
}

func attrS(item map[string]types.AttributeValue, name string) string {
	s, _ := item[name].(*types.AttributeValueMemberS)
	if s == nil {
		return ""
	}
	return s.Value
}

func ids(v ...int64) string { return fmt.Sprint(v) }

// janeDeal adds the person Jane (jane@acme.example) with one deal.
func (e *env) janeDeal() (jane, deal int64) {
	jane = e.srv.AddPerson("Jane", "jane@acme.example")
	return jane, e.srv.AddDeal(pipedrivetest.Deal{PersonID: jane})
}

// Package stand starts the test stand the core packages' tests share: a
// Pipedrive sandbox, a DynamoDB Local table and a store on it.
//
// It lives apart from testkit because it imports the module's packages;
// testkit itself imports nothing from the module.
package stand

import (
	"log/slog"
	"testing"
	"time"

	"github.com/stagemover/stagemover/shared/dev/ddblocal"
	"github.com/stagemover/stagemover/shared/pipedrive"
	"github.com/stagemover/stagemover/shared/pipedrive/pipedrivetest"
	"github.com/stagemover/stagemover/shared/store"
)

// Stand is one test's sandbox, table and store; all are closed or dropped
// when the test ends.
type Stand struct {
	SB    *pipedrivetest.Server
	Table *ddblocal.TestTable
	Store *store.Store
}

// Start starts a sandbox with opts and a fresh DynamoDB Local table with a
// store on it. Call ddblocal.RunTests from TestMain.
func Start(t testing.TB, opts pipedrivetest.Options) *Stand {
	t.Helper()
	sb, err := pipedrivetest.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.Close)
	tbl := ddblocal.ForTest(t)
	return &Stand{SB: sb, Table: tbl, Store: store.New(tbl.DB, tbl.Name)}
}

// Client is a Pipedrive client for the sandbox with a static token.
func (s *Stand) Client(t testing.TB, token string, log *slog.Logger, backoff time.Duration) *pipedrive.Client {
	t.Helper()
	c, err := pipedrive.New(pipedrive.Config{BaseURL: s.SB.URL(), Token: pipedrive.StaticToken(token), Logger: log, BackoffBase: backoff})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

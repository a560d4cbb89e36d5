package gmail_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/stagemover/stagemover/shared/dev/ddblocal"
	"github.com/stagemover/stagemover/shared/source/gmail/gmailtest"
	"github.com/stagemover/stagemover/shared/store"
)

func TestMain(m *testing.M) { os.Exit(ddblocal.RunTests(m)) }

// google starts the Google stand-in for the test.
func google(t testing.TB) *gmailtest.Server {
	t.Helper()
	g, err := gmailtest.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	return g
}

// table is a DynamoDB Local table from template.yaml with the real store.
type table struct {
	*ddblocal.TestTable
	st *store.Store
}

func newTable(t *testing.T, opts ...store.Option) *table {
	t.Helper()
	tbl := ddblocal.ForTest(t)
	return &table{TestTable: tbl, st: store.New(tbl.DB, tbl.Name, opts...)}
}

func (tb *table) count(t *testing.T) int {
	t.Helper()
	out, err := tb.DB.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(tb.Name), Select: "COUNT"})
	if err != nil {
		t.Fatal(err)
	}
	return int(out.Count)
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

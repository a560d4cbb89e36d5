package ddblocal

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
)

// TableLogicalID is the logical id of the table in template.yaml.
const TableLogicalID = "Table"

// TestTable is a fresh table created from the repository's template.yaml in
// the test binary's shared DynamoDB Local.
type TestTable struct {
	Name      string
	StreamARN string
	DB        *dynamodb.Client
	Streams   *dynamodbstreams.Client
	Instance  *Instance
}

var shared struct {
	once     sync.Once
	inst     *Instance
	template []byte
	err      error
	stopped  atomic.Bool
	seq      atomic.Int64
}

// SharedInstance starts (once per process) the DynamoDB Local that ForTest
// uses and returns it with the repository's template.yaml.
func SharedInstance() (*Instance, []byte, error) {
	shared.once.Do(func() {
		root, err := RepoRoot()
		if err != nil {
			shared.err = err
			return
		}
		shared.template, err = os.ReadFile(filepath.Join(root, "template.yaml"))
		if err != nil {
			shared.err = fmt.Errorf("ddblocal: %w", err)
			return
		}
		// Generous: the first run may npm-install the jar.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		shared.inst, shared.err = Start(ctx, Options{})
	})
	if shared.err == nil && shared.stopped.Load() {
		return nil, nil, fmt.Errorf("ddblocal: shared DynamoDB Local already stopped")
	}
	return shared.inst, shared.template, shared.err
}

// StopShared stops the shared instance, if one was started.
func StopShared() error {
	shared.stopped.Store(true)
	if shared.inst != nil {
		return shared.inst.Stop()
	}
	return nil
}

// RunTests runs the tests and then stops the shared DynamoDB Local. Packages
// that call ForTest add
//
//	func TestMain(m *testing.M) { os.Exit(ddblocal.RunTests(m)) }
//
// (On Linux java is also killed by the kernel when the test binary exits,
// even without TestMain or after a crash.)
func RunTests(m *testing.M) int {
	code := m.Run()
	_ = StopShared()
	return code
}

// ForTest returns a new, uniquely named table created from template.yaml in
// one DynamoDB Local shared by the whole test binary. The table is deleted
// when the test ends. It never skips: a missing java or npm fails the test
// with the reason, because CI must provide them.
func ForTest(t testing.TB) *TestTable {
	t.Helper()
	inst, tmpl, err := SharedInstance()
	if err != nil {
		t.Fatalf("ddblocal: DynamoDB Local unavailable: %v", err)
	}
	name := testTableName(t.Name(), shared.seq.Add(1))
	db := inst.DynamoDB()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	arn, err := CreateTableFromTemplate(ctx, db, tmpl, TableLogicalID, name)
	if err != nil {
		t.Fatalf("ddblocal: %v", err)
	}
	t.Cleanup(func() {
		if shared.stopped.Load() {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = db.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(name)})
	})
	return &TestTable{Name: name, StreamARN: arn, DB: db, Streams: inst.Streams(), Instance: inst}
}

// testTableName keeps [A-Za-z0-9_.-] and at most 255 characters.
func testTableName(testName string, seq int64) string {
	var b strings.Builder
	for _, r := range testName {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	s := b.String()
	if len(s) > 200 {
		s = s[:200]
	}
	return fmt.Sprintf("t%d_%s", seq, s)
}

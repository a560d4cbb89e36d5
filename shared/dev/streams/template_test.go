package streams

import (
	"reflect"
	"strings"
	"testing"

	"github.com/stagemover/stagemover/shared/testkit"
)

func repoTemplate(t testing.TB) []byte {
	t.Helper()
	return testkit.ReadRepoFile(t, "template.yaml")
}

func TestFromRepoTemplate(t *testing.T) {
	srcs, err := FromTemplate(repoTemplate(t))
	if err != nil {
		t.Fatal(err)
	}
	want := []EventSource{
		{
			Function: "EvaluatorFunction", Event: "Signals", Table: "Table",
			Patterns:  []string{evaluatorPattern},
			BatchSize: 25, MaximumRetryAttempts: 5, BisectBatchOnFunctionError: true, ReportBatchItemFailures: true,
			StartingPosition: "TRIM_HORIZON", MaximumBatchingWindowInSeconds: 1, MaximumRecordAgeInSeconds: 86400,
		},
		{
			Function: "MoverFunction", Event: "Decisions", Table: "Table",
			Patterns:  []string{moverPattern, `{"eventName":["INSERT"],"dynamodb":{"NewImage":{"type":{"S":["decision"]},"action":{"S":["stay"]},"flag":{"S":["follow_up"]}}}}`},
			BatchSize: 10, MaximumRetryAttempts: 8, BisectBatchOnFunctionError: true, ReportBatchItemFailures: true,
			StartingPosition: "TRIM_HORIZON", MaximumRecordAgeInSeconds: 86400,
		},
		{
			Function: "FetcherFunction", Event: "Notifications", Table: "Table",
			Patterns:  []string{`{"eventName":["INSERT"],"dynamodb":{"NewImage":{"type":{"S":["fetch"]}}}}`},
			BatchSize: 10, MaximumRetryAttempts: 2, BisectBatchOnFunctionError: true, ReportBatchItemFailures: true,
			StartingPosition: "TRIM_HORIZON", MaximumRecordAgeInSeconds: 86400,
		},
	}
	if !reflect.DeepEqual(srcs, want) {
		t.Fatalf("FromTemplate =\n%+v\nwant\n%+v", srcs, want)
	}
}

func TestFromTemplateVariants(t *testing.T) {
	tmpl := `
Transform: AWS::Serverless-2016-10-31
Conditions:
  C: !Equals [!Ref AWS::Region, us-east-1]
Resources:
  T:
    Type: AWS::DynamoDB::Table
  NoEvents:
    Type: AWS::Serverless::Function
    Properties:
      Handler: x
  Api:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Get: {Type: HttpApi, Properties: {Path: /x, Method: GET}}
  Defaults:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        S:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt [T, StreamArn]
            StartingPosition: LATEST
            Enabled: false
  LongForm:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        S:
          Type: DynamoDB
          Properties:
            Stream: {"Fn::GetAtt": ["T", "StreamArn"]}
            StartingPosition: TRIM_HORIZON
            BatchSize: "7"
            MaximumRetryAttempts: 0
            FunctionResponseTypes: [ReportBatchItemFailures]
            FilterCriteria:
              Filters:
                - Pattern: '{"eventName":["REMOVE"]}'
                - Pattern: '{"dynamodb":{"Keys":{"pk":{"S":[{"prefix":"deal#"}]}}}}'
`
	srcs, err := FromTemplate([]byte(tmpl))
	if err != nil {
		t.Fatal(err)
	}
	want := []EventSource{
		{Function: "Defaults", Event: "S", Table: "T", BatchSize: 100, MaximumRetryAttempts: -1,
			MaximumRecordAgeInSeconds: -1, StartingPosition: "LATEST", Disabled: true},
		{Function: "LongForm", Event: "S", Table: "T", BatchSize: 7, MaximumRetryAttempts: 0,
			MaximumRecordAgeInSeconds: -1, StartingPosition: "TRIM_HORIZON", ReportBatchItemFailures: true,
			Patterns: []string{`{"eventName":["REMOVE"]}`, `{"dynamodb":{"Keys":{"pk":{"S":[{"prefix":"deal#"}]}}}}`}},
	}
	if !reflect.DeepEqual(srcs, want) {
		t.Fatalf("FromTemplate =\n%+v\nwant\n%+v", srcs, want)
	}
}

func TestFromTemplateErrors(t *testing.T) {
	fn := func(props string) string {
		return "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      Events:\n        E:\n          Type: DynamoDB\n          Properties:\n" + props
	}
	cases := []struct{ tmpl, want string }{
		{"Resources: [", "parse template"},
		{"Description: x", "no Resources"},
		{fn("            BatchSize: !Ref Size\n"), "BatchSize (line 9) is !Ref, need a literal"},
		{fn("            BatchSize: many\n"), "must be an integer"},
		{fn("            BatchSize: 0\n"), "BatchSize must be at least 1"},
		{fn("            BisectBatchOnFunctionError: maybe\n"), "must be true or false"},
		{fn("            StartingPosition: AT_TIMESTAMP\n"), "not supported locally"},
		{fn("            FilterCriteria:\n              Filters:\n                - Pattern: '{\"eventName\":\"INSERT\"}'\n"),
			"Filters[0].Pattern (line 11)"},
		{fn("            FilterCriteria:\n              Filters:\n                - Pattern: !Sub '{}'\n"), "is !Sub"},
		{fn("            FilterCriteria: {}\n"), "has no Filters"},
	}
	for _, c := range cases {
		_, err := FromTemplate([]byte(c.tmpl))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("template %q: error %v, want it to contain %q", c.tmpl, err, c.want)
		}
	}
}

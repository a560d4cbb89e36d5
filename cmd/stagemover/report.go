package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/stagemover/stagemover/shared/source/pdhooks"
	"github.com/stagemover/stagemover/shared/store"
)

func init() {
	commands["report"] = command{"per pipeline and rule: moves, reverts, misses, revert rate, shadow moves confirmed by hand, evidence-to-move time", runReport}
}

func runReport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	table := fs.String("table", os.Getenv("TABLE_NAME"), "DynamoDB table (default $TABLE_NAME)")
	endpoint := fs.String("endpoint", "", "DynamoDB endpoint, e.g. http://127.0.0.1:8000 for DynamoDB Local (default: AWS from the standard configuration)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	emit := fs.Bool("emf", false, "also print CloudWatch Embedded Metric Format lines (Reverts, Misses, RevertRate per pipeline and rule)")
	setUsage(fs, "stagemover report --table NAME [--endpoint URL] [--json] [--emf]")
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return 2
	}
	if *table == "" {
		fmt.Fprintln(stderr, "stagemover report: --table (or TABLE_NAME) is required")
		return 2
	}
	var opts []func(*awsconfig.LoadOptions) error
	if *endpoint != "" {
		// DynamoDB Local accepts any credentials; do not require real ones.
		opts = append(opts, awsconfig.WithRegion(reportEnvOr("AWS_REGION", "us-east-1")),
			awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("local", "local", "")))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		fmt.Fprintln(stderr, "stagemover report: AWS configuration:", err)
		return 1
	}
	db := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		if *endpoint != "" {
			o.BaseEndpoint = aws.String(*endpoint)
		}
	})
	rep, err := pdhooks.Table{Store: store.New(db, *table)}.Report(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "stagemover report:", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintln(stderr, "stagemover report:", err)
			return 1
		}
	} else if err := rep.WriteText(stdout); err != nil {
		fmt.Fprintln(stderr, "stagemover report:", err)
		return 1
	}
	if *emit {
		rep.EmitMetrics(stdout, "StageMover", time.Now())
	}
	return 0
}

func reportEnvOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/stagemover/stagemover/shared/app"
	"github.com/stagemover/stagemover/shared/core/backfill"
	"github.com/stagemover/stagemover/shared/platform/config"
	"github.com/stagemover/stagemover/shared/store"
)

func init() {
	commands["backfill"] = command{"move a pipeline's open deals from stored evidence, within a token budget (resumable)", runBackfill}
}

func runBackfill(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("backfill", flag.ContinueOnError)
	fs.SetOutput(stderr)
	pipeline := fs.String("pipeline", "", "pipeline name (required for a new run)")
	budget := fs.Int("budget", 0, "token units this invocation may spend (required); it stops before a request that would pass it")
	runID := fs.String("run", "", "run id: resumes that run, or starts a new run with this id (default: a generated id)")
	dryRun := fs.Bool("dry-run", false, "shadow: evaluate and read deals, write nothing to Pipedrive and no decisions to the table")
	table := fs.String("table", os.Getenv(config.VarTable), "DynamoDB table (default $TABLE_NAME)")
	endpoint := fs.String("endpoint", "", "DynamoDB endpoint URL, e.g. http://127.0.0.1:8000 for DynamoDB Local")
	rules := fs.String("rules", os.Getenv("RULES_FILE"), "rules YAML (default: the embedded rules)")
	share := fs.Int("share", 1, "clients sharing the token's burst window while this runs (e.g. 1 + the deployed mover's concurrency)")
	verbose := fs.Bool("verbose", false, "print JSON logs to stderr")
	setUsage(fs, "stagemover backfill --pipeline NAME --budget N [--run ID] [--dry-run] [--table T] [--endpoint URL]",
		"Pipedrive: PIPEDRIVE_BASE_URL and PIPEDRIVE_API_TOKEN from the environment (the token is never a flag).")
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() != 0 || *budget <= 0 || (*pipeline == "" && *runID == "") || *table == "" || *share < 1 {
		fs.Usage()
		return 2
	}
	token := strings.TrimSpace(os.Getenv("PIPEDRIVE_API_TOKEN"))
	if token == "" {
		fmt.Fprintln(stderr, "stagemover backfill: PIPEDRIVE_API_TOKEN is not set")
		return 2
	}
	cfg, err := config.Load(os.Getenv)
	if err != nil {
		fmt.Fprintln(stderr, "stagemover backfill:", err)
		return 2
	}
	cfg.TableName = *table
	cfg.RulesFile = *rules
	cfg.MoverConcurrency = *share
	cfg.Mode = config.ModeLive
	if *dryRun {
		cfg.Mode = config.ModeShadow
	}
	db, err := dynamoClient(ctx, *endpoint)
	if err != nil {
		fmt.Fprintln(stderr, "stagemover backfill:", err)
		return 1
	}
	level := "warn"
	if *verbose {
		level = "info"
	}
	b, err := newBackfill(app.Deps{Config: cfg, DB: db, Token: token, Log: app.Logger(stderr, level)}, stdout)
	if err != nil {
		fmt.Fprintln(stderr, "stagemover backfill:", err)
		return 1
	}
	p, err := b.Run(ctx, backfill.Options{RunID: *runID, Pipeline: *pipeline, Budget: *budget, DryRun: *dryRun})
	if err != nil {
		fmt.Fprintln(stderr, "stagemover backfill:", err)
		if errors.Is(err, backfill.ErrMismatch) {
			return 2
		}
		return 1
	}
	if !p.Done {
		return 3 // stopped at the budget or interrupted: resumable
	}
	return 0
}

// newBackfill wires a backfill from the functions' own builders: the
// mover and its client (app.Mover), the stage map, the default engine.
func newBackfill(d app.Deps, out io.Writer) (*backfill.Backfill, error) {
	engine, err := app.DefaultEngine(d.Config.RulesFile)
	if err != nil {
		return nil, err
	}
	m, client, err := app.Mover(d)
	if err != nil {
		return nil, err
	}
	st := store.New(d.DB, d.Config.TableName)
	return &backfill.Backfill{
		Store:           st,
		Pipedrive:       client,
		Stages:          m.Stages,
		Engine:          engine,
		Mover:           *m,
		InternalDomains: d.Config.InternalDomains,
		Window:          d.Config.EvidenceWindow,
		Log:             d.Log.With("command", "backfill"),
		Out:             out,
	}, nil
}

// dynamoClient uses the AWS default configuration, or an endpoint such as
// DynamoDB Local; a loopback endpoint needs no real credentials.
func dynamoClient(ctx context.Context, endpoint string) (*dynamodb.Client, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if endpoint != "" {
		u, err := url.Parse(endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("--endpoint %q is not an http(s) URL", endpoint)
		}
		if h := u.Hostname(); (h == "127.0.0.1" || h == "localhost" || h == "::1") && os.Getenv("AWS_ACCESS_KEY_ID") == "" {
			opts = append(opts, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("local", "local", "")))
		}
		if os.Getenv("AWS_REGION") == "" && os.Getenv("AWS_DEFAULT_REGION") == "" {
			opts = append(opts, awsconfig.WithRegion("us-east-1"))
		}
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("aws config: %w", err)
	}
	return dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	}), nil
}

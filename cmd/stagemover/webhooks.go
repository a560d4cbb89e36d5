package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/stagemover/stagemover/shared/pipedrive"
	"github.com/stagemover/stagemover/shared/source/pdhooks"
)

func init() {
	commands["pipedrive-webhooks"] = command{"register the Pipedrive webhooks (v2, basic auth) for POST /pipedrive; running it again creates no duplicates", runPDWebhooks}
}

// runPDWebhooks registers change.deal, delete.deal, *.stage and *.pipeline webhooks to
// --url with Registrar.Ensure. The API token (PIPEDRIVE_API_TOKEN) and the
// basic auth password (PIPEDRIVE_WEBHOOK_PASSWORD) come from the
// environment, never from flags: flags end up in shell history.
func runPDWebhooks(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pipedrive-webhooks", flag.ContinueOnError)
	fs.SetOutput(stderr)
	hookURL := fs.String("url", "", "the deployed POST /pipedrive URL, e.g. https://<api>.execute-api.<region>.amazonaws.com/pipedrive")
	user := fs.String("user", "stagemover", "basic auth user Pipedrive sends (http_auth_user of the webhook secret)")
	userID := fs.Int64("user-id", envInt("PIPEDRIVE_INTEGRATION_USER_ID"), "Pipedrive user the webhooks are authorized as (default $PIPEDRIVE_INTEGRATION_USER_ID; 0: the token's user)")
	setUsage(fs, "stagemover pipedrive-webhooks --url URL [--user NAME] [--user-id ID]",
		"The API token (PIPEDRIVE_API_TOKEN) and the basic auth password (PIPEDRIVE_WEBHOOK_PASSWORD) come from the environment.")
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return 2
	}
	u, err := url.Parse(*hookURL)
	if *hookURL == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		fmt.Fprintln(stderr, "stagemover pipedrive-webhooks: --url must be the absolute URL of POST /pipedrive")
		fs.Usage()
		return 2
	}
	token := strings.TrimSpace(os.Getenv("PIPEDRIVE_API_TOKEN"))
	password := os.Getenv("PIPEDRIVE_WEBHOOK_PASSWORD")
	var missing []string
	if token == "" {
		missing = append(missing, "PIPEDRIVE_API_TOKEN")
	}
	if password == "" {
		missing = append(missing, "PIPEDRIVE_WEBHOOK_PASSWORD (the http_auth_password of the webhook secret)")
	}
	if *user == "" {
		missing = append(missing, "--user")
	}
	if len(missing) > 0 {
		fmt.Fprintln(stderr, "stagemover pipedrive-webhooks: missing", strings.Join(missing, ", "))
		return 2
	}
	client, err := pipedrive.New(pipedrive.Config{
		BaseURL: os.Getenv("PIPEDRIVE_BASE_URL"), // "" = https://api.pipedrive.com
		Token:   pipedrive.StaticToken(token),
	})
	if err != nil {
		fmt.Fprintln(stderr, "stagemover pipedrive-webhooks:", err)
		return 2
	}
	r := &pdhooks.Registrar{
		API:    client,
		URL:    *hookURL,
		Auth:   pdhooks.Credentials{User: *user, Password: password},
		UserID: *userID,
		Log:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	res, err := r.Ensure(ctx, nil)
	for _, x := range res {
		fmt.Fprintf(stdout, "%s.%s webhook %d %s\n", x.Subscription.Action, x.Subscription.Object, x.WebhookID, x.Done)
	}
	if err != nil {
		// Registrar errors are redacted (token and password).
		fmt.Fprintln(stderr, "stagemover pipedrive-webhooks:", err)
		return 1
	}
	return 0
}

func envInt(name string) int64 {
	v, _ := strconv.ParseInt(os.Getenv(name), 10, 64)
	return v
}

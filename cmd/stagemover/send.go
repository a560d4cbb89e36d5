package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/stagemover/stagemover/shared/dev/local"
	"github.com/stagemover/stagemover/shared/source/ingest"
)

func init() {
	commands["send"] = command{"sign a signal envelope (JSON file or -) and POST it to /signals", runSend}
}

func runSend(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("send", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", "http://127.0.0.1:8080", "base URL of the stagemover HTTP API")
	secretEnv := fs.String("secret-env", "STAGEMOVER_INGEST_SECRET", "environment variable holding the signing secret")
	setUsage(fs, "stagemover send [--url URL] [--secret-env NAME] FILE|-")
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	var body []byte
	var err error
	if fs.Arg(0) == "-" {
		body, err = io.ReadAll(os.Stdin)
	} else {
		body, err = os.ReadFile(fs.Arg(0))
	}
	if err != nil {
		fmt.Fprintln(stderr, "stagemover send:", err)
		return 1
	}
	secret := os.Getenv(*secretEnv)
	if secret == "" {
		secret = local.DevIngestSecret
	}
	code, resp, err := postSigned(ctx, *url, []byte(secret), body)
	if err != nil {
		fmt.Fprintln(stderr, "stagemover send:", err)
		return 1
	}
	fmt.Fprintf(stdout, "%d %s\n", code, strings.TrimSpace(string(resp)))
	if code >= 300 {
		return 1
	}
	return 0
}

// postSigned signs body the way senders must and posts it to /signals.
func postSigned(ctx context.Context, baseURL string, secret, body []byte) (int, []byte, error) {
	ts, sig := ingest.Sign(secret, time.Now(), body)
	return post(ctx, strings.TrimRight(baseURL, "/")+"/signals", body, map[string]string{
		ingest.HeaderTimestamp: ts, ingest.HeaderSignature: sig})
}

// post sends a JSON body with headers and returns the status and body.
func post(ctx context.Context, url string, body []byte, headers map[string]string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, out, err
}

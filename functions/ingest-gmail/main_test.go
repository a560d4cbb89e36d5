package main

// These tests run the real bootstrap (built as for Lambda) under the Lambda
// Runtime Interface Emulator, against DynamoDB Local and the Google
// stand-in (shared/source/gmail/gmailtest) serving the OIDC signing keys over real
// HTTP, configured only through the environment template.yaml gives the
// function. The sample events/ingest-gmail.json carries a push token that
// expired long ago; each delivery here carries a fresh token with the
// sample's claims, signed with the sample's key (which the stand-in
// publishes), as Pub/Sub signs every push anew.

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stagemover/stagemover/shared/source/gmail/gmailtest"
	"github.com/stagemover/stagemover/shared/store"
	"github.com/stagemover/stagemover/shared/testkit"
	"github.com/stagemover/stagemover/shared/testkit/lambdatest"
)

func TestMain(m *testing.M) { os.Exit(lambdatest.RunTests(m)) }

type fixture struct {
	*lambdatest.Fixture
	google *gmailtest.Server
	sample []byte
	claims gmailtest.PushClaims // the sample token's claims
}

func setup(t *testing.T) *fixture {
	keys, err := gmailtest.NewKeySetFromPEM(testkit.ReadRepoFile(t, "shared/source/gmail/testdata/sample-oidc-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	google := gmailtest.NewServerWithKeys(keys)
	t.Cleanup(google.Close)

	sample := testkit.Event(t, "ingest-gmail.json")
	f := &fixture{Fixture: lambdatest.NewFixture(t, "ingest-gmail"), google: google, sample: sample, claims: sampleClaims(t, sample)}
	f.Env["GMAIL_PUSH_AUDIENCE"] = f.claims.Audience
	f.Env["GMAIL_PUSH_SERVICE_ACCOUNT"] = f.claims.Email
	f.Env["GMAIL_MAILBOXES"] = "sam.ortega@acme-routing.io"
	// Where the function finds the stand-in.
	f.Env["GOOGLE_CERTS_URL"] = google.CertsURL()
	return f
}

// sampleClaims decodes the claims of the sample's push token.
func sampleClaims(t *testing.T, sample []byte) gmailtest.PushClaims {
	t.Helper()
	tok := strings.TrimPrefix(testkit.DecodeHTTPEvent(t, sample).Headers["authorization"], "Bearer ")
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatal("the sample carries no JWT bearer token")
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c gmailtest.PushClaims
	if err := json.Unmarshal(raw, &c); err != nil || c.Audience == "" || c.Email == "" {
		t.Fatalf("sample token claims %s: %v", raw, err)
	}
	return c
}

// fresh returns the sample's claims issued now, changed by edit.
func (f *fixture) fresh(edit func(*gmailtest.PushClaims)) gmailtest.PushClaims {
	c := f.claims
	now := time.Now()
	c.Iat, c.Exp = now.Unix(), now.Add(time.Hour).Unix()
	if edit != nil {
		edit(&c)
	}
	return c
}

func (f *fixture) push(t *testing.T, token string) []byte {
	t.Helper()
	return testkit.WithHeaders(t, f.sample, nil, map[string]string{"authorization": "Bearer " + token})
}

func TestIngestGmailSample(t *testing.T) {
	f := setup(t)
	rie := f.Start(t)
	keys := f.google.Keys
	kid := keys.CurrentKID()
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}

	// The fetch item the fetcher's sample (events/fetcher-gmail.json) holds
	// is the one this push must become.
	want, err := store.FetchFromItem(lambdatest.NewImage(t, lambdatest.StreamEvent(t, testkit.Event(t, "fetcher-gmail.json")), 0))
	if err != nil {
		t.Fatal(err)
	}

	// Refused with 401, storing nothing.
	refused := map[string][]byte{
		"the sample's expired token": f.sample,
		"no Authorization header":    testkit.WithHeaders(t, f.sample, nil, map[string]string{"authorization": ""}),
		"wrong audience": f.push(t, keys.Mint(f.fresh(func(c *gmailtest.PushClaims) {
			c.Audience = "https://attacker.example/gmail/push"
		}))),
		"wrong issuer": f.push(t, keys.Mint(f.fresh(func(c *gmailtest.PushClaims) { c.Iss = "https://evil.example" }))),
		"another service account": f.push(t, keys.Mint(f.fresh(func(c *gmailtest.PushClaims) {
			c.Email = "someone@other-project.iam.gserviceaccount.com"
		}))),
		"expired": f.push(t, keys.Mint(f.fresh(func(c *gmailtest.PushClaims) {
			c.Iat, c.Exp = time.Now().Add(-2*time.Hour).Unix(), time.Now().Add(-time.Hour).Unix()
		}))),
		"signed with a key Google never published": f.push(t, keys.MintWith(f.fresh(nil), kid, other)),
	}
	for what, event := range refused {
		if resp := rie.InvokeHTTP(t, event); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: %d %s, want 401", what, resp.StatusCode, resp.Body)
		}
	}
	if n := len(f.Fetches(t)); n != 0 {
		t.Fatalf("%d fetch items stored by refused pushes, want 0", n)
	}

	token := keys.Mint(f.fresh(nil))
	start := time.Now()
	resp := rie.InvokeHTTP(t, f.push(t, token))
	if resp.StatusCode != http.StatusAccepted || !strings.Contains(resp.Body, `"stored"`) {
		t.Fatalf("push: %d %s, want 202 stored\n%s", resp.StatusCode, resp.Body, rie.Output())
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("push answered after %s", took)
	}
	f.AssertOneFetch(t, want, "push", "fetcher-gmail.json")

	// Pub/Sub redelivers the message (same messageId) with a new token.
	resp = rie.InvokeHTTP(t, f.push(t, keys.Mint(f.fresh(func(c *gmailtest.PushClaims) { c.Iat-- }))))
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Body, `"duplicate"`) {
		t.Errorf("redelivery: %d %s, want 200 duplicate", resp.StatusCode, resp.Body)
	}
	if resp := rie.InvokeHTTP(t, f.sample); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("expired sample token after a stored push: %d, want 401", resp.StatusCode)
	}
	if n := len(f.Fetches(t)); n != 1 {
		t.Errorf("%d fetch items after a redelivery and a refused push, want still 1", n)
	}
	if n := f.google.Count(gmailtest.OpCerts); n < 1 || n > 2 {
		t.Errorf("the function fetched Google's keys %d times, want once (twice at most, for the unknown key)", n)
	}

	out := rie.Output()
	if !strings.Contains(out, `"result":"stored"`) || !strings.Contains(out, `"msg":"ingest rejected"`) {
		t.Errorf("expected the function's JSON log lines in its output:\n%s", out)
	}
	testkit.AssertNoSecrets(t, out, token)
}

// A missing variable stops the function at init, naming the variable.
func TestIngestGmailMissingEnvFailsInit(t *testing.T) {
	f := setup(t)
	event := f.push(t, f.google.Keys.Mint(f.fresh(nil)))
	f.AssertInitFailsWithout(t, event, []string{"GMAIL_PUSH_AUDIENCE", "GMAIL_PUSH_SERVICE_ACCOUNT", "TABLE_NAME"}, func(t *testing.T) {
		if n := len(f.Fetches(t)); n != 0 {
			t.Errorf("%d fetch items stored by a function that failed init", n)
		}
	})
}

package testkit

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
)

// The keys the events/ samples are signed with (events/README.md). They
// are published: never deploy them.
const (
	SampleIngestSecret       = "stagemover-sample-secret-not-for-production"
	SampleCalendlySigningKey = "calendly-sample-signing-key-not-for-production"
	SampleGraphClientState   = "stagemover-graph-sample-client-state-not-for-production"
	SamplePandaDocSharedKey  = "pandadoc-sample-shared-key-not-for-production"
	SampleDocuSignHMACKey    = "docusign-sample-hmac-key-not-for-production"
	SamplePipedriveUser      = "stagemover"
	SamplePipedrivePassword  = "pipedrive-sample-password-not-for-production"
)

// RandomSecret is prefix followed by 48 random hex digits: a value no log
// line contains by chance.
func RandomSecret(t testing.TB, prefix string) string {
	t.Helper()
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return prefix + hex.EncodeToString(b)
}

// AssertNoSecrets fails the test when any of secrets occurs in output (a
// function's or a handler's logs). Empty secrets are ignored; the failure
// shows only the secret's first characters.
func AssertNoSecrets(t testing.TB, output string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(output, s) {
			t.Errorf("a secret (%d characters, starting %q) appears in the output", len(s), s[:min(4, len(s))])
		}
	}
}

// SecretJSON is a JSON secret value of string fields
// ({"api_token":"..."}), as Secrets Manager holds the project's secrets.
func SecretJSON(fields ...string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(fields); i += 2 {
		m[fields[i]] = fields[i+1]
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// SecretField is field of a JSON secret value, as the functions read it.
func SecretField(t testing.TB, secret, field string) string {
	t.Helper()
	var obj map[string]string
	if err := json.Unmarshal([]byte(secret), &obj); err != nil {
		t.Fatalf("testkit: secret is not a JSON object of strings")
	}
	return obj[field]
}

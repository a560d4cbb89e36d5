package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stagemover/stagemover/shared/testkit"
)

// localKeyEnv are the variables the local mode reads its webhook keys from.
var localKeyEnv = []string{"STAGEMOVER_INGEST_SECRET", "CALENDLY_SIGNING_KEY", "PANDADOC_SHARED_KEY", "DOCUSIGN_HMAC_KEY"}

// unsetenv removes name for the test (t.Setenv restores it afterwards).
func unsetenv(t *testing.T, name string) {
	t.Helper()
	t.Setenv(name, "")
	os.Unsetenv(name)
}

// localEnv leaves the local mode on its stand-ins and development keys.
func localEnv(t *testing.T) {
	t.Helper()
	for _, v := range append([]string{"PIPEDRIVE_BASE_URL", "PIPEDRIVE_API_TOKEN", "PIPEDRIVE_WEBHOOK_PASSWORD"}, localKeyEnv...) {
		unsetenv(t, v)
	}
}

// A key set to something no route may verify with (a placeholder, empty,
// shorter than 16 bytes) stops `stagemover local` before it starts
// anything, with a message naming the variable and never its value.
func TestLocalRefusesUnusableKeys(t *testing.T) {
	for _, name := range localKeyEnv {
		for _, value := range []string{"REPLACE_ME", "", "short-key", "changeme", "xxxxxxxxxxxxxxxxxxxx", "a-usable-key-0123456789,REPLACE_ME"} {
			t.Run(name+"="+value, func(t *testing.T) {
				localEnv(t)
				t.Setenv(name, value)
				// Cancelled: a run that got past the keys stops at once.
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				var stdout, stderr bytes.Buffer
				code := runLocal(ctx, []string{"--addr", "127.0.0.1:0"}, &stdout, &stderr)
				out := stdout.String() + stderr.String()
				if code == 0 {
					t.Fatalf("exit 0 with %s=%q:\n%s", name, value, out)
				}
				if !strings.Contains(stderr.String(), name) {
					t.Errorf("the refusal does not name %s:\n%s", name, out)
				}
				if strings.Contains(stdout.String(), "starting") {
					t.Errorf("started before refusing the key:\n%s", out)
				}
				for _, v := range strings.Split(value, ",") {
					if v != "" && strings.Contains(out, v) {
						t.Errorf("the output quotes the value of %s", name)
					}
				}
			})
		}
	}
}

// `stagemover local` says which webhook keys are set, and prints none of them.
func TestLocalPrintsNoKeys(t *testing.T) {
	localEnv(t)
	keys := map[string]string{}
	for _, name := range localKeyEnv {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			t.Fatal(err)
		}
		keys[name] = "local-test-" + hex.EncodeToString(b)
		t.Setenv(name, keys[name])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr testkit.LogBuffer
	done := make(chan int, 1)
	go func() { done <- runLocal(ctx, []string{"--addr", "127.0.0.1:0"}, &stdout, &stderr) }()
	for !strings.Contains(stdout.String(), "Ctrl-C stops.") {
		select {
		case code := <-done:
			t.Fatalf("local exited %d before it was ready", code)
		case <-time.After(50 * time.Millisecond):
		}
	}
	cancel()
	code := <-done
	out := stdout.String() + stderr.String()
	if code != 0 {
		t.Errorf("local exited %d after Ctrl-C", code)
	}
	for name, key := range keys {
		if strings.Contains(out, key) {
			t.Errorf("the output prints the key in %s", name) // not the output: it holds the key
		}
		if !strings.Contains(stdout.String(), name+" is set") {
			t.Errorf("the output does not say %s is set", name)
		}
	}
}

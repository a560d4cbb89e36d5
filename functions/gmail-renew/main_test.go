package main

// The job's sample run (it watches the mailbox, then keeps the watch) is a
// row of TestEveryFunctionWithItsSample (shared/testkit/lambdatest); this is
// its failure: the real bootstrap under the Lambda Runtime Interface
// Emulator, with the environment template.yaml gives it, against DynamoDB
// Local, the in-process Secrets Manager holding the mailbox's OAuth
// credentials, and the Google stand-in answering 503.

import (
	"context"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/stagemover/stagemover/shared/source/gmail"
	"github.com/stagemover/stagemover/shared/source/gmail/gmailtest"
	"github.com/stagemover/stagemover/shared/store"
	"github.com/stagemover/stagemover/shared/testkit"
	"github.com/stagemover/stagemover/shared/testkit/lambdatest"
)

func TestMain(m *testing.M) { os.Exit(lambdatest.RunTests(m)) }

// Gmail failing makes the run fail (Lambda counts an error, which the
// GmailRenewErrorsAlarm watches) and stores no watch.
func TestGmailRenewFailureIsAnError(t *testing.T) {
	f := lambdatest.NewFixture(t, "gmail-renew")
	google, err := gmailtest.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(google.Close)
	mailbox := testkit.SampleMailbox
	creds := string(google.AddRefreshToken(mailbox))
	if testkit.SecretField(t, creds, "refresh_token") == "" {
		t.Fatalf("authorized_user JSON without a refresh token: %s", creds)
	}
	f.PutSecret(t, "GMAIL_CREDENTIALS_SECRET_ARN", "stagemover/gmail-credentials", creds,
		testkit.SecretField(t, creds, "client_secret"), testkit.SecretField(t, creds, "refresh_token"))
	f.Env["GMAIL_BASE_URL"], f.Env["GOOGLE_TOKEN_URL"] = google.URL, google.TokenURL()
	rie := f.Start(t)

	google.Fail(gmailtest.OpWatch, http.StatusServiceUnavailable)
	msg := rie.InvokeScheduled(t, testkit.Event(t, "schedule.json"))
	if msg == "" || !strings.Contains(msg, mailbox) {
		t.Fatalf("run with Gmail answering 503: error %q, want one naming %s\n%s", msg, mailbox, rie.Output())
	}
	state := gmail.StoreState{Docs: store.New(f.Table.DB, f.Table.Name)}
	if _, found, _ := state.GetWatchExpiry(context.Background(), mailbox); found {
		t.Error("a watch expiry was stored although users.watch failed")
	}
	f.AssertNoSecrets(t, rie.Output()+msg)
}

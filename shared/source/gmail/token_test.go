package gmail_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stagemover/stagemover/shared/platform/retry"
	"github.com/stagemover/stagemover/shared/source/gmail"
	"github.com/stagemover/stagemover/shared/source/gmail/gmailtest"
	"github.com/stagemover/stagemover/shared/testkit"
)

func staticSecret(s []byte) func(context.Context) (string, error) {
	return func(context.Context) (string, error) { return string(s), nil }
}

func TestServiceAccountTokensPerMailboxCachedUntilExpiry(t *testing.T) {
	g := google(t)
	keyFile, err := g.AddServiceAccount(saEmail, "acme-routing.io")
	if err != nil {
		t.Fatal(err)
	}
	c := testkit.NewClock(time.Now())
	g.Now = c.Now
	o := &gmail.OAuth{Secret: staticSecret(keyFile), TokenURL: g.TokenURL(), Now: c.Now}
	a1, err := o.Token(ctxT(t), rep)
	if err != nil {
		t.Fatal(err)
	}
	a2, _ := o.Token(ctxT(t), rep)
	if a1 != a2 || g.Count(gmailtest.OpToken) != 1 {
		t.Fatalf("second call not cached: %d token requests", g.Count(gmailtest.OpToken))
	}
	b, err := o.Token(ctxT(t), "li.chen@acme-routing.io")
	if err != nil || b == a1 {
		t.Fatalf("another mailbox shares a token: %v", err)
	}
	// The assertion is the documented JWT bearer grant.
	as := g.Assertions()
	if len(as) != 2 {
		t.Fatalf("assertions = %d", len(as))
	}
	claims := as[0]
	if claims["iss"] != saEmail || claims["sub"] != rep || claims["aud"] != g.TokenURL() || claims["scope"] != gmail.ScopeReadonly {
		t.Fatalf("assertion claims %v", claims)
	}
	if exp, iat := claims["exp"].(float64), claims["iat"].(float64); exp-iat != 3600 {
		t.Fatalf("assertion lifetime %v s", exp-iat)
	}
	// Tokens live 3599 s; a minute before that a new one is fetched.
	c.Advance(58 * time.Minute)
	if a3, _ := o.Token(ctxT(t), rep); a3 != a1 || g.Count(gmailtest.OpToken) != 2 {
		t.Fatal("token renewed while still valid for a minute")
	}
	c.Advance(time.Minute)
	if a3, _ := o.Token(ctxT(t), rep); a3 == a1 || g.Count(gmailtest.OpToken) != 3 {
		t.Fatalf("expiring token not renewed (%d requests)", g.Count(gmailtest.OpToken))
	}
}

func TestRefreshTokenGrant(t *testing.T) {
	g := google(t)
	creds := g.AddRefreshToken(rep)
	o := &gmail.OAuth{Secret: staticSecret(creds), TokenURL: g.TokenURL()}
	c := &gmail.Client{BaseURL: g.URL, Tokens: o}
	g.AddMessage(rep, rawMail(buyer, rep, "", "hi", nil, "hi\r\n"), sentAt)
	page, err := c.MessagesList(ctxT(t), rep, "", "")
	if err != nil || len(page.Messages) != 1 {
		t.Fatalf("messages.list with a refresh-token grant: %+v %v", page, err)
	}
	if _, err := c.MessagesList(ctxT(t), rep, "", ""); err != nil {
		t.Fatal(err)
	}
	if n := g.Count(gmailtest.OpToken); n != 1 {
		t.Fatalf("token requests = %d, want 1 (cached)", n)
	}
	// A revoked refresh token: not retryable, no secret in the error.
	var m map[string]string
	_ = json.Unmarshal(creds, &m)
	m["refresh_token"] = "1//0gREVOKED" + strings.Repeat("x", 30)
	bad, _ := json.Marshal(m)
	o2 := &gmail.OAuth{Secret: staticSecret(bad), TokenURL: g.TokenURL()}
	_, err = o2.Token(ctxT(t), rep)
	if !errors.Is(err, gmail.ErrAuth) || retry.IsLater(err) {
		t.Fatalf("revoked refresh token: %v", err)
	}
	for _, secret := range []string{m["refresh_token"], m["client_secret"]} {
		if strings.Contains(err.Error(), secret) {
			t.Fatal("error contains a secret")
		}
	}
}

func TestDelegationAndSecretErrors(t *testing.T) {
	g := google(t)
	keyFile, _ := g.AddServiceAccount(saEmail, "acme-routing.io")
	o := &gmail.OAuth{Secret: staticSecret(keyFile), TokenURL: g.TokenURL()}
	_, err := o.Token(ctxT(t), "ceo@not-delegated.example")
	if !errors.Is(err, gmail.ErrAuth) || retry.IsLater(err) || !strings.Contains(err.Error(), "unauthorized_client") {
		t.Fatalf("mailbox outside the delegated domain: %v", err)
	}
	for name, secret := range map[string]string{
		"not json":      "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----",
		"unknown type":  `{"type":"external_account","audience":"x"}`,
		"no key":        `{"type":"service_account","client_email":"a@b.iam.gserviceaccount.com"}`,
		"key not pem":   `{"type":"service_account","client_email":"a@b.iam.gserviceaccount.com","private_key":"MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"}`,
		"user no token": `{"type":"authorized_user","client_id":"x","client_secret":"GOCSPX-topsecret"}`,
	} {
		o := &gmail.OAuth{Secret: staticSecret([]byte(secret)), TokenURL: g.TokenURL()}
		_, err := o.Token(ctxT(t), rep)
		if !errors.Is(err, gmail.ErrAuth) {
			t.Fatalf("%s: %v", name, err)
		}
		if strings.Contains(err.Error(), "MIIEvQ") || strings.Contains(err.Error(), "topsecret") {
			t.Fatalf("%s: error quotes the secret: %v", name, err)
		}
	}
}

func TestClientRetriesOnceOn401AndWatchStop(t *testing.T) {
	g := google(t)
	keyFile, _ := g.AddServiceAccount(saEmail, "acme-routing.io")
	c := &gmail.Client{BaseURL: g.URL, Tokens: &gmail.OAuth{Secret: staticSecret(keyFile), TokenURL: g.TokenURL()}}
	w, err := c.Watch(ctxT(t), rep, gmail.WatchRequest{TopicName: "projects/acme-routing-mail/topics/gmail", LabelIDs: []string{"INBOX"}, LabelFilterBehavior: "INCLUDE"})
	if err != nil {
		t.Fatal(err)
	}
	exp, err := w.Expires()
	if err != nil || exp.Before(time.Now().Add(6*24*time.Hour)) {
		t.Fatalf("watch expiration %v %v", exp, err)
	}
	g.RevokeAccessTokens()
	if err := c.Stop(ctxT(t), rep); err != nil {
		t.Fatalf("stop after the access token was revoked: %v", err)
	}
	if n := g.Count(gmailtest.OpToken); n != 2 {
		t.Fatalf("token requests = %d, want 2 (one renewal after 401)", n)
	}
	// A mailbox the token is not for: 403, not retried, not retryable.
	_, err = c.Watch(ctxT(t), "other@acme-routing.io", gmail.WatchRequest{TopicName: "bad-topic"})
	var apiErr *gmail.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 400 || retry.IsLater(err) {
		t.Fatalf("bad topic: %v", err)
	}
	_, err = c.MessageGet(ctxT(t), rep, "0000000000000000")
	if !errors.Is(err, gmail.ErrNotFound) || !strings.Contains(err.Error(), "notFound") {
		t.Fatalf("unknown message: %v", err)
	}
	g.Fail(gmailtest.OpMessagesList, 429)
	_, err = c.MessagesList(ctxT(t), rep, "", "")
	if !retry.IsLater(err) || !strings.Contains(err.Error(), "rateLimitExceeded") {
		t.Fatalf("429: %v", err)
	}
}

func TestClientNetworkErrorIsRetryable(t *testing.T) {
	g := google(t)
	keyFile, _ := g.AddServiceAccount(saEmail, "acme-routing.io")
	c := &gmail.Client{BaseURL: "http://127.0.0.1:1", Tokens: &gmail.OAuth{Secret: staticSecret(keyFile), TokenURL: g.TokenURL()}}
	_, err := c.HistoryList(ctxT(t), rep, 5, "")
	if !retry.IsLater(err) {
		t.Fatalf("connection refused: %v", err)
	}
	o := &gmail.OAuth{Secret: staticSecret(keyFile), TokenURL: "http://127.0.0.1:1/token"}
	if _, err := o.Token(ctxT(t), rep); !retry.IsLater(err) {
		t.Fatalf("token endpoint down: %v", err)
	}
}

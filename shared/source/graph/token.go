package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// accessToken returns a valid access token, requesting one when none is cached or
// the cached one is within TokenMargin of expiring. Concurrent callers wait
// for one request.
func (c *Client) accessToken(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	margin := c.TokenMargin
	if margin <= 0 {
		margin = 5 * time.Minute
	}
	if c.cached != "" && c.now().Add(margin).Before(c.expires) {
		return c.cached, nil
	}
	if c.Credentials == nil {
		return "", fmt.Errorf("%w: no credentials configured", ErrCredentials)
	}
	creds, err := c.Credentials(ctx)
	if err != nil {
		return "", err
	}
	tok, ttl, err := c.requestToken(ctx, creds)
	if err != nil {
		return "", err
	}
	c.cached, c.expires = tok, c.now().Add(ttl)
	return tok, nil
}

// invalidate drops tok if it is still the cached token (Graph refused it).
func (c *Client) invalidate(tok string) {
	c.mu.Lock()
	if c.cached == tok {
		c.cached, c.expires = "", time.Time{}
	}
	c.mu.Unlock()
}

// requestToken is the client credentials request (auth-v2-service.md, step 4).
func (c *Client) requestToken(ctx context.Context, creds Credentials) (string, time.Duration, error) {
	c.requests.Add(1)
	form := url.Values{
		"client_id":     {creds.ClientID},
		"scope":         {Scope},
		"client_secret": {creds.ClientSecret},
		"grant_type":    {"client_credentials"},
	}
	endpoint := c.loginURL() + "/" + url.PathEscape(creds.TenantID) + "/oauth2/v2.0/token"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return "", 0, &APIError{Op: "token", Err: err}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return "", 0, &APIError{Op: "token", Err: scrub(err, creds.ClientSecret)}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		// {"error":"invalid_client","error_description":"AADSTS7000215: ...","error_codes":[...],...}
		var e struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		_ = json.Unmarshal(body, &e)
		desc := e.Description
		if i := strings.IndexAny(desc, "\r\n"); i >= 0 {
			desc = desc[:i] // AAD appends trace and correlation ids on new lines
		}
		return "", 0, &APIError{Op: "token", Status: resp.StatusCode, Code: e.Error,
			Message: redact(truncate(desc, 300), creds.ClientSecret), RetryAfter: retryAfter(resp.Header, c.now())}
	}
	var t struct {
		TokenType   string          `json:"token_type"`
		ExpiresIn   json.RawMessage `json:"expires_in"`
		AccessToken string          `json:"access_token"`
	}
	if err := json.Unmarshal(body, &t); err != nil || t.AccessToken == "" {
		return "", 0, &APIError{Op: "token", Status: resp.StatusCode, Message: "the token response holds no access_token"}
	}
	if t.TokenType != "" && !strings.EqualFold(t.TokenType, "Bearer") {
		return "", 0, &APIError{Op: "token", Status: resp.StatusCode, Message: "token_type is not Bearer"}
	}
	secs, err := strconv.ParseInt(strings.Trim(string(t.ExpiresIn), `"`), 10, 64)
	if err != nil || secs <= 0 {
		secs = 300 // unknown lifetime: reuse briefly
	}
	return t.AccessToken, time.Duration(secs) * time.Second, nil
}

// call sends one Graph request with the cached token; a 401 drops the token

package gmail

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/stagemover/stagemover/shared/platform/retry"
)

// GoogleTokenURL is Google's OAuth 2.0 token endpoint.
const GoogleTokenURL = "https://oauth2.googleapis.com/token"

// ScopeReadonly is the only Gmail scope stagemover needs (history.list,
// messages.get/list and watch accept it).
const ScopeReadonly = "https://www.googleapis.com/auth/gmail.readonly"

// ErrAuth marks a credential Google refuses (a revoked refresh token, a
// service account without domain-wide delegation for the mailbox): retrying
// does not help, an operator must fix the secret or the delegation.
var ErrAuth = errors.New("google refused the credentials")

// TokenSource gives an OAuth access token for calls on a mailbox.
type TokenSource interface {
	Token(ctx context.Context, mailbox string) (string, error)
	// Invalidate drops a cached token Gmail answered 401 to.
	Invalidate(mailbox string)
}

// OAuth gets access tokens with the credentials in a Secrets Manager secret,
// which holds one of the JSON files Google hands out:
//
//   - a service account key file {"type":"service_account","client_email",
//     "private_key","private_key_id",...} for a Workspace domain where the
//     account has domain-wide delegation: each mailbox is impersonated with
//     a JWT bearer assertion whose sub is the mailbox
//     (https://developers.google.com/identity/protocols/oauth2/service-account);
//   - an authorized user file {"type":"authorized_user","client_id",
//     "client_secret","refresh_token"} for one mailbox that granted
//     gmail.readonly consent (refresh-token grant).
//
// Tokens are cached per mailbox until a minute before they expire. The
// secret, the assertion and the tokens never appear in errors or logs.
type OAuth struct {
	Secret   func(ctx context.Context) (string, error)
	TokenURL string   // default GoogleTokenURL
	Scopes   []string // default ScopeReadonly
	HTTP     *http.Client
	Now      func() time.Time

	mu    sync.Mutex
	cache map[string]cachedToken
}

type cachedToken struct {
	token   string
	expires time.Time
}

// credentials is the secret's JSON (only the fields used).
type credentials struct {
	Type         string `json:"type"`
	ClientEmail  string `json:"client_email"`
	PrivateKey   string `json:"private_key"`
	PrivateKeyID string `json:"private_key_id"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	RefreshToken string `json:"refresh_token"`
}

func (o *OAuth) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

func (o *OAuth) tokenURL() string {
	if o.TokenURL != "" {
		return o.TokenURL
	}
	return GoogleTokenURL
}

// Token returns a cached or new access token for mailbox.
func (o *OAuth) Token(ctx context.Context, mailbox string) (string, error) {
	raw, err := o.Secret(ctx)
	if err != nil {
		return "", fmt.Errorf("%w: gmail credentials secret: %v", retry.ErrLater, err)
	}
	creds, err := parseCredentials(raw)
	if err != nil {
		return "", err
	}
	key := strings.ToLower(mailbox)
	if creds.Type == "authorized_user" {
		key = "" // one user's token serves that user's mailbox
	}
	o.mu.Lock()
	if c, ok := o.cache[key]; ok && o.now().Before(c.expires) {
		o.mu.Unlock()
		return c.token, nil
	}
	o.mu.Unlock()

	form := url.Values{}
	switch creds.Type {
	case "service_account":
		assertion, err := o.assertion(creds, mailbox)
		if err != nil {
			return "", err
		}
		form.Set("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer")
		form.Set("assertion", assertion)
	case "authorized_user":
		form.Set("grant_type", "refresh_token")
		form.Set("client_id", creds.ClientID)
		form.Set("client_secret", creds.ClientSecret)
		form.Set("refresh_token", creds.RefreshToken)
	}
	tok, ttl, err := o.exchange(ctx, form)
	if err != nil {
		return "", err
	}
	o.mu.Lock()
	if o.cache == nil {
		o.cache = map[string]cachedToken{}
	}
	o.cache[key] = cachedToken{token: tok, expires: o.now().Add(ttl - time.Minute)}
	o.mu.Unlock()
	return tok, nil
}

// Invalidate forgets mailbox's token.
func (o *OAuth) Invalidate(mailbox string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.cache, strings.ToLower(mailbox))
	delete(o.cache, "")
}

func parseCredentials(raw string) (credentials, error) {
	var c credentials
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		// The decoder's message could quote the secret: say only what is wrong.
		return c, fmt.Errorf("%w: gmail credentials secret is not a JSON object", ErrAuth)
	}
	switch c.Type {
	case "service_account":
		if c.ClientEmail == "" || c.PrivateKey == "" {
			return c, fmt.Errorf("%w: gmail service account secret lacks client_email or private_key", ErrAuth)
		}
	case "authorized_user":
		if c.ClientID == "" || c.ClientSecret == "" || c.RefreshToken == "" {
			return c, fmt.Errorf("%w: gmail authorized_user secret lacks client_id, client_secret or refresh_token", ErrAuth)
		}
	default:
		return c, fmt.Errorf("%w: gmail credentials secret type must be service_account or authorized_user", ErrAuth)
	}
	return c, nil
}

// assertion signs the JWT bearer grant for mailbox: iss the service
// account, sub the mailbox, aud the token endpoint, one hour of validity.
func (o *OAuth) assertion(c credentials, mailbox string) (string, error) {
	key, err := parsePrivateKey(c.PrivateKey)
	if err != nil {
		return "", err
	}
	scopes := o.Scopes
	if len(scopes) == 0 {
		scopes = []string{ScopeReadonly}
	}
	now := o.now()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"iss":   c.ClientEmail,
		"sub":   mailbox,
		"scope": strings.Join(scopes, " "),
		"aud":   o.tokenURL(),
		"iat":   now.Unix(),
		"exp":   now.Add(time.Hour).Unix(),
	})
	if c.PrivateKeyID != "" {
		tok.Header["kid"] = c.PrivateKeyID
	}
	s, err := tok.SignedString(key)
	if err != nil {
		return "", fmt.Errorf("%w: could not sign the service account assertion", ErrAuth)
	}
	return s, nil
}

func parsePrivateKey(p string) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode([]byte(p))
	if block == nil {
		return nil, fmt.Errorf("%w: gmail service account private_key is not PEM", ErrAuth)
	}
	if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		if rk, ok := k.(*rsa.PrivateKey); ok {
			return rk, nil
		}
		return nil, fmt.Errorf("%w: gmail service account private_key is not RSA", ErrAuth)
	}
	if rk, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return rk, nil
	}
	return nil, fmt.Errorf("%w: gmail service account private_key is not a PKCS#8 or PKCS#1 key", ErrAuth)
}

// exchange posts the grant and reads {"access_token","expires_in","token_type"}.
func (o *OAuth) exchange(ctx context.Context, form url.Values) (string, time.Duration, error) {
	client := o.HTTP
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.tokenURL(), strings.NewReader(form.Encode()))
	if err != nil {
		return "", 0, fmt.Errorf("token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return "", 0, fmt.Errorf("%w: token endpoint unreachable: %s", retry.ErrLater, scrubURLError(err))
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var out struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
		TokenType   string `json:"token_type"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	_ = json.Unmarshal(body, &out)
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return "", 0, fmt.Errorf("%w: token endpoint answered %d", retry.ErrLater, resp.StatusCode)
	case resp.StatusCode != http.StatusOK:
		return "", 0, fmt.Errorf("%w: token endpoint answered %d %s", ErrAuth, resp.StatusCode, safeText(out.Error+": "+out.Description))
	case out.AccessToken == "" || !strings.EqualFold(out.TokenType, "Bearer"):
		return "", 0, fmt.Errorf("%w: token endpoint answered without a bearer token", retry.ErrLater)
	}
	ttl := time.Duration(out.ExpiresIn) * time.Second
	if ttl <= 2*time.Minute {
		ttl = 2 * time.Minute
	}
	return out.AccessToken, ttl, nil
}

// safeText keeps an error text from a provider short and printable.
func safeText(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) > 200 {
		s = s[:200]
	}
	return strings.TrimSpace(s)
}

// scrubURLError drops the URL from a net/http error (it would carry query
// parameters) and keeps the cause.
func scrubURLError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Op + ": " + ue.Err.Error()
	}
	return err.Error()
}

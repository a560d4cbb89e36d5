package gmail

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// A push request from an authenticated Pub/Sub subscription carries an
// OpenID Connect token signed by Google in "Authorization: Bearer <JWT>"
// (https://cloud.google.com/pubsub/docs/authenticate-push-subscriptions):
//
//	header {"alg":"RS256","kid":"...","typ":"JWT"}
//	claims {"aud":"https://example.com","azp":"...","email":"...@....gserviceaccount.com",
//	        "sub":"...","email_verified":true,"exp":...,"iat":...,"iss":"https://accounts.google.com"}
//
// The subscriber checks the signature against Google's keys, that iss is
// accounts.google.com or https://accounts.google.com, aud is the audience
// configured on the subscription (the push endpoint URL by default), the
// token is not expired, and email is the subscription's push service account
// with email_verified true. Tokens can be up to an hour old.

// Reasons a token is refused. They are logged; the sender only learns that
// the token was missing or refused.
var (
	ErrNoToken      = errors.New("missing bearer token")
	ErrTokenInvalid = errors.New("push token refused")
)

// googleIssuers are the two spellings Google uses for iss.
var googleIssuers = map[string]bool{"accounts.google.com": true, "https://accounts.google.com": true}

// maxTokenLen bounds what is parsed (Google's push tokens are about 1 KB).
const maxTokenLen = 8 << 10

// Verifier checks Pub/Sub push tokens.
type Verifier struct {
	Keys     *KeySet
	Audience string // the subscription's OIDC audience
	Email    string // the subscription's push service account
	Leeway   time.Duration
	Now      func() time.Time
}

// PushIdentity is what a verified token says about the sender.
type PushIdentity struct {
	Email    string
	Subject  string
	IssuedAt time.Time
}

type pushClaims struct {
	jwt.RegisteredClaims
	Email         string `json:"email"`
	EmailVerified bool   `json:"email_verified"`
}

// Verify checks the Authorization header value. Errors wrap ErrNoToken,
// ErrTokenInvalid or ErrKeysUnavailable; their text names the failed check
// but never the token or its claim values.
func (v *Verifier) Verify(ctx context.Context, authorization string) (PushIdentity, error) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(authorization), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return PushIdentity{}, ErrNoToken
	}
	tok = strings.TrimSpace(tok)
	if len(tok) > maxTokenLen {
		return PushIdentity{}, fmt.Errorf("%w: token too long", ErrTokenInvalid)
	}
	if v.Audience == "" || v.Email == "" || v.Keys == nil {
		return PushIdentity{}, fmt.Errorf("%w: verifier not configured", ErrTokenInvalid)
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	leeway := v.Leeway
	if leeway <= 0 {
		leeway = 30 * time.Second
	}
	var keyErr error
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodRS256.Alg()}), // no "none", no HS256 with the public key
		jwt.WithLeeway(leeway),
		jwt.WithTimeFunc(now),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithAudience(v.Audience),
		jwt.WithStrictDecoding(),
	)
	var c pushClaims
	_, err := parser.ParseWithClaims(tok, &c, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, errors.New("no kid")
		}
		k, err := v.Keys.Key(ctx, kid)
		if err != nil {
			keyErr = err
			return nil, err
		}
		return k, nil
	})
	if err != nil {
		if errors.Is(keyErr, ErrKeysUnavailable) {
			return PushIdentity{}, keyErr
		}
		return PushIdentity{}, fmt.Errorf("%w: %s", ErrTokenInvalid, describeJWTError(err, keyErr))
	}
	switch {
	case !googleIssuers[c.Issuer]:
		return PushIdentity{}, fmt.Errorf("%w: issuer is not Google", ErrTokenInvalid)
	case c.IssuedAt == nil:
		return PushIdentity{}, fmt.Errorf("%w: no issue time", ErrTokenInvalid)
	case c.ExpiresAt.Sub(c.IssuedAt.Time) > time.Hour+leeway:
		return PushIdentity{}, fmt.Errorf("%w: lifetime longer than an hour", ErrTokenInvalid)
	case !strings.EqualFold(c.Email, v.Email):
		return PushIdentity{}, fmt.Errorf("%w: not the push service account", ErrTokenInvalid)
	case !c.EmailVerified:
		return PushIdentity{}, fmt.Errorf("%w: email not verified", ErrTokenInvalid)
	}
	return PushIdentity{Email: c.Email, Subject: c.Subject, IssuedAt: c.IssuedAt.Time}, nil
}

// describeJWTError names the failed check without echoing token content.
func describeJWTError(err, keyErr error) string {
	switch {
	case errors.Is(keyErr, errUnknownKey):
		return "unknown signing key"
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed token"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return "bad signature or algorithm"
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return "unverifiable token"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "expired"
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued), errors.Is(err, jwt.ErrTokenNotValidYet):
		return "issued in the future"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "required claim missing"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "wrong audience"
	case errors.Is(err, jwt.ErrTokenInvalidClaims):
		return "invalid claims"
	}
	return "invalid token"
}

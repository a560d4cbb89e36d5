package pdhooks

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"strings"

	"github.com/stagemover/stagemover/shared/platform/secrets"
)

// Credentials are the HTTP basic auth pair Pipedrive sends with every
// delivery (http_auth_user / http_auth_password of POST /v1/webhooks).
type Credentials struct {
	User     string
	Password string
}

// CredentialsFunc returns the current pair (cached Secrets Manager read).
type CredentialsFunc func(ctx context.Context) (Credentials, error)

// Secret fields: {"http_auth_user":"...","http_auth_password":"..."}.
const (
	SecretFieldUser     = "http_auth_user"
	SecretFieldPassword = "http_auth_password"
)

// CredentialsFromSecret reads the pair through the cache.
func CredentialsFromSecret(c *secrets.Cache, secretID string) CredentialsFunc {
	return func(ctx context.Context) (Credentials, error) {
		u, err := c.Field(ctx, secretID, SecretFieldUser)
		if err != nil {
			return Credentials{}, err
		}
		p, err := c.Field(ctx, secretID, SecretFieldPassword)
		if err != nil {
			return Credentials{}, err
		}
		return Credentials{User: u, Password: p}, nil
	}
}

var errAuth = errors.New("missing or wrong basic auth credentials")

// checkBasic compares the Authorization header with want in constant time
// (hashes first, so lengths leak nothing either).
func checkBasic(header string, want Credentials) error {
	if want.User == "" || want.Password == "" {
		return errors.New("credentials not configured")
	}
	const prefix = "basic "
	if len(header) < len(prefix) || !strings.EqualFold(header[:len(prefix)], prefix) {
		return errAuth
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(header[len(prefix):]))
	if err != nil {
		return errAuth
	}
	user, pass, ok := strings.Cut(string(raw), ":")
	if !ok {
		return errAuth
	}
	hu, wu := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(want.User))
	hp, wp := sha256.Sum256([]byte(pass)), sha256.Sum256([]byte(want.Password))
	okUser := subtle.ConstantTimeCompare(hu[:], wu[:])
	okPass := subtle.ConstantTimeCompare(hp[:], wp[:])
	if okUser&okPass != 1 {
		return errAuth
	}
	return nil
}

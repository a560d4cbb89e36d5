package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/stagemover/stagemover/shared/platform/secrets"
)

// MinKeyLen is the shortest key a route verifies signatures with. Every
// provider issues longer keys; anything shorter was typed by hand.
const MinKeyLen = 16

// ErrKeyUnusable means a signing key is empty, a placeholder or too short:
// a signature made with it proves nothing, so no route may accept one.
var ErrKeyUnusable = errors.New("signing key not usable")

// KeyError says why the key held by Name cannot be used. It never holds
// the key: Name is the variable or secret that holds it.
type KeyError struct {
	Name   string // e.g. "PANDADOC_SHARED_KEY" or "the secret named by PANDADOC_SHARED_KEY_SECRET_ARN"
	Reason string // e.g. "is a placeholder"
}

func (e *KeyError) Error() string {
	return fmt.Sprintf("%s %s: a signature made with it proves nothing; set the real key (at least %d bytes)", e.Name, e.Reason, MinKeyLen)
}

func (e *KeyError) Unwrap() error { return ErrKeyUnusable }

// Words that mark a value someone meant to replace ("REPLACE_ME",
// "changeme", "<your-key-here>"), compared without case or punctuation.
var placeholderWords = []string{"replaceme", "changeme", "placeholder", "yourkey", "yoursecret", "keyhere", "secrethere"}

// CheckKey reports whether key may verify signatures; name says where the
// key comes from, for the error.
func CheckKey(name string, key []byte) error {
	if len(bytes.TrimSpace(key)) == 0 {
		return &KeyError{name, "is empty"}
	}
	if isPlaceholder(key) {
		return &KeyError{name, "is a placeholder"}
	}
	if len(key) < MinKeyLen {
		return &KeyError{name, fmt.Sprintf("is shorter than %d bytes", MinKeyLen)}
	}
	return nil
}

// CheckKeys is CheckKey for a secret holding several keys (a rotation):
// every key must be usable, so a placeholder left beside a real key is
// caught rather than silently accepted.
func CheckKeys(name string, keys [][]byte) error {
	if len(keys) == 0 {
		return &KeyError{name, "is empty"}
	}
	for i, k := range keys {
		n := name
		if len(keys) > 1 {
			n = fmt.Sprintf("key %d of %d in %s", i+1, len(keys), name)
		}
		if err := CheckKey(n, k); err != nil {
			return err
		}
	}
	return nil
}

func isPlaceholder(key []byte) bool {
	var b strings.Builder
	for _, r := range strings.ToLower(string(key)) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	norm := b.String()
	for _, w := range placeholderWords {
		if strings.Contains(norm, w) {
			return true
		}
	}
	// "xxxxxxxxxxxxxxxx", "0000000000000000": padding, not a key.
	key = bytes.TrimSpace(key)
	for _, c := range key {
		if c != key[0] {
			return false
		}
	}
	return len(key) > 1
}

// KeyFromSecret reads a route's key from the Secrets Manager secret id
// through the cache (one call per TTL in a warm function): its JSON field,
// which the secret may also hold bare, or, when field is "", the whole
// plain-text value, trimmed.
func KeyFromSecret(c *secrets.Cache, id, field string) KeyFunc {
	return func(ctx context.Context) ([]byte, error) {
		var v string
		var err error
		if field == "" {
			v, err = c.String(ctx, id)
			v = strings.TrimSpace(v)
		} else {
			v, err = c.Field(ctx, id, field)
		}
		if err != nil {
			return nil, err
		}
		return []byte(v), nil
	}
}

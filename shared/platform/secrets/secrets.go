// Package secrets reads secrets from AWS Secrets Manager and caches them for
// the life of a warm Lambda, so a busy function calls Secrets Manager once
// per TTL rather than once per event.
package secrets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// API is the one Secrets Manager call this package needs.
type API interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// ErrEmpty means the secret exists but holds no usable value.
var ErrEmpty = errors.New("secret has no value")

// Cache holds secret strings for TTL.
type Cache struct {
	api API
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	entries map[string]entry
}

type entry struct {
	value   string
	fetched time.Time
}

// NewCache caches values from api for ttl (default 5 minutes).
func NewCache(api API, ttl time.Duration) *Cache {
	if ttl <= 0 {
		ttl = 5 * time.Minute
	}
	return &Cache{api: api, ttl: ttl, now: time.Now, entries: map[string]entry{}}
}

// String returns the secret's SecretString. Errors name the secret id but
// never its value.
func (c *Cache) String(ctx context.Context, id string) (string, error) {
	c.mu.Lock()
	e, ok := c.entries[id]
	c.mu.Unlock()
	if ok && c.now().Sub(e.fetched) < c.ttl {
		return e.value, nil
	}
	out, err := c.api.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &id})
	if err != nil {
		return "", fmt.Errorf("read secret %s: %w", id, err)
	}
	if out.SecretString == nil || *out.SecretString == "" {
		return "", fmt.Errorf("read secret %s: %w", id, ErrEmpty)
	}
	c.mu.Lock()
	c.entries[id] = entry{value: *out.SecretString, fetched: c.now()}
	c.mu.Unlock()
	return *out.SecretString, nil
}

// Field returns one field of a JSON secret ({"api_token":"..."}); a secret
// that is not a JSON object is returned whole, so a plain-text token works too.
func (c *Cache) Field(ctx context.Context, id, field string) (string, error) {
	raw, err := c.String(ctx, id)
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(strings.TrimSpace(raw), "{") {
		return strings.TrimSpace(raw), nil
	}
	var obj map[string]any
	if err := json.Unmarshal([]byte(raw), &obj); err != nil {
		return "", fmt.Errorf("secret %s is not valid JSON", id) // the parse error could quote the value
	}
	v, _ := obj[field].(string)
	if v == "" {
		return "", fmt.Errorf("secret %s field %q: %w", id, field, ErrEmpty)
	}
	return v, nil
}

package gmail

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// GoogleCertsURL is where Google publishes the keys that sign its OIDC
// tokens, Pub/Sub push tokens included
// (https://cloud.google.com/pubsub/docs/authenticate-push-subscriptions,
// https://developers.google.com/identity/openid-connect/openid-connect#validatinganidtoken).
const GoogleCertsURL = "https://www.googleapis.com/oauth2/v3/certs"

// ErrKeysUnavailable means the signing keys could not be fetched: the push
// is answered 503 (Pub/Sub retries), not 401.
var ErrKeysUnavailable = errors.New("google signing keys unavailable")

// errUnknownKey means the token names a key Google does not publish.
var errUnknownKey = errors.New("unknown signing key")

// KeySet caches Google's JWKS for as long as its Cache-Control allows, and
// refetches early when a token names a kid it does not hold (Google rotates
// keys and publishes the new one before signing with it). Unknown kids
// refetch at most once per MinRefetch, so forged kids cannot make every
// request hit Google.
type KeySet struct {
	URL        string       // GoogleCertsURL, or the stand-in's
	HTTP       *http.Client // default: 5 s timeout
	Now        func() time.Time
	MinRefetch time.Duration // default 1 minute
	// DefaultTTL applies when the response has no usable max-age (default 1 hour).
	DefaultTTL time.Duration
	// StaleFor keeps serving cached keys this long past their expiry when
	// Google cannot be reached (default 24 hours): the keys stay valid for
	// days after rotation, and an outage must not reject every push.
	StaleFor time.Duration

	mu        sync.Mutex
	keys      map[string]*rsa.PublicKey
	expires   time.Time
	lastFetch time.Time
	lastErr   error
}

func (k *KeySet) now() time.Time {
	if k.Now != nil {
		return k.Now()
	}
	return time.Now()
}

// Key returns the RSA key for kid.
func (k *KeySet) Key(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.now()
	key, have := k.keys[kid]
	if have && now.Before(k.expires) {
		return key, nil
	}
	minRefetch, stale := k.MinRefetch, k.StaleFor
	if minRefetch <= 0 {
		minRefetch = time.Minute
	}
	if stale <= 0 {
		stale = 24 * time.Hour
	}
	usable := have && now.Before(k.expires.Add(stale))
	if !k.lastFetch.IsZero() && now.Sub(k.lastFetch) < minRefetch {
		// Fetched (or failed to) just now: do not ask Google again yet.
		switch {
		case usable:
			return key, nil
		case k.lastErr != nil:
			return nil, k.lastErr
		}
		return nil, errUnknownKey // a forged or retired kid
	}
	if err := k.fetch(ctx, now); err != nil {
		k.lastErr = err
		if usable { // Google unreachable: a key we hold stays usable for a while
			return key, nil
		}
		return nil, err
	}
	k.lastErr = nil
	if key, ok := k.keys[kid]; ok {
		return key, nil
	}
	return nil, errUnknownKey
}

// maxJWKS bounds the certs document (Google's is about 1 KB).
const maxJWKS = 64 << 10

func (k *KeySet) fetch(ctx context.Context, now time.Time) error {
	k.lastFetch = now
	client := k.HTTP
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.URL, nil)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrKeysUnavailable, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrKeysUnavailable, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: certs answered %d", ErrKeysUnavailable, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKS+1))
	if err != nil || len(body) > maxJWKS {
		return fmt.Errorf("%w: unreadable or oversized certs document", ErrKeysUnavailable)
	}
	keys, err := ParseJWKS(body)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrKeysUnavailable, err)
	}
	k.keys = keys
	k.expires = now.Add(k.cacheFor(resp.Header, now))
	return nil
}

// cacheFor reads Cache-Control max-age (then Expires), as Google documents
// for its certs: "cache the keys according to the Cache-Control header".
func (k *KeySet) cacheFor(h http.Header, now time.Time) time.Duration {
	def := k.DefaultTTL
	if def <= 0 {
		def = time.Hour
	}
	const maxTTL = 24 * time.Hour
	cc := strings.ToLower(h.Get("Cache-Control"))
	for _, d := range strings.Split(cc, ",") {
		d = strings.TrimSpace(d)
		switch {
		case d == "no-store" || d == "no-cache":
			return 0
		case strings.HasPrefix(d, "max-age="):
			n, err := strconv.Atoi(strings.Trim(strings.TrimPrefix(d, "max-age="), `"`))
			if err == nil && n >= 0 {
				return min(time.Duration(n)*time.Second, maxTTL)
			}
		}
	}
	if e := h.Get("Expires"); e != "" {
		if t, err := http.ParseTime(e); err == nil {
			if d := t.Sub(now); d > 0 {
				return min(d, maxTTL)
			}
			return 0
		}
	}
	return def
}

// ParseJWKS reads the RSA signing keys of a JWK set (RFC 7517), keyed by
// kid. Keys that are not RSA signature keys usable with RS256, or shorter
// than 2048 bits, are skipped.
func ParseJWKS(doc []byte) (map[string]*rsa.PublicKey, error) {
	var set struct {
		Keys []struct {
			Kty string `json:"kty"`
			Alg string `json:"alg"`
			Use string `json:"use"`
			Kid string `json:"kid"`
			N   string `json:"n"`
			E   string `json:"e"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(doc, &set); err != nil {
		return nil, errors.New("certs document is not a JWK set")
	}
	out := map[string]*rsa.PublicKey{}
	for _, j := range set.Keys {
		if j.Kty != "RSA" || j.Kid == "" || (j.Alg != "" && j.Alg != "RS256") || (j.Use != "" && j.Use != "sig") {
			continue
		}
		n, err1 := b64url(j.N)
		e, err2 := b64url(j.E)
		if err1 != nil || err2 != nil || len(e) == 0 || len(e) > 4 {
			continue
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		if pub.N.BitLen() < 2048 || pub.E < 3 || pub.E%2 == 0 {
			continue
		}
		out[j.Kid] = pub
	}
	if len(out) == 0 {
		return nil, errors.New("certs document holds no usable RSA key")
	}
	return out, nil
}

func b64url(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

// Package gmailtest stands in for Google on 127.0.0.1, for tests and the
// local mode: the OIDC signing keys Pub/Sub push tokens are verified with
// (https://www.googleapis.com/oauth2/v3/certs), the OAuth 2.0 token endpoint
// (https://oauth2.googleapis.com/token: JWT bearer grant for a service account
// with domain-wide delegation, refresh-token grant), and the Gmail API
// endpoints stagemover calls (users.history.list, users.messages.get and
// list, users.watch, users.stop), with fault injection.
//
// Shapes follow Google's documentation:
//   - push tokens: https://cloud.google.com/pubsub/docs/authenticate-push-subscriptions
//   - push bodies: https://cloud.google.com/pubsub/docs/push and
//     https://developers.google.com/gmail/api/guides/push
//   - service account grant: https://developers.google.com/identity/protocols/oauth2/service-account
//   - Gmail API: https://developers.google.com/gmail/api/reference/rest
//     (users.history/list, users.messages/get, users.messages/list,
//     users/watch, users/stop) and errors:
//     https://developers.google.com/gmail/api/guides/handle-errors
//
// It never imports the gmail package, so the gmail package's own tests can
// use it.
package gmailtest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// PushServiceAccount is the service account email the stand-in's push tokens
// carry by default (the subscription's push authentication account).
const PushServiceAccount = "gmail-push@stagemover-demo.iam.gserviceaccount.com"

// KeySet is Google's rotating set of OIDC signing keys.
type KeySet struct {
	mu      sync.Mutex
	keys    []signingKey // published, oldest first
	current int          // index of the key that signs
}

type signingKey struct {
	kid string
	key *rsa.PrivateKey
}

// keyBits is what Google uses for its OIDC keys.
const keyBits = 2048

// NewKeySet creates a set with one key.
func NewKeySet() (*KeySet, error) {
	ks := &KeySet{}
	if _, err := ks.Rotate(); err != nil {
		return nil, err
	}
	return ks, nil
}

// NewKeySetFromPEM creates a set holding the given PKCS#1 or PKCS#8 RSA
// private key (used for the reproducible sample event).
func NewKeySetFromPEM(pemKey []byte) (*KeySet, error) {
	key, err := parseRSAPrivateKey(pemKey)
	if err != nil {
		return nil, err
	}
	ks := &KeySet{}
	ks.keys = append(ks.keys, signingKey{kid: KeyID(&key.PublicKey), key: key})
	return ks, nil
}

// Rotate publishes a new key, makes it the signing key and returns its kid.
// The old keys stay published until Retire, as Google does.
func (ks *KeySet) Rotate() (string, error) {
	key, err := rsa.GenerateKey(rand.Reader, keyBits)
	if err != nil {
		return "", err
	}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	kid := KeyID(&key.PublicKey)
	ks.keys = append(ks.keys, signingKey{kid: kid, key: key})
	ks.current = len(ks.keys) - 1
	return kid, nil
}

// Retire stops publishing kid.
func (ks *KeySet) Retire(kid string) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	for i, k := range ks.keys {
		if k.kid == kid {
			ks.keys = append(ks.keys[:i], ks.keys[i+1:]...)
			if ks.current >= len(ks.keys) {
				ks.current = len(ks.keys) - 1
			}
			return
		}
	}
}

// CurrentKID is the kid of the signing key.
func (ks *KeySet) CurrentKID() string {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	return ks.keys[ks.current].kid
}

func (ks *KeySet) signer() signingKey {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	return ks.keys[ks.current]
}

// JWKS is the document Google serves at https://www.googleapis.com/oauth2/v3/certs.
func (ks *KeySet) JWKS() []byte {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	type jwk struct {
		E   string `json:"e"`
		Kty string `json:"kty"`
		Alg string `json:"alg"`
		N   string `json:"n"`
		Use string `json:"use"`
		Kid string `json:"kid"`
	}
	doc := struct {
		Keys []jwk `json:"keys"`
	}{Keys: []jwk{}}
	for _, k := range ks.keys {
		pub := k.key.PublicKey
		doc.Keys = append(doc.Keys, jwk{
			E:   base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
			Kty: "RSA",
			Alg: "RS256",
			N:   base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
			Use: "sig",
			Kid: k.kid,
		})
	}
	b, _ := json.Marshal(doc)
	return b
}

// KeyID derives a Google-looking kid (40 hex characters) from a public key.
func KeyID(pub *rsa.PublicKey) string {
	sum := sha1.Sum(x509.MarshalPKCS1PublicKey(pub))
	return hex.EncodeToString(sum[:])
}

// PushClaims are the claims of a Pub/Sub push token, as documented:
// {"aud","azp","email","sub","email_verified","exp","iat","iss"}.
type PushClaims struct {
	Audience      string `json:"aud,omitempty"`
	AZP           string `json:"azp,omitempty"`
	Email         string `json:"email,omitempty"`
	Sub           string `json:"sub,omitempty"`
	EmailVerified *bool  `json:"email_verified,omitempty"`
	Exp           int64  `json:"exp,omitempty"`
	Iat           int64  `json:"iat,omitempty"`
	Iss           string `json:"iss,omitempty"`
}

// DefaultPushClaims are valid claims for audience issued at now by the push
// service account (tokens live one hour, as Pub/Sub's do).
func DefaultPushClaims(audience string, now time.Time) PushClaims {
	t := true
	return PushClaims{
		Audience:      audience,
		AZP:           "113774264463038321964",
		Email:         PushServiceAccount,
		Sub:           "113774264463038321964",
		EmailVerified: &t,
		Exp:           now.Add(time.Hour).Unix(),
		Iat:           now.Unix(),
		Iss:           "https://accounts.google.com",
	}
}

// GetExpirationTime and the rest make PushClaims a jwt.Claims for signing.
func (c PushClaims) GetExpirationTime() (*jwt.NumericDate, error) { return nil, nil }
func (c PushClaims) GetIssuedAt() (*jwt.NumericDate, error)       { return nil, nil }
func (c PushClaims) GetNotBefore() (*jwt.NumericDate, error)      { return nil, nil }
func (c PushClaims) GetIssuer() (string, error)                   { return c.Iss, nil }
func (c PushClaims) GetSubject() (string, error)                  { return c.Sub, nil }
func (c PushClaims) GetAudience() (jwt.ClaimStrings, error)       { return jwt.ClaimStrings{c.Audience}, nil }

// Mint signs claims with the current key (RS256, kid and typ JWT in the
// header, as Pub/Sub does).
func (ks *KeySet) Mint(claims PushClaims) string {
	k := ks.signer()
	return ks.MintWith(claims, k.kid, k.key)
}

// MintAs signs claims with the published key kid (an older key after a
// rotation); it panics for a kid the set does not hold.
func (ks *KeySet) MintAs(claims PushClaims, kid string) string {
	ks.mu.Lock()
	var key *rsa.PrivateKey
	for _, k := range ks.keys {
		if k.kid == kid {
			key = k.key
		}
	}
	ks.mu.Unlock()
	if key == nil {
		panic("gmailtest: no key " + kid)
	}
	return ks.MintWith(claims, kid, key)
}

// MintWith signs claims with key under the given kid (a key the set never
// published, for negative tests).
func (ks *KeySet) MintWith(claims PushClaims, kid string, key *rsa.PrivateKey) string {
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(key)
	if err != nil {
		panic(fmt.Sprintf("gmailtest: sign: %v", err)) // only on a broken key
	}
	return s
}

// PublicKey returns the published key kid, for tests that forge tokens.
func (ks *KeySet) PublicKey(kid string) *rsa.PublicKey {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	for _, k := range ks.keys {
		if k.kid == kid {
			return &k.key.PublicKey
		}
	}
	return nil
}

func parseRSAPrivateKey(pemKey []byte) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(pemKey)
	if block == nil {
		return nil, fmt.Errorf("gmailtest: no PEM block")
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("gmailtest: parse key: %w", err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("gmailtest: not an RSA key")
	}
	return rk, nil
}

// PKCS8PEM encodes key the way a Google service account key file holds it.
func PKCS8PEM(key *rsa.PrivateKey) string {
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

package gmail_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/stagemover/stagemover/shared/source/gmail"
	"github.com/stagemover/stagemover/shared/source/gmail/gmailtest"
	"github.com/stagemover/stagemover/shared/testkit"
)

const testAudience = "https://push.stagemover.example/gmail/push"

var testNow = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

func verifierFor(g *gmailtest.Server, c *testkit.Clock) *gmail.Verifier {
	return &gmail.Verifier{
		Keys:     &gmail.KeySet{URL: g.CertsURL(), Now: c.Now},
		Audience: testAudience,
		Email:    gmailtest.PushServiceAccount,
		Now:      c.Now,
	}
}

// tamper replaces the claims segment with other claims, keeping header and signature.
func tamper(tok string, edit func(m map[string]any)) string {
	parts := strings.Split(tok, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
	m := map[string]any{}
	_ = json.Unmarshal(raw, &m)
	edit(m)
	b, _ := json.Marshal(m)
	parts[1] = base64.RawURLEncoding.EncodeToString(b)
	return strings.Join(parts, ".")
}

func TestVerifyPushTokens(t *testing.T) {
	g := google(t)
	c := testkit.NewClock(testNow)
	valid := gmailtest.DefaultPushClaims(testAudience, testNow.Add(-10*time.Minute))
	mint := func(edit func(*gmailtest.PushClaims)) string {
		cl := valid
		edit(&cl)
		return g.Keys.Mint(cl)
	}
	strange, _ := rsa.GenerateKey(rand.Reader, 2048)
	pubDER, _ := x509.MarshalPKIXPublicKey(g.Keys.PublicKey(g.Keys.CurrentKID()))
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, valid)
	hs.Header["kid"] = g.Keys.CurrentKID()
	hsTok, _ := hs.SignedString(pubPEM) // "key confusion": the public key as an HMAC secret
	none := jwt.NewWithClaims(jwt.SigningMethodNone, valid)
	none.Header["kid"] = g.Keys.CurrentKID()
	noneTok, _ := none.SignedString(jwt.UnsafeAllowNoneSignatureType)
	f := false

	tests := []struct {
		name   string
		header string
		want   error // nil: accepted
		why    string
	}{
		{"valid", "Bearer " + mint(func(*gmailtest.PushClaims) {}), nil, ""},
		{"valid, short issuer", "Bearer " + mint(func(c *gmailtest.PushClaims) { c.Iss = "accounts.google.com" }), nil, ""},
		{"valid, lower-case scheme", "bearer " + mint(func(*gmailtest.PushClaims) {}), nil, ""},
		{"valid, within leeway of expiry", "Bearer " + mint(func(c *gmailtest.PushClaims) {
			c.Iat, c.Exp = testNow.Add(-time.Hour).Unix(), testNow.Add(-10*time.Second).Unix()
		}), nil, ""},
		{"no header", "", gmail.ErrNoToken, ""},
		{"basic auth", "Basic dXNlcjpwYXNz", gmail.ErrNoToken, ""},
		{"bearer without token", "Bearer ", gmail.ErrNoToken, ""},
		{"expired", "Bearer " + mint(func(c *gmailtest.PushClaims) {
			c.Iat, c.Exp = testNow.Add(-2*time.Hour).Unix(), testNow.Add(-time.Hour).Unix()
		}), gmail.ErrTokenInvalid, "expired"},
		{"no exp", "Bearer " + mint(func(c *gmailtest.PushClaims) { c.Exp = 0 }), gmail.ErrTokenInvalid, "required claim"},
		{"no iat", "Bearer " + mint(func(c *gmailtest.PushClaims) { c.Iat = 0 }), gmail.ErrTokenInvalid, "issue time"},
		{"issued in the future", "Bearer " + mint(func(c *gmailtest.PushClaims) {
			c.Iat, c.Exp = testNow.Add(10*time.Minute).Unix(), testNow.Add(70*time.Minute).Unix()
		}), gmail.ErrTokenInvalid, "future"},
		{"lives a day", "Bearer " + mint(func(c *gmailtest.PushClaims) { c.Exp = testNow.Add(24 * time.Hour).Unix() }), gmail.ErrTokenInvalid, "lifetime"},
		{"wrong audience", "Bearer " + mint(func(c *gmailtest.PushClaims) { c.Audience = "https://attacker.example/hook" }), gmail.ErrTokenInvalid, "audience"},
		{"no audience", "Bearer " + mint(func(c *gmailtest.PushClaims) { c.Audience = "" }), gmail.ErrTokenInvalid, "required claim"},
		{"wrong issuer", "Bearer " + mint(func(c *gmailtest.PushClaims) { c.Iss = "https://accounts.example.com" }), gmail.ErrTokenInvalid, "issuer"},
		{"wrong email", "Bearer " + mint(func(c *gmailtest.PushClaims) { c.Email = "someone-else@attacker.iam.gserviceaccount.com" }), gmail.ErrTokenInvalid, "service account"},
		{"unverified email", "Bearer " + mint(func(c *gmailtest.PushClaims) { c.EmailVerified = &f }), gmail.ErrTokenInvalid, "not verified"},
		{"email_verified absent", "Bearer " + mint(func(c *gmailtest.PushClaims) { c.EmailVerified = nil }), gmail.ErrTokenInvalid, "not verified"},
		{"unknown kid", "Bearer " + g.Keys.MintWith(valid, "0123456789abcdef0123456789abcdef01234567", strange), gmail.ErrTokenInvalid, "unknown signing key"},
		{"right kid, other key", "Bearer " + g.Keys.MintWith(valid, g.Keys.CurrentKID(), strange), gmail.ErrTokenInvalid, "signature"},
		{"alg none", "Bearer " + noneTok, gmail.ErrTokenInvalid, "signature"},
		{"HS256 with the public key", "Bearer " + hsTok, gmail.ErrTokenInvalid, "signature"},
		{"tampered audience", "Bearer " + tamper(mint(func(c *gmailtest.PushClaims) { c.Audience = "https://other.example" }),
			func(m map[string]any) { m["aud"] = testAudience }), gmail.ErrTokenInvalid, "signature"},
		{"tampered email", "Bearer " + tamper(mint(func(*gmailtest.PushClaims) {}),
			func(m map[string]any) { m["email"] = "x@y.iam.gserviceaccount.com" }), gmail.ErrTokenInvalid, "signature"},
		{"two segments", "Bearer abc.def", gmail.ErrTokenInvalid, "malformed"},
		{"garbage", "Bearer " + strings.Repeat("A", 300), gmail.ErrTokenInvalid, "malformed"},
		{"huge", "Bearer " + strings.Repeat("A.", 10000), gmail.ErrTokenInvalid, "too long"},
	}
	v := verifierFor(g, c)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id, err := v.Verify(ctxT(t), tc.header)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("refused a valid token: %v", err)
				}
				if id.Email != gmailtest.PushServiceAccount {
					t.Fatalf("identity %+v", id)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.why) {
				t.Fatalf("error %q does not say %q", err, tc.why)
			}
			// The reason never echoes the token.
			if tok := strings.TrimPrefix(tc.header, "Bearer "); len(tok) > 20 && strings.Contains(err.Error(), tok[:20]) {
				t.Fatalf("error echoes the token: %v", err)
			}
		})
	}
}

func TestKeySetCachingAndRotation(t *testing.T) {
	g := google(t)
	g.CertsMaxAge = time.Hour
	c := testkit.NewClock(testNow)
	v := verifierFor(g, c)
	mint := func() string {
		return "Bearer " + g.Keys.Mint(gmailtest.DefaultPushClaims(testAudience, c.Now()))
	}
	for i := 0; i < 5; i++ {
		if _, err := v.Verify(ctxT(t), mint()); err != nil {
			t.Fatal(err)
		}
	}
	if n := g.Count(gmailtest.OpCerts); n != 1 {
		t.Fatalf("certs fetched %d times for 5 tokens within max-age, want 1", n)
	}

	// Google rotates: a new kid signs before our cache expires.
	oldKID := g.Keys.CurrentKID()
	c.Advance(2 * time.Minute) // past MinRefetch
	if _, err := g.Keys.Rotate(); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(ctxT(t), mint()); err != nil {
		t.Fatalf("token with the rotated key refused: %v", err)
	}
	if n := g.Count(gmailtest.OpCerts); n != 2 {
		t.Fatalf("certs fetched %d times after rotation, want 2", n)
	}
	// Tokens signed with the old key still verify while it is published.
	old := g.Keys.MintAs(gmailtest.DefaultPushClaims(testAudience, c.Now()), oldKID)
	if _, err := v.Verify(ctxT(t), "Bearer "+old); err != nil {
		t.Fatalf("token with the previous key refused: %v", err)
	}
	// A retired key is refused once the set no longer lists it.
	retired := g.Keys.MintAs(gmailtest.DefaultPushClaims(testAudience, c.Now().Add(2*time.Hour)), oldKID)
	g.Keys.Retire(oldKID)
	c.Advance(2 * time.Hour)
	if _, err := v.Verify(ctxT(t), "Bearer "+retired); !errors.Is(err, gmail.ErrTokenInvalid) {
		t.Fatalf("token signed with a retired key: %v, want refused", err)
	}

	// Forged kids cannot make every request hit Google.
	strange, _ := rsa.GenerateKey(rand.Reader, 2048)
	for i := 0; i < 20; i++ {
		tok := g.Keys.MintWith(gmailtest.DefaultPushClaims(testAudience, c.Now()), strings.Repeat("f", 39)+string(rune('a'+i%6)), strange)
		if _, err := v.Verify(ctxT(t), "Bearer "+tok); !errors.Is(err, gmail.ErrTokenInvalid) {
			t.Fatalf("forged kid: %v", err)
		}
	}
	if n := g.Count(gmailtest.OpCerts); n > 3 {
		t.Fatalf("certs fetched %d times for 20 forged kids, want at most one refetch", n)
	}

	// After max-age the set is fetched again.
	before := g.Count(gmailtest.OpCerts)
	c.Advance(2 * time.Hour)
	if _, err := v.Verify(ctxT(t), mint()); err != nil {
		t.Fatal(err)
	}
	if n := g.Count(gmailtest.OpCerts); n != before+1 {
		t.Fatalf("certs fetched %d times after max-age, want %d", n, before+1)
	}
}

func TestKeySetOutage(t *testing.T) {
	g := google(t)
	g.CertsMaxAge = time.Hour
	c := testkit.NewClock(testNow)
	v := verifierFor(g, c)
	mint := func() string { return "Bearer " + g.Keys.Mint(gmailtest.DefaultPushClaims(testAudience, c.Now())) }

	// No keys at all and Google down: not checkable (503), not refused (401).
	g.Fail(gmailtest.OpCerts, 503)
	if _, err := v.Verify(ctxT(t), mint()); !errors.Is(err, gmail.ErrKeysUnavailable) {
		t.Fatalf("certs outage with an empty cache: %v, want ErrKeysUnavailable", err)
	}
	c.Advance(2 * time.Minute)
	if _, err := v.Verify(ctxT(t), mint()); err != nil {
		t.Fatal(err)
	}
	// Cache expired and Google down again: the held key still serves.
	c.Advance(90 * time.Minute)
	g.Fail(gmailtest.OpCerts, 500, 500, 500)
	if _, err := v.Verify(ctxT(t), mint()); err != nil {
		t.Fatalf("held key not used during an outage: %v", err)
	}
}

func TestKeySetHonoursNoCache(t *testing.T) {
	g := google(t)
	g.CertsMaxAge = 0 // Cache-Control: no-cache
	c := testkit.NewClock(testNow)
	v := verifierFor(g, c)
	for i := 0; i < 3; i++ {
		if _, err := v.Verify(ctxT(t), "Bearer "+g.Keys.Mint(gmailtest.DefaultPushClaims(testAudience, c.Now()))); err != nil {
			t.Fatal(err)
		}
		c.Advance(2 * time.Minute)
	}
	if n := g.Count(gmailtest.OpCerts); n != 3 {
		t.Fatalf("certs fetched %d times with no-cache and MinRefetch elapsed each time, want 3", n)
	}
}

func TestParseJWKSRejectsWeakAndForeignKeys(t *testing.T) {
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	b64 := func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
	doc := `{"keys":[` +
		`{"kty":"RSA","kid":"small","alg":"RS256","use":"sig","n":"` + b64(small.N.Bytes()) + `","e":"AQAB"},` +
		`{"kty":"EC","kid":"ec","crv":"P-256","x":"AA","y":"AA"},` +
		`{"kty":"RSA","kid":"enc","use":"enc","n":"AA","e":"AQAB"}]}`
	if _, err := gmail.ParseJWKS([]byte(doc)); err == nil {
		t.Fatal("a set with only weak or unusable keys was accepted")
	}
	g := google(t)
	keys, err := gmail.ParseJWKS(g.Keys.JWKS())
	if err != nil || keys[g.Keys.CurrentKID()] == nil {
		t.Fatalf("the stand-in's set: %v", err)
	}
}

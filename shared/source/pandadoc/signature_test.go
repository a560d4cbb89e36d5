package pandadoc_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stagemover/stagemover/shared/source/pandadoc"
)

const testKey = "pd-test-shared-key-0f3c9a"

// TestSignKnownVector pins the scheme: hex HMAC-SHA256 of the raw body
// (RFC 4231 test case 2: key "Jefe").
func TestSignKnownVector(t *testing.T) {
	got := pandadoc.Sign([]byte("Jefe"), []byte("what do ya want for nothing?"))
	if got != "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" {
		t.Fatalf("Sign = %s", got)
	}
}

func TestVerify(t *testing.T) {
	body := readTestdata(t, "state-sent")
	good := pandadoc.Sign([]byte(testKey), body)
	keys := [][]byte{[]byte(testKey)}
	if err := pandadoc.Verify(keys, good, body); err != nil {
		t.Fatalf("valid: %v", err)
	}
	if err := pandadoc.Verify(keys, strings.ToUpper(good), body); err != nil {
		t.Fatalf("upper-case hex: %v", err)
	}
	// during a rotation either key verifies
	if err := pandadoc.Verify(pandadoc.Keys([]byte("old-key,\n"+testKey)), good, body); err != nil {
		t.Fatalf("second key: %v", err)
	}
	tampered := append([]byte{}, body...)
	tampered[len(tampered)/2] ^= 1
	for name, tc := range map[string]struct {
		keys   [][]byte
		sig    string
		body   []byte
		reason string
	}{
		"wrong key": {[][]byte{[]byte("other")}, good, body, "does not match"},
		"tampered":  {keys, good, tampered, "does not match"},
		"missing":   {keys, "", body, "required"},
		"not hex":   {keys, strings.Repeat("z", 64), body, "hex"},
		"short":     {keys, good[:62], body, "hex"},
		"prefixed":  {keys, "sha256=" + good, body, "hex"},
	} {
		err := pandadoc.Verify(tc.keys, tc.sig, tc.body)
		if !errors.Is(err, pandadoc.ErrSignature) || !strings.Contains(err.Error(), tc.reason) {
			t.Errorf("%s: %v, want ErrSignature saying %q", name, err, tc.reason)
		}
		if err != nil && (strings.Contains(err.Error(), testKey) || strings.Contains(err.Error(), good)) {
			t.Errorf("%s: error quotes the key or the MAC", name)
		}
	}
	if err := pandadoc.Verify(nil, good, body); err == nil || errors.Is(err, pandadoc.ErrSignature) {
		t.Errorf("no keys: %v, want a configuration error (not a 401)", err)
	}
}

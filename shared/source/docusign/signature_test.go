package docusign_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stagemover/stagemover/shared/source/docusign"
)

const testKey = "Xq9sT2vB7mN4kL1pR8wZ3cF6hJ0dG5yA+e/uI=" // shaped like a Connect key

// TestSignKnownVector pins the scheme: base64 HMAC-SHA256 of the raw body
// (RFC 4231 test case 2).
func TestSignKnownVector(t *testing.T) {
	if got := docusign.Sign([]byte("Jefe"), []byte("what do ya want for nothing?")); got != "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=" {
		t.Fatalf("Sign = %s", got)
	}
}

func TestVerify(t *testing.T) {
	body := readTestdata(t, "envelope-sent")
	good := docusign.Sign([]byte(testKey), body)
	keys := [][]byte{[]byte(testKey)}
	if err := docusign.Verify(keys, []string{good}, body); err != nil {
		t.Fatalf("valid: %v", err)
	}
	// rotation: DocuSign sends one header per active key; any match will do
	other := docusign.Sign([]byte("old-key"), body)
	if err := docusign.Verify(keys, []string{other, good}, body); err != nil {
		t.Fatalf("second header: %v", err)
	}
	if err := docusign.Verify(docusign.Keys([]byte("old-key\n"+testKey)), []string{good}, body); err != nil {
		t.Fatalf("second key: %v", err)
	}
	tampered := append([]byte{}, body...)
	tampered[len(tampered)/2] ^= 1
	for name, tc := range map[string]struct {
		keys   [][]byte
		sigs   []string
		body   []byte
		reason string
	}{
		"wrong key":  {[][]byte{[]byte("other")}, []string{good}, body, "no signature matches"},
		"tampered":   {keys, []string{good}, tampered, "no signature matches"},
		"missing":    {keys, nil, body, "required"},
		"not base64": {keys, []string{"***"}, body, "base64"},
		"hex":        {keys, []string{strings.Repeat("ab", 32)}, body, "base64"},
	} {
		err := docusign.Verify(tc.keys, tc.sigs, tc.body)
		if !errors.Is(err, docusign.ErrSignature) || !strings.Contains(err.Error(), tc.reason) {
			t.Errorf("%s: %v, want ErrSignature saying %q", name, err, tc.reason)
		}
		if err != nil && (strings.Contains(err.Error(), testKey) || strings.Contains(err.Error(), good)) {
			t.Errorf("%s: error quotes the key or the MAC", name)
		}
	}
	if err := docusign.Verify(nil, []string{good}, body); err == nil || errors.Is(err, docusign.ErrSignature) {
		t.Errorf("no keys: %v, want a configuration error", err)
	}
}

func TestSignatures(t *testing.T) {
	req := events.APIGatewayV2HTTPRequest{Headers: map[string]string{
		"x-docusign-signature-2": "b", "X-DocuSign-Signature-1": "a", "x-docusign-signature-x": "no",
		"x-docusign-signature-0": "no", "x-docusign-signature-101": "no", "x-docusign-signature-3": "c, d", "x-authorization-digest": "HMACSHA256",
	}}
	if got := strings.Join(docusign.Signatures(req), " "); got != "a b c d" {
		t.Fatalf("Signatures = %q", got)
	}
}

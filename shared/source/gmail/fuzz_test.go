package gmail_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stagemover/stagemover/shared/source/gmail"
	"github.com/stagemover/stagemover/shared/source/gmail/gmailtest"
	"github.com/stagemover/stagemover/shared/testkit"
)

// FuzzDecodePush: any body is either a complete notification or refused
// with a reason; never a panic. Seeded with the golden sample.
func FuzzDecodePush(f *testing.F) {
	raw, err := os.ReadFile(filepath.Join(testkit.RepoRoot(f), "events", "ingest-gmail.json"))
	if err != nil {
		f.Fatal(err)
	}
	var req events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(req.Body))
	f.Add(pushBody("1", gmailData("a@b.example", 5)))
	f.Add(pushBody("2", gmailData("a@b.example", "18446744073709551615")))
	f.Add(pushBody("3", gmailData("a@b.example", "18446744073709551616")))
	f.Add([]byte(`{"message":{"data":"e30=","message_id":"1"}}`))
	f.Add([]byte(`{"message":null}`))
	f.Add([]byte(`{"message":{"data":12,"messageId":["x"]}}`))
	f.Add([]byte(`null`))
	idPattern := regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)
	f.Fuzz(func(t *testing.T, body []byte) {
		n, err := gmail.DecodePush(body)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("refused without a reason")
			}
			return
		}
		if !idPattern.MatchString(n.MessageID) || n.HistoryID == 0 || n.EmailAddress != strings.ToLower(n.EmailAddress) ||
			strings.Count(n.EmailAddress, "@") != 1 {
			t.Fatalf("accepted an incomplete notification: %+v", n)
		}
	})
}

// FuzzVerifyPushToken: the JWT path never panics, and nothing but the one
// validly signed token (however the header spells "Bearer") is accepted.
func FuzzVerifyPushToken(f *testing.F) {
	g, err := gmailtest.NewServer()
	if err != nil {
		f.Fatal(err)
	}
	defer g.Close()
	c := testkit.NewClock(testNow)
	v := verifierFor(g, c)
	valid := g.Keys.Mint(gmailtest.DefaultPushClaims(testAudience, testNow))
	parts := strings.Split(valid, ".")
	f.Add("Bearer " + valid)
	f.Add("Bearer " + parts[0] + "." + parts[1] + ".")
	f.Add("Bearer " + parts[0] + ".." + parts[2])
	f.Add("Bearer eyJhbGciOiJub25lIn0.eyJhdWQiOiJ4In0.")
	f.Add("Bearer eyJhbGciOiJSUzI1NiIsImtpZCI6W119.e30.AAAA")
	f.Add("Bearer " + strings.Repeat(".", 50))
	f.Add("bearer\t" + valid)
	f.Add("")
	f.Fuzz(func(t *testing.T, header string) {
		_, err := v.Verify(ctxT(t), header)
		if err == nil {
			_, tok, _ := strings.Cut(strings.TrimSpace(header), " ")
			if strings.TrimSpace(tok) != valid {
				t.Fatalf("accepted a token that is not the signed one: %q", header)
			}
		}
	})
}

// FuzzParseJWKS: a certs document never panics the parser, and only strong
// RSA keys come out.
func FuzzParseJWKS(f *testing.F) {
	ks, err := gmailtest.NewKeySet()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(ks.JWKS())
	f.Add([]byte(`{"keys":[{"kty":"RSA","kid":"a","n":"AQAB","e":"AQAB"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"RSA","kid":"a","n":"","e":"AAAAAAAAAAAA"}]}`))
	f.Add([]byte(`{"keys":{}}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		keys, err := gmail.ParseJWKS(doc)
		if err != nil {
			return
		}
		for kid, k := range keys {
			if k.N.BitLen() < 2048 || k.E < 3 || kid == "" {
				t.Fatalf("weak key %q accepted", kid)
			}
		}
	})
}

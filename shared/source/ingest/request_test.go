package ingest_test

import (
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stagemover/stagemover/shared/source/ingest"
)

// Moved from pandadoc's TestSignatureParam: a query parameter is read from
// the parsed parameters, else from the raw query string.
func TestRequestQuery(t *testing.T) {
	r := &ingest.Request{HTTP: events.APIGatewayV2HTTPRequest{QueryStringParameters: map[string]string{"signature": "ab"}}}
	if got := r.Query("signature"); got != "ab" {
		t.Errorf("parsed parameters: %q", got)
	}
	r = &ingest.Request{HTTP: events.APIGatewayV2HTTPRequest{RawQueryString: "ws=1&signature=cd"}}
	if got := r.Query("signature"); got != "cd" {
		t.Errorf("raw query: %q", got)
	}
}

func TestRequestHeader(t *testing.T) {
	r := &ingest.Request{HTTP: events.APIGatewayV2HTTPRequest{Headers: map[string]string{"X-Mixed-Case": "v"}}}
	if got := r.Header("x-mixed-case"); got != "v" {
		t.Errorf("header %q", got)
	}
}

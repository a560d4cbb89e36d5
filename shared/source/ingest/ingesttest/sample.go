package ingesttest

import (
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stagemover/stagemover/shared/testkit"
)

// Sample is a source's generated events/ sample: an API Gateway v2 request
// on Route, regenerated with the command Regen.
type Sample struct{ File, Route, Regen string }

// Read decodes events/<File>.
func (s Sample) Read(t testing.TB) events.APIGatewayV2HTTPRequest {
	t.Helper()
	return testkit.DecodeHTTPEvent(t, testkit.Event(t, s.File))
}

// AssertGenerated: events/<File> is exactly want (update rewrites it) and
// decodes as a POST on Route, which it returns.
func (s Sample) AssertGenerated(t *testing.T, want []byte, update bool) events.APIGatewayV2HTTPRequest {
	t.Helper()
	testkit.Golden(t, "events/"+s.File, want, update, s.Regen)
	req := s.Read(t)
	if req.RouteKey != s.Route || req.RequestContext.HTTP.Method != "POST" {
		t.Fatalf("route %q", req.RouteKey)
	}
	return req
}

// AssertSampleStored hands the sample req to the handler at at twice: the
// first time it stores exactly the items (as Stored by conv), the second
// nothing.
func AssertSampleStored[T any](t *testing.T, f *Fixture, req events.APIGatewayV2HTTPRequest, at time.Time, items []T, conv func(T) Stored) {
	t.Helper()
	f.Handler.Now = func() time.Time { return at }
	f.AssertAcceptedOnce(t, req)
	var stored []Stored
	for _, it := range items {
		stored = append(stored, conv(it))
	}
	f.AssertStoredExactly(t, stored, at)
}

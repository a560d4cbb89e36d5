package pandadoc_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/stagemover/stagemover/shared/source/ingest/ingesttest"
	"github.com/stagemover/stagemover/shared/source/pandadoc"
)

var safeEventID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}:(document_state_changed|recipient_completed):[^\s]{1,260}:[0-9T:.Z-]{20,40}$`)

// FuzzParse: any body is a list of valid signals and ignored notifications,
// or is rejected with a reason; it never panics.
// Seeds: every testdata delivery. Bounded run: go test -fuzz=FuzzParse -fuzztime=30s ./shared/source/pandadoc
func FuzzParse(f *testing.F) {
	ingesttest.SeedTestdata(f, ``, `[]`, `{}`, `null`, `[null]`, `[{"event":"document_state_changed","data":null}]`,
		`[{"event":"recipient_completed","data":{"id":"a","status":"document.viewed","date_modified":"2026-01-01T00:00:00Z","recipients":[{"email":"b@c.d","recipient_type":"SIGNER"}],"action_by":{"email":"x@y.z"}}}]`,
		`[{"event":"document_state_changed","data":{"id":"a","status":"document.viewed","date_modified":"2026-01-01T00:00:00Z","recipients":[{"email":"b@c.d","signing_order":-3},{"email":"e@f.g","signing_order":2,"recipient_type":"SIGNER"}]}}]`)
	f.Fuzz(func(t *testing.T, body []byte) {
		items, err := pandadoc.Parse(body, pandadoc.Config{InternalDomains: []string{"acme-routing.io"}})
		if err != nil {
			if !errors.Is(err, pandadoc.ErrInvalid) || strings.TrimSpace(err.Error()) == "" {
				t.Fatalf("error of no known kind: %v", err)
			}
			return
		}
		if len(items) == 0 || len(items) > 100 {
			t.Fatalf("%d items", len(items))
		}
		for _, it := range items {
			if it.Ignored != "" {
				if it.EventID != "" {
					t.Fatalf("ignored item with an event id: %+v", it)
				}
				continue
			}
			if err := it.Signal.Validate(); err != nil {
				t.Fatalf("accepted an invalid signal: %v", err)
			}
			if !safeEventID.MatchString(it.EventID) {
				t.Fatalf("unsafe event id %q", it.EventID)
			}
			if !strings.Contains(it.PersonEmail, "@") || it.PersonEmail != strings.ToLower(it.PersonEmail) || strings.HasSuffix(it.PersonEmail, "@acme-routing.io") {
				t.Fatalf("person email %q is not a buyer-side address", it.PersonEmail)
			}
			if it.Signal.Action == "viewed" && it.Signal.Session == "" {
				t.Fatal("a view without a session")
			}
			if len(it.Signal.Name) > 500 {
				t.Fatal("unbounded name")
			}
		}
	})
}

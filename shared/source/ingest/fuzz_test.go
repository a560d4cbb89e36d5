package ingest

import (
	"testing"
	"time"
)

// FuzzDecodeEnvelope: any body either decodes into a valid envelope or is
// rejected with a reason; it never panics.
func FuzzDecodeEnvelope(f *testing.F) {
	for _, seed := range []string{
		`{"event_id":"e1","deal_id":1,"signal":{"kind":"email","at":"2026-03-02T10:00:00Z","from":"a@b.example","body":"hi"}}`,
		`{"event_id":"e2","person_email":"a@b.example","signal":{"kind":"meeting","at":"2026-03-02T10:00:00Z","status":"scheduled","attendees":["a@b.example"]}}`,
		`{"event_id":"e3","deal_id":5,"signal":{"kind":"stage_request","stage":"Proposal Made"}}`,
		`{"event_id":"e4","deal_id":5,"signal":{"kind":"document","at":"2026-03-02T10:00:00Z","action":"completed","session":null}}`,
		`{"event_id":"","deal_id":-1}`, `[]`, `null`, `{"signal":{"kind":"call","duration_s":-5}}`,
	} {
		f.Add([]byte(seed))
	}
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		env, err := decodeEnvelope(body, now)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("rejection without a reason")
			}
			return
		}
		if env.Signal == nil || env.EventID == "" || (env.DealID <= 0 && env.PersonEmail == "") {
			t.Fatalf("accepted an incomplete envelope: %+v", env)
		}
		if err := env.Signal.Validate(); err != nil {
			t.Fatalf("accepted an invalid signal: %v", err)
		}
	})
}

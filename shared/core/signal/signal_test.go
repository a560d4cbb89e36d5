package signal

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		s       Signal
		problem string // "" = valid
	}{
		{"email", Signal{Kind: KindEmail, At: at, From: "a@b.example"}, ""},
		{"email without sender", Signal{Kind: KindEmail, At: at}, "email.from"},
		{"no time", Signal{Kind: KindCall}, "at is required"},
		{"no kind", Signal{At: at}, "kind is required"},
		{"unknown kind", Signal{Kind: "sms", At: at}, `"sms"`},
		{"meeting", Signal{Kind: KindMeeting, At: at, Status: "canceled"}, ""},
		{"meeting status", Signal{Kind: KindMeeting, At: at, Status: "tentative"}, "meeting.status"},
		{"document", Signal{Kind: KindDocument, At: at, Action: "completed", DocType: "contract"}, ""},
		{"document action", Signal{Kind: KindDocument, At: at, Action: "printed"}, "document.action"},
		{"document type", Signal{Kind: KindDocument, At: at, Action: "sent", DocType: "memo"}, "doc_type"},
		{"call", Signal{Kind: KindCall, At: at, Direction: "inbound", Outcome: "connected", DurationS: 300}, ""},
		{"call direction", Signal{Kind: KindCall, At: at, Direction: "sideways"}, "call.direction"},
		{"call outcome", Signal{Kind: KindCall, At: at, Outcome: "busy"}, "call.outcome"},
		{"call duration", Signal{Kind: KindCall, At: at, DurationS: -1}, "duration_s"},
		{"stage request", Signal{Kind: KindStageRequest, At: at, Stage: "Proposal Made"}, ""},
		{"stage request without stage", Signal{Kind: KindStageRequest, At: at, Stage: " "}, "stage_request.stage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.s.Validate()
			if tt.problem == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.problem) {
				t.Fatalf("err = %v, want ErrInvalid mentioning %q", err, tt.problem)
			}
		})
	}
}

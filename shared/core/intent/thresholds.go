package intent

import (
	"go.yaml.in/yaml/v3"
)

// Thresholds tune how evidence counts. A rules file sets them globally and
// may override them per pipeline.
type Thresholds struct {
	// MinCallSeconds is the shortest connected call that counts as contact.
	MinCallSeconds int
	// ProposalViewCounts: a buyer-side view of a proposal or quote shows it
	// was sent even when the send itself was not recorded.
	ProposalViewCounts bool
	// MeetingCountsWhen: future_or_held (booked for a time after the booking,
	// or held), held_only, or any (every booked meeting).
	MeetingCountsWhen string
	// ThirdPartySender: how an email from outside both the vendor and the
	// deal's organisation counts: require_buyer_copy (only with a buyer-side
	// address on To/Cc, and never for Won), ignore, or full.
	ThirdPartySender string
	// StageRequestMaySkip: an explicit stage_request may skip stages.
	StageRequestMaySkip bool
	// AcceptConfirmDays: a rep's confirmation must follow the buyer's
	// acceptance of a time within this many days.
	AcceptConfirmDays int
	// ExcerptChars bounds the quoted words in explanations.
	ExcerptChars int
	// WonDocTypes: document types whose buyer-side completion is Won.
	WonDocTypes []string
	// ProposalDocTypes: document types whose sending is a proposal.
	ProposalDocTypes []string
}

var thresholdKeys = []string{"min_call_seconds", "proposal_view_counts", "meeting_counts_when", "third_party_sender",
	"stage_request_may_skip", "accept_confirm_days", "excerpt_chars", "won_doc_types", "proposal_doc_types"}

func (e *loadErrors) thresholds(n *yaml.Node, t *Thresholds, what string) {
	f := e.fields(n, what, thresholdKeys...)
	if v, ok := f["min_call_seconds"]; ok {
		if x, ok := e.integer(v, what+".min_call_seconds", 0, 86400); ok {
			t.MinCallSeconds = x
		}
	}
	if v, ok := f["proposal_view_counts"]; ok {
		if x, ok := e.boolean(v, what+".proposal_view_counts"); ok {
			t.ProposalViewCounts = x
		}
	}
	if v, ok := f["meeting_counts_when"]; ok {
		if x, ok := e.oneOf(v, what+".meeting_counts_when", "future_or_held", "held_only", "any"); ok {
			t.MeetingCountsWhen = x
		}
	}
	if v, ok := f["third_party_sender"]; ok {
		if x, ok := e.oneOf(v, what+".third_party_sender", "require_buyer_copy", "ignore", "full"); ok {
			t.ThirdPartySender = x
		}
	}
	if v, ok := f["stage_request_may_skip"]; ok {
		if x, ok := e.boolean(v, what+".stage_request_may_skip"); ok {
			t.StageRequestMaySkip = x
		}
	}
	if v, ok := f["accept_confirm_days"]; ok {
		if x, ok := e.integer(v, what+".accept_confirm_days", 0, 365); ok {
			t.AcceptConfirmDays = x
		}
	}
	if v, ok := f["excerpt_chars"]; ok {
		if x, ok := e.integer(v, what+".excerpt_chars", 20, 500); ok {
			t.ExcerptChars = x
		}
	}
	docTypes := func(key string) ([]string, bool) {
		v, ok := f[key]
		if !ok {
			return nil, false
		}
		var out []string
		for i, s := range e.strs(v, what+"."+key) {
			switch s {
			case "proposal", "quote", "contract", "other":
				out = append(out, s)
			default:
				line := v.Line
				if i < len(v.Content) {
					line = v.Content[i].Line
				}
				e.add(line, "%s.%s: %q is not a document type (proposal, quote, contract, other)", what, key, s)
			}
		}
		return out, true
	}
	if x, ok := docTypes("won_doc_types"); ok {
		t.WonDocTypes = x
	}
	if x, ok := docTypes("proposal_doc_types"); ok {
		t.ProposalDocTypes = x
	}
}

// builtinThresholds apply when a rules file leaves a threshold out.
var builtinThresholds = Thresholds{
	MinCallSeconds:      60,
	ProposalViewCounts:  true,
	MeetingCountsWhen:   "future_or_held",
	ThirdPartySender:    "require_buyer_copy",
	StageRequestMaySkip: true,
	AcceptConfirmDays:   14,
	ExcerptChars:        120,
	WonDocTypes:         []string{"contract", "quote", "proposal"},
	ProposalDocTypes:    []string{"proposal", "quote"},
}

// Package intent decides, from a deal's engagement evidence, whether the deal
// has really progressed, and explains why.
package intent

import (
	"context"
	"time"

	"github.com/stagemover/stagemover/shared/core/signal"
)

// Deal is what the engine knows of the deal. Stage and Status may be empty
// when no mirror of the deal is available; the mover then enforces the
// forward-only and closed-deal policies against the live deal.
type Deal struct {
	ID          int64   `json:"id"`
	Title       string  `json:"title,omitempty"`
	Pipeline    string  `json:"pipeline,omitempty"`
	Stage       string  `json:"stage,omitempty"`
	Status      string  `json:"status,omitempty"` // open|won|lost
	Value       float64 `json:"value,omitempty"`
	Currency    string  `json:"currency,omitempty"`
	PersonEmail string  `json:"person_email,omitempty"`
	OrgDomain   string  `json:"org_domain,omitempty"`
}

// Input is everything one decision is made from.
type Input struct {
	Now             time.Time       `json:"now"`
	Deal            Deal            `json:"deal"`
	InternalDomains []string        `json:"internal_domains"`
	Signals         []signal.Signal `json:"signals"` // oldest first
}

// Flags a person should act on. They are reported, never acted on by the mover.
const (
	FlagFollowUp = "follow_up"
	FlagReview   = "review"
)

// Decision is what should happen to the deal after the evidence.
type Decision struct {
	Stage  string `json:"stage,omitempty"` // target stage name; "" leaves the stage alone
	Status string `json:"status"`          // open|won|lost
	Flag   string `json:"flag,omitempty"`  // follow_up|review|""
	Rule   string `json:"rule,omitempty"`  // the rule that chose Stage/Status
	// Evidence is the furthest stage the evidence supports, moved to or not
	// (forward-only, closed deal, review). A person later moving the deal
	// there is a miss the report counts.
	Evidence string   `json:"evidence,omitempty"`
	Reasons  []Reason `json:"reasons"`
}

// Reason explains one piece of evidence that counted (or was discounted).
type Reason struct {
	Signal  int    `json:"signal"`            // index into Input.Signals
	Kind    string `json:"kind"`              // signal kind
	At      string `json:"at,omitempty"`      // signal time, RFC 3339
	Cue     string `json:"cue"`               // e.g. pricing_question, meeting_booked, auto_reply
	Excerpt string `json:"excerpt,omitempty"` // the words that triggered it, short
	Rule    string `json:"rule,omitempty"`    // rule id from the rules file
	Counted bool   `json:"counted"`           // false when the evidence was discounted
	Note    string `json:"note,omitempty"`    // why it was discounted, or what it shows
}

// IsMove reports whether the decision changes the deal given its current status.
func (d Decision) IsMove(currentStatus string) bool {
	return d.Stage != "" || (d.Status != "" && d.Status != currentStatus)
}

// Engine decides. Implementations must be safe for concurrent use.
type Engine interface {
	Decide(ctx context.Context, in Input) (Decision, error)
}

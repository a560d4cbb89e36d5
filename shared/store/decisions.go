package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Decision actions: only "move" decisions reach the mover (template.yaml filter).
const (
	ActionMove = "move"
	ActionStay = "stay"
)

// Mover states. A move decision starts pending; the mover takes it in flight
// under a lease and ends it done, skipped or failed, each with a reason.
// Stay decisions are recorded and never change.
const (
	StateRecorded = "recorded"
	StatePending  = "pending"
	StateInFlight = "in_flight"
	StateDone     = "done"
	StateSkipped  = "skipped"
	StateFailed   = "failed"
)

// Decision is the evaluator's verdict on a deal after one signal, and the
// mover's progress on it.
type Decision struct {
	DealID         int64
	SignalKey      string // the signal that triggered the evaluation
	EventID        string // that signal's sender event id, for log lines
	Action         string // move|stay
	TargetStage    string // stage name; "" leaves the stage
	TargetPipeline string // pipeline name the rule is for; "" = the deal's own
	Status         string // open|won|lost: "won" patches the status
	Flag           string // follow_up|review
	Rule           string
	Reasons        []Reason
	CreatedAt      time.Time

	State       string
	StateReason string
	LeaseOwner  string
	LeaseUntil  time.Time
	Attempts    int
	FromStageID int64
	ToStageID   int64
	Shadow      bool
	UpdatedAt   time.Time
	PatchSentAt time.Time // set once a write to Pipedrive was sent for this decision
}

// Reason is one piece of evidence behind a decision, as the intent engine
// explained it (shared/core/intent's Reason converts to it field for
// field). It is stored as JSON in the decision's "reasons" attribute.
type Reason struct {
	Signal  int    `json:"signal"`            // index into the evaluated signals
	Kind    string `json:"kind"`              // signal kind
	At      string `json:"at,omitempty"`      // signal time, RFC 3339
	Cue     string `json:"cue"`               // e.g. pricing_question, meeting_booked, auto_reply
	Excerpt string `json:"excerpt,omitempty"` // the words that triggered it, short
	Rule    string `json:"rule,omitempty"`    // rule id from the rules file
	Counted bool   `json:"counted"`           // false when the evidence was discounted
	Note    string `json:"note,omitempty"`    // why it was discounted, or what it shows
}

// SortKey identifies the decision within its deal. It derives only from the
// triggering signal, so re-running the same stream batch finds the same key.
func (d Decision) SortKey() string { return "DEC#" + d.SignalKey }

// PutDecision records d unless a decision for the same deal and signal
// exists; created is false for a re-run.
func (s *Store) PutDecision(ctx context.Context, d Decision) (created bool, err error) {
	reasons, err := json.Marshal(d.Reasons)
	if err != nil {
		return false, fmt.Errorf("put decision: %w", err)
	}
	state := StateRecorded
	if d.Action == ActionMove {
		state = StatePending
	}
	now := s.now().UTC().Format(time.RFC3339Nano)
	item := key(dealPK(d.DealID), d.SortKey())
	item["type"] = str(TypeDecision)
	item["action"] = str(d.Action)
	item["deal_id"] = num(d.DealID)
	item["signal_key"] = str(d.SignalKey)
	item["event_id"] = str(d.EventID)
	item["target_stage"] = str(d.TargetStage)
	item["target_pipeline"] = str(d.TargetPipeline)
	item["status"] = str(d.Status)
	item["flag"] = str(d.Flag)
	item["rule"] = str(d.Rule)
	item["reasons"] = str(string(reasons))
	item["state"] = str(state)
	item["attempts"] = num(0)
	item["created_at"] = str(now)
	item["updated_at"] = str(now)
	item["expires_at"] = s.expiresAt()
	if d.Action == ActionMove {
		// Listed in the index while unfinished, so the sweeper can re-drive a
		// decision whose stream retries ran out.
		item["gsi1pk"] = str(openDecisionsPK)
		item["gsi1sk"] = str(s.now().UTC().Format(sortTime) + "#" + dealPK(d.DealID) + "#" + d.SortKey())
	}
	return s.putNew(ctx, item, fmt.Sprintf("put decision deal %d %s", d.DealID, d.SortKey()))
}

// DecisionFromItem decodes a decision item (GetItem or a stream image).
func DecisionFromItem(item map[string]types.AttributeValue) (Decision, error) {
	if getS(item, "type") != TypeDecision {
		return Decision{}, fmt.Errorf("item %q/%q is not a decision", getS(item, "pk"), getS(item, "sk"))
	}
	d := Decision{
		DealID:         getN(item, "deal_id"),
		SignalKey:      getS(item, "signal_key"),
		EventID:        getS(item, "event_id"),
		Action:         getS(item, "action"),
		TargetStage:    getS(item, "target_stage"),
		TargetPipeline: getS(item, "target_pipeline"),
		Status:         getS(item, "status"),
		Flag:           getS(item, "flag"),
		Rule:           getS(item, "rule"),
		State:          getS(item, "state"),
		StateReason:    getS(item, "state_reason"),
		LeaseOwner:     getS(item, "lease_owner"),
		Attempts:       int(getN(item, "attempts")),
		FromStageID:    getN(item, "from_stage_id"),
		ToStageID:      getN(item, "to_stage_id"),
		Shadow:         getBool(item, "shadow"),
	}
	if ms := getN(item, "lease_until"); ms > 0 {
		d.LeaseUntil = time.UnixMilli(ms)
	}
	if ms := getN(item, "patch_sent_at"); ms > 0 {
		d.PatchSentAt = time.UnixMilli(ms)
	}
	d.CreatedAt, _ = time.Parse(time.RFC3339Nano, getS(item, "created_at"))
	d.UpdatedAt, _ = time.Parse(time.RFC3339Nano, getS(item, "updated_at"))
	if r := getS(item, "reasons"); r != "" {
		if err := json.Unmarshal([]byte(r), &d.Reasons); err != nil {
			return d, fmt.Errorf("decision deal %d %s: reasons: %w", d.DealID, d.SortKey(), err)
		}
	}
	if d.DealID == 0 || d.SignalKey == "" {
		return d, fmt.Errorf("decision item %q/%q lacks deal_id or signal_key", getS(item, "pk"), getS(item, "sk"))
	}
	return d, nil
}

// GetDecision reads a decision with a strongly consistent read.
func (s *Store) GetDecision(ctx context.Context, dealID int64, sortKey string) (Decision, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      &s.table,
		Key:            key(dealPK(dealID), sortKey),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return Decision{}, fmt.Errorf("get decision deal %d %s: %w", dealID, sortKey, err)
	}
	if len(out.Item) == 0 {
		return Decision{}, fmt.Errorf("decision deal %d %s: %w", dealID, sortKey, ErrNotFound)
	}
	return DecisionFromItem(out.Item)
}

// Claim takes a move decision in flight for owner until now+lease. It
// succeeds when the decision is pending, or in flight under a lease that has
// run out (its holder crashed). Otherwise it returns ErrConflict with the
// decision as it stands, so the caller can tell finished from busy.
func (s *Store) Claim(ctx context.Context, dealID int64, sortKey, owner string, lease time.Duration) (Decision, error) {
	now := s.now()
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           &s.table,
		Key:                 key(dealPK(dealID), sortKey),
		ConditionExpression: aws.String("#st = :pending OR (#st = :inflight AND lease_until < :now)"),
		UpdateExpression:    aws.String("SET #st = :inflight, lease_owner = :owner, lease_until = :until, attempts = attempts + :one, updated_at = :ts"),
		ExpressionAttributeNames: map[string]string{
			"#st": "state",
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pending":  str(StatePending),
			":inflight": str(StateInFlight),
			":now":      num(now.UnixMilli()),
			":until":    num(now.Add(lease).UnixMilli()),
			":owner":    str(owner),
			":one":      num(1),
			":ts":       str(now.UTC().Format(time.RFC3339Nano)),
		},
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if isConditionFailed(err) {
		var ccf *types.ConditionalCheckFailedException
		if errors.As(err, &ccf) && len(ccf.Item) > 0 {
			cur, derr := DecisionFromItem(ccf.Item)
			if derr == nil {
				return cur, fmt.Errorf("claim deal %d %s: %w", dealID, sortKey, ErrConflict)
			}
		}
		cur, gerr := s.GetDecision(ctx, dealID, sortKey)
		if gerr != nil {
			return Decision{}, gerr
		}
		return cur, fmt.Errorf("claim deal %d %s: %w", dealID, sortKey, ErrConflict)
	}
	if err != nil {
		return Decision{}, fmt.Errorf("claim deal %d %s: %w", dealID, sortKey, err)
	}
	return DecisionFromItem(out.Attributes)
}

// Outcome is how the mover ends (or gives back) a claimed decision.
type Outcome struct {
	State       string // done|skipped|failed, or pending to release for a retry
	Reason      string
	FromStageID int64
	ToStageID   int64
	Shadow      bool
}

// Finish records the outcome, only while owner still holds the decision.
func (s *Store) Finish(ctx context.Context, dealID int64, sortKey, owner string, o Outcome) error {
	update := "SET #st = :st, state_reason = :reason, from_stage_id = :from, to_stage_id = :to, shadow = :shadow, updated_at = :ts, lease_until = :zero"
	if o.State != StatePending {
		update += " REMOVE gsi1pk, gsi1sk" // finished: off the open-decisions index
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           &s.table,
		Key:                 key(dealPK(dealID), sortKey),
		ConditionExpression: aws.String("#st = :inflight AND lease_owner = :owner"),
		UpdateExpression:    aws.String(update),
		ExpressionAttributeNames: map[string]string{
			"#st": "state",
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":inflight": str(StateInFlight),
			":owner":    str(owner),
			":st":       str(o.State),
			":reason":   str(o.Reason),
			":from":     num(o.FromStageID),
			":to":       num(o.ToStageID),
			":shadow":   boolean(o.Shadow),
			":ts":       str(s.now().UTC().Format(time.RFC3339Nano)),
			":zero":     num(0),
		},
	})
	if err != nil {
		return wrapCondition(err, fmt.Sprintf("finish deal %d %s as %s", dealID, sortKey, o.State))
	}
	return nil
}

// DecisionsForDeal lists a deal's decisions, oldest signal key first.
func (s *Store) DecisionsForDeal(ctx context.Context, dealID int64) ([]Decision, error) {
	ds := []Decision{}
	err := s.queryDeal(ctx, dealID, "DEC#", func(item map[string]types.AttributeValue) error {
		d, err := DecisionFromItem(item)
		if err == nil {
			ds = append(ds, d)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("decisions for deal %d: %w", dealID, err)
	}
	return ds, nil
}

// MarkPatchSent records, while owner holds the decision, that a write to
// Pipedrive is about to be sent. A later attempt that finds the deal already
// at the target knows the move was ours rather than a person's.
func (s *Store) MarkPatchSent(ctx context.Context, dealID int64, sortKey, owner string) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                &s.table,
		Key:                      key(dealPK(dealID), sortKey),
		ConditionExpression:      aws.String("#st = :inflight AND lease_owner = :owner"),
		UpdateExpression:         aws.String("SET patch_sent_at = :now"),
		ExpressionAttributeNames: map[string]string{"#st": "state"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":inflight": str(StateInFlight),
			":owner":    str(owner),
			":now":      num(s.now().UnixMilli()),
		},
	})
	if err != nil {
		return wrapCondition(err, fmt.Sprintf("mark patch sent deal %d %s", dealID, sortKey))
	}
	return nil
}

// openDecisionsPK groups unfinished move decisions in the index.
const openDecisionsPK = "OPEN#DECISION"

// OpenDecisions returns unfinished move decisions created before olderThan,
// oldest first, and how many of the listed items did not decode.
func (s *Store) OpenDecisions(ctx context.Context, olderThan time.Time, limit int) (ds []Decision, unreadable int, err error) {
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{
		TableName:              &s.table,
		IndexName:              aws.String(Index),
		KeyConditionExpression: aws.String("gsi1pk = :pk AND gsi1sk < :before"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk":     str(openDecisionsPK),
			":before": str(olderThan.UTC().Format(sortTime)),
		},
		Limit: aws.Int32(int32(limit)),
	})
	if err != nil {
		return nil, 0, fmt.Errorf("open decisions: %w", err)
	}
	for _, item := range out.Items {
		d, err := DecisionFromItem(item)
		if err != nil {
			unreadable++
			continue
		}
		ds = append(ds, d)
	}
	return ds, unreadable, nil
}

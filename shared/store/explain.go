package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Explanation kinds: what was (or is being) written back to Pipedrive about
// a decision. Each has its own marker attributes on the decision item
// (<kind>_state, _owner, _id, _at, _reason), so a note and an activity for
// the same decision never block each other.
const (
	ExplainNote     = "note"
	ExplainActivity = "activity"
)

// Explanation marker states. A marker is claimed ("posting") with a
// conditional write before the POST, so of any number of concurrent or
// repeated writers exactly one sends it. It then ends "posted" (with the
// Pipedrive id), "uncertain" (the POST may or may not have created it:
// never sent again, see shared/core/explain), "skipped" (nothing to write, e.g.
// the deal is closed), or is released (removed) when Pipedrive certainly did
// not create it, so a later run can try again.
const (
	ExplainPosting   = "posting"
	ExplainPosted    = "posted"
	ExplainUncertain = "uncertain"
	ExplainSkipped   = "skipped"
)

// Explanation is a decision's marker for one kind.
type Explanation struct {
	State  string // "" when none was ever claimed (or it was released)
	Owner  string
	ID     int64 // Pipedrive note or activity id, when posted
	At     time.Time
	Reason string
}

func explainKind(kind string) error {
	if kind != ExplainNote && kind != ExplainActivity {
		return fmt.Errorf("unknown explanation kind %q", kind)
	}
	return nil
}

// ClaimExplanation claims the right to write kind for the decision. It
// fails with ErrConflict when a marker already exists in any state (another
// writer holds it, or it was already settled), and with ErrNotFound when the
// decision does not exist.
func (s *Store) ClaimExplanation(ctx context.Context, dealID int64, sortKey, kind, owner string) error {
	if err := explainKind(kind); err != nil {
		return err
	}
	if owner == "" {
		return errors.New("claim explanation: owner is required")
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           &s.table,
		Key:                 key(dealPK(dealID), sortKey),
		ConditionExpression: aws.String("attribute_exists(pk) AND #t = :dec AND attribute_not_exists(#st)"),
		UpdateExpression:    aws.String("SET #st = :posting, #ow = :owner, #at = :now"),
		ExpressionAttributeNames: map[string]string{
			"#t": "type", "#st": kind + "_state", "#ow": kind + "_owner", "#at": kind + "_at",
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":dec":     str(TypeDecision),
			":posting": str(ExplainPosting),
			":owner":   str(owner),
			":now":     num(s.now().UnixMilli()),
		},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if isConditionFailed(err) {
		var ccf *types.ConditionalCheckFailedException
		if errors.As(err, &ccf) && len(ccf.Item) == 0 {
			return fmt.Errorf("claim %s deal %d %s: decision %w", kind, dealID, sortKey, ErrNotFound)
		}
		return fmt.Errorf("claim %s deal %d %s: %w", kind, dealID, sortKey, ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("claim %s deal %d %s: %w", kind, dealID, sortKey, err)
	}
	return nil
}

// SettleExplanation ends owner's claim in state (ExplainPosted with id,
// ExplainUncertain or ExplainSkipped with a reason). ErrConflict means owner
// no longer holds a posting claim.
func (s *Store) SettleExplanation(ctx context.Context, dealID int64, sortKey, kind, owner, state string, id int64, reason string) error {
	if err := explainKind(kind); err != nil {
		return err
	}
	switch state {
	case ExplainPosted, ExplainUncertain, ExplainSkipped:
	default:
		return fmt.Errorf("settle %s: state %q is not a final state", kind, state)
	}
	update := "SET #st = :state, #at = :now, #rs = :reason"
	vals := map[string]types.AttributeValue{
		":posting": str(ExplainPosting),
		":owner":   str(owner),
		":state":   str(state),
		":now":     num(s.now().UnixMilli()),
		":reason":  str(reason),
	}
	names := map[string]string{
		"#st": kind + "_state", "#ow": kind + "_owner", "#at": kind + "_at", "#rs": kind + "_reason",
	}
	if id > 0 {
		update += ", #id = :id"
		names["#id"] = kind + "_id"
		vals[":id"] = num(id)
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &s.table,
		Key:                       key(dealPK(dealID), sortKey),
		ConditionExpression:       aws.String("#st = :posting AND #ow = :owner"),
		UpdateExpression:          aws.String(update),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: vals,
	})
	if err != nil {
		return wrapCondition(err, fmt.Sprintf("settle %s deal %d %s as %s", kind, dealID, sortKey, state))
	}
	return nil
}

// ReleaseExplanation removes owner's posting claim, so a later run may
// claim again. Use it only when Pipedrive certainly did not create anything.
func (s *Store) ReleaseExplanation(ctx context.Context, dealID int64, sortKey, kind, owner string) error {
	if err := explainKind(kind); err != nil {
		return err
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           &s.table,
		Key:                 key(dealPK(dealID), sortKey),
		ConditionExpression: aws.String("#st = :posting AND #ow = :owner"),
		UpdateExpression:    aws.String("REMOVE #st, #ow, #at, #rs"),
		ExpressionAttributeNames: map[string]string{
			"#st": kind + "_state", "#ow": kind + "_owner", "#at": kind + "_at", "#rs": kind + "_reason",
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":posting": str(ExplainPosting),
			":owner":   str(owner),
		},
	})
	if err != nil {
		return wrapCondition(err, fmt.Sprintf("release %s deal %d %s", kind, dealID, sortKey))
	}
	return nil
}

// GetExplanation reads a decision's marker for kind (strongly consistent).
func (s *Store) GetExplanation(ctx context.Context, dealID int64, sortKey, kind string) (Explanation, error) {
	if err := explainKind(kind); err != nil {
		return Explanation{}, err
	}
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      &s.table,
		Key:            key(dealPK(dealID), sortKey),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return Explanation{}, fmt.Errorf("get %s deal %d %s: %w", kind, dealID, sortKey, err)
	}
	if len(out.Item) == 0 {
		return Explanation{}, fmt.Errorf("decision deal %d %s: %w", dealID, sortKey, ErrNotFound)
	}
	e := Explanation{
		State:  getS(out.Item, kind+"_state"),
		Owner:  getS(out.Item, kind+"_owner"),
		ID:     getN(out.Item, kind+"_id"),
		Reason: getS(out.Item, kind+"_reason"),
	}
	if ms := getN(out.Item, kind+"_at"); ms > 0 {
		e.At = time.UnixMilli(ms)
	}
	return e, nil
}

package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Scanner is the DynamoDB client's Scan, which only ReportItems needs
// (*dynamodb.Client has it).
type Scanner interface {
	Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

// ErrCannotScan means the store's DynamoDB client has no Scan.
var ErrCannotScan = errors.New("the DynamoDB client cannot scan")

// ReportItems is what the revert report reads from the whole table.
type ReportItems struct {
	Decisions    []Decision           // every decision that decodes
	SignalAt     map[string]time.Time // a signal's time, by its key (Decision.SignalKey)
	DealPipeline map[int64]string     // the deal mirror's pipeline name, by deal id
	Measures     []Measure
}

// ReportItems scans the table (paginated; fine for the CLI and an hourly
// job on a small table) for decisions, signals, deal mirrors and measures.
func (s *Store) ReportItems(ctx context.Context) (ReportItems, error) {
	sc, ok := s.db.(Scanner)
	if !ok {
		return ReportItems{}, fmt.Errorf("scan %s: %w", s.table, ErrCannotScan)
	}
	r := ReportItems{SignalAt: map[string]time.Time{}, DealPipeline: map[int64]string{}}
	var start map[string]types.AttributeValue
	for {
		out, err := sc.Scan(ctx, &dynamodb.ScanInput{
			TableName:                &s.table,
			FilterExpression:         aws.String("#t IN (:dec, :sig, :deal, :rev, :miss, :conf)"),
			ExpressionAttributeNames: map[string]string{"#t": "type"},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":dec": str(TypeDecision), ":sig": str(TypeSignal), ":deal": str(TypeDeal),
				":rev": str(TypeRevert), ":miss": str(TypeMiss), ":conf": str(TypeConfirmed),
			},
			ExclusiveStartKey: start,
		})
		if err != nil {
			return ReportItems{}, fmt.Errorf("scan %s: %w", s.table, err)
		}
		for _, item := range out.Items {
			switch getS(item, "type") {
			case TypeDecision:
				if d, err := DecisionFromItem(item); err == nil {
					r.Decisions = append(r.Decisions, d)
				}
			case TypeSignal:
				if at, err := time.Parse(time.RFC3339Nano, getS(item, "at")); err == nil {
					r.SignalAt[getS(item, "pk")] = at
				}
			case TypeDeal:
				r.DealPipeline[getN(item, "deal_id")] = getS(item, "pipeline")
			default:
				r.Measures = append(r.Measures, measureFromItem(item))
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			return r, nil
		}
		start = out.LastEvaluatedKey
	}
}

// DecidedDeals lists, ascending, every deal with at least one recorded
// decision, whether its signal named the deal or the evaluator resolved it
// from a person's email address (a consistent scan: local mode and the demo).
func (s *Store) DecidedDeals(ctx context.Context) ([]int64, error) {
	sc, ok := s.db.(Scanner)
	if !ok {
		return nil, fmt.Errorf("list decided deals: %w", ErrCannotScan)
	}
	seen := map[int64]bool{}
	var start map[string]types.AttributeValue
	for {
		out, err := sc.Scan(ctx, &dynamodb.ScanInput{
			TableName:                 &s.table,
			FilterExpression:          aws.String("#t = :d"),
			ProjectionExpression:      aws.String("deal_id"),
			ExpressionAttributeNames:  map[string]string{"#t": "type"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":d": str(TypeDecision)},
			ConsistentRead:            aws.Bool(true),
			ExclusiveStartKey:         start,
		})
		if err != nil {
			return nil, fmt.Errorf("list decided deals: %w", err)
		}
		for _, item := range out.Items {
			if id := getN(item, "deal_id"); id != 0 {
				seen[id] = true
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			break
		}
		start = out.LastEvaluatedKey
	}
	ids := make([]int64, 0, len(seen))
	for id := range seen {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids, nil
}

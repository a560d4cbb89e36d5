package pdhooks

import (
	"context"
	"sort"
	"time"

	"github.com/stagemover/stagemover/shared/store"
)

// Table is the store as this package uses it: the redelivery guard (one
// webhook event record per meta.id), the decisions it judges and the
// measures it records. The store owns every item's layout.
type Table struct{ Store *store.Store }

// Seen reports whether the event was fully processed before.
func (t Table) Seen(ctx context.Context, eventID string) (bool, error) {
	return t.Store.WebhookEventSeen(ctx, eventID)
}

// EventRecord is what is kept of a delivered event.
type EventRecord struct {
	Meta    Meta
	Own     bool   // made by the integration user
	Outcome string // mirrored | own | bulk | revert | miss | confirmed | stagemap | ignored
	Now     time.Time
}

// PutEvent records the event last, once its effects are stored: created is
// false when another delivery of the same event got there first.
func (t Table) PutEvent(ctx context.Context, r EventRecord) (created bool, err error) {
	return t.Store.PutWebhookEvent(ctx, store.WebhookEvent{
		ID: r.Meta.ID, Action: r.Meta.Action, Entity: r.Meta.Entity, EntityID: r.Meta.EntityID,
		UserID: r.Meta.UserID, ChangeSource: r.Meta.ChangeSource, Bulk: r.Meta.IsBulkEdit, Own: r.Own,
		Outcome: r.Outcome, CorrelationID: r.Meta.CorrelationID, EventAt: r.Meta.Timestamp, ReceivedAt: r.Now,
	})
}

// Decisions lists a deal's decisions (strongly consistent), newest update first.
func (t Table) Decisions(ctx context.Context, dealID int64) ([]store.Decision, error) {
	ds, err := t.Store.DecisionsForDeal(ctx, dealID)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(ds, func(i, j int) bool { return ds[i].UpdatedAt.After(ds[j].UpdatedAt) })
	return ds, nil
}

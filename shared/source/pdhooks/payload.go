// Package pdhooks receives Pipedrive webhooks v2 (POST /pipedrive): it keeps
// the deal mirror and the cached stage map current, tells our own changes
// from people's, and measures the automation against people's corrections
// (reverts of our moves, misses, confirmed shadow moves). It also registers
// the webhooks idempotently (POST /v1/webhooks) and reports per pipeline and
// rule.
//
// Payload shape: Pipedrive "Guide for Webhooks v2"
// (https://pipedrive.readme.io/docs/guide-for-webhooks-v2) and the
// "Webhooks v2 migration guide"
// (https://pipedrive.readme.io/docs/webhooks-v2-migration-guide):
// {"meta": {...}, "data": {...}, "previous": {...}}; ids in meta are strings;
// "previous" carries only the fields that changed; change_source is "app" or
// "api" (https://developers.pipedrive.com/changelog/post/new-field-for-webhooks).
package pdhooks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/stagemover/stagemover/shared/source/ingest"
)

// ErrInvalid marks a body that is not a usable webhooks v2 delivery: Parse
// refuses it with an ingest.RejectError (400) wrapping ErrInvalid.
var ErrInvalid = errors.New("invalid webhook")

// Meta is the "meta" block of a webhooks v2 payload.
type Meta struct {
	Action        string    // create | change | delete
	Entity        string    // deal | stage | pipeline | ...
	EntityID      int64     // meta.entity_id (a string in the payload)
	ID            string    // meta.id: the event id, the same on every retry
	CorrelationID string    // meta.correlation_id
	IsBulkEdit    bool      // meta.is_bulk_edit
	UserID        int64     // meta.user_id: who made the change
	ChangeSource  string    // app | api
	Attempt       int       // meta.attempt, 1 = first delivery
	Timestamp     time.Time // meta.timestamp
	WebhookID     string    // meta.webhook_id
}

// DealData is what the mirror and the judge read of a deal in "data".
type DealData struct {
	ID         int64
	StageID    int64
	PipelineID int64
	Status     string
	PersonID   int64
	OwnerID    int64
}

// Event is a parsed delivery.
type Event struct {
	Meta Meta
	// Deal is set for entity "deal" with a non-null data block, and for a
	// deal's delete (data null): then it is the deal "previous" holds, with
	// Status "deleted".
	Deal *DealData
	// Previous lists the fields present in "previous" (only the changed
	// ones); PrevStageID/PrevPipelineID/PrevStatus are their values.
	Previous       map[string]bool
	PrevStageID    int64
	PrevPipelineID int64
	PrevStatus     string
}

// StageChanged is true only when "previous" carries stage_id: the one sign
// Pipedrive gives that the stage really changed.
func (e Event) StageChanged() bool { return e.Previous["stage_id"] }

// StatusChanged is true when "previous" carries status.
func (e Event) StatusChanged() bool { return e.Previous["status"] }

// id accepts a JSON string of digits (the documented shape) or a number.
type id string

func (v *id) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*v = ""
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*v = id(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("an id must be a string or a number")
	}
	*v = id(n.String())
	return nil
}

func (v id) int() (int64, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not an id", string(v))
	}
	return n, nil
}

type rawMeta struct {
	Action        string `json:"action"`
	Entity        string `json:"entity"`
	EntityID      id     `json:"entity_id"`
	ID            id     `json:"id"`
	CorrelationID id     `json:"correlation_id"`
	IsBulkEdit    *bool  `json:"is_bulk_edit"`
	UserID        id     `json:"user_id"`
	ChangeSource  string `json:"change_source"`
	Attempt       *int   `json:"attempt"`
	Timestamp     string `json:"timestamp"`
	WebhookID     id     `json:"webhook_id"`
}

type rawDeal struct {
	ID         id     `json:"id"`
	StageID    id     `json:"stage_id"`
	PipelineID id     `json:"pipeline_id"`
	Status     string `json:"status"`
	PersonID   id     `json:"person_id"`
	OwnerID    id     `json:"owner_id"`
}

type rawBody struct {
	Meta     *rawMeta                   `json:"meta"`
	Data     json.RawMessage            `json:"data"`
	Previous map[string]json.RawMessage `json:"previous"`
}

var actions = map[string]bool{"create": true, "change": true, "delete": true}

func invalid(format string, a ...any) error {
	return ingest.Reject(http.StatusBadRequest, ErrInvalid, format, a...)
}

// Parse decodes and validates a webhooks v2 body. Errors wrap ErrInvalid and
// name the field; a webhooks v1 body is named as such (its fields would
// otherwise be reported as wrong types).
func Parse(body []byte) (Event, error) {
	ev, err := parse(body)
	if err != nil && isV1(body) {
		return Event{}, invalid("this is a Pipedrive webhooks v1 payload; register the webhook with version 2.0 (stagemover pipedrive-webhooks registers version 2.0)")
	}
	return ev, err
}

// isV1 recognises a webhooks v1 delivery: "current" or "event" at the top
// level, or "v": 1 at the top level or in meta. No v2 body has them.
func isV1(body []byte) bool {
	var top map[string]json.RawMessage
	if json.Unmarshal(body, &top) != nil {
		return false
	}
	if _, ok := top["current"]; ok {
		return true
	}
	if _, ok := top["event"]; ok {
		return true
	}
	one := func(v json.RawMessage) bool {
		v = bytes.TrimSpace(v)
		return bytes.Equal(v, []byte("1")) || bytes.Equal(v, []byte(`"1"`))
	}
	if one(top["v"]) {
		return true
	}
	var meta map[string]json.RawMessage
	return json.Unmarshal(top["meta"], &meta) == nil && one(meta["v"])
}

func parse(body []byte) (Event, error) {
	var raw rawBody
	if err := json.Unmarshal(body, &raw); err != nil {
		return Event{}, invalid("body is not a JSON object: %s", ingest.DescribeJSON(err))
	}
	if raw.Meta == nil {
		return Event{}, invalid("meta is missing (not a webhooks v2 payload)")
	}
	m := raw.Meta
	var ev Event
	ev.Meta.Action = m.Action
	ev.Meta.Entity = strings.ToLower(m.Entity)
	ev.Meta.ID = string(m.ID)
	ev.Meta.CorrelationID = string(m.CorrelationID)
	ev.Meta.ChangeSource = m.ChangeSource
	ev.Meta.WebhookID = string(m.WebhookID)
	if ev.Meta.ID == "" || len(ev.Meta.ID) > 128 {
		return Event{}, invalid("meta.id is missing or too long")
	}
	if !actions[m.Action] {
		return Event{}, invalid("meta.action %q is not create, change or delete", truncate(m.Action, 40))
	}
	if ev.Meta.Entity == "" || len(ev.Meta.Entity) > 64 {
		return Event{}, invalid("meta.entity is missing")
	}
	var err error
	if ev.Meta.EntityID, err = m.EntityID.int(); err != nil || ev.Meta.EntityID == 0 {
		return Event{}, invalid("meta.entity_id is missing or not an id")
	}
	if ev.Meta.UserID, err = m.UserID.int(); err != nil {
		return Event{}, invalid("meta.user_id: %v", err)
	}
	if m.IsBulkEdit != nil {
		ev.Meta.IsBulkEdit = *m.IsBulkEdit
	}
	if m.Attempt != nil {
		ev.Meta.Attempt = *m.Attempt
	}
	ts, err := time.Parse(time.RFC3339Nano, m.Timestamp)
	if err != nil {
		return Event{}, invalid("meta.timestamp is missing or not RFC 3339")
	}
	ev.Meta.Timestamp = ts.UTC()

	ev.Previous = map[string]bool{}
	for k, v := range raw.Previous {
		ev.Previous[k] = true
		switch k {
		case "stage_id":
			var p id
			if json.Unmarshal(v, &p) != nil {
				return Event{}, invalid("previous.stage_id is not an id")
			}
			if ev.PrevStageID, err = p.int(); err != nil {
				return Event{}, invalid("previous.stage_id is not an id")
			}
		case "pipeline_id":
			var p id
			if json.Unmarshal(v, &p) != nil {
				return Event{}, invalid("previous.pipeline_id is not an id")
			}
			if ev.PrevPipelineID, err = p.int(); err != nil {
				return Event{}, invalid("previous.pipeline_id is not an id")
			}
		case "status":
			var s *string
			if json.Unmarshal(v, &s) != nil {
				return Event{}, invalid("previous.status is not a string")
			}
			if s != nil {
				ev.PrevStatus = *s
			}
		}
	}

	data := bytes.TrimSpace(raw.Data)
	hasData := len(data) > 0 && !bytes.Equal(data, []byte("null"))
	switch {
	case ev.Meta.Entity != "deal":
	case hasData:
		if ev.Deal, err = parseDeal(data, "data", ev.Meta.EntityID); err != nil {
			return Event{}, err
		}
	case ev.Meta.Action == "delete" && raw.Previous != nil:
		// A delete carries the deal as it was in "previous" (data is null).
		prev, _ := json.Marshal(raw.Previous)
		if ev.Deal, err = parseDeal(prev, "previous", ev.Meta.EntityID); err != nil {
			return Event{}, err
		}
	case ev.Meta.Action == "delete":
		ev.Deal = &DealData{ID: ev.Meta.EntityID}
	}
	if ev.Deal != nil && ev.Meta.Action == "delete" {
		ev.Deal.Status = "deleted"
	}
	return ev, nil
}

// parseDeal reads the deal fields of a "data" (or, for a delete,
// "previous") block.
func parseDeal(block []byte, name string, entityID int64) (*DealData, error) {
	var d rawDeal
	if err := json.Unmarshal(block, &d); err != nil {
		return nil, invalid("%s is not a deal: %s", name, ingest.DescribeJSON(err))
	}
	dd := &DealData{Status: d.Status}
	var err error
	for _, f := range []struct {
		name string
		v    id
		dst  *int64
	}{{"id", d.ID, &dd.ID}, {"stage_id", d.StageID, &dd.StageID}, {"pipeline_id", d.PipelineID, &dd.PipelineID}, {"person_id", d.PersonID, &dd.PersonID}, {"owner_id", d.OwnerID, &dd.OwnerID}} {
		if *f.dst, err = f.v.int(); err != nil {
			return nil, invalid("%s.%s is not an id", name, f.name)
		}
	}
	if dd.ID != 0 && dd.ID != entityID {
		return nil, invalid("%s.id %d is not meta.entity_id %d", name, dd.ID, entityID)
	}
	dd.ID = entityID
	switch dd.Status {
	case "open", "won", "lost", "deleted", "":
	default:
		return nil, invalid("%s.status %q is not open, won or lost", name, truncate(dd.Status, 20))
	}
	return dd, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

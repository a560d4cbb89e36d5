package ingest

import (
	"encoding/base64"
	"encoding/json"
	"net/http"

	"github.com/aws/aws-lambda-go/events"
)

// Outcome is what storing a delivery's items did.
type Outcome struct {
	Results    []Result // per item, in delivery order
	Stored     int      // items stored now
	Duplicates int      // items an earlier delivery stored
	// Items acknowledged and not stored, by Skip.
	Unused, Unwatched, NotAuthentic int
}

// Result is what became of one item.
type Result struct {
	Item    Item
	Created bool   // stored now (false: a duplicate, or skipped)
	Key     string // the signal or fetch key
	Outcome string // what an Apply item did (Pipedrive: "mirrored", "revert", ...)
}

func (o *Outcome) skipped(s Skip) {
	switch s {
	case Unused:
		o.Unused++
	case Unwatched:
		o.Unwatched++
	case NotAuthentic:
		o.NotAuthentic++
	}
}

// Ignored is the number of items skipped, for whatever reason.
func (o Outcome) Ignored() int { return o.Unused + o.Unwatched + o.NotAuthentic }

// Status is the delivery's status and code: "stored" 202 when anything is
// new, else "duplicate" 200 when anything was stored before, else
// "ignored" 200.
func (o Outcome) Status() (string, int) {
	switch {
	case o.Stored > 0:
		return "stored", http.StatusAccepted
	case o.Duplicates > 0:
		return "duplicate", http.StatusOK
	}
	return "ignored", http.StatusOK
}

// Answer is every source's success answer unless it is an Answerer: the
// Status, and for a delivery of one item its key ("signal_key" or
// "fetch_key") or, when ignored, its event type:
//
//	202 {"status":"stored","signal_key":"SIG#calendly#..."}
//	200 {"status":"duplicate","fetch_key":"FETCH#gmail#..."}
//	200 {"status":"ignored","event":"invitee_no_show.created"}
func Answer(o Outcome) events.APIGatewayV2HTTPResponse {
	status, code := o.Status()
	body := map[string]string{"status": status}
	if len(o.Results) == 1 {
		res := o.Results[0]
		switch {
		case res.Item.Signal != nil:
			body["signal_key"] = res.Key
		case res.Item.Fetch != nil:
			body["fetch_key"] = res.Key
		}
		if res.Item.Skip != "" && res.Item.Event != "" {
			body["event"] = res.Item.Event
		}
	}
	return JSON(code, body)
}

// CountAnswer is the answer for a source whose deliveries are lists
// (PandaDoc): the Status with the counts and the keys stored, in order.
//
//	202 {"status":"stored","stored":2,"duplicates":0,"ignored":1,"signal_keys":[...]}
func CountAnswer(o Outcome) events.APIGatewayV2HTTPResponse {
	status, code := o.Status()
	keys := []string{}
	for _, r := range o.Results {
		if r.Key != "" {
			keys = append(keys, r.Key)
		}
	}
	return JSON(code, map[string]any{
		"status": status, "stored": o.Stored, "duplicates": o.Duplicates, "ignored": o.Ignored(), "signal_keys": keys,
	})
}

// NotConfigured is every route's answer while its key is not usable
// (ErrKeyUnusable), given before the body is read: 503, so the provider
// retries once the operator has set the key.
func NotConfigured() events.APIGatewayV2HTTPResponse {
	return JSON(http.StatusServiceUnavailable, map[string]string{"error": "not configured"})
}

// JSON builds a JSON response.
func JSON(code int, v any) events.APIGatewayV2HTTPResponse {
	b, _ := json.Marshal(v)
	return events.APIGatewayV2HTTPResponse{
		StatusCode: code,
		Headers:    map[string]string{"Content-Type": "application/json"},
		Body:       string(b),
	}
}

func base64Decode(s string) ([]byte, error) { return base64.StdEncoding.DecodeString(s) }

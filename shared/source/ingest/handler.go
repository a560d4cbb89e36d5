// Package ingest is the one way a webhook delivery becomes stored evidence.
//
// Every HTTP route (POST /signals, /webhooks/calendly, /webhooks/graph,
// /gmail/push, /webhooks/pandadoc, /webhooks/docusign, /pipedrive) is a
// Handler around a Source. The source knows its provider: how a delivery
// proves it is the provider's (Verify) and what it says (Parse). The
// Handler does everything else, the same way for every source:
//
//	handshake    a provider's probe of the route, answered before anything else (Handshaker: Graph)
//	key          read through Key; unusable: 503 {"error":"not configured"}, the body is not read
//	body         over MaxBody: 413
//	verify       Source.Verify; a refusal is a *RejectError (401), the reason goes to the sender
//	parse        Source.Parse; invalid input is a *RejectError (400); no authentic item: 401
//	store        each item once (a conditional put): a redelivery stores nothing and still gets a 2xx
//	answer       202 stored, 200 duplicate, 200 ignored (Answer), unless the source is an Answerer
//
// Any other failure (the key unreadable, a check that could not be made,
// the table) is ours: 503, so the provider retries. Every refusal is
// {"error": reason}.
//
// and it logs with constant messages ("ingest rejected", "ingest item", ...)
// and counts one set of metrics with the source as a dimension
// (MetricStored, MetricDuplicate, MetricIgnored, MetricRejected,
// MetricUnavailable).
package ingest

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stagemover/stagemover/shared/platform/logx"
	"github.com/stagemover/stagemover/shared/platform/metrics"
	"github.com/stagemover/stagemover/shared/store"
)

// MaxBody is the largest body any source accepts.
const MaxBody = 256 << 10

// The metrics every route counts (CloudWatch EMF, Function dimension plus
// the ones named here).
const (
	MetricStored      = "IngestStored"      // an item stored; Source
	MetricDuplicate   = "IngestDuplicate"   // an item stored by an earlier delivery; Source
	MetricIgnored     = "IngestIgnored"     // an item acknowledged, not stored; Source, Reason (a Skip)
	MetricRejected    = "IngestRejected"    // a request answered 4xx; Source, Status
	MetricUnavailable = "IngestUnavailable" // a request answered 503 (our side failed); Source, Reason
)

// Source is one provider's part of a route.
type Source interface {
	// Name names the source in store keys, logs and metrics ("calendly").
	Name() string
	// Verify checks that r is the provider's, with r.Key. It returns nil,
	// a *RejectError (the sender's fault: 401, or 400 for a body it cannot
	// check), or any other error when the check itself could not be made
	// (503: the provider retries).
	Verify(ctx context.Context, r *Request) error
	// Parse reads a verified delivery into the items to store, in order.
	// Invalid input is a *RejectError (400); any other error is a 503.
	Parse(ctx context.Context, r *Request) ([]Item, error)
}

// Handshaker is a source whose provider probes the route before it
// delivers (Graph's validation request). Handshake sees r before its key
// and body are read, and answers it when it is a handshake (ok true).
type Handshaker interface {
	Handshake(ctx context.Context, r *Request) (answer events.APIGatewayV2HTTPResponse, ok bool, err error)
}

// Answerer is a source whose provider documents its own success answer
// (Graph: always 202; Pipedrive: 200 "processed"; PandaDoc: counts).
// Rejections are never the source's: they are always {"error": reason}.
type Answerer interface {
	Answer(o Outcome) events.APIGatewayV2HTTPResponse
}

// KeyFunc returns the key a source verifies deliveries with (a cached
// Secrets Manager read). An error wrapping ErrKeyUnusable means the key is
// set but useless (answered 503 "not configured"); any other error, or an
// empty key, means it could not be read (503 "temporarily unavailable").
type KeyFunc func(ctx context.Context) ([]byte, error)

// Request is one delivery as a source sees it.
type Request struct {
	HTTP     events.APIGatewayV2HTTPRequest // as API Gateway passed it
	Received time.Time                      // when the handler took it
	Key      []byte                         // from Handler.Key (nil without one); set before Verify
	Body     []byte                         // the raw body (at most MaxBody bytes); set before Verify
}

// Header reads a request header case-insensitively.
func (r *Request) Header(name string) string { return Header(r.HTTP, name) }

// Query reads a query parameter: the parsed parameters, else the raw
// query string.
func (r *Request) Query(name string) string {
	if v, ok := r.HTTP.QueryStringParameters[name]; ok {
		return v
	}
	if r.HTTP.RawQueryString != "" {
		if q, err := url.ParseQuery(r.HTTP.RawQueryString); err == nil {
			return q.Get(name)
		}
	}
	return ""
}

// Skip says why an item of an accepted delivery is not stored.
type Skip string

// Skips.
const (
	Unused       Skip = "unused"        // a documented event or status this source does not use
	Unwatched    Skip = "unwatched"     // about a mailbox this deployment does not watch
	NotAuthentic Skip = "not_authentic" // fails its own check (Graph's per-notification clientState)
)

// Item is one thing a delivery asks to store: exactly one of Signal,
// Fetch or Apply, or a Skip.
type Item struct {
	Signal *store.SignalRecord // evidence
	Fetch  *store.FetchRecord  // a notification whose content the fetcher reads (Graph, Gmail)
	// Apply is a source's own idempotent effect (Pipedrive: the deal
	// mirror); outcome says what it did.
	Apply func(ctx context.Context) (created bool, outcome string, err error)

	Skip Skip   // set: acknowledged and not stored
	Why  string // the skip's reason, logged

	Event string // the provider's event type: logged, and named in an ignored answer
	Attrs []any  // more log attributes (key, value, ...): never secrets
}

// Handler serves one route: the pipeline above around Source.
type Handler struct {
	Source  Source
	Key     KeyFunc          // nil: the source has no key of its own (Gmail checks Google's signature)
	Store   Writer           // where Signal and Fetch items go (a *store.Store)
	Now     func() time.Time // nil: time.Now
	Log     *slog.Logger     // nil: slog.Default()
	Metrics *metrics.Recorder
}

// Writer stores signals and fetch items once (conditional puts).
type Writer interface {
	PutSignal(ctx context.Context, rec store.SignalRecord) (created bool, err error)
	PutFetch(ctx context.Context, rec store.FetchRecord) (created bool, err error)
}

// Handle is the Lambda handler (API Gateway HTTP API, payload v2).
func (h *Handler) Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	p := pass{h: h, log: logx.Or(h.Log).With("source", h.Source.Name())}
	r := &Request{HTTP: req, Received: time.Now()}
	if h.Now != nil {
		r.Received = h.Now()
	}
	if hs, ok := h.Source.(Handshaker); ok {
		answer, ok, err := hs.Handshake(ctx, r)
		if err != nil {
			return p.refuse(ctx, err), nil
		}
		if ok {
			p.log.InfoContext(ctx, "ingest handshake answered")
			return answer, nil
		}
	}
	// The key first: without a usable one, nothing in the body can be trusted.
	if h.Key != nil {
		key, err := h.Key(ctx)
		switch {
		case errors.Is(err, ErrKeyUnusable):
			p.log.ErrorContext(ctx, "ingest key not configured", "error", err)
			p.count(MetricUnavailable, "Reason", "not_configured")
			return NotConfigured(), nil
		case err != nil || len(key) == 0:
			if err == nil {
				err = errors.New("the key is empty")
			}
			return p.unavailable(ctx, "key", err, "temporarily unavailable"), nil
		}
		r.Key = key
	}
	body, err := RequestBody(req)
	if err != nil {
		return p.refuse(ctx, Reject(http.StatusBadRequest, nil, "body is not valid base64")), nil
	}
	if len(body) > MaxBody {
		return p.refuse(ctx, Reject(http.StatusRequestEntityTooLarge, nil, "body is larger than %d bytes", MaxBody)), nil
	}
	r.Body = body
	if err := h.Source.Verify(ctx, r); err != nil {
		return p.refuse(ctx, err), nil
	}
	items, err := h.Source.Parse(ctx, r)
	if err != nil {
		return p.refuse(ctx, err), nil
	}
	o, answer, ok := p.store(ctx, items)
	if !ok {
		return answer, nil
	}
	if a, ok := h.Source.(Answerer); ok {
		return a.Answer(o), nil
	}
	return Answer(o), nil
}

// pass is one request's logger and counters.
type pass struct {
	h   *Handler
	log *slog.Logger
}

func (p pass) count(name string, dims ...string) {
	ds := []metrics.Dim{{Name: "Source", Value: p.h.Source.Name()}}
	for i := 0; i+1 < len(dims); i += 2 {
		ds = append(ds, metrics.Dim{Name: dims[i], Value: dims[i+1]})
	}
	p.h.Metrics.IncWith(name, ds...)
}

// refuse answers a failed step: a *RejectError with its status and
// reason, anything else with 503 (our side could not decide).
func (p pass) refuse(ctx context.Context, err error) events.APIGatewayV2HTTPResponse {
	var re *RejectError
	if !errors.As(err, &re) {
		return p.unavailable(ctx, "error", err, "temporarily unavailable")
	}
	p.count(MetricRejected, "Status", strconv.Itoa(re.Status))
	p.log.WarnContext(ctx, "ingest rejected", "status", re.Status, "reason", re.Reason, "error", err.Error())
	resp := JSON(re.Status, map[string]string{"error": re.Reason})
	if re.Challenge != "" {
		resp.Headers["WWW-Authenticate"] = re.Challenge
	}
	return resp
}

func (p pass) unavailable(ctx context.Context, reason string, err error, answer string, attrs ...any) events.APIGatewayV2HTTPResponse {
	p.count(MetricUnavailable, "Reason", reason)
	p.log.ErrorContext(ctx, "ingest unavailable", append([]any{"reason", reason, "error", err}, attrs...)...)
	return JSON(http.StatusServiceUnavailable, map[string]string{"error": answer})
}

// store stores every item in order, logging and counting each. It stops at
// the first store error (503: the provider retries, and what was stored is
// a duplicate then). A delivery in which no item is authentic is refused.
func (p pass) store(ctx context.Context, items []Item) (Outcome, events.APIGatewayV2HTTPResponse, bool) {
	var o Outcome
	for _, it := range items {
		attrs := append(it.logAttrs(), it.Attrs...)
		if it.Skip != "" {
			o.skipped(it.Skip)
			o.Results = append(o.Results, Result{Item: it})
			p.count(MetricIgnored, "Reason", string(it.Skip))
			level := slog.LevelWarn // not watched, not authentic: someone should look
			if it.Skip == Unused {
				level = slog.LevelInfo
			}
			p.log.Log(ctx, level, "ingest item", append([]any{"result", "ignored", "skip", it.Skip, "reason", it.Why}, attrs...)...)
			continue
		}
		res, err := p.put(ctx, it)
		switch {
		case errors.Is(err, store.ErrTooLarge):
			return o, p.refuse(ctx, Reject(http.StatusRequestEntityTooLarge, err, "signal too large to store once encoded; shorten the body")), false
		case err != nil:
			return o, p.unavailable(ctx, "store", err, "could not store the delivery; retry", attrs...), false
		}
		o.Results = append(o.Results, res)
		result, metric := "stored", MetricStored
		if res.Created {
			o.Stored++
		} else {
			result, metric = "duplicate", MetricDuplicate
			o.Duplicates++
		}
		p.count(metric)
		if res.Key != "" {
			attrs = append(attrs, "key", res.Key)
		}
		if res.Outcome != "" {
			attrs = append(attrs, "outcome", res.Outcome)
		}
		p.log.InfoContext(ctx, "ingest item", append([]any{"result", result}, attrs...)...)
	}
	if len(items) > 0 && o.NotAuthentic == len(items) {
		return o, p.refuse(ctx, Reject(http.StatusUnauthorized, ErrSignature, "no item is authentic: %s", items[0].Why)), false
	}
	return o, events.APIGatewayV2HTTPResponse{}, true
}

// put stores one item once: a signal or a fetch item with a conditional
// put, anything else through its Apply.
func (p pass) put(ctx context.Context, it Item) (res Result, err error) {
	res.Item = it
	switch {
	case it.Signal != nil:
		res.Key = it.Signal.Key()
		res.Created, err = p.h.Store.PutSignal(ctx, *it.Signal)
	case it.Fetch != nil:
		res.Key = it.Fetch.Key()
		res.Created, err = p.h.Store.PutFetch(ctx, *it.Fetch)
	case it.Apply != nil:
		res.Created, res.Outcome, err = it.Apply(ctx)
	default:
		err = errors.New("an item with nothing to store")
	}
	return res, err
}

// logAttrs names the item the way its kind is keyed: a signal by its
// event id, a fetch item by its notification id.
func (it Item) logAttrs() []any {
	var a []any
	switch {
	case it.Signal != nil:
		a = append(a, "event_id", it.Signal.EventID)
	case it.Fetch != nil:
		a = append(a, "notification_id", it.Fetch.NotificationID)
	}
	if it.Event != "" {
		a = append(a, "event", it.Event)
	}
	return a
}

// RequestBody returns the raw body API Gateway received.
func RequestBody(req events.APIGatewayV2HTTPRequest) ([]byte, error) {
	if req.IsBase64Encoded {
		return base64Decode(req.Body)
	}
	return []byte(req.Body), nil
}

// Header reads a header case-insensitively (API Gateway lowercases names).
func Header(req events.APIGatewayV2HTTPRequest, name string) string {
	if v, ok := req.Headers[strings.ToLower(name)]; ok {
		return v
	}
	for k, v := range req.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

package pipedrivetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/stagemover/stagemover/shared/dev/ctxsleep"
)

const maxBodyBytes = 1 << 20

// apiError is an error answered in Pipedrive's error shape.
type apiError struct {
	Status int
	Error  string
	Info   string
}

// response is what a handler produces before it is written.
type response struct {
	status      int
	body        []byte
	contentType string
	header      http.Header
	validate    bool // check against the spec (JSON answers of implemented operations)
}

// call is one routed, authenticated, validated request.
type call struct {
	r      *http.Request
	body   []byte
	route  *routers.Route
	params map[string]string
	now    time.Time
}

func jsonResponse(status int, v any) *response {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(`{"success":false,"error":"sandbox: cannot encode response","error_info":"","data":null,"additional_data":null}`)
		status = http.StatusInternalServerError
	}
	return &response{status: status, body: b, contentType: "application/json; charset=utf-8", validate: true}
}

func errorResponse(e *apiError) *response {
	r := jsonResponse(e.Status, map[string]any{
		"success":         false,
		"error":           e.Error,
		"error_info":      e.Info,
		"data":            nil,
		"additional_data": nil,
	})
	return r
}

func unauthorizedResponse() *response {
	return jsonResponse(http.StatusUnauthorized, map[string]any{
		"success":   false,
		"error":     "unauthorized access",
		"errorCode": 401,
	})
}

const blockedHTML = `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>403 Forbidden</title></head>
<body>
<h1>403 Forbidden</h1>
<p>Access denied. Too many requests were sent after rate limit (429) responses.</p>
<p>Please slow down and respect the x-ratelimit-reset header.</p>
<hr><address>sandbox.pipedrive.com</address>
</body>
</html>
`

func htmlResponse(status int) *response {
	return &response{status: status, body: []byte(blockedHTML), contentType: "text/html; charset=utf-8"}
}

// ServeHTTP implements http.Handler.
func (s *Sandbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	body, _ := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes))
	_ = r.Body.Close()
	rec := LoggedRequest{
		Method: r.Method,
		Path:   r.URL.Path,
		Query:  redactQuery(r.URL.RawQuery),
		Body:   string(body),
		At:     s.now(),
	}
	resp := s.process(r, body, &rec)
	if resp == nil {
		rec.Status = 499 // client closed request before the answer
	} else {
		h := w.Header()
		for k, vs := range resp.header {
			h[k] = vs
		}
		h.Set("Content-Type", resp.contentType)
		w.WriteHeader(resp.status)
		_, _ = w.Write(resp.body)
		rec.Status = resp.status
	}
	s.mu.Lock()
	s.requests = append(s.requests, rec)
	s.mu.Unlock()
	level := s.log.Info
	if rec.Status >= 400 {
		level = s.log.Warn
	}
	level("request",
		"method", rec.Method, "path", rec.Path, "query", rec.Query,
		"operation", rec.Operation, "status", rec.Status, "token_cost", rec.TokenCost,
		"duration", time.Since(start).Round(time.Microsecond))
}

// redactQuery hides api_token values so the token never reaches logs.
func redactQuery(raw string) string {
	if raw == "" {
		return ""
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		if strings.Contains(strings.ToLower(raw), "api_token") {
			return "[unparseable query containing api_token redacted]"
		}
		return raw
	}
	if _, ok := q["api_token"]; ok {
		q["api_token"] = []string{"REDACTED"}
	}
	return q.Encode()
}

// credentials returns the presented token and whether it came from the query string.
// inQuery is true whenever an api_token query parameter is present, even if
// a header carries the token too.
func credentials(r *http.Request) (tok string, inQuery bool) {
	q := r.URL.Query()
	_, inQuery = q["api_token"]
	if t := r.Header.Get("X-Api-Token"); t != "" {
		return t, inQuery
	}
	if a := r.Header.Get("Authorization"); a != "" {
		if len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
			return strings.TrimSpace(a[7:]), inQuery
		}
	}
	return q.Get("api_token"), inQuery
}

func (s *Sandbox) specFor(path string) *loadedSpec {
	switch {
	case strings.HasPrefix(path, s.v2.base+"/"):
		return s.v2
	case strings.HasPrefix(path, s.v1.base+"/"):
		return s.v1
	}
	return nil
}

func isSearchPath(p string) bool {
	return strings.Contains(strings.ToLower(p), "search")
}

func (s *Sandbox) process(r *http.Request, body []byte, rec *LoggedRequest) *response {
	now := s.now()
	hdr := http.Header{}
	hdr.Set("X-Correlation-Id", newUUID())
	finish := func(resp *response) *response {
		if resp == nil {
			return nil
		}
		if resp.header == nil {
			resp.header = http.Header{}
		}
		for k, vs := range hdr {
			if _, ok := resp.header[k]; !ok {
				resp.header[k] = vs
			}
		}
		return resp
	}

	// 1. route over the spec
	spec := s.specFor(r.URL.Path)
	var (
		route    *routers.Route
		params   map[string]string
		routeErr = routers.ErrPathNotFound
	)
	if spec != nil {
		r.Body = io.NopCloser(bytes.NewReader(body))
		route, params, routeErr = spec.router.FindRoute(r)
	}
	if route != nil {
		rec.Operation = route.Operation.OperationID
	}

	// 2. burst limits (per presented credential; search has its own window)
	tok, inQuery := credentials(r)
	key, limit := credentialKey(tok), s.opts.BurstLimit
	if route != nil && isSearchPath(route.Path) {
		key, limit = key+"|search", s.opts.SearchBurstLimit
	}
	dec := s.rl.admit(key, limit, now, &s.opts)
	dec.headers(hdr, s.rl.budgetLeft(s.opts.DailyBudget, now))
	if dec.blocked {
		s.log.Warn("client blocked with 403 HTML after ignoring 429 responses", "path", r.URL.Path, "blocked_for_s", dec.reset)
		return finish(htmlResponse(http.StatusForbidden))
	}
	if !dec.allowed {
		hdr.Set("Retry-After", strconv.Itoa(dec.reset))
		return finish(errorResponse(&apiError{
			Status: http.StatusTooManyRequests,
			Error:  "Too many requests",
			Info:   fmt.Sprintf("Rate limit of %d requests per 2 seconds exceeded. Retry after %d s (x-ratelimit-reset).", limit, dec.reset),
		}))
	}

	// 3. unknown operation
	if routeErr != nil || route == nil {
		status, msg := http.StatusNotFound, "Not found"
		if errors.Is(routeErr, routers.ErrMethodNotAllowed) {
			status, msg = http.StatusMethodNotAllowed, "Method not allowed"
		}
		s.addValidationError(fmt.Sprintf("request: %s %s: no such operation in the Pipedrive OpenAPI spec", r.Method, r.URL.Path))
		return finish(errorResponse(&apiError{Status: status, Error: msg, Info: "Please check developers.pipedrive.com for more information about Pipedrive API."}))
	}

	// 4. authentication
	if inQuery {
		s.addValidationError(fmt.Sprintf("request: token in query string: %s %s (send it in the x-api-token header)", r.Method, r.URL.Path))
	}
	if tok == "" || subtle.ConstantTimeCompare([]byte(tok), []byte(s.opts.Token)) != 1 {
		return finish(unauthorizedResponse())
	}

	// 5. daily token budget, cost from the spec's x-token-cost
	cost, ok := tokenCost(route.Operation)
	if !ok {
		cost = 1
		s.log.Warn("operation has no x-token-cost in the spec; charging 1", "operation", route.Operation.OperationID)
	}
	left, ok := s.rl.charge(cost, s.opts.DailyBudget, now)
	hdr.Set("X-Daily-Requests-Left", strconv.Itoa(left))
	if !ok {
		return finish(errorResponse(&apiError{
			Status: http.StatusTooManyRequests,
			Error:  "Daily token budget exceeded",
			Info:   fmt.Sprintf("The daily API token budget (%d) is used up; it resets at 00:00 UTC.", s.opts.DailyBudget),
		}))
	}
	rec.TokenCost = cost
	s.mu.Lock()
	s.costSpent += cost
	s.mu.Unlock()

	// 6. OpenAPI request validation
	r.Body = io.NopCloser(bytes.NewReader(body))
	input := &openapi3filter.RequestValidationInput{
		Request:    r,
		PathParams: params,
		Route:      route,
		Options: &openapi3filter.Options{
			AuthenticationFunc:  openapi3filter.NoopAuthenticationFunc,
			SkipSettingDefaults: true,
		},
	}
	if err := openapi3filter.ValidateRequest(r.Context(), input); err != nil {
		short := shortValidationError(err)
		s.addValidationError(fmt.Sprintf("request: %s %s (%s): %s", r.Method, r.URL.Path, route.Operation.OperationID, short))
		return finish(errorResponse(&apiError{Status: http.StatusBadRequest, Error: "Validation failed: " + short, Info: firstLine(err.Error())}))
	}

	// 7. faults, then the operation itself
	c := &call{r: r, body: body, route: route, params: params, now: now}
	f := s.takeFault(r.Method, r.URL.Path)
	if f != nil && !f.ApplyBeforeDelay {
		if !ctxsleep.Sleep(r.Context(), f.Delay) {
			return nil
		}
		if f.Status != 0 {
			return finish(faultResponse(f))
		}
	}
	resp := s.dispatch(c)
	if f != nil && f.ApplyBeforeDelay {
		if !ctxsleep.Sleep(r.Context(), f.Delay) {
			s.log.Warn("fault: change applied but the client gave up before the answer", "path", r.URL.Path)
			return nil
		}
		if f.Status != 0 {
			resp = faultResponse(f)
		}
	}

	// 8. OpenAPI response validation (failures are sandbox bugs)
	if resp.validate {
		s.validateResponse(input, resp)
	}
	return finish(resp)
}

// validateResponse checks a JSON answer against the operation's documented
// response (undocumented statuses, e.g. most v2 errors, pass) and records
// failures: they are sandbox bugs.
func (s *Sandbox) validateResponse(input *openapi3filter.RequestValidationInput, resp *response) {
	rvi := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: input,
		Status:                 resp.status,
		Header:                 http.Header{"Content-Type": {"application/json"}},
		Options:                &openapi3filter.Options{},
	}
	rvi.SetBodyBytes(resp.body)
	if err := openapi3filter.ValidateResponse(context.Background(), rvi); err != nil {
		r := input.Request
		s.addValidationError(fmt.Sprintf("response: %s %s (%s) status %d: %s", r.Method, r.URL.Path, input.Route.Operation.OperationID, resp.status, shortValidationError(err)))
	}
}

// shortValidationError condenses kin-openapi's multi-line errors.
func shortValidationError(err error) string {
	msg := err.Error()
	var re *openapi3filter.RequestError
	if errors.As(err, &re) {
		var parts []string
		if re.Parameter != nil {
			parts = append(parts, "parameter \""+re.Parameter.Name+"\" in "+re.Parameter.In)
		} else if re.RequestBody != nil {
			parts = append(parts, "request body")
		}
		if re.Reason != "" {
			parts = append(parts, re.Reason)
		}
		if re.Err != nil {
			parts = append(parts, firstLine(re.Err.Error()))
		}
		if len(parts) > 0 {
			msg = strings.Join(parts, ": ")
		}
	}
	return firstLine(msg)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return strings.TrimSpace(s[:i])
	}
	return s
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// ---------------------------------------------------------------- faults

// Fault makes matching requests misbehave. Requests are matched by method
// ("" = any) and path prefix ("" = any); the first matching fault with
// remaining uses wins. Faults apply only to authenticated requests that pass
// rate limiting and validation (they are charged like real requests).
type Fault struct {
	Method     string
	PathPrefix string
	Status     int           // answer with this status instead of the real answer (0 = real answer)
	Times      int           // how many requests to affect; 0 = forever
	Delay      time.Duration // stall this long (respects the request context)
	// ApplyBeforeDelay performs the operation (e.g. the PATCH) first, then
	// stalls and answers with Status (if set): a response lost after the write.
	ApplyBeforeDelay bool
	// HTMLBody answers with an HTML page (like Pipedrive's 403 after ignored 429s).
	HTMLBody bool
}

type faultState struct {
	Fault
	used int
}

// InjectFault adds a fault.
func (s *Sandbox) InjectFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &faultState{Fault: f})
	s.log.Info("fault injected", "method", f.Method, "path_prefix", f.PathPrefix, "status", f.Status, "times", f.Times, "delay", f.Delay, "apply_before_delay", f.ApplyBeforeDelay)
}

// ClearFaults removes all faults.
func (s *Sandbox) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

func (s *Sandbox) takeFault(method, path string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.faults {
		if f.Method != "" && !strings.EqualFold(f.Method, method) {
			continue
		}
		if !strings.HasPrefix(path, f.PathPrefix) {
			continue
		}
		if f.Times > 0 && f.used >= f.Times {
			continue
		}
		f.used++
		cp := f.Fault
		return &cp
	}
	return nil
}

func faultResponse(f *Fault) *response {
	if f.HTMLBody {
		return htmlResponse(f.Status)
	}
	msg := http.StatusText(f.Status)
	if msg == "" {
		msg = "Error"
	}
	r := errorResponse(&apiError{Status: f.Status, Error: msg, Info: "Injected by the Pipedrive sandbox."})
	r.validate = false
	return r
}

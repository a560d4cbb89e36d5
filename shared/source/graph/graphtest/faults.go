package graphtest

import (
	"net/http"
	"strconv"
	"strings"
)

// Fail makes the next n requests whose method matches (""= any) and whose
// path contains pathContains answer status (429 and 503 carry Retry-After:
// retryAfter seconds when > 0).
func (s *Server) Fail(method, pathContains string, status, retryAfter, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &fault{method: method, pathContains: pathContains, status: status, retryAfter: retryAfter, remaining: n})
}

// FailCode makes the next n requests whose method matches (""= any) and
// whose path contains pathContains answer status with Graph's error body
// {"error":{"code":code,"message":message}}: for example 404
// ErrorInvalidUser for a mailbox Graph cannot resolve (a deprovisioned
// user whose id the stand-in still knows), 404 MailboxNotEnabledForRESTAPI,
// or 404 ErrorItemNotFound.
func (s *Server) FailCode(method, pathContains string, status int, code, message string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &fault{method: method, pathContains: pathContains, status: status, code: code, message: message, remaining: n})
}
func (s *Server) fault(w http.ResponseWriter, r *http.Request) bool {
	s.mu.Lock()
	var hit *fault
	for _, f := range s.faults {
		if f.remaining > 0 && (f.method == "" || f.method == r.Method) && strings.Contains(r.URL.Path, f.pathContains) {
			f.remaining--
			hit = f
			break
		}
	}
	s.mu.Unlock()
	if hit == nil {
		return false
	}
	if hit.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(hit.retryAfter))
	}
	switch {
	case hit.code != "":
		graphErr(w, hit.status, hit.code, hit.message)
	case hit.status == http.StatusTooManyRequests:
		// the throttling response of throttling.md
		writeJSON(w, hit.status, map[string]any{"error": map[string]any{
			"code": "TooManyRequests", "message": "Please retry again later.",
			"innerError": map[string]any{"code": "429", "date": s.now().UTC().Format("2006-01-02T15:04:05"),
				"message": "Please retry after", "request-id": newGUID(), "status": "429"}}})
	case hit.status == http.StatusServiceUnavailable:
		graphErr(w, hit.status, "serviceNotAvailable", "The service is temporarily unavailable. Try the request again after a delay.")
	default:
		graphErr(w, hit.status, "generalException", "An unspecified error has occurred.")
	}
	return true
}

package pipedrive

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/stagemover/stagemover/shared/platform/retry"
)

// Sentinel errors. An *APIError matches the sentinel of its HTTP status with
// errors.Is; errors returned after giving up on retries wrap the last
// *APIError, so they match too.
var (
	ErrBadRequest   = errors.New("pipedrive: bad request")  // 400
	ErrUnauthorized = errors.New("pipedrive: unauthorized") // 401
	ErrForbidden    = errors.New("pipedrive: forbidden")    // 403 (also the HTML page served to clients ignoring 429s)
	ErrNotFound     = errors.New("pipedrive: not found")    // 404
	// The transient ones are retry.Later: retry.IsLater matches them.
	ErrRateLimited = retry.Later(errors.New("pipedrive: rate limited"))          // 429, or the local burst gate giving up before the deadline
	ErrServer      = retry.Later(errors.New("pipedrive: server error"))          // 5xx
	ErrNetwork     = retry.Later(errors.New("pipedrive: no response (network)")) // transport error or timeout: for PATCH the outcome is unknown
)

// APIError is a non-2xx (or success:false) response from Pipedrive.
// Message and Info never contain the API token.
type APIError struct {
	Op         string        // spec operationId, e.g. "updateDeal"
	ID         int64         // the entity id in the path, if any (deal id)
	Status     int           // HTTP status
	Message    string        // Pipedrive's "error" (or the HTTP status text for non-JSON bodies)
	Info       string        // Pipedrive's "error_info"
	RetryAfter time.Duration // from x-ratelimit-reset (429) or Retry-After; 0 if absent
	NonJSON    bool          // the body was not a JSON error object (e.g. Pipedrive's HTML 403 page)
	// BudgetExhausted: a 429 whose x-daily-requests-left cannot pay for the
	// operation; the daily token budget is spent, so it is not retried.
	BudgetExhausted bool
}

func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("pipedrive ")
	b.WriteString(e.Op)
	if e.ID != 0 {
		fmt.Fprintf(&b, " id=%d", e.ID)
	}
	fmt.Fprintf(&b, ": HTTP %d", e.Status)
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.Info != "" {
		b.WriteString(" (")
		b.WriteString(e.Info)
		b.WriteString(")")
	}
	if e.BudgetExhausted {
		b.WriteString(" [daily token budget exhausted]")
	} else if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " [retry after %s]", e.RetryAfter)
	}
	return b.String()
}

// Is maps the HTTP status onto the package sentinels, and 429 and 5xx onto
// retry.ErrLater.
func (e *APIError) Is(target error) bool {
	switch target {
	case retry.ErrLater:
		return e.Is(ErrRateLimited) || e.Is(ErrServer)
	case ErrBadRequest:
		return e.Status == http.StatusBadRequest
	case ErrUnauthorized:
		return e.Status == http.StatusUnauthorized
	case ErrForbidden:
		return e.Status == http.StatusForbidden
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrRateLimited:
		return e.Status == http.StatusTooManyRequests
	case ErrServer:
		return e.Status >= 500 && e.Status <= 599
	}
	return false
}

// IsUnknownStage reports whether err is Pipedrive refusing a stage_id that
// does not exist (or was deleted). The mover refreshes its stage map on it.
// The match is deliberately loose: a 400/404/422 whose error text mentions
// "stage" together with "not found", "invalid", "does not exist",
// "doesn't exist" or "unknown".
func IsUnknownStage(err error) bool {
	var ae *APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.Status {
	case http.StatusBadRequest, http.StatusNotFound, http.StatusUnprocessableEntity:
	default:
		return false
	}
	text := strings.ToLower(ae.Message + " " + ae.Info)
	if !strings.Contains(text, "stage") {
		return false
	}
	for _, w := range []string{"not found", "invalid", "does not exist", "doesn't exist", "not exist", "unknown", "no such"} {
		if strings.Contains(text, w) {
			return true
		}
	}
	return false
}

// IsRateLimitLockout reports whether err is the non-JSON 403 page Pipedrive
// serves to clients that keep calling after 429s.
func IsRateLimitLockout(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == http.StatusForbidden && ae.NonJSON
}

// networkError is a transport failure; its text has the URL stripped (URLs
// may carry search terms) and the token redacted.
type networkError struct {
	op  string
	id  int64
	msg string
	err error
}

func (e *networkError) Error() string {
	if e.id != 0 {
		return fmt.Sprintf("pipedrive %s id=%d: %s", e.op, e.id, e.msg)
	}
	return fmt.Sprintf("pipedrive %s: %s", e.op, e.msg)
}

func (e *networkError) Unwrap() []error { return []error{ErrNetwork, e.err} }

// Package retry is stagemover's one notion of "retry later": a failure that
// may pass on a later attempt (a rate limit, a 5xx, no response, a store or
// secret briefly unavailable), as opposed to one no retry can fix (a bad
// record, a refused token, a missing deal).
//
// Every client marks its transient failures so that IsLater matches them:
// the Pipedrive client's ErrRateLimited, ErrServer and ErrNetwork, the Graph
// and Gmail clients' 429, 5xx and network errors, the evaluator's failed
// dependencies, the mover's deferred decisions. Stream handlers report such
// records for redelivery; the sweeper and the failure queue catch the rest.
package retry

import "errors"

// ErrLater is matched (errors.Is) by every error that may pass on a later
// attempt. Wrap it (fmt.Errorf("%w: ...", ErrLater)) or use Later.
var ErrLater = errors.New("retry later")

// Later marks err as one that may pass on a later attempt, keeping its
// text and its chain; nil stays nil. A package's own transient sentinel is
// Later(errors.New("...")).
func Later(err error) error {
	if err == nil {
		return nil
	}
	return &later{err}
}

type later struct{ err error }

func (l *later) Error() string        { return l.err.Error() }
func (l *later) Unwrap() error        { return l.err }
func (l *later) Is(target error) bool { return target == ErrLater }

// IsLater reports whether err may pass on a later attempt.
func IsLater(err error) bool { return errors.Is(err, ErrLater) }

// Package ctxsleep waits for a duration unless a context ends first; the
// local stand-ins (the stream poller, the Pipedrive sandbox) share it.
package ctxsleep

import (
	"context"
	"time"
)

// Sleep waits d and reports whether ctx is still live: false as soon as
// ctx ends. d <= 0 does not wait.
func Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

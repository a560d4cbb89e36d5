// Package logx holds the one rule every component follows for its logger:
// a nil *slog.Logger logs through slog.Default(), so a component built
// without one (a test, a tool) still says what it does, and never panics.
package logx

import "log/slog"

// Or returns l, or slog.Default() when l is nil.
func Or(l *slog.Logger) *slog.Logger {
	if l != nil {
		return l
	}
	return slog.Default()
}

package resolve

import (
	"context"
	"errors"
	"sync"
)

// flight lets concurrent lookups of one address in one process share a
// single Pipedrive search (the idea of golang.org/x/sync/singleflight, in
// a few lines and without the dependency). A waiting caller whose own
// context ends stops waiting; the search goes on for the others.
type flight struct {
	mu    sync.Mutex
	calls map[string]*flightCall
}

type flightCall struct {
	done chan struct{}
	e    Entry
	err  error
}

var errFlightPanicked = errors.New("resolve: shared lookup panicked")

// do runs fn once per key at a time. shared is true for callers that
// received another caller's result.
func (f *flight) do(ctx context.Context, key string, fn func() (Entry, error)) (e Entry, shared bool, err error) {
	f.mu.Lock()
	if f.calls == nil {
		f.calls = map[string]*flightCall{}
	}
	if c, ok := f.calls[key]; ok {
		f.mu.Unlock()
		select {
		case <-c.done:
			return c.e, true, c.err
		case <-ctx.Done():
			return Entry{}, true, ctx.Err()
		}
	}
	c := &flightCall{done: make(chan struct{}), err: errFlightPanicked}
	f.calls[key] = c
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.calls, key)
		f.mu.Unlock()
		close(c.done)
	}()
	c.e, c.err = fn()
	return c.e, false, c.err
}

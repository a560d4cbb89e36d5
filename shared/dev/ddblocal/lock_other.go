//go:build !unix

package ddblocal

import "context"

// lockFile is a no-op where flock is unavailable: concurrent first installs
// are not serialised there.
func lockFile(ctx context.Context, path string) (func(), error) { return func() {}, nil }

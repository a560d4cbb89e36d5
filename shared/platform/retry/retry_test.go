package retry_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stagemover/stagemover/shared/platform/retry"
)

func TestLater(t *testing.T) {
	if retry.Later(nil) != nil {
		t.Fatal("Later(nil) is not nil")
	}
	base := errors.New("503 from the provider")
	err := fmt.Errorf("fetch n1: %w", retry.Later(base))
	if !retry.IsLater(err) || !errors.Is(err, base) || err.Error() != "fetch n1: 503 from the provider" {
		t.Fatalf("wrapped: %v (later %v, base %v)", err, retry.IsLater(err), errors.Is(err, base))
	}
	if retry.IsLater(base) || retry.IsLater(nil) || retry.IsLater(fmt.Errorf("bad record: %v", err)) {
		t.Fatal("an unmarked error (or one whose chain was cut) counts as later")
	}
	// a package sentinel that is also "later"
	errBusy := retry.Later(errors.New("busy"))
	wrapped := fmt.Errorf("call: %w", errBusy)
	if !errors.Is(wrapped, errBusy) || !retry.IsLater(wrapped) || errors.Is(wrapped, retry.Later(errors.New("busy"))) {
		t.Fatal("sentinel identity")
	}
	if e := fmt.Errorf("%w: secret unavailable", retry.ErrLater); !retry.IsLater(e) {
		t.Fatal("ErrLater wrapped directly")
	}
}

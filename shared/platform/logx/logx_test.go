package logx

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestOr(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(slog.NewTextHandler(&buf, nil))
	if Or(l) != l {
		t.Fatal("a logger given is not the logger used")
	}
	old := slog.Default()
	defer slog.SetDefault(old)
	slog.SetDefault(l)
	Or(nil).Info("nil logger", "k", "v")
	if !strings.Contains(buf.String(), "nil logger") {
		t.Fatalf("a nil logger did not log through slog.Default(): %q", buf.String())
	}
}

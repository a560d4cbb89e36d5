package testkit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// LogBuffer is a concurrency-safe buffer for what code under test logs or
// prints: a handler's slog output, a command's stdout, a server's log. The
// zero value is ready to use.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// NewLogger returns a JSON logger at debug level and the buffer it writes to.
func NewLogger() (*slog.Logger, *LogBuffer) {
	b := &LogBuffer{}
	return b.Logger(), b
}

// DiscardLogger logs nothing.
func DiscardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// Logger is a JSON logger at debug level writing to b.
func (b *LogBuffer) Logger() *slog.Logger { return b.LoggerAt(slog.LevelDebug) }

// LoggerAt is a JSON logger at level writing to b.
func (b *LogBuffer) LoggerAt(level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: level}))
}

func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String is everything written so far.
func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Reset forgets what was written.
func (b *LogBuffer) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.b.Reset()
}

// Records decodes every JSON line written so far (other lines are skipped:
// an emulator's output mixes its own lines with the function's).
func (b *LogBuffer) Records() []map[string]any { return Records(b.String()) }

// Records decodes the JSON object lines of output, skipping any other line.
func Records(output string) []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(output))
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || line[0] != '{' {
			continue
		}
		var m map[string]any
		if json.Unmarshal(line, &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// Find returns the records whose "msg" is msg and that carry every
// attribute of attrs (key, value, key, value...; values compare by their
// fmt.Sprint, so 42 matches a JSON 42).
func (b *LogBuffer) Find(msg string, attrs ...any) []map[string]any {
	return FindRecords(b.String(), msg, attrs...)
}

// FindRecords is Find over any output.
func FindRecords(output, msg string, attrs ...any) []map[string]any {
	var out []map[string]any
	for _, r := range Records(output) {
		if r["msg"] != msg {
			continue
		}
		ok := true
		for i := 0; i+1 < len(attrs); i += 2 {
			k := fmt.Sprint(attrs[i])
			if v, found := r[k]; !found || fmt.Sprint(v) != fmt.Sprint(attrs[i+1]) {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, r)
		}
	}
	return out
}

// AssertLogged fails the test unless a record with msg and attrs was logged.
func (b *LogBuffer) AssertLogged(t testing.TB, msg string, attrs ...any) {
	t.Helper()
	if len(b.Find(msg, attrs...)) == 0 {
		t.Errorf("no log record %q with %v in:\n%s", msg, attrs, b.String())
	}
}

// AssertNoSecrets fails the test when any of secrets was written to b.
func (b *LogBuffer) AssertNoSecrets(t testing.TB, secrets ...string) {
	t.Helper()
	AssertNoSecrets(t, b.String(), secrets...)
}

var _ io.Writer = (*LogBuffer)(nil)

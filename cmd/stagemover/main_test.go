package main

import (
	"bytes"
	"context"
	"sort"
	"strings"
	"testing"
)

// commandNames lists every registered command, so a new command is tested
// without touching this file.
func commandNames(t *testing.T) []string {
	t.Helper()
	names := make([]string, 0, len(commands))
	for name := range commands {
		names = append(names, name)
	}
	sort.Strings(names)
	if len(names) < 9 {
		t.Fatalf("only %d commands registered: %v", len(names), names)
	}
	return names
}

// Help is a successful request: `stagemover <command> -h|--help` (and
// `stagemover help <command>`) prints the command's usage to stdout and
// exits 0, before any other check of flags or environment.
func TestEveryCommandHelpExitsZero(t *testing.T) {
	// Help must not depend on the environment a real run needs.
	for _, v := range []string{"TABLE_NAME", "PIPEDRIVE_API_TOKEN", "PIPEDRIVE_WEBHOOK_PASSWORD", "STAGEMOVER_INGEST_SECRET"} {
		t.Setenv(v, "")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // a command that ignored --help and started work would stop at once
	for _, name := range commandNames(t) {
		for _, args := range [][]string{{name, "-h"}, {name, "--help"}, {name, "-help"}, {"help", name}} {
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				var out, errb bytes.Buffer
				code := dispatch(ctx, args, &out, &errb)
				if code != 0 {
					t.Fatalf("exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
				}
				if !strings.Contains(out.String(), "usage: ") || !strings.Contains(out.String(), "stagemover "+name) {
					t.Fatalf("stdout does not show the usage of %s:\n%s", name, out.String())
				}
				if errb.Len() != 0 {
					t.Fatalf("help wrote to stderr:\n%s", errb.String())
				}
			})
		}
	}
}

// A flag the command does not know is a usage error: exit 2, the reason and
// the usage on stderr, nothing on stdout.
func TestEveryCommandUnknownFlagExitsTwo(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, name := range commandNames(t) {
		t.Run(name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := dispatch(ctx, []string{name, "--no-such-flag"}, &out, &errb); code != 2 {
				t.Fatalf("exit %d, want 2\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
			}
			if !strings.Contains(errb.String(), "no-such-flag") || !strings.Contains(errb.String(), "usage: ") {
				t.Fatalf("stderr does not name the flag and show the usage:\n%s", errb.String())
			}
			if out.Len() != 0 {
				t.Fatalf("a usage error wrote to stdout:\n%s", out.String())
			}
		})
	}
}

// The main usage: no command or help is 0, an unknown command is 2.
func TestMainUsage(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		args []string
		code int
	}{{nil, 0}, {[]string{"help"}, 0}, {[]string{"-h"}, 0}, {[]string{"--help"}, 0}, {[]string{"no-such-command"}, 2}, {[]string{"help", "no-such-command"}, 2}} {
		var out, errb bytes.Buffer
		if code := dispatch(ctx, c.args, &out, &errb); code != c.code {
			t.Errorf("%v: exit %d, want %d", c.args, code, c.code)
		}
		if !strings.Contains(out.String()+errb.String(), "usage: stagemover <command>") {
			t.Errorf("%v: no main usage:\n%s%s", c.args, out.String(), errb.String())
		}
	}
}

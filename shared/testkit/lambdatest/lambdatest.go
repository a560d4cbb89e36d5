// Package lambdatest runs a function's real bootstrap, built exactly as
// `sam build` builds it (linux, CGO_ENABLED=0, -tags lambda.norpc), under
// AWS's Lambda Runtime Interface Emulator, so tests exercise the deployed
// binary: its init, its environment handling and the Lambda runtime API.
//
// Every function of template.yaml is run with its events/ sample by the
// table-driven TestEveryFunctionWithItsSample (functions_test.go here); a
// function's own behaviour tests, in functions/<name>/main_test.go, share
// one Fixture:
//
//	func TestMain(m *testing.M) { os.Exit(lambdatest.RunTests(m)) }
//
//	f := lambdatest.NewFixture(t, "mover") // bootstrap, table, secrets, the template's environment
//	pd, token := f.Pipedrive(t)           // the sandbox, its token in PIPEDRIVE_TOKEN_SECRET_ARN's secret
//	f.PutSecret(t, "OTHER_SECRET_ARN", "stagemover/other", testkit.SecretJSON("key", key), key)
//	rie := f.Start(t)                      // exactly the template's environment, over f.Env
//	resp := rie.InvokeBatch(t, testkit.Event(t, "mover.json"))
//	f.AssertNoSecrets(t, rie.Output())
//
// The emulator comes from $STAGEMOVER_RIE, else aws-lambda-rie on PATH, else
// it is installed with `go install` (RIEModule@RIEVersion) into
// $STAGEMOVER_CACHE_DIR/bin or <repo>/.cache/bin.
package lambdatest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stagemover/stagemover/shared/testkit"
)

const (
	// RIEModule is the emulator's command package.
	RIEModule = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"
	// RIEVersion is the pinned emulator version.
	RIEVersion = "v0.0.0-20261030222936-bef5c4ba774d"

	invokePath = "/2015-03-31/functions/function/invocations"
)

// StartTimeout bounds the wait for the emulator to accept connections.
var StartTimeout = 15 * time.Second

// ---------------------------------------------------------------- repo

// RepoRoot returns the directory of this module's go.mod (testkit.Root).
func RepoRoot() (string, error) { return testkit.Root() }

func mustRoot(t testing.TB) string {
	t.Helper()
	return testkit.RepoRoot(t)
}

// CacheDir is $STAGEMOVER_CACHE_DIR, else <repo>/.cache.
func CacheDir() (string, error) {
	if d := os.Getenv("STAGEMOVER_CACHE_DIR"); d != "" {
		return filepath.Abs(d)
	}
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, ".cache"), nil
}

// Event returns events/<name> from the repository (testkit.Event).
func Event(t testing.TB, name string) []byte {
	t.Helper()
	return testkit.Event(t, name)
}

// ---------------------------------------------------------------- build

var builds struct {
	mu   sync.Mutex
	dir  string
	done map[string]*buildResult
}

type buildResult struct {
	once sync.Once
	path string
	err  error
}

func goTool() string {
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); fileExists(p) {
		return p
	}
	return "go"
}

// Build compiles ./functions/<name> into a bootstrap for linux and the
// machine's architecture, the way the Makefile builds it for Lambda
// (CGO_ENABLED=0, -tags lambda.norpc, -trimpath). Each function is built once
// per test binary; Cleanup removes the binaries.
func Build(t testing.TB, name string) string {
	t.Helper()
	root := mustRoot(t)
	builds.mu.Lock()
	if builds.done == nil {
		builds.done = map[string]*buildResult{}
	}
	if builds.dir == "" {
		dir, err := os.MkdirTemp("", "stagemover-lambdatest-")
		if err != nil {
			builds.mu.Unlock()
			t.Fatalf("lambdatest: %v", err)
		}
		builds.dir = dir
	}
	r := builds.done[name]
	if r == nil {
		r = &buildResult{}
		builds.done[name] = r
	}
	dir := builds.dir
	builds.mu.Unlock()

	r.once.Do(func() {
		if !fileExists(filepath.Join(root, "functions", name, "main.go")) {
			r.err = fmt.Errorf("lambdatest: functions/%s/main.go does not exist", name)
			return
		}
		out := filepath.Join(dir, name, "bootstrap")
		start := time.Now()
		cmd := exec.Command(goTool(), "build", "-tags", "lambda.norpc", "-trimpath", "-o", out, "./functions/"+name)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+runtime.GOARCH, "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			r.err = fmt.Errorf("lambdatest: build functions/%s: %v\n%s", name, err, b)
			return
		}
		r.path = out
		t.Logf("lambdatest: built functions/%s in %s", name, time.Since(start).Round(time.Millisecond))
	})
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.path
}

// ---------------------------------------------------------------- emulator binary

var rieBin struct {
	sync.Once
	path string
	err  error
}

// RIEPath finds or installs aws-lambda-rie (see the package comment).
func RIEPath() (string, error) {
	rieBin.Do(func() {
		if p := os.Getenv("STAGEMOVER_RIE"); p != "" {
			if !fileExists(p) {
				rieBin.err = fmt.Errorf("lambdatest: STAGEMOVER_RIE=%s does not exist", p)
				return
			}
			rieBin.path = p
			return
		}
		if p, err := exec.LookPath("aws-lambda-rie"); err == nil {
			rieBin.path = p
			return
		}
		cache, err := CacheDir()
		if err != nil {
			rieBin.err = err
			return
		}
		bin := filepath.Join(cache, "bin")
		p := filepath.Join(bin, "aws-lambda-rie")
		if fileExists(p) {
			rieBin.path = p
			return
		}
		if err := os.MkdirAll(bin, 0o755); err != nil {
			rieBin.err = err
			return
		}
		cmd := exec.Command(goTool(), "install", RIEModule+"@"+RIEVersion)
		cmd.Dir = bin // outside the module: `go install pkg@version` ignores go.mod anyway
		cmd.Env = append(os.Environ(), "GOBIN="+bin, "CGO_ENABLED=0", "GOFLAGS=")
		if out, err := cmd.CombinedOutput(); err != nil {
			rieBin.err = fmt.Errorf("lambdatest: go install %s@%s: %v\n%s", RIEModule, RIEVersion, err, out)
			return
		}
		rieBin.path = p
	})
	return rieBin.path, rieBin.err
}

// ---------------------------------------------------------------- emulator

// RIE is a running emulator with one function bootstrap.
type RIE struct {
	t         testing.TB
	bootstrap string
	env       []string
	addr      string
	apiAddr   string
	cmd       *exec.Cmd
	out       *testkit.LogBuffer
	exited    chan struct{}
	waitErr   error

	invokeMu sync.Mutex // the emulator crashes on concurrent invokes
	client   *http.Client

	stopOnce sync.Once
}

// Start runs aws-lambda-rie with bootstrap on two free loopback ports. The
// process environment is exactly env plus dummy AWS credentials and region
// (AWS_REGION, AWS_DEFAULT_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY),
// AWS_EC2_METADATA_DISABLED and AWS_LAMBDA_FUNCTION_TIMEOUT=30, each only
// when env does not set it. The emulator (and the function) is stopped when
// the test ends.
func Start(t testing.TB, bootstrap string, env map[string]string) *RIE {
	t.Helper()
	rie, err := start(t, bootstrap, env)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rie.Stop)
	return rie
}

func start(t testing.TB, bootstrap string, env map[string]string) (*RIE, error) {
	bin, err := RIEPath()
	if err != nil {
		return nil, err
	}
	full := map[string]string{
		"AWS_REGION":                  "us-east-1",
		"AWS_DEFAULT_REGION":          "us-east-1",
		"AWS_ACCESS_KEY_ID":           "lambdatest",
		"AWS_SECRET_ACCESS_KEY":       "lambdatest",
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_LAMBDA_FUNCTION_TIMEOUT": "30",
	}
	for k, v := range env {
		full[k] = v
	}
	keys := make([]string, 0, len(full))
	for k := range full {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	envList := make([]string, 0, len(keys))
	for _, k := range keys {
		envList = append(envList, k+"="+full[k])
	}

	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		r := &RIE{t: t, bootstrap: bootstrap, env: envList, out: &testkit.LogBuffer{}, exited: make(chan struct{})}
		if r.addr, err = freeAddr(); err != nil {
			return nil, err
		}
		if r.apiAddr, err = freeAddr(); err != nil {
			return nil, err
		}
		r.cmd = exec.Command(bin,
			"--runtime-interface-emulator-address", r.addr,
			"--runtime-api-address", r.apiAddr,
			bootstrap)
		r.cmd.Dir = filepath.Dir(bootstrap)
		r.cmd.Env = envList
		r.cmd.Stdout, r.cmd.Stderr = r.out, r.out
		setProcAttrs(r.cmd)
		if err := r.cmd.Start(); err != nil {
			return nil, fmt.Errorf("lambdatest: start %s: %w", bin, err)
		}
		go func() {
			r.waitErr = r.cmd.Wait()
			close(r.exited)
		}()
		r.client = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		if err := r.waitReady(); err != nil {
			lastErr = err
			r.kill()
			continue // most likely lost a port race
		}
		live.add(r)
		return r, nil
	}
	return nil, lastErr
}

func (r *RIE) waitReady() error {
	deadline := time.Now().Add(StartTimeout)
	for {
		select {
		case <-r.exited:
			return fmt.Errorf("lambdatest: aws-lambda-rie exited during start-up (%v):\n%s", r.waitErr, r.out.String())
		default:
		}
		c, err := net.DialTimeout("tcp", r.addr, 200*time.Millisecond)
		if err == nil {
			_ = c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("lambdatest: aws-lambda-rie did not listen on %s within %s:\n%s", r.addr, StartTimeout, r.out.String())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// URL is the emulator's invoke URL.
func (r *RIE) URL() string { return "http://" + r.addr + invokePath }

// Output is everything the emulator and the function wrote to stdout and
// stderr so far (the function's logs and EMF lines, the emulator's
// START/END/REPORT lines and its own log).
func (r *RIE) Output() string { return r.out.String() }

// InvokeError is a non-200 answer of the emulator: 502 when the function
// failed to initialise or crashed.
type InvokeError struct {
	Status int
	Body   []byte
}

func (e *InvokeError) Error() string {
	return fmt.Sprintf("lambdatest: invoke answered %d: %s", e.Status, bytes.TrimSpace(e.Body))
}

// Invoke sends event to the function and returns its response payload. A
// handler error comes back as Lambda's {"errorMessage":...,"errorType":...}
// payload with a nil error; a failed init or a crash is an *InvokeError.
// Invokes are serialised.
func (r *RIE) Invoke(ctx context.Context, event []byte) ([]byte, error) {
	r.invokeMu.Lock()
	defer r.invokeMu.Unlock()
	select {
	case <-r.exited:
		return nil, fmt.Errorf("lambdatest: aws-lambda-rie is not running (%v)", r.waitErr)
	default:
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL(), bytes.NewReader(event))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("lambdatest: invoke: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return body, fmt.Errorf("lambdatest: read invoke response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return body, &InvokeError{Status: resp.StatusCode, Body: body}
	}
	return body, nil
}

// Kill kills the emulator and the function process at once with SIGKILL,
// without letting either finish what it is doing: a crash. An invoke in
// flight fails.
func (r *RIE) Kill() {
	r.kill()
}

// Stop ends the emulator and the function (they hold no state worth a
// graceful shutdown). Safe to call more than once; Start registers it as a
// cleanup.
func (r *RIE) Stop() {
	r.kill()
}

func (r *RIE) kill() {
	r.stopOnce.Do(func() {
		select {
		case <-r.exited:
		default:
			killTree(r.cmd.Process.Pid)
			select {
			case <-r.exited:
			case <-time.After(5 * time.Second):
				if r.t != nil {
					r.t.Logf("lambdatest: aws-lambda-rie (pid %d) did not exit after SIGKILL", r.cmd.Process.Pid)
				}
			}
		}
		live.remove(r)
	})
}

// Exited is closed when the emulator process has exited.
func (r *RIE) Exited() <-chan struct{} { return r.exited }

// ---------------------------------------------------------------- cleanup

var live = &registry{set: map[*RIE]bool{}}

type registry struct {
	mu  sync.Mutex
	set map[*RIE]bool
}

func (g *registry) add(r *RIE) {
	g.mu.Lock()
	g.set[r] = true
	g.mu.Unlock()
}

func (g *registry) remove(r *RIE) {
	g.mu.Lock()
	delete(g.set, r)
	g.mu.Unlock()
}

// Cleanup stops every emulator still running and removes the built
// bootstraps. Call it from TestMain after m.Run.
func Cleanup() {
	live.mu.Lock()
	var rs []*RIE
	for r := range live.set {
		rs = append(rs, r)
	}
	live.mu.Unlock()
	for _, r := range rs {
		r.kill()
	}
	builds.mu.Lock()
	dir := builds.dir
	builds.dir = ""
	builds.done = nil
	builds.mu.Unlock()
	if dir != "" {
		_ = os.RemoveAll(dir)
	}
}

// ---------------------------------------------------------------- assertions

// AssertNoSecrets fails the test when any of secrets occurs in output (the
// function's captured logs): testkit.AssertNoSecrets.
func AssertNoSecrets(t testing.TB, output string, secrets ...string) {
	t.Helper()
	testkit.AssertNoSecrets(t, output, secrets...)
}

// WaitFor polls cond every 20 ms until it is true or timeout passes.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("lambdatest: timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ---------------------------------------------------------------- helpers

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return "127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port), nil
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

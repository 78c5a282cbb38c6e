package objstore

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"go.uber.org/goleak"
)

const childEnvVar = "OBJSTORE_TEST_CHILD"

// childTestEnv makes the test binary a store; a -race build would otherwise
// sleep 1 s at exit. versitygw v1.8.0's event webhook sender has a data race
// of its own (it marshals request buffers from another goroutine, see
// docs/decisions/0002), so a race report inside the child must not turn into
// exit status 66; it still goes to the child's log, and races in the test
// process itself still fail the test.
var childTestEnv = []string{childEnvVar + "=1", "GORACE=atexit_sleep_ms=0 exitcode=0"}

// TestMain doubles as the store: with OBJSTORE_TEST_CHILD=1 the test binary
// runs ServeMain instead of the tests, so tests Start the binary itself.
func TestMain(m *testing.M) {
	if os.Getenv(childEnvVar) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
		err := ServeMain(ctx, os.Args[1:], os.Stdout)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if os.Getenv(parentEnvVar) == "1" {
		runTestParent()
	}
	goleak.VerifyTestMain(m,
		// Idle keep-alive connections of the SDK's HTTP client pool.
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
	)
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// testStore is a child store started from the test binary.
type testStore struct {
	*Process
	opts    Options
	logFile string
	killed  bool // the test kills the store: do not expect a clean exit
}

func (s *testStore) client() *s3.Client {
	return NewClient(s.Endpoint(), s.opts.AccessKey, s.opts.SecretKey, s.opts.Region)
}

// testOptions returns Options for a fresh store in a temporary directory.
func testOptions(t *testing.T) Options {
	t.Helper()
	access, secret := Generate()
	return Options{
		Dir:        filepath.Join(t.TempDir(), "store"),
		Listen:     freeAddr(t),
		AccessKey:  access,
		SecretKey:  secret,
		Region:     "test-1",
		Versioning: true,
	}
}

// startStore starts a child store with o and stops it when the test ends.
func startStore(t *testing.T, o Options) *testStore {
	t.Helper()
	logFile := filepath.Join(t.TempDir(), "store.log")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p, err := Start(ctx, Spec{Exe: os.Args[0], Options: o, LogFile: logFile, Env: childTestEnv})
	if err != nil {
		t.Fatalf("start store: %v", err)
	}
	s := &testStore{Process: p, opts: o, logFile: logFile}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := p.Stop(ctx); err != nil && !s.killed {
			t.Errorf("stop store: %v", err)
		}
		if err := p.Wait(); err != nil && !s.killed {
			b, _ := os.ReadFile(logFile)
			t.Errorf("store did not shut down cleanly: %v\n%s", err, b)
		}
	})
	return s
}

func testCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

package events

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"testing"

	"github.com/pilotlight/pilotlight/provider/local/objstore"
	"go.uber.org/goleak"
)

const childEnvVar = "OBJSTORE_TEST_CHILD"

// childTestEnv makes the test binary a store. In a -race build, the child
// would sleep 1 s at exit, and exit 66 for a race inside versitygw v1.8.0:
// its webhook sender marshals an event in a goroutine from strings that
// alias the fiber request context, which is recycled for the next request.
// That race is versitygw's, not pilotlight's (the reports stay in the
// store's log), so it does not fail the child; the tests' own process is
// still checked.
var childTestEnv = []string{childEnvVar + "=1", "GORACE=atexit_sleep_ms=0 exitcode=0"}

// TestMain doubles as the object store: with OBJSTORE_TEST_CHILD=1 the test
// binary runs objstore.ServeMain instead of the tests.
func TestMain(m *testing.M) {
	if os.Getenv(childEnvVar) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
		err := objstore.ServeMain(ctx, os.Args[1:], os.Stdout)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m,
		// Idle keep-alive connections of the SDK's HTTP client pool.
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
	)
}

// Package objstoretest lets a test binary be its own local object store:
// TestMain calls ServeIfChild first, and tests start real stores (child
// processes) with Spec, without building pilotlight.
package objstoretest

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/pilotlight/pilotlight/provider/local/objstore"
)

// EnvVar marks a test binary started as a store.
const EnvVar = "OBJSTORE_TEST_CHILD"

// ChildEnv is the environment that makes the test binary a store. In a
// -race build the child would otherwise sleep 1 s at exit, and exit 66 for
// a race inside versitygw v1.8.0 (its webhook sender marshals an event from
// request buffers that are recycled, see docs/decisions/0002). That race is
// versitygw's: its reports stay in the store's log, and races in the test
// process itself still fail the test.
var ChildEnv = []string{EnvVar + "=1", "GORACE=atexit_sleep_ms=0 exitcode=0"}

// ServeIfChild serves a store and exits when the binary was started with
// ChildEnv; otherwise it returns at once. Call it first in TestMain.
func ServeIfChild() {
	if os.Getenv(EnvVar) != "1" {
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	err := objstore.ServeMain(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// Spec returns the objstore.Spec that starts this test binary as a store
// with options o, logging to logFile.
func Spec(o objstore.Options, logFile string) objstore.Spec {
	return objstore.Spec{Exe: os.Args[0], Options: o, LogFile: logFile, Env: ChildEnv}
}

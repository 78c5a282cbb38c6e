package events

import (
	"testing"

	"github.com/pilotlight/pilotlight/provider/local/objstore/objstoretest"
	"go.uber.org/goleak"
)

// TestMain doubles as the object store (see objstoretest).
func TestMain(m *testing.M) {
	objstoretest.ServeIfChild()
	goleak.VerifyTestMain(m,
		// Idle keep-alive connections of the SDK's HTTP client pool.
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
	)
}

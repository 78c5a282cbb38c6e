package lb

import "net/http"

// Fence makes the load balancer refuse writes (every method but GET, HEAD
// and OPTIONS) with 503, or accept them again. A graceful failover fences
// the old primary before its final replication pass, so that no write is
// acknowledged there after the pass has started.
func (lb *LB) Fence(on bool) { lb.fenced.Store(on) }

// Fenced reports whether writes are refused.
func (lb *LB) Fenced() bool { return lb.fenced.Load() }

func readOnly(method string) bool {
	return method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions
}

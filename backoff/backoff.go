// Package backoff computes the delays of pilotlight's retry loops: one
// capped exponential schedule, shared by the replicator, the runbook
// engine, the Route 53 driver and the instance supervisor, each of which
// adds the jitter its callers expect.
package backoff

import (
	"math/rand/v2"
	"time"
)

// Exp returns initial·2^(n-1), capped at max, for the n-th retry (n >= 1);
// it returns 0 for n < 1.
func Exp(initial, max time.Duration, n int) time.Duration {
	if n < 1 {
		return 0
	}
	d := initial
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	return min(d, max)
}

// Equal returns the n-th retry's delay with "equal jitter": uniform in
// [d/2, d] where d = Exp(initial, max, n), so concurrent retriers spread out
// but never wait less than half the schedule.
func Equal(initial, max time.Duration, n int) time.Duration {
	d := Exp(initial, max, n)
	return d/2 + rand.N(d/2+1)
}

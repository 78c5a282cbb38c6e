package sim

import (
	"time"

	"github.com/pilotlight/pilotlight/runbook"
)

// bucket is a server-side token bucket as AWS documents them: it holds
// up to Burst tokens, starts full and refills at Rate tokens per second;
// a request that finds fewer tokens than it needs is refused (throttled)
// and takes none.
type bucket struct {
	limit  runbook.Limit
	tokens float64
	last   time.Time
}

// tolerance absorbs the rounding of a client that paces itself with the
// same definition (golang.org/x/time/rate): a request due at the exact
// refill instant is not refused for 1e-9 of a token.
const tolerance = 1e-6

func newBucket(l runbook.Limit, now time.Time) *bucket {
	l.Burst = max(l.Burst, 1)
	return &bucket{limit: l, tokens: float64(l.Burst), last: now}
}

// level returns the tokens at now.
func (b *bucket) level(now time.Time) float64 {
	if now.After(b.last) {
		b.tokens = min(float64(b.limit.Burst), b.tokens+now.Sub(b.last).Seconds()*b.limit.Rate)
		b.last = now
	}
	return b.tokens
}

// take takes n tokens at now, or none and false when there are fewer.
func (b *bucket) take(now time.Time, n int) bool {
	if b.level(now)+tolerance < float64(n) {
		return false
	}
	b.tokens = max(b.tokens-float64(n), 0)
	return true
}

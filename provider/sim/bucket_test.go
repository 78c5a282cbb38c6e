package sim

import (
	"testing"
	"time"

	"github.com/pilotlight/pilotlight/runbook"
)

// TestBucketDefinition checks the server buckets against their
// definition: Burst requests at once, then Rate per second, fractional
// rates included, a refused request taking nothing.
func TestBucketDefinition(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		limit runbook.Limit
		// takes are (offset from t0, tokens, want ok), in order.
		takes []struct {
			at time.Duration
			n  int
			ok bool
		}
	}{
		{"ec2 mutate: 50 then 5/s", runbook.Limit{Burst: 50, Rate: 5}, []struct {
			at time.Duration
			n  int
			ok bool
		}{{0, 50, true}, {0, 1, false}, {199 * time.Millisecond, 1, false}, {200 * time.Millisecond, 1, true}, {time.Second, 4, true}, {time.Second, 1, false}}},
		{"run instances: 1000 then 2/s", runbook.Limit{Burst: 1000, Rate: 2}, []struct {
			at time.Duration
			n  int
			ok bool
		}{{0, 1000, true}, {10 * time.Second, 21, false}, {10 * time.Second, 20, true}, {time.Hour, 1001, false}, {time.Hour, 1000, true}}},
		{"fractional: 0.25/s", runbook.Limit{Burst: 1, Rate: 0.25}, []struct {
			at time.Duration
			n  int
			ok bool
		}{{0, 1, true}, {3999 * time.Millisecond, 1, false}, {4 * time.Second, 1, true}, {7 * time.Second, 1, false}, {8 * time.Second, 1, true}}},
		{"fractional: 1.5/s", runbook.Limit{Burst: 3, Rate: 1.5}, []struct {
			at time.Duration
			n  int
			ok bool
		}{{0, 3, true}, {time.Second, 2, false}, {time.Second, 1, true}, {2 * time.Second, 2, true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBucket(tt.limit, t0)
			for i, tk := range tt.takes {
				if got := b.take(t0.Add(tk.at), tk.n); got != tk.ok {
					t.Fatalf("take %d: %d tokens at %s = %v, want %v (level %.3f)", i, tk.n, tk.at, got, tk.ok, b.tokens)
				}
			}
		})
	}
}

package backoff

import (
	"testing"
	"time"
)

func TestExp(t *testing.T) {
	const ms = time.Millisecond
	tests := []struct {
		initial, max time.Duration
		n            int
		want         time.Duration
	}{
		{100 * ms, time.Second, 0, 0},
		{100 * ms, time.Second, 1, 100 * ms},
		{100 * ms, time.Second, 2, 200 * ms},
		{100 * ms, time.Second, 4, 800 * ms},
		{100 * ms, time.Second, 5, time.Second},
		{100 * ms, time.Second, 1000, time.Second},
		{2 * time.Second, time.Second, 1, time.Second},
	}
	for _, tt := range tests {
		if got := Exp(tt.initial, tt.max, tt.n); got != tt.want {
			t.Errorf("Exp(%v, %v, %d) = %v, want %v", tt.initial, tt.max, tt.n, got, tt.want)
		}
	}
}

func TestEqual(t *testing.T) {
	for n := 1; n <= 8; n++ {
		d := Exp(50*time.Millisecond, time.Second, n)
		for range 200 {
			if got := Equal(50*time.Millisecond, time.Second, n); got < d/2 || got > d {
				t.Fatalf("Equal(n=%d) = %v, outside [%v, %v]", n, got, d/2, d)
			}
		}
	}
}

package aws

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/pilotlight/pilotlight/runbook"
)

// TestThrottleRetriesAsTheSDK: an injected throttle is retried like the
// SDK retries AWS's (up to Attempts in all, after SDKRetryDelay), so only
// a call throttled on every attempt reaches the caller, as
// RequestLimitExceeded; every throttled attempt is counted.
func TestThrottleRetriesAsTheSDK(t *testing.T) {
	tests := []struct {
		name             string
		share            float64
		attempts         int
		wantErr          bool
		injected, sleeps int
	}{
		{"every attempt throttled", 1, 0, true, SDKAttempts, SDKAttempts - 1},
		{"attempts 1 hands it to the caller", 1, 1, true, 1, 0},
		{"no throttle", 1e-12, 0, false, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeCloud(t)
			var slept []time.Duration
			th := &Throttle{Share: tt.share, Seed: 1, Attempts: tt.attempts,
				Sleep: func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }}
			rc := f.clients(th.APIOption())
			_, err := rc.EC2.DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{})
			if (err != nil) != tt.wantErr || (err != nil && runbook.Classify(classify(err)) != runbook.ClassThrottled) {
				t.Fatalf("err %v (class %s)", err, runbook.Classify(classify(err)))
			}
			if _, n := th.Injected(); n != tt.injected || len(slept) != tt.sleeps {
				t.Errorf("injected %d, slept %v", n, slept)
			}
			for i, d := range slept {
				if d < 0 || d > SDKRetryDelay(i+1, 1) {
					t.Errorf("delay %d: %s", i+1, d)
				}
			}
			if got := f.count("DescribeInstances"); (got == 1) == tt.wantErr {
				t.Errorf("%d calls reached the service", got)
			}
		})
	}
	// A share of 30% throttles about 30% of the attempts, and about 2.7%
	// of the calls reach the caller.
	f := newFakeCloud(t)
	th := &Throttle{Share: 0.3, Seed: 5, Sleep: func(context.Context, time.Duration) error { return nil }}
	rc := f.clients(th.APIOption())
	failed := 0
	for range 2000 {
		if _, err := rc.EC2.DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{}); err != nil {
			failed++
		}
	}
	if failed < 20 || failed > 100 {
		t.Errorf("%d of 2000 calls failed, want about 54", failed)
	}
	if _, n := th.Injected(); n < 700 || n > 1000 {
		t.Errorf("%d attempts throttled, want about 850", n)
	}
	if SDKRetryDelay(1, 0.5) != time.Second || SDKRetryDelay(2, 0.5) != 2*time.Second || SDKRetryDelay(10, 0.9) != 20*time.Second {
		t.Error("SDKRetryDelay")
	}
}

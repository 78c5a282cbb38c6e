package aws

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
)

// Throttle is the api-throttle fault, as AWS Fault Injection Service's
// aws:fis:inject-api-throttle-error: a share of the SDK calls of every
// client it is added to are answered with the service's throttling error
// before they are sent. As with FIS, whose errors come from the service,
// a throttled attempt is retried the way the SDK's standard retryer
// retries a throttle (Attempts, SDKRetryDelay) before the caller sees the
// error. Which attempts are throttled is drawn from Seed and each
// attempt's sequence number, so that the same seed throttles the same
// attempts of a given sequence. It is safe for concurrent use.
type Throttle struct {
	// Share of the attempts throttled, 0 < Share ≤ 1.
	Share float64
	// Seed of the draw.
	Seed int64
	// Actions, when set, restricts the fault to these operations
	// (RunInstances, DescribeInstances, ...).
	Actions []string
	// Attempts per call, as the SDK's retryer makes them (default
	// SDKAttempts; 1 hands every injected throttle to the caller).
	Attempts int
	// Sleep waits between attempts (default a timer; tests pass their
	// clock's).
	Sleep func(ctx context.Context, d time.Duration) error

	mu       sync.Mutex
	n        uint64
	injected map[string]int // service:operation → calls throttled
}

// ValidShare checks a throttle share: 0 < share ≤ 1.
func ValidShare(share float64) error {
	if !(share > 0 && share <= 1) {
		return fmt.Errorf("aws: api-throttle: share %v: want 0 < share ≤ 1", share)
	}
	return nil
}

// Draw reports whether call number n of a throttle with seed and share is
// throttled: a hash of both, uniform in [0, 1), below share. The sim
// provider draws its injected throttles the same way.
func Draw(seed int64, n uint64, share float64) bool {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(seed))
	binary.BigEndian.PutUint64(b[8:], n)
	h := sha256.Sum256(b[:])
	return float64(binary.BigEndian.Uint64(h[:8])>>11)/(1<<53) < share
}

// throttleCode is the code a service answers when it throttles a call.
func throttleCode(service string) string {
	switch service {
	case ec2.ServiceID:
		return "RequestLimitExceeded"
	case elbv2.ServiceID, autoscaling.ServiceID, rds.ServiceID, route53.ServiceID, sts.ServiceID:
		return "Throttling"
	}
	return "ThrottlingException"
}

// APIOption returns the SDK client option (for Options.APIOptions or
// NewRegionClients) that injects the fault. It runs first in the
// initialize step, so a throttled call is neither retried by the SDK nor
// sent: the caller (the runbook engine) sees the error, as it would see
// AWS's. A nil *Throttle's option adds nothing.
func (t *Throttle) APIOption() func(*middleware.Stack) error {
	return func(st *middleware.Stack) error {
		if t == nil {
			return nil
		}
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("pilotlightAPIThrottle",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				service, op := awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx)
				for attempt := 1; t.throttle(service, op); attempt++ {
					if attempt >= t.attempts() {
						return middleware.InitializeOutput{}, middleware.Metadata{}, &smithy.GenericAPIError{
							Code: throttleCode(service), Message: "Rate exceeded (injected by the pilotlight api-throttle fault)", Fault: smithy.FaultClient}
					}
					if err := t.sleep(ctx, SDKRetryDelay(attempt, rand.Float64())); err != nil {
						return middleware.InitializeOutput{}, middleware.Metadata{}, err
					}
				}
				return next.HandleInitialize(ctx, in)
			}), middleware.Before)
	}
}

// StepAttempts is the runbook engine's retry budget per step of a
// recovery in the cloud, and ThrottledStepAttempts the budget under the
// api-throttle fault, whose refused share compounds over a step's calls.
// The aws drill and the simulator use them.
const (
	StepAttempts          = 8
	ThrottledStepAttempts = 40
)

// SDKAttempts is the AWS SDK standard retryer's attempts per call.
const SDKAttempts = 3

// SDKRetryDelay is the AWS SDK standard retryer's delay before retry
// attempt (from 1) of a throttled call, for a uniform draw u in [0, 1):
// u·2^attempt seconds, at most 20s.
func SDKRetryDelay(attempt int, u float64) time.Duration {
	return min(time.Duration(u*float64(int64(1)<<min(attempt, 30))*float64(time.Second)), 20*time.Second)
}

func (t *Throttle) attempts() int {
	if t.Attempts > 0 {
		return t.Attempts
	}
	return SDKAttempts
}

func (t *Throttle) sleep(ctx context.Context, d time.Duration) error {
	if t.Sleep != nil {
		return t.Sleep(ctx, d)
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (t *Throttle) throttle(service, op string) bool {
	if len(t.Actions) > 0 && !slices.Contains(t.Actions, op) {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.n++
	if !Draw(t.Seed, t.n, t.Share) {
		return false
	}
	if t.injected == nil {
		t.injected = map[string]int{}
	}
	t.injected[service+":"+op]++
	return true
}

// InjectedCall counts the calls of one operation the fault throttled.
type InjectedCall struct {
	Action string `json:"action"` // service:operation
	Calls  int    `json:"calls"`
}

// Injected returns the calls throttled so far, by operation, and their
// total.
func (t *Throttle) Injected() ([]InjectedCall, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]InjectedCall, 0, len(t.injected))
	total := 0
	for a, n := range t.injected {
		out = append(out, InjectedCall{Action: a, Calls: n})
		total += n
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Action < out[j].Action })
	return out, total
}

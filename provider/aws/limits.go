package aws

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/smithy-go/middleware"
	"golang.org/x/time/rate"

	"github.com/pilotlight/pilotlight/runbook"
)

// Token buckets of the AWS APIs a recovery calls. A key names either a
// request bucket (one token per call) or a resource bucket (one token per
// instance). Recovery steps built by this package use these keys as their
// runbook.Step API, so the engine's limiters and the SDK middleware (see
// Buckets) share one definition.
const (
	// LimitEC2Describe is EC2's non-mutating request bucket (Describe*
	// calls with filters or IDs).
	LimitEC2Describe = "ec2:describe"
	// LimitEC2DescribeUnfiltered is the bucket of unfiltered, unpaginated
	// describes.
	LimitEC2DescribeUnfiltered = "ec2:describe-unfiltered"
	// LimitEC2Mutate is EC2's mutating request bucket (RunInstances,
	// StartInstances, CreateVolume, AttachVolume, ...).
	LimitEC2Mutate = "ec2:mutate"
	// LimitRunInstances is the RunInstances resource bucket, in instances.
	LimitRunInstances = "ec2:RunInstances"
	// LimitStartInstances is the StartInstances resource bucket, in instances.
	LimitStartInstances = "ec2:StartInstances"
	// LimitTerminateInstances is the TerminateInstances resource bucket, in
	// instances.
	LimitTerminateInstances = "ec2:TerminateInstances"
	// LimitRoute53 is Route 53's historical 5 requests per second.
	LimitRoute53 = "route53"
	// LimitRoute53Account is Route 53's newer account-wide request bucket.
	LimitRoute53Account = "route53:account"
	// LimitRDS is the RDS API request bucket.
	LimitRDS = "rds"
	// LimitELBv2Describe is the ELBv2 describe request bucket.
	LimitELBv2Describe = "elbv2:describe"
)

// DefaultLimits returns AWS's documented token buckets (Burst tokens, then
// Rate per second), keyed by the Limit* names. Sources: EC2 API reference
// "Request throttling", Route 53 developer guide "Throttling of API
// requests", RDS and ELB user guides (see /work/shared/REFERENCE.md). Each
// call returns a new map.
func DefaultLimits() map[string]runbook.Limit {
	return map[string]runbook.Limit{
		LimitEC2Describe:           {Burst: 100, Rate: 20},
		LimitEC2DescribeUnfiltered: {Burst: 50, Rate: 10},
		LimitEC2Mutate:             {Burst: 50, Rate: 5},
		LimitRunInstances:          {Burst: 1000, Rate: 2},
		LimitStartInstances:        {Burst: 1000, Rate: 2},
		LimitTerminateInstances:    {Burst: 1000, Rate: 20},
		LimitRoute53:               {Burst: 5, Rate: 5},
		LimitRoute53Account:        {Burst: 50, Rate: 10},
		LimitRDS:                   {Burst: 300, Rate: 12},
		LimitELBv2Describe:         {Burst: 40, Rate: 10},
	}
}

// Limits returns DefaultLimits with overrides applied: a key of overrides
// replaces the bucket of that key. An unknown key, a rate <= 0 or a burst
// < 1 is an error naming the key, so a typo in a plan does not silently
// leave AWS's default in place.
func Limits(overrides map[string]runbook.Limit) (map[string]runbook.Limit, error) {
	out := DefaultLimits()
	keys := make([]string, 0, len(overrides))
	for k := range overrides {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		l := overrides[k]
		if _, ok := out[k]; !ok {
			known := make([]string, 0, len(out))
			for k := range out {
				known = append(known, k)
			}
			slices.Sort(known)
			return nil, fmt.Errorf("aws: limits: %s: unknown bucket (known: %s)", k, strings.Join(known, ", "))
		}
		if l.Rate <= 0 {
			return nil, fmt.Errorf("aws: limits: %s: rate %v must be > 0", k, l.Rate)
		}
		if l.Burst < 1 {
			return nil, fmt.Errorf("aws: limits: %s: burst %d must be >= 1", k, l.Burst)
		}
		out[k] = l
	}
	return out, nil
}

// Buckets are client-side token buckets in front of the SDK clients of one
// account: each call waits for a token of its bucket (see bucketsOf)
// before it is sent, on the injected clock, so that a recovery of
// thousands of resources spends its time waiting here rather than being
// answered RequestLimitExceeded. It is safe for concurrent use.
type Buckets struct {
	clock    runbook.Clock
	limiters map[string]*rate.Limiter
	mu       sync.Mutex
	waited   map[string]int64 // bucket → calls that had to wait
}

// NewBuckets returns buckets for limits, timed by clock (nil: the wall
// clock).
func NewBuckets(limits map[string]runbook.Limit, clock runbook.Clock) *Buckets {
	if clock == nil {
		clock = wallClock{}
	}
	b := &Buckets{clock: clock, limiters: map[string]*rate.Limiter{}, waited: map[string]int64{}}
	for k, l := range limits {
		b.limiters[k] = rate.NewLimiter(rate.Limit(l.Rate), max(l.Burst, 1))
	}
	return b
}

// Burst returns the size of bucket key, 0 when it is not limited.
func (b *Buckets) Burst(key string) int {
	if b == nil || b.limiters[key] == nil {
		return 0
	}
	return b.limiters[key].Burst()
}

// Wait takes n tokens from bucket key, waiting for them on the clock. An
// unknown key, or a nil *Buckets, does not wait. n above the bucket's
// burst is an error: the caller must split its request.
func (b *Buckets) Wait(ctx context.Context, key string, n int) error {
	if b == nil || n <= 0 {
		return nil
	}
	lim := b.limiters[key]
	if lim == nil {
		return nil
	}
	now := b.clock.Now()
	res := lim.ReserveN(now, n)
	if !res.OK() {
		return fmt.Errorf("aws: limiter %s: %d tokens exceed the burst of %d", key, n, lim.Burst())
	}
	d := res.DelayFrom(now)
	if d <= 0 {
		return nil
	}
	b.mu.Lock()
	b.waited[key]++
	b.mu.Unlock()
	select {
	case <-b.clock.After(d):
		return nil
	case <-ctx.Done():
		res.CancelAt(b.clock.Now())
		return ctx.Err()
	}
}

// Waited returns how many calls of each bucket had to wait for a token.
func (b *Buckets) Waited() map[string]int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make(map[string]int64, len(b.waited))
	for k, v := range b.waited {
		out[k] = v
	}
	return out
}

// APIOption returns an SDK client option (for Options.APIOptions) that
// makes every call wait for its request buckets first.
func (b *Buckets) APIOption() func(*middleware.Stack) error {
	return func(st *middleware.Stack) error {
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("pilotlightBuckets",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				for _, key := range bucketsOf(awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx), in.Parameters) {
					if err := b.Wait(ctx, key, 1); err != nil {
						return middleware.InitializeOutput{}, middleware.Metadata{}, err
					}
				}
				return next.HandleInitialize(ctx, in)
			}), middleware.After)
	}
}

// bucketsOf returns the request buckets a call of op on service takes a
// token from. ELBv2's mutating calls and Auto Scaling have no documented
// bucket and take none.
func bucketsOf(service, op string, params any) []string {
	describe := strings.HasPrefix(op, "Describe") || strings.HasPrefix(op, "Get") || strings.HasPrefix(op, "List")
	switch service {
	case ec2.ServiceID:
		if !describe {
			return []string{LimitEC2Mutate}
		}
		if in, ok := params.(*ec2.DescribeInstancesInput); ok && len(in.Filters) == 0 && len(in.InstanceIds) == 0 && in.MaxResults == nil {
			return []string{LimitEC2DescribeUnfiltered}
		}
		return []string{LimitEC2Describe}
	case route53.ServiceID:
		return []string{LimitRoute53, LimitRoute53Account}
	case rds.ServiceID:
		return []string{LimitRDS}
	case elbv2.ServiceID:
		if describe {
			return []string{LimitELBv2Describe}
		}
	}
	return nil
}

package aws

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/servicequotas"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/pilotlight/pilotlight/backoff"
	"github.com/pilotlight/pilotlight/plan"
	"github.com/pilotlight/pilotlight/readiness"
)

// ReadinessEC2API is the part of the EC2 client that readiness checks
// use: describes only. Every call must return when ctx is cancelled.
type ReadinessEC2API interface {
	DescribeSnapshots(ctx context.Context, in *ec2.DescribeSnapshotsInput, opts ...func(*ec2.Options)) (*ec2.DescribeSnapshotsOutput, error)
	DescribeImages(ctx context.Context, in *ec2.DescribeImagesInput, opts ...func(*ec2.Options)) (*ec2.DescribeImagesOutput, error)
	DescribeLaunchTemplateVersions(ctx context.Context, in *ec2.DescribeLaunchTemplateVersionsInput, opts ...func(*ec2.Options)) (*ec2.DescribeLaunchTemplateVersionsOutput, error)
	DescribeVpcs(ctx context.Context, in *ec2.DescribeVpcsInput, opts ...func(*ec2.Options)) (*ec2.DescribeVpcsOutput, error)
	DescribeSubnets(ctx context.Context, in *ec2.DescribeSubnetsInput, opts ...func(*ec2.Options)) (*ec2.DescribeSubnetsOutput, error)
	DescribeInstanceTypes(ctx context.Context, in *ec2.DescribeInstanceTypesInput, opts ...func(*ec2.Options)) (*ec2.DescribeInstanceTypesOutput, error)
	DescribeInstanceTypeOfferings(ctx context.Context, in *ec2.DescribeInstanceTypeOfferingsInput, opts ...func(*ec2.Options)) (*ec2.DescribeInstanceTypeOfferingsOutput, error)
}

// ReadinessRDSAPI is the part of the RDS client that readiness checks use.
type ReadinessRDSAPI interface {
	DescribeDBSnapshots(ctx context.Context, in *rds.DescribeDBSnapshotsInput, opts ...func(*rds.Options)) (*rds.DescribeDBSnapshotsOutput, error)
	DescribeDBClusterSnapshots(ctx context.Context, in *rds.DescribeDBClusterSnapshotsInput, opts ...func(*rds.Options)) (*rds.DescribeDBClusterSnapshotsOutput, error)
}

// QuotasAPI reads EC2's service quotas.
type QuotasAPI interface {
	GetServiceQuota(ctx context.Context, in *servicequotas.GetServiceQuotaInput, opts ...func(*servicequotas.Options)) (*servicequotas.GetServiceQuotaOutput, error)
}

// IAMSimulatorAPI simulates the caller's policies.
type IAMSimulatorAPI interface {
	SimulatePrincipalPolicy(ctx context.Context, in *iam.SimulatePrincipalPolicyInput, opts ...func(*iam.Options)) (*iam.SimulatePrincipalPolicyOutput, error)
}

// ReadinessECRAPI finds container images in the recovery registry.
type ReadinessECRAPI interface {
	DescribeImages(ctx context.Context, in *ecr.DescribeImagesInput, opts ...func(*ecr.Options)) (*ecr.DescribeImagesOutput, error)
}

var (
	_ ReadinessEC2API = (*ec2.Client)(nil)
	_ ReadinessRDSAPI = (*rds.Client)(nil)
	_ QuotasAPI       = (*servicequotas.Client)(nil)
	_ IAMSimulatorAPI = (*iam.Client)(nil)
	_ ReadinessECRAPI = (*ecr.Client)(nil)
)

// ReadinessClients are the clients readiness checks use. Primary is in the
// primary region (only the network check reads it); the others are in the
// recovery region, with its credentials.
type ReadinessClients struct {
	Primary  ReadinessEC2API
	Recovery ReadinessEC2API
	RDS      ReadinessRDSAPI
	Quotas   QuotasAPI
	IAM      IAMSimulatorAPI
	STS      STSAPI
	ECR      ReadinessECRAPI
}

// NewReadinessClients builds the clients of p's regions from the standard
// AWS configuration with each region's profile and role (see
// NewRegionClients). Calls wait for AWS's token buckets.
func NewReadinessClients(ctx context.Context, p *plan.Plan) (ReadinessClients, error) {
	primary, err := loadRegionConfig(ctx, p.Regions.Primary, NewBuckets(DefaultLimits(), nil))
	if err != nil {
		return ReadinessClients{}, err
	}
	recovery, err := loadRegionConfig(ctx, p.Regions.Recovery, NewBuckets(DefaultLimits(), nil))
	if err != nil {
		return ReadinessClients{}, err
	}
	return ReadinessClients{
		Primary: ec2.NewFromConfig(primary), Recovery: ec2.NewFromConfig(recovery), RDS: rds.NewFromConfig(recovery),
		Quotas: servicequotas.NewFromConfig(recovery), IAM: iam.NewFromConfig(recovery), STS: sts.NewFromConfig(recovery),
		ECR: ecr.NewFromConfig(recovery),
	}, nil
}

// Readiness builds the AWS readiness checks of a plan whose regions both
// use provider aws. Fields are read-only once Checks has been called; the
// checks may run concurrently.
type Readiness struct {
	// Plan is checked. Required.
	Plan *plan.Plan
	// Clients reach the regions. Required.
	Clients ReadinessClients
	// Catalog holds the recovery points (nil: every volume and database
	// fails for want of one).
	Catalog *Catalog
	// DNS reads the plan's hosted zone (nil: Route 53 is not checked, only
	// the plan's routing).
	DNS *Route53Driver
	// RecordSpecs are the plan's records as `dns sync` applies them (with
	// DNS). SpecsErr, when set, says why there are none: the Route 53
	// check is skipped with it as the reason.
	RecordSpecs []RecordSpec
	SpecsErr    error
	// Clock is the time of recovery point ages and retries (default the
	// wall clock).
	Clock Clock
	// Backoff between retries of throttled describes (defaults 200ms,
	// 5s, 6 attempts).
	Backoff Backoff
}

// Checks returns the AWS checks of the plan: recovery points, launch
// template images, container images, network, quotas and instance-type
// offerings, IAM permissions and Route 53 records.
func (r *Readiness) Checks() []readiness.Check {
	var out []readiness.Check
	out = append(out, r.recoveryPointChecks()...)
	out = append(out, r.imageChecks()...)
	out = append(out, r.containerImageChecks()...)
	out = append(out, r.networkChecks()...)
	out = append(out, r.capacityChecks()...)
	out = append(out, r.iamCheck())
	out = append(out, r.dnsCheck())
	return out
}

func (r *Readiness) clock() Clock {
	if r.Clock == nil {
		return wallClock{}
	}
	return r.Clock
}

// call runs fn, retrying it after a jittered backoff while it fails with
// throttling or a server-side error, up to Backoff.Attempts tries; what
// names the call in the error.
func (r *Readiness) call(ctx context.Context, what string, fn func() error) error {
	initial := cmpOrDuration(r.Backoff.Initial, 200*time.Millisecond)
	maxd := cmpOrDuration(r.Backoff.Max, 5*time.Second)
	attempts := cmpOr(r.Backoff.Attempts, 6)
	for n := 1; ; n++ {
		err := fn()
		if err == nil {
			return nil
		}
		if !retryable(err) || n >= attempts {
			if n > 1 {
				return fmt.Errorf("aws: %s: gave up after %d attempts: %w", what, n, err)
			}
			return fmt.Errorf("aws: %s: %w", what, err)
		}
		select {
		case <-r.clock().After(backoff.Equal(initial, maxd, n)):
		case <-ctx.Done():
			return fmt.Errorf("aws: %s: %w", what, ctx.Err())
		}
	}
}

func cmpOrDuration(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// recoveryRegion is the recovery region's name, for reasons.
func (r *Readiness) recoveryRegion() string { return r.Plan.Regions.Recovery.Name }

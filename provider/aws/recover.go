package aws

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/smithy-go/middleware"

	"github.com/pilotlight/pilotlight/plan"
	"github.com/pilotlight/pilotlight/recovery"
	"github.com/pilotlight/pilotlight/runbook"
)

// Tags pilotlight puts on what a recovery creates or finds.
const (
	TagPlan    = "pilotlight:plan"
	TagService = "pilotlight:service"
	// TagStepKey is the idempotency key of the step that created a resource.
	TagStepKey = "pilotlight:step-key"
	// TagRun is the run that restored a database or volume.
	TagRun = "pilotlight:run"
	// TagVolume names the plan volume a snapshot copy belongs to (snapshot
	// copies lose their source volume ID).
	TagVolume = "pilotlight:volume"
)

// EC2API is the part of the EC2 client that a recovery uses. Every call
// must return when ctx is cancelled.
type EC2API interface {
	RunInstances(ctx context.Context, in *ec2.RunInstancesInput, opts ...func(*ec2.Options)) (*ec2.RunInstancesOutput, error)
	StartInstances(ctx context.Context, in *ec2.StartInstancesInput, opts ...func(*ec2.Options)) (*ec2.StartInstancesOutput, error)
	StopInstances(ctx context.Context, in *ec2.StopInstancesInput, opts ...func(*ec2.Options)) (*ec2.StopInstancesOutput, error)
	TerminateInstances(ctx context.Context, in *ec2.TerminateInstancesInput, opts ...func(*ec2.Options)) (*ec2.TerminateInstancesOutput, error)
	DescribeInstances(ctx context.Context, in *ec2.DescribeInstancesInput, opts ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error)
	DescribeAvailabilityZones(ctx context.Context, in *ec2.DescribeAvailabilityZonesInput, opts ...func(*ec2.Options)) (*ec2.DescribeAvailabilityZonesOutput, error)
	DescribeSnapshots(ctx context.Context, in *ec2.DescribeSnapshotsInput, opts ...func(*ec2.Options)) (*ec2.DescribeSnapshotsOutput, error)
	CreateVolume(ctx context.Context, in *ec2.CreateVolumeInput, opts ...func(*ec2.Options)) (*ec2.CreateVolumeOutput, error)
	DescribeVolumes(ctx context.Context, in *ec2.DescribeVolumesInput, opts ...func(*ec2.Options)) (*ec2.DescribeVolumesOutput, error)
	AttachVolume(ctx context.Context, in *ec2.AttachVolumeInput, opts ...func(*ec2.Options)) (*ec2.AttachVolumeOutput, error)
	DeleteVolume(ctx context.Context, in *ec2.DeleteVolumeInput, opts ...func(*ec2.Options)) (*ec2.DeleteVolumeOutput, error)
}

// AutoScalingAPI is the part of the Auto Scaling client that a warm
// standby recovery uses.
type AutoScalingAPI interface {
	DescribeAutoScalingGroups(ctx context.Context, in *autoscaling.DescribeAutoScalingGroupsInput, opts ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error)
	SetDesiredCapacity(ctx context.Context, in *autoscaling.SetDesiredCapacityInput, opts ...func(*autoscaling.Options)) (*autoscaling.SetDesiredCapacityOutput, error)
	UpdateAutoScalingGroup(ctx context.Context, in *autoscaling.UpdateAutoScalingGroupInput, opts ...func(*autoscaling.Options)) (*autoscaling.UpdateAutoScalingGroupOutput, error)
	AttachLoadBalancerTargetGroups(ctx context.Context, in *autoscaling.AttachLoadBalancerTargetGroupsInput, opts ...func(*autoscaling.Options)) (*autoscaling.AttachLoadBalancerTargetGroupsOutput, error)
}

// ELBv2API is the part of the Elastic Load Balancing v2 client that a
// recovery uses.
type ELBv2API interface {
	DescribeLoadBalancers(ctx context.Context, in *elbv2.DescribeLoadBalancersInput, opts ...func(*elbv2.Options)) (*elbv2.DescribeLoadBalancersOutput, error)
	CreateLoadBalancer(ctx context.Context, in *elbv2.CreateLoadBalancerInput, opts ...func(*elbv2.Options)) (*elbv2.CreateLoadBalancerOutput, error)
	DescribeTargetGroups(ctx context.Context, in *elbv2.DescribeTargetGroupsInput, opts ...func(*elbv2.Options)) (*elbv2.DescribeTargetGroupsOutput, error)
	CreateTargetGroup(ctx context.Context, in *elbv2.CreateTargetGroupInput, opts ...func(*elbv2.Options)) (*elbv2.CreateTargetGroupOutput, error)
	DescribeListeners(ctx context.Context, in *elbv2.DescribeListenersInput, opts ...func(*elbv2.Options)) (*elbv2.DescribeListenersOutput, error)
	CreateListener(ctx context.Context, in *elbv2.CreateListenerInput, opts ...func(*elbv2.Options)) (*elbv2.CreateListenerOutput, error)
	RegisterTargets(ctx context.Context, in *elbv2.RegisterTargetsInput, opts ...func(*elbv2.Options)) (*elbv2.RegisterTargetsOutput, error)
	DescribeTargetHealth(ctx context.Context, in *elbv2.DescribeTargetHealthInput, opts ...func(*elbv2.Options)) (*elbv2.DescribeTargetHealthOutput, error)
	DescribeTags(ctx context.Context, in *elbv2.DescribeTagsInput, opts ...func(*elbv2.Options)) (*elbv2.DescribeTagsOutput, error)
	DeleteLoadBalancer(ctx context.Context, in *elbv2.DeleteLoadBalancerInput, opts ...func(*elbv2.Options)) (*elbv2.DeleteLoadBalancerOutput, error)
	DeleteTargetGroup(ctx context.Context, in *elbv2.DeleteTargetGroupInput, opts ...func(*elbv2.Options)) (*elbv2.DeleteTargetGroupOutput, error)
}

// RDSAPI is the part of the RDS client that restores databases.
type RDSAPI interface {
	DescribeDBSnapshots(ctx context.Context, in *rds.DescribeDBSnapshotsInput, opts ...func(*rds.Options)) (*rds.DescribeDBSnapshotsOutput, error)
	DescribeDBClusterSnapshots(ctx context.Context, in *rds.DescribeDBClusterSnapshotsInput, opts ...func(*rds.Options)) (*rds.DescribeDBClusterSnapshotsOutput, error)
	RestoreDBInstanceFromDBSnapshot(ctx context.Context, in *rds.RestoreDBInstanceFromDBSnapshotInput, opts ...func(*rds.Options)) (*rds.RestoreDBInstanceFromDBSnapshotOutput, error)
	RestoreDBClusterFromSnapshot(ctx context.Context, in *rds.RestoreDBClusterFromSnapshotInput, opts ...func(*rds.Options)) (*rds.RestoreDBClusterFromSnapshotOutput, error)
	DescribeDBInstances(ctx context.Context, in *rds.DescribeDBInstancesInput, opts ...func(*rds.Options)) (*rds.DescribeDBInstancesOutput, error)
	DescribeDBClusters(ctx context.Context, in *rds.DescribeDBClustersInput, opts ...func(*rds.Options)) (*rds.DescribeDBClustersOutput, error)
	DeleteDBInstance(ctx context.Context, in *rds.DeleteDBInstanceInput, opts ...func(*rds.Options)) (*rds.DeleteDBInstanceOutput, error)
	DeleteDBCluster(ctx context.Context, in *rds.DeleteDBClusterInput, opts ...func(*rds.Options)) (*rds.DeleteDBClusterOutput, error)
}

// Interface guards.
var (
	_ EC2API            = (*ec2.Client)(nil)
	_ AutoScalingAPI    = (*autoscaling.Client)(nil)
	_ ELBv2API          = (*elbv2.Client)(nil)
	_ RDSAPI            = (*rds.Client)(nil)
	_ recovery.Provider = (*Recovery)(nil)
)

// RegionClients are the SDK clients of one AWS region.
type RegionClients struct {
	EC2         EC2API
	AutoScaling AutoScalingAPI
	ELB         ELBv2API
	RDS         RDSAPI
}

// NewRegionClients builds the clients of region r from the standard AWS
// configuration with r's profile, assuming r.RoleARN when set. Every call
// first waits for its token in buckets (nil: no client-side limit); extra
// are more SDK API options (such as a Throttle fault's).
func NewRegionClients(ctx context.Context, r plan.Region, buckets *Buckets, extra ...func(*middleware.Stack) error) (RegionClients, error) {
	cfg, err := loadRegionConfig(ctx, r, buckets, extra...)
	if err != nil {
		return RegionClients{}, err
	}
	return RegionClients{
		EC2:         ec2.NewFromConfig(cfg),
		AutoScaling: autoscaling.NewFromConfig(cfg),
		ELB:         elbv2.NewFromConfig(cfg),
		RDS:         rds.NewFromConfig(cfg),
	}, nil
}

// Recovery runs a plan's services, load balancers, DNS switch and data
// restores in AWS regions for the runbook engine: it implements
// recovery.Provider for plans whose regions use provider aws (the Data
// part returns ErrNotSupported: S3 native replication is set up and
// watched by NativeReplication, not switched by a runbook yet). Fields are
// read-only once a method has been called; methods may be called
// concurrently.
type Recovery struct {
	// Plan is the plan recovered. Required.
	Plan *plan.Plan
	// Regions holds the clients of each region, by region name. Required.
	Regions map[string]RegionClients
	// Buckets, when set, paces instance launches, starts and terminations
	// by AWS's resource buckets (LimitRunInstances and friends) and bounds
	// each RunInstances call to the burst.
	Buckets *Buckets
	// DNS switches records (SetActive). Without it SetActive fails.
	DNS *Route53Driver
	// RecordSpecs are the Route 53 specs of the plan's records by record
	// name, as `dns sync` applies them: SetActive(record, "") restores them
	// (health checks decide again).
	RecordSpecs map[string]RecordSpec
	// Clock times waits and cache TTLs (default the wall clock). Steps
	// built by this package wait on the engine's clock instead.
	Clock runbook.Clock
	// Logger receives progress (nil discards).
	Logger *slog.Logger
	// DescribeTTL is how long a DescribeInstances or DescribeTargetHealth
	// answer is reused by concurrent pollers (default 2s).
	DescribeTTL time.Duration
	// Poll is the interval of the waits of database and volume steps
	// (default 10s).
	Poll time.Duration
	// WaitTimeout bounds those waits (default 30m).
	WaitTimeout time.Duration
	// MaxLaunch is the most instances asked of one RunInstances call
	// (default 500, and never above the RunInstances burst of Buckets).
	MaxLaunch int
	// HTTPClient makes Verify's request (default a client with a 5s
	// timeout).
	HTTPClient *http.Client
	// Resolver resolves names for Verify (default net.DefaultResolver).
	Resolver Resolver
	// Catalog, when set, names the snapshot each database and volume is
	// restored from (its completed recovery point); without it, or for a
	// resource it does not know, the newest snapshot found there is used.
	Catalog RecoveryPoints
	// DrillID, when set, makes this an isolated drill's recovery (see
	// drill.go): everything created is tagged pilotlight:drill=DrillID and
	// pilotlight:drill-started=DrillStarted, load balancers and target
	// groups are named from the drill ID, only instances tagged with it are
	// seen, and Auto Scaling groups (production's) are never touched.
	DrillID string
	// DrillStarted is when the drill started (tagged, for the sweeper).
	DrillStarted time.Time

	mu     sync.Mutex
	caches map[string]*regionCache // by region
	lbs    map[string]loadBalancer // by region/service
}

// regionCache batches and coalesces the describes of one region.
type regionCache struct {
	instances *runbook.Cache[[]instance]     // by service name
	health    *runbook.Cache[[]targetHealth] // by target group ARN
}

func (r *Recovery) log() *slog.Logger {
	if r.Logger == nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return r.Logger.With("component", "aws-recovery")
}

func (r *Recovery) clock() runbook.Clock {
	if r.Clock == nil {
		return wallClock{}
	}
	return r.Clock
}

// region returns the clients of region.
func (r *Recovery) region(name string) (RegionClients, error) {
	rc, ok := r.Regions[name]
	if !ok || rc.EC2 == nil {
		return RegionClients{}, runbook.Fatal(fmt.Errorf("aws: region %s: %w: no clients for it", name, ErrConfig))
	}
	return rc, nil
}

// service returns the plan's service name with its aws compute.
func (r *Recovery) service(name string) (*plan.Service, error) {
	for i := range r.Plan.Services {
		s := &r.Plan.Services[i]
		if s.Name == name {
			if s.Compute.AWS == nil {
				return nil, runbook.Fatal(fmt.Errorf("aws: service %s: %w: it has no compute.aws", name, ErrConfig))
			}
			return s, nil
		}
	}
	return nil, runbook.Fatal(fmt.Errorf("aws: service %s: %w: not in plan %s", name, ErrConfig, r.Plan.Name))
}

// cache returns the describe caches of region.
func (r *Recovery) cache(region string, rc RegionClients) *regionCache {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.caches[region]; ok {
		return c
	}
	if r.caches == nil {
		r.caches = map[string]*regionCache{}
	}
	ttl := r.DescribeTTL
	if ttl <= 0 {
		ttl = 2 * time.Second
	}
	c := &regionCache{
		instances: runbook.NewCache(func(ctx context.Context, services []string) (map[string][]instance, error) {
			return r.describeInstances(ctx, rc.EC2, services)
		}, runbook.CacheOptions{TTL: ttl, MaxBatch: 200, Clock: r.clock()}),
		health: runbook.NewCache(func(ctx context.Context, arns []string) (map[string][]targetHealth, error) {
			return describeTargetHealth(ctx, rc.ELB, arns)
		}, runbook.CacheOptions{TTL: ttl, MaxBatch: 1, Clock: r.clock()}),
	}
	r.caches[region] = c
	return c
}

// resourceName is the name of a load balancer or target group of service:
// plan-service, shortened with a hash to ELB's 32 characters.
func resourceName(planName, service string) string {
	s := planName + "-" + service
	if len(s) <= 32 {
		return s
	}
	h := sha256.Sum256([]byte(s))
	return s[:23] + "-" + hex.EncodeToString(h[:4])
}

// token derives a client token (at most 64 ASCII characters) from a step
// key and the parts that make one call differ from another.
func token(key string, parts ...any) string {
	h := sha256.New()
	fmt.Fprint(h, key)
	for _, p := range parts {
		fmt.Fprintf(h, "\x00%v", p)
	}
	return "pl-" + hex.EncodeToString(h.Sum(nil)[:24])
}

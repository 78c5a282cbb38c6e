package aws

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/pilotlight/pilotlight/backoff"
	"github.com/pilotlight/pilotlight/plan"
	"github.com/pilotlight/pilotlight/runbook"
)

// InventoryVersion is the schema version of an inventory document.
const InventoryVersion = 1

// InventoryEC2API is the part of the EC2 client that the inventory export
// reads in the primary region (describes only). Every call must return
// when ctx is cancelled.
type InventoryEC2API interface {
	DescribeInstances(ctx context.Context, in *ec2.DescribeInstancesInput, opts ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error)
	DescribeVpcs(ctx context.Context, in *ec2.DescribeVpcsInput, opts ...func(*ec2.Options)) (*ec2.DescribeVpcsOutput, error)
	DescribeSubnets(ctx context.Context, in *ec2.DescribeSubnetsInput, opts ...func(*ec2.Options)) (*ec2.DescribeSubnetsOutput, error)
	DescribeRouteTables(ctx context.Context, in *ec2.DescribeRouteTablesInput, opts ...func(*ec2.Options)) (*ec2.DescribeRouteTablesOutput, error)
	DescribeSecurityGroups(ctx context.Context, in *ec2.DescribeSecurityGroupsInput, opts ...func(*ec2.Options)) (*ec2.DescribeSecurityGroupsOutput, error)
}

// InventoryELBAPI is the part of the ELBv2 client that the inventory
// export reads in the primary region.
type InventoryELBAPI interface {
	DescribeLoadBalancers(ctx context.Context, in *elbv2.DescribeLoadBalancersInput, opts ...func(*elbv2.Options)) (*elbv2.DescribeLoadBalancersOutput, error)
	DescribeListeners(ctx context.Context, in *elbv2.DescribeListenersInput, opts ...func(*elbv2.Options)) (*elbv2.DescribeListenersOutput, error)
	DescribeTargetGroups(ctx context.Context, in *elbv2.DescribeTargetGroupsInput, opts ...func(*elbv2.Options)) (*elbv2.DescribeTargetGroupsOutput, error)
	DescribeTargetHealth(ctx context.Context, in *elbv2.DescribeTargetHealthInput, opts ...func(*elbv2.Options)) (*elbv2.DescribeTargetHealthOutput, error)
}

var (
	_ InventoryEC2API = (*ec2.Client)(nil)
	_ InventoryELBAPI = (*elbv2.Client)(nil)
)

// InventoryDoc is one export of the primary region's metadata that a
// recovery needs, as stored in the recovery region.
type InventoryDoc struct {
	// Version is the schema version (InventoryVersion).
	Version int `json:"version"`
	// Plan is the plan's name; Region the primary region read.
	Plan   string `json:"plan"`
	Region string `json:"region"`
	// Taken is when the export started; Seconds how long it took.
	Taken   time.Time `json:"taken"`
	Seconds float64   `json:"seconds"`
	// Key is the versioned S3 key (or local file name) of this export.
	Key    string          `json:"key,omitempty"`
	Counts InventoryCounts `json:"counts"`

	Instances     []InvInstance     `json:"instances"`
	LoadBalancers []InvLoadBalancer `json:"loadBalancers"`
	// Zone and ZoneID name the plan's hosted zone (routing.zone); Records
	// are all its record sets.
	Zone    string      `json:"zone,omitempty"`
	ZoneID  string      `json:"zoneId,omitempty"`
	Records []RecordSet `json:"records"`
	// The network, as EC2 describes it (lossless, so `network sync` or a
	// person can rebuild it from the export alone).
	VPCs           []ec2types.Vpc           `json:"vpcs"`
	Subnets        []ec2types.Subnet        `json:"subnets"`
	RouteTables    []ec2types.RouteTable    `json:"routeTables"`
	SecurityGroups []ec2types.SecurityGroup `json:"securityGroups"`
}

// InventoryCounts counts what an export holds.
type InventoryCounts struct {
	Instances      int `json:"instances"`
	LoadBalancers  int `json:"loadBalancers"`
	TargetGroups   int `json:"targetGroups"`
	Records        int `json:"records"`
	VPCs           int `json:"vpcs"`
	Subnets        int `json:"subnets"`
	RouteTables    int `json:"routeTables"`
	SecurityGroups int `json:"securityGroups"`
}

// InvInstance is an instance of the primary region.
type InvInstance struct {
	ID             string            `json:"id"`
	Type           string            `json:"type"`
	Image          string            `json:"image"`
	State          string            `json:"state"`
	VPC            string            `json:"vpc,omitempty"`
	Subnet         string            `json:"subnet,omitempty"`
	Zone           string            `json:"zone,omitempty"`
	PrivateIP      string            `json:"privateIp,omitempty"`
	SecurityGroups []string          `json:"securityGroups,omitempty"`
	Tags           map[string]string `json:"tags,omitempty"`
}

// InvLoadBalancer is a load balancer with its listeners and target groups.
type InvLoadBalancer struct {
	ARN            string           `json:"arn"`
	Name           string           `json:"name"`
	Type           string           `json:"type"`
	Scheme         string           `json:"scheme"`
	DNSName        string           `json:"dnsName"`
	VPC            string           `json:"vpc,omitempty"`
	Subnets        []string         `json:"subnets,omitempty"`
	SecurityGroups []string         `json:"securityGroups,omitempty"`
	Listeners      []InvListener    `json:"listeners"`
	TargetGroups   []InvTargetGroup `json:"targetGroups"`
}

// InvListener is a listener; Certificates are its ARNs (the default one).
type InvListener struct {
	ARN          string   `json:"arn"`
	Port         int32    `json:"port"`
	Protocol     string   `json:"protocol"`
	Certificates []string `json:"certificates,omitempty"`
	SSLPolicy    string   `json:"sslPolicy,omitempty"`
}

// InvTargetGroup is a target group, its health check and its targets.
type InvTargetGroup struct {
	ARN         string         `json:"arn"`
	Name        string         `json:"name"`
	Protocol    string         `json:"protocol,omitempty"`
	Port        int32          `json:"port,omitempty"`
	TargetType  string         `json:"targetType,omitempty"`
	HealthCheck InvHealthCheck `json:"healthCheck"`
	Targets     []InvTarget    `json:"targets"`
}

// InvHealthCheck is a target group's health check settings.
type InvHealthCheck struct {
	Protocol           string `json:"protocol,omitempty"`
	Port               string `json:"port,omitempty"`
	Path               string `json:"path,omitempty"`
	Matcher            string `json:"matcher,omitempty"`
	IntervalSeconds    int32  `json:"intervalSeconds,omitempty"`
	TimeoutSeconds     int32  `json:"timeoutSeconds,omitempty"`
	HealthyThreshold   int32  `json:"healthyThreshold,omitempty"`
	UnhealthyThreshold int32  `json:"unhealthyThreshold,omitempty"`
}

// InvTarget is a registered target and its health when exported.
type InvTarget struct {
	ID     string `json:"id"`
	Port   int32  `json:"port,omitempty"`
	Zone   string `json:"zone,omitempty"`
	Health string `json:"health,omitempty"`
}

// Inventory exports the primary region's metadata of a plan (`pilotlight
// inventory export`, and a job of `pilotlight protect`): instances, load
// balancers, the records of the plan's hosted zone and the network, as one
// JSON document in the recovery region's bucket and the state directory,
// so that a recovery reads it without the primary. Fields are read-only
// once Export has been called.
type Inventory struct {
	// Plan says what to export and where. Required.
	Plan *plan.Plan
	// EC2 and ELB read the primary region. Required.
	EC2 InventoryEC2API
	ELB InventoryELBAPI
	// Route53 reads the plan's hosted zone (nil: records are not exported).
	Route53 Route53API
	// Store writes the export to the recovery region and locally.
	// Required.
	Store *InventoryStore
	// Clock stamps the export and times backoffs (default the wall clock).
	Clock runbook.Clock
	// Logger receives progress (nil discards).
	Logger *slog.Logger
	// Backoff between retries of a throttled or failed describe (default
	// 500ms, 20s, 10 attempts).
	Backoff Backoff
}

func (x *Inventory) clock() runbook.Clock {
	if x.Clock == nil {
		return wallClock{}
	}
	return x.Clock
}

func (x *Inventory) log() *slog.Logger {
	if x.Logger == nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return x.Logger.With("component", "aws-inventory")
}

// Export reads the primary region and writes one export (versioned object
// first, then the latest pointer, then retention). It returns the
// document written.
func (x *Inventory) Export(ctx context.Context) (*InventoryDoc, error) {
	if x.Plan == nil || x.EC2 == nil || x.ELB == nil || x.Store == nil {
		return nil, fmt.Errorf("inventory: export: %w: a plan, EC2 and ELB clients and a store are required", ErrConfig)
	}
	start := x.clock().Now().UTC()
	d, err := x.read(ctx)
	if err != nil {
		return nil, err
	}
	d.Version, d.Plan, d.Region, d.Taken = InventoryVersion, x.Plan.Name, x.Plan.Regions.Primary.Name, start
	d.Seconds = x.clock().Now().Sub(start).Seconds()
	d.count()
	if err := x.Store.Save(ctx, d); err != nil {
		return d, err
	}
	x.log().Info("inventory exported", "key", d.Key, "instances", d.Counts.Instances, "loadBalancers", d.Counts.LoadBalancers,
		"records", d.Counts.Records, "vpcs", d.Counts.VPCs, "seconds", d.Seconds)
	return d, nil
}

// count fills Counts from the lists.
func (d *InventoryDoc) count() {
	c := InventoryCounts{Instances: len(d.Instances), LoadBalancers: len(d.LoadBalancers), Records: len(d.Records),
		VPCs: len(d.VPCs), Subnets: len(d.Subnets), RouteTables: len(d.RouteTables), SecurityGroups: len(d.SecurityGroups)}
	for _, lb := range d.LoadBalancers {
		c.TargetGroups += len(lb.TargetGroups)
	}
	d.Counts = c
}

// call runs fn, retrying what waiting fixes (throttling, server errors)
// with the shared capped, jittered backoff. Its errors read
// "inventory: <op> <target>: <cause>".
func (x *Inventory) call(ctx context.Context, op, target string, fn func() error) error {
	b := x.Backoff
	b.Initial, b.Max, b.Attempts = cmp.Or(b.Initial, 500*time.Millisecond), cmp.Or(b.Max, 20*time.Second), cmp.Or(b.Attempts, 10)
	for n := 1; ; n++ {
		err := fn()
		if err == nil {
			return nil
		}
		if !retryable(err) || ctx.Err() != nil {
			return fmt.Errorf("inventory: %s %s: %w", op, target, err)
		}
		if n >= b.Attempts {
			return fmt.Errorf("inventory: %s %s: gave up after %d attempts: %w", op, target, n, err)
		}
		delay := backoff.Equal(b.Initial, b.Max, n)
		x.log().Debug("retrying", "op", op, "target", target, "code", errorCode(err), "attempt", n, "delay", delay)
		select {
		case <-x.clock().After(delay):
		case <-ctx.Done():
			return fmt.Errorf("inventory: %s %s: %w (last error: %w)", op, target, ctx.Err(), err)
		}
	}
}

// drain calls each with every page of an SDK paginator (more and next are
// its HasMorePages and NextPage), retrying each page like call.
func drain[O, Opt any](ctx context.Context, x *Inventory, op, target string, more func() bool,
	next func(context.Context, ...func(*Opt)) (O, error), each func(O)) error {
	for more() {
		var out O
		if err := x.call(ctx, op, target, func() (err error) { out, err = next(ctx); return err }); err != nil {
			return err
		}
		each(out)
	}
	return nil
}

package aws

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/pilotlight/pilotlight/backoff"
	"github.com/pilotlight/pilotlight/plan"
	"github.com/pilotlight/pilotlight/runbook"
)

// TagSource is the tag that names, on a resource pilotlight mirrored into
// the recovery region, the primary resource it mirrors (such as
// pilotlight:source=vpc-0abc). With TagPlan it is the resource's identity:
// `network sync` finds what it made by these two tags, and `readiness`
// reads them to know that the network exists.
const TagSource = "pilotlight:source"

// NetworkEC2API is the part of the EC2 client that `network sync` uses, in
// the primary region (describes only) and in the recovery region. Every
// call must return when ctx is cancelled.
type NetworkEC2API interface {
	DescribeVpcs(ctx context.Context, in *ec2.DescribeVpcsInput, opts ...func(*ec2.Options)) (*ec2.DescribeVpcsOutput, error)
	DescribeVpcAttribute(ctx context.Context, in *ec2.DescribeVpcAttributeInput, opts ...func(*ec2.Options)) (*ec2.DescribeVpcAttributeOutput, error)
	DescribeSubnets(ctx context.Context, in *ec2.DescribeSubnetsInput, opts ...func(*ec2.Options)) (*ec2.DescribeSubnetsOutput, error)
	DescribeRouteTables(ctx context.Context, in *ec2.DescribeRouteTablesInput, opts ...func(*ec2.Options)) (*ec2.DescribeRouteTablesOutput, error)
	DescribeInternetGateways(ctx context.Context, in *ec2.DescribeInternetGatewaysInput, opts ...func(*ec2.Options)) (*ec2.DescribeInternetGatewaysOutput, error)
	DescribeNatGateways(ctx context.Context, in *ec2.DescribeNatGatewaysInput, opts ...func(*ec2.Options)) (*ec2.DescribeNatGatewaysOutput, error)
	DescribeSecurityGroups(ctx context.Context, in *ec2.DescribeSecurityGroupsInput, opts ...func(*ec2.Options)) (*ec2.DescribeSecurityGroupsOutput, error)
	DescribeAvailabilityZones(ctx context.Context, in *ec2.DescribeAvailabilityZonesInput, opts ...func(*ec2.Options)) (*ec2.DescribeAvailabilityZonesOutput, error)
	DescribeAddresses(ctx context.Context, in *ec2.DescribeAddressesInput, opts ...func(*ec2.Options)) (*ec2.DescribeAddressesOutput, error)

	CreateVpc(ctx context.Context, in *ec2.CreateVpcInput, opts ...func(*ec2.Options)) (*ec2.CreateVpcOutput, error)
	ModifyVpcAttribute(ctx context.Context, in *ec2.ModifyVpcAttributeInput, opts ...func(*ec2.Options)) (*ec2.ModifyVpcAttributeOutput, error)
	AssociateVpcCidrBlock(ctx context.Context, in *ec2.AssociateVpcCidrBlockInput, opts ...func(*ec2.Options)) (*ec2.AssociateVpcCidrBlockOutput, error)
	CreateTags(ctx context.Context, in *ec2.CreateTagsInput, opts ...func(*ec2.Options)) (*ec2.CreateTagsOutput, error)
	CreateInternetGateway(ctx context.Context, in *ec2.CreateInternetGatewayInput, opts ...func(*ec2.Options)) (*ec2.CreateInternetGatewayOutput, error)
	AttachInternetGateway(ctx context.Context, in *ec2.AttachInternetGatewayInput, opts ...func(*ec2.Options)) (*ec2.AttachInternetGatewayOutput, error)
	CreateSubnet(ctx context.Context, in *ec2.CreateSubnetInput, opts ...func(*ec2.Options)) (*ec2.CreateSubnetOutput, error)
	ModifySubnetAttribute(ctx context.Context, in *ec2.ModifySubnetAttributeInput, opts ...func(*ec2.Options)) (*ec2.ModifySubnetAttributeOutput, error)
	CreateSecurityGroup(ctx context.Context, in *ec2.CreateSecurityGroupInput, opts ...func(*ec2.Options)) (*ec2.CreateSecurityGroupOutput, error)
	AuthorizeSecurityGroupIngress(ctx context.Context, in *ec2.AuthorizeSecurityGroupIngressInput, opts ...func(*ec2.Options)) (*ec2.AuthorizeSecurityGroupIngressOutput, error)
	AuthorizeSecurityGroupEgress(ctx context.Context, in *ec2.AuthorizeSecurityGroupEgressInput, opts ...func(*ec2.Options)) (*ec2.AuthorizeSecurityGroupEgressOutput, error)
	RevokeSecurityGroupIngress(ctx context.Context, in *ec2.RevokeSecurityGroupIngressInput, opts ...func(*ec2.Options)) (*ec2.RevokeSecurityGroupIngressOutput, error)
	RevokeSecurityGroupEgress(ctx context.Context, in *ec2.RevokeSecurityGroupEgressInput, opts ...func(*ec2.Options)) (*ec2.RevokeSecurityGroupEgressOutput, error)
	AllocateAddress(ctx context.Context, in *ec2.AllocateAddressInput, opts ...func(*ec2.Options)) (*ec2.AllocateAddressOutput, error)
	CreateNatGateway(ctx context.Context, in *ec2.CreateNatGatewayInput, opts ...func(*ec2.Options)) (*ec2.CreateNatGatewayOutput, error)
	CreateRouteTable(ctx context.Context, in *ec2.CreateRouteTableInput, opts ...func(*ec2.Options)) (*ec2.CreateRouteTableOutput, error)
	CreateRoute(ctx context.Context, in *ec2.CreateRouteInput, opts ...func(*ec2.Options)) (*ec2.CreateRouteOutput, error)
	ReplaceRoute(ctx context.Context, in *ec2.ReplaceRouteInput, opts ...func(*ec2.Options)) (*ec2.ReplaceRouteOutput, error)
	DeleteRoute(ctx context.Context, in *ec2.DeleteRouteInput, opts ...func(*ec2.Options)) (*ec2.DeleteRouteOutput, error)
	AssociateRouteTable(ctx context.Context, in *ec2.AssociateRouteTableInput, opts ...func(*ec2.Options)) (*ec2.AssociateRouteTableOutput, error)
	ReplaceRouteTableAssociation(ctx context.Context, in *ec2.ReplaceRouteTableAssociationInput, opts ...func(*ec2.Options)) (*ec2.ReplaceRouteTableAssociationOutput, error)

	// Used by --prune only.
	DeleteVpc(ctx context.Context, in *ec2.DeleteVpcInput, opts ...func(*ec2.Options)) (*ec2.DeleteVpcOutput, error)
	DeleteSubnet(ctx context.Context, in *ec2.DeleteSubnetInput, opts ...func(*ec2.Options)) (*ec2.DeleteSubnetOutput, error)
	DeleteRouteTable(ctx context.Context, in *ec2.DeleteRouteTableInput, opts ...func(*ec2.Options)) (*ec2.DeleteRouteTableOutput, error)
	DeleteSecurityGroup(ctx context.Context, in *ec2.DeleteSecurityGroupInput, opts ...func(*ec2.Options)) (*ec2.DeleteSecurityGroupOutput, error)
	DetachInternetGateway(ctx context.Context, in *ec2.DetachInternetGatewayInput, opts ...func(*ec2.Options)) (*ec2.DetachInternetGatewayOutput, error)
	DeleteInternetGateway(ctx context.Context, in *ec2.DeleteInternetGatewayInput, opts ...func(*ec2.Options)) (*ec2.DeleteInternetGatewayOutput, error)
	DeleteNatGateway(ctx context.Context, in *ec2.DeleteNatGatewayInput, opts ...func(*ec2.Options)) (*ec2.DeleteNatGatewayOutput, error)
	ReleaseAddress(ctx context.Context, in *ec2.ReleaseAddressInput, opts ...func(*ec2.Options)) (*ec2.ReleaseAddressOutput, error)
}

var _ NetworkEC2API = (*ec2.Client)(nil)

// NewNetworkEC2 builds the EC2 client of region r for `network sync` from
// the standard AWS configuration with r's profile, assuming r.RoleARN when
// set. Every call first waits for its token in buckets (nil: no
// client-side limit).
func NewNetworkEC2(ctx context.Context, r plan.Region, buckets *Buckets) (NetworkEC2API, error) {
	cfg, err := loadRegionConfig(ctx, r, buckets)
	if err != nil {
		return nil, err
	}
	return ec2.NewFromConfig(cfg), nil
}

// NetworkSync mirrors the plan's primary VPCs into the recovery region
// (`pilotlight network sync`): Diff reads both regions and returns the
// changes, Apply makes them. Fields are read-only once a method has been
// called.
type NetworkSync struct {
	// Plan names the VPCs (Plan.Network) and the tag value. Required.
	Plan *plan.Plan
	// Primary is read only; Recovery is changed. Required.
	Primary, Recovery NetworkEC2API
	// Prune deletes the plan's stale resources in the recovery region (those
	// whose source no longer exists in the primary); without it they are
	// only reported.
	Prune bool
	// Clock times backoffs and waits (default the wall clock).
	Clock runbook.Clock
	// Logger receives progress (nil discards).
	Logger *slog.Logger
	// Backoff between retries of throttled or not-yet-visible calls
	// (default 500ms, 20s, 10 attempts).
	Backoff Backoff
	// Poll is the interval of the wait for a NAT gateway (default 10s).
	Poll time.Duration
	// WaitTimeout bounds that wait (default 10m).
	WaitTimeout time.Duration
}

// log returns the logger, tagged with the component.
func (s *NetworkSync) log() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return s.Logger.With("component", "aws-network")
}

// clock returns the clock (default the wall clock).
func (s *NetworkSync) clock() runbook.Clock {
	if s.Clock == nil {
		return wallClock{}
	}
	return s.Clock
}

// netNotFoundCodes are EC2's answers about a network ID it does not know,
// which it also gives for a while right after the ID was created.
var netNotFoundCodes = codes("InvalidVpcID.NotFound", "InvalidSubnetID.NotFound", "InvalidGroup.NotFound",
	"InvalidRouteTableID.NotFound", "InvalidInternetGatewayID.NotFound", "InvalidNatGatewayID.NotFound",
	"InvalidAllocationID.NotFound", "NatGatewayNotFound")

// call runs fn, retrying throttling and server-side errors with the
// shared capped, jittered backoff and, when fresh (fn names IDs just
// created), "not found" answers too. Its errors read
// "network: <op> <target>: <cause>".
func (s *NetworkSync) call(ctx context.Context, fresh bool, op, target string, fn func() error) error {
	b := s.Backoff
	if b.Initial <= 0 {
		b.Initial = 500 * time.Millisecond
	}
	if b.Max <= 0 {
		b.Max = 20 * time.Second
	}
	if b.Attempts <= 0 {
		b.Attempts = 10
	}
	for n := 1; ; n++ {
		err := fn()
		if err == nil {
			return nil
		}
		code := errorCode(err)
		again := throttleCodes[code] || transientCodes[code] || (fresh && netNotFoundCodes[code])
		if !again || ctx.Err() != nil {
			return fmt.Errorf("network: %s %s: %w", op, target, err)
		}
		if n >= b.Attempts {
			return fmt.Errorf("network: %s %s: gave up after %d attempts: %w", op, target, n, err)
		}
		delay := backoff.Equal(b.Initial, b.Max, n)
		s.log().Debug("retrying", "op", op, "target", target, "code", code, "attempt", n, "delay", delay)
		select {
		case <-s.clock().After(delay):
		case <-ctx.Done():
			return fmt.Errorf("network: %s %s: %w (last error: %w)", op, target, ctx.Err(), err)
		}
	}
}

// pager is an SDK paginator of describe output O.
type pager[O any] interface {
	HasMorePages() bool
	NextPage(ctx context.Context, opts ...func(*ec2.Options)) (O, error)
}

// pages calls each with every page of p, retrying each page like call.
func pages[O any](ctx context.Context, s *NetworkSync, op, target string, p pager[O], each func(O)) error {
	for p.HasMorePages() {
		var out O
		if err := s.call(ctx, false, op, target, func() (err error) { out, err = p.NextPage(ctx); return err }); err != nil {
			return err
		}
		each(out)
	}
	return nil
}

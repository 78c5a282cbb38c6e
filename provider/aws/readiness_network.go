package aws

import (
	"context"
	"fmt"
	"slices"
	"strings"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/pilotlight/pilotlight/readiness"
)

// networkChecks returns one check per primary VPC of plan.network: the
// recovery region holds a VPC tagged pilotlight:source=<primary VPC> and
// pilotlight:plan=<plan> with the same primary CIDR, and for each primary
// subnet a subnet tagged pilotlight:source=<primary subnet> with the same
// CIDR (the convention of `pilotlight network sync`).
func (r *Readiness) networkChecks() []readiness.Check {
	if r.Plan.Network == nil {
		return []readiness.Check{readiness.Skipped(readiness.CheckNetwork, "network", "the plan has no network block: the network is not checked")}
	}
	var out []readiness.Check
	for _, id := range r.Plan.Network.VPCs {
		out = append(out, readiness.Check{ID: readiness.CheckNetwork, Subject: "vpc " + id, Run: func(ctx context.Context) ([]readiness.Result, error) {
			return r.vpcMirror(ctx, id)
		}})
	}
	return out
}

func (r *Readiness) vpcMirror(ctx context.Context, id string) ([]readiness.Result, error) {
	subject := "vpc " + id
	fail := func(format string, args ...any) []readiness.Result {
		return []readiness.Result{readiness.Failf(readiness.CheckNetwork, subject, format, args...)}
	}
	primary, err := r.vpcs(ctx, r.Clients.Primary, "primary", &ec2.DescribeVpcsInput{VpcIds: []string{id}})
	if err != nil && !isVPCNotFound(err) {
		return nil, err
	}
	if len(primary) == 0 {
		return fail("not found in the primary region %s: fix network.vpcs", r.Plan.Regions.Primary.Name), nil
	}
	mirrors, err := r.vpcs(ctx, r.Clients.Recovery, "recovery", &ec2.DescribeVpcsInput{Filters: []ec2types.Filter{
		filter("tag:"+TagSource, id), filter("tag:"+TagPlan, r.Plan.Name)}})
	if err != nil {
		return nil, err
	}
	cidr := sdkaws.ToString(primary[0].CidrBlock)
	switch {
	case len(mirrors) == 0:
		return fail("no VPC tagged %s=%s in %s: run pilotlight network sync", TagSource, id, r.recoveryRegion()), nil
	case len(mirrors) > 1:
		return fail("%d VPCs tagged %s=%s in %s: delete the extra ones", len(mirrors), TagSource, id, r.recoveryRegion()), nil
	case sdkaws.ToString(mirrors[0].CidrBlock) != cidr:
		return fail("mirror %s has CIDR %s, the primary %s: run pilotlight network sync (or recreate the mirror)",
			sdkaws.ToString(mirrors[0].VpcId), sdkaws.ToString(mirrors[0].CidrBlock), cidr), nil
	}
	mirror := sdkaws.ToString(mirrors[0].VpcId)
	want, err := r.subnets(ctx, r.Clients.Primary, "primary", id)
	if err != nil {
		return nil, err
	}
	have, err := r.subnets(ctx, r.Clients.Recovery, "recovery", mirror)
	if err != nil {
		return nil, err
	}
	bySource := map[string]ec2types.Subnet{}
	for _, s := range have {
		bySource[ec2Tag(s.Tags, TagSource)] = s
	}
	var out []readiness.Result
	for _, s := range want {
		sid, scidr := sdkaws.ToString(s.SubnetId), sdkaws.ToString(s.CidrBlock)
		got, ok := bySource[sid]
		switch {
		case !ok:
			out = append(out, readiness.Failf(readiness.CheckNetwork, "subnet "+sid,
				"no subnet tagged %s=%s (%s) in mirror %s: run pilotlight network sync", TagSource, sid, scidr, mirror))
		case sdkaws.ToString(got.CidrBlock) != scidr:
			out = append(out, readiness.Failf(readiness.CheckNetwork, "subnet "+sid,
				"mirror %s has CIDR %s, the primary %s: run pilotlight network sync", sdkaws.ToString(got.SubnetId), sdkaws.ToString(got.CidrBlock), scidr))
		}
	}
	if len(out) == 0 {
		out = append(out, readiness.Passf(readiness.CheckNetwork, subject, "mirrored as %s (%s) with its %d subnets", mirror, cidr, len(want)))
	}
	return out, nil
}

// vpcs returns the VPCs in answer of in, every page.
func (r *Readiness) vpcs(ctx context.Context, api ReadinessEC2API, side string, in *ec2.DescribeVpcsInput) ([]ec2types.Vpc, error) {
	var out []ec2types.Vpc
	err := readPages(ctx, r, "ec2 describe vpcs ("+side+")", ec2.NewDescribeVpcsPaginator(api, in), func(o *ec2.DescribeVpcsOutput) {
		out = append(out, o.Vpcs...)
	})
	return out, err
}

// subnets returns the subnets of vpc, sorted by ID.
func (r *Readiness) subnets(ctx context.Context, api ReadinessEC2API, side, vpc string) ([]ec2types.Subnet, error) {
	in := &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{filter("vpc-id", vpc)}}
	var out []ec2types.Subnet
	err := readPages(ctx, r, fmt.Sprintf("ec2 describe subnets of %s (%s)", vpc, side), ec2.NewDescribeSubnetsPaginator(api, in), func(o *ec2.DescribeSubnetsOutput) {
		out = append(out, o.Subnets...)
	})
	slices.SortFunc(out, func(a, b ec2types.Subnet) int {
		return strings.Compare(sdkaws.ToString(a.SubnetId), sdkaws.ToString(b.SubnetId))
	})
	return out, err
}

// readPages calls each with every page of p, retrying each page like
// Readiness.call.
func readPages[O any](ctx context.Context, r *Readiness, what string, p pager[O], each func(O)) error {
	for p.HasMorePages() {
		var out O
		if err := r.call(ctx, what, func() (err error) { out, err = p.NextPage(ctx); return err }); err != nil {
			return err
		}
		each(out)
	}
	return nil
}

func isVPCNotFound(err error) bool { return errorCode(err) == "InvalidVpcID.NotFound" }

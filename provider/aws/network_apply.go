package aws

import (
	"context"
	"fmt"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
)

// netApply is the state of one Apply: what mirrors what so far.
type netApply struct {
	s     *NetworkSync
	api   NetworkEC2API
	ids   map[string]string // primary ID → recovery ID
	fresh map[string]bool   // recovery IDs created by this Apply
}

// Apply makes the changes of d in order (VPCs, their attributes and
// gateways, subnets, security groups and then their rules, NAT gateways,
// route tables; stale resources last), marking each Done and filling in
// the IDs of what it creates. It stops at the first change that fails
// and refuses to start when d has conflicts. Apply again (or a new Diff
// and Apply) resumes: what exists is found by its tags, never created
// twice.
func (s *NetworkSync) Apply(ctx context.Context, d *NetworkDiff) error {
	if n := d.Count(NetConflict); n > 0 {
		return fmt.Errorf("network: apply plan %s: %w (%d conflicts; see the diff)", d.Plan, ErrNetworkConflict, n)
	}
	a := &netApply{s: s, api: s.Recovery, ids: map[string]string{}, fresh: map[string]bool{}}
	for p, r := range d.ids {
		a.ids[p] = r
	}
	for i := range d.Changes {
		c := &d.Changes[i]
		if c.apply == nil || c.Done {
			continue
		}
		id, err := c.apply(ctx, a)
		if err != nil {
			return err
		}
		if id != "" {
			c.Target = id
		}
		c.Done = true
		s.log().Info("network change", "action", c.Action, "kind", c.Kind, "source", c.Source, "target", c.Target)
	}
	return nil
}

// id returns the mirror of primary resource src, which an earlier change
// found or made.
func (a *netApply) id(src string) (string, error) {
	if id := a.ids[src]; id != "" {
		return id, nil
	}
	return "", fmt.Errorf("network: mirror of %s: not found in the recovery region (an earlier change failed?)", src)
}

// tagSpec tags what a create makes: plan, source and Name.
func (a *netApply) tagSpec(rt ec2types.ResourceType, src, name string) []ec2types.TagSpecification {
	return []ec2types.TagSpecification{{ResourceType: rt, Tags: a.tags(src, name)}}
}

// tags are the plan, source and Name tags of the mirror of src.
func (a *netApply) tags(src, name string) []ec2types.Tag {
	tags := []ec2types.Tag{ec2T(TagPlan, a.s.Plan.Name), ec2T(TagSource, src)}
	if name != "" {
		tags = append(tags, ec2T("Name", name))
	}
	return tags
}

// tag puts the plan, source and Name tags on id.
func (a *netApply) tag(ctx context.Context, what, id, src, name string) error {
	return a.s.call(ctx, true, "tag "+what, id, func() error {
		_, err := a.api.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{id}, Tags: a.tags(src, name)})
		return err
	})
}

// byTag filters the plan's mirror of src.
func (a *netApply) byTag(src string) []ec2types.Filter {
	return []ec2types.Filter{filter("tag:"+TagPlan, a.s.Plan.Name), filter("tag:"+TagSource, src)}
}

// create runs make with retries; before every retry it looks for what
// make creates by its tags (find), so that a create whose answer was lost
// is not made twice. The ID made or found is marked fresh.
func (a *netApply) create(ctx context.Context, op, src string, find func() (string, error), make func() (string, error)) (string, error) {
	var id string
	tries := 0
	err := a.s.call(ctx, false, op, src, func() (err error) {
		if tries++; tries > 1 {
			if id, err = find(); err != nil || id != "" {
				return err
			}
		}
		id, err = make()
		return err
	})
	if err != nil {
		return "", err
	}
	a.ids[src], a.fresh[id] = id, true
	return id, nil
}

// identified is a resource read from a region.
type identified interface{ ident() string }

func (x netSubnet) ident() string { return x.ID }
func (x netIGW) ident() string    { return x.ID }
func (x netGroup) ident() string  { return x.ID }

// first returns the ID of the first resource of list, or "".
func first[T identified](list []T, err error) (string, error) {
	if err != nil || len(list) == 0 {
		return "", err
	}
	return list[0].ident(), nil
}

// createVPC creates the mirror of v with its attributes and extra CIDRs,
// and adopts its main route table and default security group as the
// mirrors of the primary's.
func (a *netApply) createVPC(ctx context.Context, v *netVPC) (string, error) {
	id, err := a.create(ctx, "create vpc", v.ID, func() (string, error) {
		var id string
		err := pages(ctx, a.s, "describe vpcs", v.ID, ec2.NewDescribeVpcsPaginator(a.api, &ec2.DescribeVpcsInput{Filters: a.byTag(v.ID)}),
			func(o *ec2.DescribeVpcsOutput) {
				for _, x := range o.Vpcs {
					id = sdkaws.ToString(x.VpcId)
				}
			})
		return id, err
	}, func() (string, error) {
		out, err := a.api.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: sdkaws.String(v.CIDRs[0]), TagSpecifications: a.tagSpec(ec2types.ResourceTypeVpc, v.ID, v.Name)})
		if err != nil {
			return "", err
		}
		return sdkaws.ToString(out.Vpc.VpcId), nil
	})
	if err != nil {
		return "", err
	}
	// A new VPC has DNS support on and DNS hostnames off.
	r := &netVPC{ID: id, CIDRs: v.CIDRs[:1], DNSSupport: true, Name: v.Name}
	if err := a.updateVPC(ctx, v, r, v.CIDRs[1:]); err != nil {
		return id, err
	}
	return id, a.adopt(ctx, v, id)
}

// updateVPC makes the attributes, extra CIDRs and Name of recovery VPC r
// those of v.
func (a *netApply) updateVPC(ctx context.Context, v, r *netVPC, cidrs []string) error {
	set := func(attr string, in *ec2.ModifyVpcAttributeInput) error {
		return a.s.call(ctx, true, "modify vpc attribute "+attr, r.ID, func() error {
			_, err := a.api.ModifyVpcAttribute(ctx, in)
			return err
		})
	}
	if r.DNSSupport != v.DNSSupport {
		if err := set("enableDnsSupport", &ec2.ModifyVpcAttributeInput{VpcId: sdkaws.String(r.ID), EnableDnsSupport: &ec2types.AttributeBooleanValue{Value: sdkaws.Bool(v.DNSSupport)}}); err != nil {
			return err
		}
	}
	if r.DNSHostnames != v.DNSHostnames {
		if err := set("enableDnsHostnames", &ec2.ModifyVpcAttributeInput{VpcId: sdkaws.String(r.ID), EnableDnsHostnames: &ec2types.AttributeBooleanValue{Value: sdkaws.Bool(v.DNSHostnames)}}); err != nil {
			return err
		}
	}
	for _, c := range cidrs {
		err := a.s.call(ctx, true, "associate vpc cidr "+c, r.ID, func() error {
			_, err := a.api.AssociateVpcCidrBlock(ctx, &ec2.AssociateVpcCidrBlockInput{VpcId: sdkaws.String(r.ID), CidrBlock: sdkaws.String(c)})
			return ignore(err, "InvalidVpc.Range.Duplicate", "CidrConflict")
		})
		if err != nil {
			return err
		}
	}
	if r.Name != v.Name {
		return a.tag(ctx, "vpc", r.ID, v.ID, v.Name)
	}
	return nil
}

// adopt finds the main route table and default security group AWS made
// with the new VPC id, tags them and records them as the mirrors of v's.
func (a *netApply) adopt(ctx context.Context, v *netVPC, id string) error {
	byVPC := filter("vpc-id", id)
	for _, t := range v.Tables {
		if !t.Main {
			continue
		}
		var ts []netTable
		if err := a.eventually(ctx, "find main route table", id, func() (n int, err error) {
			ts, err = a.s.tables(ctx, a.api, id, []ec2types.Filter{byVPC, filter("association.main", "true")})
			return len(ts), err
		}); err != nil {
			return err
		}
		found := ts[0].ID
		a.ids[t.ID], a.fresh[found] = found, true
		if err := a.tag(ctx, "route table", found, t.ID, t.Name); err != nil {
			return err
		}
	}
	for _, g := range v.Groups {
		if !g.Default {
			continue
		}
		var gs []netGroup
		if err := a.eventually(ctx, "find default security group", id, func() (n int, err error) {
			gs, err = a.s.groups(ctx, a.api, id, []ec2types.Filter{byVPC, filter("group-name", "default")})
			return len(gs), err
		}); err != nil {
			return err
		}
		found := gs[0].ID
		a.ids[g.ID], a.fresh[found] = found, true
		if err := a.tag(ctx, "security group", found, g.ID, g.Name); err != nil {
			return err
		}
	}
	return nil
}

// eventually calls list until it lists something, as call retries: what
// AWS made a moment ago may not be listed yet.
func (a *netApply) eventually(ctx context.Context, op, id string, list func() (int, error)) error {
	return a.s.call(ctx, true, op, id, func() error {
		n, err := list()
		if err == nil && n == 0 {
			return &smithy.GenericAPIError{Code: "InvalidVpcID.NotFound", Message: "not listed yet"}
		}
		return err
	})
}

// ignore returns nil when err has one of codes (the call's effect is
// already there), else err.
func ignore(err error, codes ...string) error {
	c := errorCode(err)
	for _, x := range codes {
		if c == x {
			return nil
		}
	}
	return err
}

// waitNAT polls NAT gateway id until it is available.
func (a *netApply) waitNAT(ctx context.Context, id string) error {
	poll, limit := a.s.Poll, a.s.WaitTimeout
	if poll <= 0 {
		poll = 10 * time.Second
	}
	if limit <= 0 {
		limit = 10 * time.Minute
	}
	deadline := a.s.clock().Now().Add(limit)
	for {
		var out *ec2.DescribeNatGatewaysOutput
		if err := a.s.call(ctx, true, "describe nat gateway", id, func() (err error) {
			out, err = a.api.DescribeNatGateways(ctx, &ec2.DescribeNatGatewaysInput{NatGatewayIds: []string{id}})
			return err
		}); err != nil {
			return err
		}
		state := ec2types.NatGatewayStatePending
		if len(out.NatGateways) > 0 {
			g := out.NatGateways[0]
			state = g.State
			if state == ec2types.NatGatewayStateFailed || state == ec2types.NatGatewayStateDeleted {
				return fmt.Errorf("network: wait nat gateway %s: %s: %s", id, state, sdkaws.ToString(g.FailureMessage))
			}
		}
		if state == ec2types.NatGatewayStateAvailable {
			return nil
		}
		if !a.s.clock().Now().Before(deadline) {
			return fmt.Errorf("network: wait nat gateway %s: still %s after %s", id, state, limit)
		}
		select {
		case <-a.s.clock().After(poll):
		case <-ctx.Done():
			return fmt.Errorf("network: wait nat gateway %s: %w", id, ctx.Err())
		}
	}
}

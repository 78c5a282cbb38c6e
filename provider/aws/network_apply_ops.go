package aws

import (
	"context"
	"strings"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// createIGW creates the mirror of internet gateway g and attaches it to
// the mirror of primary VPC vpc.
func (a *netApply) createIGW(ctx context.Context, g netIGW, vpc string) (string, error) {
	id, err := a.create(ctx, "create internet gateway", g.ID, func() (string, error) {
		return first(a.s.igws(ctx, a.api, g.ID, a.byTag(g.ID)))
	}, func() (string, error) {
		out, err := a.api.CreateInternetGateway(ctx, &ec2.CreateInternetGatewayInput{TagSpecifications: a.tagSpec(ec2types.ResourceTypeInternetGateway, g.ID, g.Name)})
		if err != nil {
			return "", err
		}
		return sdkaws.ToString(out.InternetGateway.InternetGatewayId), nil
	})
	if err != nil {
		return "", err
	}
	return id, a.updateIGW(ctx, g, id, vpc, true)
}

// updateIGW attaches internet gateway id (when attach) and sets its Name.
func (a *netApply) updateIGW(ctx context.Context, g netIGW, id, vpc string, attach bool) error {
	if attach {
		vpcID, err := a.id(vpc)
		if err != nil {
			return err
		}
		if err := a.s.call(ctx, true, "attach internet gateway", id, func() error {
			_, err := a.api.AttachInternetGateway(ctx, &ec2.AttachInternetGatewayInput{InternetGatewayId: sdkaws.String(id), VpcId: sdkaws.String(vpcID)})
			return ignore(err, "Resource.AlreadyAssociated")
		}); err != nil {
			return err
		}
	}
	if a.fresh[id] {
		return nil
	}
	return a.tag(ctx, "internet gateway", id, g.ID, g.Name)
}

// createSubnet creates the mirror of sn in zone, in the mirror of primary
// VPC vpc.
func (a *netApply) createSubnet(ctx context.Context, sn netSubnet, zone, vpc string) (string, error) {
	vpcID, err := a.id(vpc)
	if err != nil {
		return "", err
	}
	id, err := a.create(ctx, "create subnet", sn.ID, func() (string, error) {
		return first(a.s.subnets(ctx, a.api, sn.ID, a.byTag(sn.ID)))
	}, func() (string, error) {
		out, err := a.api.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: sdkaws.String(vpcID), CidrBlock: sdkaws.String(sn.CIDR),
			AvailabilityZone: sdkaws.String(zone), TagSpecifications: a.tagSpec(ec2types.ResourceTypeSubnet, sn.ID, sn.Name)})
		if err != nil {
			return "", err
		}
		return sdkaws.ToString(out.Subnet.SubnetId), nil
	})
	if err != nil || !sn.PublicIP {
		return id, err
	}
	return id, a.updateSubnet(ctx, sn, id, true)
}

// updateSubnet sets map-public-ip-on-launch of subnet id (when publicIP)
// and its Name.
func (a *netApply) updateSubnet(ctx context.Context, sn netSubnet, id string, publicIP bool) error {
	if publicIP {
		if err := a.s.call(ctx, true, "modify subnet attribute", id, func() error {
			_, err := a.api.ModifySubnetAttribute(ctx, &ec2.ModifySubnetAttributeInput{SubnetId: sdkaws.String(id),
				MapPublicIpOnLaunch: &ec2types.AttributeBooleanValue{Value: sdkaws.Bool(sn.PublicIP)}})
			return err
		}); err != nil {
			return err
		}
	}
	if a.fresh[id] {
		return nil
	}
	return a.tag(ctx, "subnet", id, sn.ID, sn.Name)
}

// createGroup creates the mirror of security group g (no rules yet: they
// come once every group of the VPC exists).
func (a *netApply) createGroup(ctx context.Context, g netGroup, vpc string) (string, error) {
	vpcID, err := a.id(vpc)
	if err != nil {
		return "", err
	}
	return a.create(ctx, "create security group", g.ID, func() (string, error) {
		return first(a.s.groups(ctx, a.api, g.ID, a.byTag(g.ID)))
	}, func() (string, error) {
		out, err := a.api.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: sdkaws.String(g.GroupName),
			Description: sdkaws.String(g.Desc), VpcId: sdkaws.String(vpcID), TagSpecifications: a.tagSpec(ec2types.ResourceTypeSecurityGroup, g.ID, g.Name)})
		if err != nil {
			return "", err
		}
		return sdkaws.ToString(out.GroupId), nil
	})
}

// syncRules authorizes the missing rules of a mirrored group and revokes
// the extra ones when asked. A group made by this Apply is read again
// first: AWS gives it rules of its own (allow all egress; the default
// group's self reference) that the primary may not have.
func (a *netApply) syncRules(ctx context.Context, rs ruleSync) (string, error) {
	id, err := a.id(rs.group)
	if err != nil {
		return "", err
	}
	if rs.reread {
		var gs []netGroup
		if err := a.eventually(ctx, "describe security group", id, func() (n int, err error) {
			gs, err = a.s.groups(ctx, a.api, id, []ec2types.Filter{filter("group-id", id)})
			return len(gs), err
		}); err != nil {
			return id, err
		}
		src := map[string]string{}
		for p, r := range a.ids {
			src[r] = p
		}
		for i, have := range [2][]netRule{gs[0].Ingress, gs[0].Egress} {
			rs.add[i], rs.extra[i] = ruleDiff(rs.want[i], normRules(have, src))
		}
	}
	for i, dir := range []string{"ingress", "egress"} {
		for _, r := range rs.add[i] {
			if err := a.rule(ctx, id, dir, r, true); err != nil {
				return id, err
			}
		}
		if !rs.revokeAll {
			continue
		}
		for _, r := range rs.extra[i] {
			if err := a.rule(ctx, id, dir, r, false); err != nil {
				return id, err
			}
		}
	}
	return id, nil
}

// rule authorizes (or revokes) rule r of direction dir on group id,
// naming the mirror of a peer group of the VPC.
func (a *netApply) rule(ctx context.Context, id, dir string, r netRule, authorize bool) error {
	perm := ec2types.IpPermission{IpProtocol: sdkaws.String(r.Proto)}
	if r.Proto != "-1" {
		perm.FromPort, perm.ToPort = sdkaws.Int32(r.From), sdkaws.Int32(r.To)
	}
	var desc *string // a revoke matches rules whatever their description
	if r.Desc != "" && authorize {
		desc = sdkaws.String(r.Desc)
	}
	kind, val, _ := strings.Cut(r.Peer, ":")
	switch kind {
	case "cidr":
		perm.IpRanges = []ec2types.IpRange{{CidrIp: sdkaws.String(val), Description: desc}}
	case "cidr6":
		perm.Ipv6Ranges = []ec2types.Ipv6Range{{CidrIpv6: sdkaws.String(val), Description: desc}}
	case "pl":
		perm.PrefixListIds = []ec2types.PrefixListId{{PrefixListId: sdkaws.String(val), Description: desc}}
	case "sg":
		if m, err := a.id(val); err == nil {
			val = m
		} else if authorize {
			return err
		} // else a revoked peer that mirrors nothing: val is its own ID
		perm.UserIdGroupPairs = []ec2types.UserIdGroupPair{{GroupId: sdkaws.String(val), Description: desc}}
	}
	op := map[bool]string{true: "authorize ", false: "revoke "}[authorize] + dir
	return a.s.call(ctx, true, op, id+" "+r.key(), func() error {
		var err error
		switch {
		case authorize && dir == "ingress":
			_, err = a.api.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: sdkaws.String(id), IpPermissions: []ec2types.IpPermission{perm}})
		case authorize:
			_, err = a.api.AuthorizeSecurityGroupEgress(ctx, &ec2.AuthorizeSecurityGroupEgressInput{GroupId: sdkaws.String(id), IpPermissions: []ec2types.IpPermission{perm}})
		case dir == "ingress":
			_, err = a.api.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: sdkaws.String(id), IpPermissions: []ec2types.IpPermission{perm}})
		default:
			_, err = a.api.RevokeSecurityGroupEgress(ctx, &ec2.RevokeSecurityGroupEgressInput{GroupId: sdkaws.String(id), IpPermissions: []ec2types.IpPermission{perm}})
		}
		return ignore(err, "InvalidPermission.Duplicate", "InvalidPermission.NotFound")
	})
}

// createNAT creates the mirror of NAT gateway n in the mirror of its
// subnet, with an Elastic IP tagged for it when public, and waits until
// it is available. Its client token makes a retried create return the
// same gateway.
func (a *netApply) createNAT(ctx context.Context, n netNAT) (string, error) {
	subnet, err := a.id(n.Subnet)
	if err != nil {
		return "", err
	}
	in := &ec2.CreateNatGatewayInput{SubnetId: sdkaws.String(subnet), ClientToken: sdkaws.String(token(a.s.Plan.Name, "nat", n.ID)),
		TagSpecifications: a.tagSpec(ec2types.ResourceTypeNatgateway, n.ID, n.Name), ConnectivityType: ec2types.ConnectivityTypePublic}
	if n.Private {
		in.ConnectivityType = ec2types.ConnectivityTypePrivate
	} else {
		// An earlier sync whose NAT gateway failed may have left one.
		eip, err := a.findEIP(ctx, n.ID)
		if err != nil {
			return "", err
		}
		if eip == "" {
			eip, err = a.create(ctx, "allocate address", "eip/"+n.ID, func() (string, error) { return a.findEIP(ctx, n.ID) }, func() (string, error) {
				out, err := a.api.AllocateAddress(ctx, &ec2.AllocateAddressInput{Domain: ec2types.DomainTypeVpc, TagSpecifications: a.tagSpec(ec2types.ResourceTypeElasticIp, n.ID, n.Name)})
				if err != nil {
					return "", err
				}
				return sdkaws.ToString(out.AllocationId), nil
			})
			if err != nil {
				return "", err
			}
		}
		in.AllocationId = sdkaws.String(eip)
	}
	var id string
	if err := a.s.call(ctx, true, "create nat gateway", n.ID, func() error {
		out, err := a.api.CreateNatGateway(ctx, in)
		if err == nil {
			id = sdkaws.ToString(out.NatGateway.NatGatewayId)
		}
		return err
	}); err != nil {
		return "", err
	}
	a.ids[n.ID], a.fresh[id] = id, true
	return id, a.waitNAT(ctx, id)
}

// findEIP returns the unassociated Elastic IP tagged for NAT gateway nat.
func (a *netApply) findEIP(ctx context.Context, nat string) (string, error) {
	var out *ec2.DescribeAddressesOutput
	if err := a.s.call(ctx, false, "describe addresses", nat, func() (err error) {
		out, err = a.api.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{Filters: a.byTag(nat)})
		return err
	}); err != nil {
		return "", err
	}
	for _, e := range out.Addresses {
		if e.AssociationId == nil {
			return sdkaws.ToString(e.AllocationId), nil
		}
	}
	return "", nil
}

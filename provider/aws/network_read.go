package aws

import (
	"context"
	"fmt"
	"slices"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// netVPC is a VPC as read from a region, with what it holds.
type netVPC struct {
	ID, Source, Name string
	// CIDRs are the associated IPv4 blocks, the primary one first.
	CIDRs                    []string
	DNSSupport, DNSHostnames bool
	Subnets                  []netSubnet
	Tables                   []netTable
	IGW                      *netIGW
	NATs                     []netNAT
	Groups                   []netGroup
}

// netSubnet is a subnet.
type netSubnet struct {
	ID, Source, Name, VPC, CIDR, Zone string
	PublicIP                          bool // map-public-ip-on-launch
}

// netTable is a route table: its routes and the subnets explicitly
// associated with it (subnet ID → association ID).
type netTable struct {
	ID, Source, Name, VPC string
	Main                  bool
	Routes                []netRoute
	Assoc                 map[string]string
}

// netRoute is an IPv4 or IPv6 route. Kind is igw, nat, local or other;
// Target is the gateway ID (other: the kind and ID of the target).
type netRoute struct {
	Dest, Kind, Target string
}

// netIGW is an internet gateway and the VPC it is attached to.
type netIGW struct {
	ID, Source, Name, VPC string
}

// netNAT is a NAT gateway (pending or available).
type netNAT struct {
	ID, Source, Name, VPC, Subnet, State string
	Private                              bool
}

// netGroup is a security group with its rules, one peer per rule.
type netGroup struct {
	ID, Source, Name, GroupName, Desc, VPC string
	Default                                bool
	Ingress, Egress                        []netRule
}

// netRule is one security group rule with one peer: cidr:<block>,
// cidr6:<block>, pl:<prefix list> or sg:<group ID>.
type netRule struct {
	Proto    string
	From, To int32
	Peer     string
	Desc     string
}

// key identifies a rule (its description aside).
func (r netRule) key() string { return fmt.Sprintf("%s %d-%d %s", r.Proto, r.From, r.To, r.Peer) }

// filter is an EC2 describe filter.
func filter(name string, values ...string) ec2types.Filter {
	return ec2types.Filter{Name: sdkaws.String(name), Values: values}
}

// readPrimary reads the VPC id of the primary region with everything in it.
func (s *NetworkSync) readPrimary(ctx context.Context, id string) (*netVPC, error) {
	api := s.Primary
	var vpcs []ec2types.Vpc
	if err := pages(ctx, s, "describe vpc", id, ec2.NewDescribeVpcsPaginator(api, &ec2.DescribeVpcsInput{VpcIds: []string{id}}),
		func(o *ec2.DescribeVpcsOutput) { vpcs = append(vpcs, o.Vpcs...) }); err != nil {
		return nil, err
	}
	if len(vpcs) != 1 {
		return nil, fmt.Errorf("network: describe vpc %s: not found in the primary region", id)
	}
	v := vpcOf(vpcs[0])
	if err := s.readAttributes(ctx, api, v); err != nil {
		return nil, err
	}
	byVPC := []ec2types.Filter{filter("vpc-id", id)}
	var err error
	if v.Subnets, err = s.subnets(ctx, api, id, byVPC); err != nil {
		return nil, err
	}
	if v.Tables, err = s.tables(ctx, api, id, byVPC); err != nil {
		return nil, err
	}
	igws, err := s.igws(ctx, api, id, []ec2types.Filter{filter("attachment.vpc-id", id)})
	if err != nil {
		return nil, err
	}
	if len(igws) > 0 {
		v.IGW = &igws[0]
	}
	if v.NATs, err = s.nats(ctx, api, id, byVPC); err != nil {
		return nil, err
	}
	if v.Groups, err = s.groups(ctx, api, id, byVPC); err != nil {
		return nil, err
	}
	return v, nil
}

// vpcOf reads a described VPC (its attributes are read apart).
func vpcOf(in ec2types.Vpc) *netVPC {
	v := &netVPC{ID: sdkaws.ToString(in.VpcId), Source: ec2Tag(in.Tags, TagSource), Name: ec2Tag(in.Tags, "Name"),
		CIDRs: []string{sdkaws.ToString(in.CidrBlock)}}
	for _, a := range in.CidrBlockAssociationSet {
		c := sdkaws.ToString(a.CidrBlock)
		st := a.CidrBlockState
		if c == "" || slices.Contains(v.CIDRs, c) || (st != nil && st.State != ec2types.VpcCidrBlockStateCodeAssociated && st.State != ec2types.VpcCidrBlockStateCodeAssociating) {
			continue
		}
		v.CIDRs = append(v.CIDRs, c)
	}
	return v
}

// readAttributes fills the DNS attributes of v.
func (s *NetworkSync) readAttributes(ctx context.Context, api NetworkEC2API, v *netVPC) error {
	for _, a := range []ec2types.VpcAttributeName{ec2types.VpcAttributeNameEnableDnsSupport, ec2types.VpcAttributeNameEnableDnsHostnames} {
		var out *ec2.DescribeVpcAttributeOutput
		err := s.call(ctx, true, "describe vpc attribute "+string(a), v.ID, func() (err error) {
			out, err = api.DescribeVpcAttribute(ctx, &ec2.DescribeVpcAttributeInput{VpcId: sdkaws.String(v.ID), Attribute: a})
			return err
		})
		if err != nil {
			return err
		}
		if a == ec2types.VpcAttributeNameEnableDnsSupport {
			v.DNSSupport = out.EnableDnsSupport != nil && sdkaws.ToBool(out.EnableDnsSupport.Value)
		} else {
			v.DNSHostnames = out.EnableDnsHostnames != nil && sdkaws.ToBool(out.EnableDnsHostnames.Value)
		}
	}
	return nil
}

// subnets lists the subnets that pass fs (target names the caller in errors).
func (s *NetworkSync) subnets(ctx context.Context, api NetworkEC2API, target string, fs []ec2types.Filter) ([]netSubnet, error) {
	var out []netSubnet
	err := pages(ctx, s, "describe subnets", target, ec2.NewDescribeSubnetsPaginator(api, &ec2.DescribeSubnetsInput{Filters: fs}),
		func(o *ec2.DescribeSubnetsOutput) {
			for _, n := range o.Subnets {
				out = append(out, netSubnet{ID: sdkaws.ToString(n.SubnetId), Source: ec2Tag(n.Tags, TagSource), Name: ec2Tag(n.Tags, "Name"),
					VPC: sdkaws.ToString(n.VpcId), CIDR: sdkaws.ToString(n.CidrBlock), Zone: sdkaws.ToString(n.AvailabilityZone),
					PublicIP: sdkaws.ToBool(n.MapPublicIpOnLaunch)})
			}
		})
	return out, err
}

// tables lists the route tables that pass fs.
func (s *NetworkSync) tables(ctx context.Context, api NetworkEC2API, target string, fs []ec2types.Filter) ([]netTable, error) {
	var out []netTable
	err := pages(ctx, s, "describe route tables", target, ec2.NewDescribeRouteTablesPaginator(api, &ec2.DescribeRouteTablesInput{Filters: fs}),
		func(o *ec2.DescribeRouteTablesOutput) {
			for _, rt := range o.RouteTables {
				t := netTable{ID: sdkaws.ToString(rt.RouteTableId), Source: ec2Tag(rt.Tags, TagSource), Name: ec2Tag(rt.Tags, "Name"),
					VPC: sdkaws.ToString(rt.VpcId), Assoc: map[string]string{}}
				for _, a := range rt.Associations {
					if sdkaws.ToBool(a.Main) {
						t.Main = true
					} else if sn := sdkaws.ToString(a.SubnetId); sn != "" {
						t.Assoc[sn] = sdkaws.ToString(a.RouteTableAssociationId)
					}
				}
				for _, r := range rt.Routes {
					t.Routes = append(t.Routes, routeOf(r))
				}
				out = append(out, t)
			}
		})
	return out, err
}

// routeOf classifies r by its destination and target.
func routeOf(r ec2types.Route) netRoute {
	n := netRoute{Dest: sdkaws.ToString(r.DestinationCidrBlock)}
	switch {
	case n.Dest == "" && r.DestinationIpv6CidrBlock != nil:
		n.Dest = sdkaws.ToString(r.DestinationIpv6CidrBlock)
	case n.Dest == "" && r.DestinationPrefixListId != nil:
		n.Dest = sdkaws.ToString(r.DestinationPrefixListId)
	}
	gw := sdkaws.ToString(r.GatewayId)
	switch {
	case gw == "local":
		n.Kind, n.Target = "local", "local"
	case len(gw) > 4 && gw[:4] == "igw-":
		n.Kind, n.Target = "igw", gw
	case r.NatGatewayId != nil:
		n.Kind, n.Target = "nat", sdkaws.ToString(r.NatGatewayId)
	default:
		n.Kind = "other"
		for _, t := range []struct{ kind, id string }{
			{"peering", sdkaws.ToString(r.VpcPeeringConnectionId)}, {"transit gateway", sdkaws.ToString(r.TransitGatewayId)},
			{"gateway", gw}, {"network interface", sdkaws.ToString(r.NetworkInterfaceId)}, {"instance", sdkaws.ToString(r.InstanceId)},
			{"egress-only gateway", sdkaws.ToString(r.EgressOnlyInternetGatewayId)}, {"local gateway", sdkaws.ToString(r.LocalGatewayId)},
			{"carrier gateway", sdkaws.ToString(r.CarrierGatewayId)}, {"core network", sdkaws.ToString(r.CoreNetworkArn)},
		} {
			if t.id != "" {
				n.Target = t.kind + " " + t.id
				break
			}
		}
	}
	if r.Origin == ec2types.RouteOriginEnableVgwRoutePropagation {
		n.Kind, n.Target = "other", "propagated "+n.Target
	}
	return n
}

// igws lists the internet gateways that pass fs.
func (s *NetworkSync) igws(ctx context.Context, api NetworkEC2API, target string, fs []ec2types.Filter) ([]netIGW, error) {
	var out []netIGW
	err := pages(ctx, s, "describe internet gateways", target, ec2.NewDescribeInternetGatewaysPaginator(api, &ec2.DescribeInternetGatewaysInput{Filters: fs}),
		func(o *ec2.DescribeInternetGatewaysOutput) {
			for _, g := range o.InternetGateways {
				n := netIGW{ID: sdkaws.ToString(g.InternetGatewayId), Source: ec2Tag(g.Tags, TagSource), Name: ec2Tag(g.Tags, "Name")}
				for _, a := range g.Attachments {
					n.VPC = sdkaws.ToString(a.VpcId)
				}
				out = append(out, n)
			}
		})
	return out, err
}

// nats lists the pending and available NAT gateways that pass fs.
func (s *NetworkSync) nats(ctx context.Context, api NetworkEC2API, target string, fs []ec2types.Filter) ([]netNAT, error) {
	var out []netNAT
	fs = append(slices.Clip(fs), filter("state", "pending", "available"))
	err := pages(ctx, s, "describe nat gateways", target, ec2.NewDescribeNatGatewaysPaginator(api, &ec2.DescribeNatGatewaysInput{Filter: fs}),
		func(o *ec2.DescribeNatGatewaysOutput) {
			for _, g := range o.NatGateways {
				out = append(out, netNAT{ID: sdkaws.ToString(g.NatGatewayId), Source: ec2Tag(g.Tags, TagSource), Name: ec2Tag(g.Tags, "Name"),
					VPC: sdkaws.ToString(g.VpcId), Subnet: sdkaws.ToString(g.SubnetId), State: string(g.State),
					Private: g.ConnectivityType == ec2types.ConnectivityTypePrivate})
			}
		})
	return out, err
}

// groups lists the security groups that pass fs.
func (s *NetworkSync) groups(ctx context.Context, api NetworkEC2API, target string, fs []ec2types.Filter) ([]netGroup, error) {
	var out []netGroup
	err := pages(ctx, s, "describe security groups", target, ec2.NewDescribeSecurityGroupsPaginator(api, &ec2.DescribeSecurityGroupsInput{Filters: fs}),
		func(o *ec2.DescribeSecurityGroupsOutput) {
			for _, g := range o.SecurityGroups {
				name := sdkaws.ToString(g.GroupName)
				out = append(out, netGroup{ID: sdkaws.ToString(g.GroupId), Source: ec2Tag(g.Tags, TagSource), Name: ec2Tag(g.Tags, "Name"),
					GroupName: name, Desc: sdkaws.ToString(g.Description), VPC: sdkaws.ToString(g.VpcId), Default: name == "default",
					Ingress: rulesOf(g.IpPermissions), Egress: rulesOf(g.IpPermissionsEgress)})
			}
		})
	return out, err
}

// rulesOf flattens permissions into one rule per peer.
func rulesOf(perms []ec2types.IpPermission) []netRule {
	var out []netRule
	for _, p := range perms {
		base := netRule{Proto: sdkaws.ToString(p.IpProtocol), From: sdkaws.ToInt32(p.FromPort), To: sdkaws.ToInt32(p.ToPort)}
		if base.Proto == "-1" {
			base.From, base.To = 0, 0
		}
		add := func(peer string, desc *string) {
			r := base
			r.Peer, r.Desc = peer, sdkaws.ToString(desc)
			out = append(out, r)
		}
		for _, r := range p.IpRanges {
			add("cidr:"+sdkaws.ToString(r.CidrIp), r.Description)
		}
		for _, r := range p.Ipv6Ranges {
			add("cidr6:"+sdkaws.ToString(r.CidrIpv6), r.Description)
		}
		for _, r := range p.PrefixListIds {
			add("pl:"+sdkaws.ToString(r.PrefixListId), r.Description)
		}
		for _, r := range p.UserIdGroupPairs {
			add("sg:"+sdkaws.ToString(r.GroupId), r.Description)
		}
	}
	return out
}

package aws

import (
	"slices"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

func specTags(specs []ec2types.TagSpecification) []ec2types.Tag {
	var out []ec2types.Tag
	for _, s := range specs {
		out = append(out, s.Tags...)
	}
	return out
}

// permKey identifies a one-peer permission.
func permKey(p ec2types.IpPermission) string {
	r := rulesOf([]ec2types.IpPermission{p})
	if len(r) != 1 {
		return "?"
	}
	return r[0].key()
}

// addVPC puts a VPC with its main route table and default security group
// in st, as CreateVpc does.
func (f *netCloud) addVPC(st *netRegionState, id, cidr string, tags []ec2types.Tag) *ec2types.Vpc {
	v := &ec2types.Vpc{VpcId: sdkaws.String(id), CidrBlock: sdkaws.String(cidr), Tags: tags,
		CidrBlockAssociationSet: []ec2types.VpcCidrBlockAssociation{{CidrBlock: sdkaws.String(cidr),
			CidrBlockState: &ec2types.VpcCidrBlockState{State: ec2types.VpcCidrBlockStateCodeAssociated}}}}
	st.vpcs[id], st.attrs[id] = v, &[2]bool{true, false}
	rt := f.id("rtb")
	st.tables[rt] = &ec2types.RouteTable{RouteTableId: sdkaws.String(rt), VpcId: v.VpcId,
		Associations: []ec2types.RouteTableAssociation{{Main: sdkaws.Bool(true), RouteTableAssociationId: sdkaws.String(f.id("rtbassoc"))}},
		Routes:       []ec2types.Route{{DestinationCidrBlock: sdkaws.String(cidr), GatewayId: sdkaws.String("local")}}}
	sg := f.id("sg")
	st.groups[sg] = &ec2types.SecurityGroup{GroupId: sdkaws.String(sg), GroupName: sdkaws.String("default"), VpcId: v.VpcId,
		Description:         sdkaws.String("default VPC security group"),
		IpPermissions:       []ec2types.IpPermission{{IpProtocol: sdkaws.String("-1"), UserIdGroupPairs: []ec2types.UserIdGroupPair{{GroupId: sdkaws.String(sg)}}}},
		IpPermissionsEgress: []ec2types.IpPermission{allEgress()}}
	return v
}

func allEgress() ec2types.IpPermission {
	return ec2types.IpPermission{IpProtocol: sdkaws.String("-1"), IpRanges: []ec2types.IpRange{{CidrIp: sdkaws.String("0.0.0.0/0")}}}
}

// mutate applies a mutating call to st.
func (f *netCloud) mutate(st *netRegionState, op string, params any) (any, error) {
	switch in := params.(type) {
	case *ec2.CreateVpcInput:
		v := f.addVPC(st, f.id("vpc"), *in.CidrBlock, specTags(in.TagSpecifications))
		return &ec2.CreateVpcOutput{Vpc: v}, nil
	case *ec2.ModifyVpcAttributeInput:
		a := st.attrs[*in.VpcId]
		if a == nil {
			return nil, apiErr("InvalidVpcID.NotFound")
		}
		if in.EnableDnsSupport != nil {
			a[0] = *in.EnableDnsSupport.Value
		}
		if in.EnableDnsHostnames != nil {
			a[1] = *in.EnableDnsHostnames.Value
		}
		return &ec2.ModifyVpcAttributeOutput{}, nil
	case *ec2.AssociateVpcCidrBlockInput:
		v := st.vpcs[*in.VpcId]
		v.CidrBlockAssociationSet = append(v.CidrBlockAssociationSet, ec2types.VpcCidrBlockAssociation{CidrBlock: in.CidrBlock,
			CidrBlockState: &ec2types.VpcCidrBlockState{State: ec2types.VpcCidrBlockStateCodeAssociated}})
		return &ec2.AssociateVpcCidrBlockOutput{}, nil
	case *ec2.CreateTagsInput:
		for _, id := range in.Resources {
			f.retag(st, id, in.Tags)
		}
		return &ec2.CreateTagsOutput{}, nil
	case *ec2.CreateInternetGatewayInput:
		g := &ec2types.InternetGateway{InternetGatewayId: sdkaws.String(f.id("igw")), Tags: specTags(in.TagSpecifications)}
		st.igws[*g.InternetGatewayId] = g
		return &ec2.CreateInternetGatewayOutput{InternetGateway: g}, nil
	case *ec2.AttachInternetGatewayInput:
		g := st.igws[*in.InternetGatewayId]
		if len(g.Attachments) > 0 {
			return nil, apiErr("Resource.AlreadyAssociated")
		}
		g.Attachments = []ec2types.InternetGatewayAttachment{{VpcId: in.VpcId, State: ec2types.AttachmentStatusAttached}}
		return &ec2.AttachInternetGatewayOutput{}, nil
	case *ec2.CreateSubnetInput:
		if st.vpcs[*in.VpcId] == nil {
			return nil, apiErr("InvalidVpcID.NotFound")
		}
		if !slices.Contains(st.zones, *in.AvailabilityZone) {
			return nil, apiErr("InvalidParameterValue")
		}
		s := &ec2types.Subnet{SubnetId: sdkaws.String(f.id("subnet")), VpcId: in.VpcId, CidrBlock: in.CidrBlock,
			AvailabilityZone: in.AvailabilityZone, MapPublicIpOnLaunch: sdkaws.Bool(false), Tags: specTags(in.TagSpecifications)}
		st.subnets[*s.SubnetId] = s
		return &ec2.CreateSubnetOutput{Subnet: s}, nil
	case *ec2.ModifySubnetAttributeInput:
		st.subnets[*in.SubnetId].MapPublicIpOnLaunch = in.MapPublicIpOnLaunch.Value
		return &ec2.ModifySubnetAttributeOutput{}, nil
	case *ec2.CreateSecurityGroupInput:
		g := &ec2types.SecurityGroup{GroupId: sdkaws.String(f.id("sg")), GroupName: in.GroupName, Description: in.Description,
			VpcId: in.VpcId, Tags: specTags(in.TagSpecifications), IpPermissionsEgress: []ec2types.IpPermission{allEgress()}}
		st.groups[*g.GroupId] = g
		return &ec2.CreateSecurityGroupOutput{GroupId: g.GroupId}, nil
	case *ec2.AuthorizeSecurityGroupIngressInput:
		return &ec2.AuthorizeSecurityGroupIngressOutput{}, f.perms(st, *in.GroupId, false, in.IpPermissions, true)
	case *ec2.AuthorizeSecurityGroupEgressInput:
		return &ec2.AuthorizeSecurityGroupEgressOutput{}, f.perms(st, *in.GroupId, true, in.IpPermissions, true)
	case *ec2.RevokeSecurityGroupIngressInput:
		return &ec2.RevokeSecurityGroupIngressOutput{}, f.perms(st, *in.GroupId, false, in.IpPermissions, false)
	case *ec2.RevokeSecurityGroupEgressInput:
		return &ec2.RevokeSecurityGroupEgressOutput{}, f.perms(st, *in.GroupId, true, in.IpPermissions, false)
	case *ec2.AllocateAddressInput:
		a := &ec2types.Address{AllocationId: sdkaws.String(f.id("eipalloc")), Domain: ec2types.DomainTypeVpc, Tags: specTags(in.TagSpecifications)}
		st.addrs[*a.AllocationId] = a
		return &ec2.AllocateAddressOutput{AllocationId: a.AllocationId}, nil
	case *ec2.CreateNatGatewayInput:
		if id, ok := f.tokens[*in.ClientToken]; ok {
			return &ec2.CreateNatGatewayOutput{NatGateway: st.nats[id]}, nil
		}
		s := st.subnets[*in.SubnetId]
		g := &ec2types.NatGateway{NatGatewayId: sdkaws.String(f.id("nat")), SubnetId: in.SubnetId, VpcId: s.VpcId,
			State: ec2types.NatGatewayStatePending, ConnectivityType: in.ConnectivityType, Tags: specTags(in.TagSpecifications)}
		if in.AllocationId != nil {
			st.addrs[*in.AllocationId].AssociationId = sdkaws.String(f.id("eipassoc"))
		}
		st.nats[*g.NatGatewayId], f.tokens[*in.ClientToken] = g, *g.NatGatewayId
		return &ec2.CreateNatGatewayOutput{NatGateway: g}, nil
	case *ec2.CreateRouteTableInput:
		if id, ok := f.tokens[*in.ClientToken]; ok {
			return &ec2.CreateRouteTableOutput{RouteTable: st.tables[id]}, nil
		}
		v := st.vpcs[*in.VpcId]
		t := &ec2types.RouteTable{RouteTableId: sdkaws.String(f.id("rtb")), VpcId: in.VpcId, Tags: specTags(in.TagSpecifications),
			Routes: []ec2types.Route{{DestinationCidrBlock: v.CidrBlock, GatewayId: sdkaws.String("local")}}}
		st.tables[*t.RouteTableId], f.tokens[*in.ClientToken] = t, *t.RouteTableId
		return &ec2.CreateRouteTableOutput{RouteTable: t}, nil
	case *ec2.CreateRouteInput:
		t := st.tables[*in.RouteTableId]
		dest := sdkaws.ToString(in.DestinationCidrBlock) + sdkaws.ToString(in.DestinationIpv6CidrBlock)
		for _, r := range t.Routes {
			if routeOf(r).Dest == dest {
				return nil, apiErr("RouteAlreadyExists")
			}
		}
		t.Routes = append(t.Routes, ec2types.Route{DestinationCidrBlock: in.DestinationCidrBlock, DestinationIpv6CidrBlock: in.DestinationIpv6CidrBlock,
			GatewayId: in.GatewayId, NatGatewayId: in.NatGatewayId})
		return &ec2.CreateRouteOutput{Return: sdkaws.Bool(true)}, nil
	case *ec2.ReplaceRouteInput:
		t := st.tables[*in.RouteTableId]
		dest := sdkaws.ToString(in.DestinationCidrBlock) + sdkaws.ToString(in.DestinationIpv6CidrBlock)
		for i, r := range t.Routes {
			if routeOf(r).Dest == dest {
				t.Routes[i].GatewayId, t.Routes[i].NatGatewayId = in.GatewayId, in.NatGatewayId
			}
		}
		return &ec2.ReplaceRouteOutput{}, nil
	case *ec2.DeleteRouteInput:
		t := st.tables[*in.RouteTableId]
		dest := sdkaws.ToString(in.DestinationCidrBlock) + sdkaws.ToString(in.DestinationIpv6CidrBlock)
		t.Routes = slices.DeleteFunc(t.Routes, func(r ec2types.Route) bool { return routeOf(r).Dest == dest })
		return &ec2.DeleteRouteOutput{}, nil
	case *ec2.AssociateRouteTableInput:
		for _, t := range st.tables {
			for _, a := range t.Associations {
				if sdkaws.ToString(a.SubnetId) == *in.SubnetId {
					return nil, apiErr("Resource.AlreadyAssociated")
				}
			}
		}
		t := st.tables[*in.RouteTableId]
		t.Associations = append(t.Associations, ec2types.RouteTableAssociation{SubnetId: in.SubnetId, Main: sdkaws.Bool(false),
			RouteTableAssociationId: sdkaws.String(f.id("rtbassoc")), RouteTableId: in.RouteTableId})
		return &ec2.AssociateRouteTableOutput{}, nil
	case *ec2.ReplaceRouteTableAssociationInput:
		for _, t := range st.tables {
			for i, a := range t.Associations {
				if sdkaws.ToString(a.RouteTableAssociationId) == *in.AssociationId {
					t.Associations = slices.Delete(t.Associations, i, i+1)
					nt := st.tables[*in.RouteTableId]
					a.RouteTableId = in.RouteTableId
					nt.Associations = append(nt.Associations, a)
					return &ec2.ReplaceRouteTableAssociationOutput{NewAssociationId: a.RouteTableAssociationId}, nil
				}
			}
		}
		return nil, apiErr("InvalidAssociationID.NotFound")
	case *ec2.DeleteSubnetInput:
		delete(st.subnets, *in.SubnetId)
		return &ec2.DeleteSubnetOutput{}, nil
	case *ec2.DeleteSecurityGroupInput:
		delete(st.groups, *in.GroupId)
		return &ec2.DeleteSecurityGroupOutput{}, nil
	case *ec2.DeleteRouteTableInput:
		delete(st.tables, *in.RouteTableId)
		return &ec2.DeleteRouteTableOutput{}, nil
	case *ec2.DeleteVpcInput:
		delete(st.vpcs, *in.VpcId)
		return &ec2.DeleteVpcOutput{}, nil
	}
	f.t.Errorf("netCloud: unexpected call %s %T", op, params)
	return nil, apiErr("UnsupportedOperation")
}

// retag sets tags on resource id.
func (f *netCloud) retag(st *netRegionState, id string, tags []ec2types.Tag) {
	var cur *[]ec2types.Tag
	switch {
	case st.vpcs[id] != nil:
		cur = &st.vpcs[id].Tags
	case st.subnets[id] != nil:
		cur = &st.subnets[id].Tags
	case st.tables[id] != nil:
		cur = &st.tables[id].Tags
	case st.groups[id] != nil:
		cur = &st.groups[id].Tags
	case st.igws[id] != nil:
		cur = &st.igws[id].Tags
	default:
		f.t.Errorf("netCloud: CreateTags on unknown %s", id)
		return
	}
	for _, t := range tags {
		*cur = slices.DeleteFunc(*cur, func(o ec2types.Tag) bool { return *o.Key == *t.Key })
		*cur = append(*cur, t)
	}
}

// perms authorizes (or revokes) one-peer permissions on group id.
func (f *netCloud) perms(st *netRegionState, id string, egress bool, perms []ec2types.IpPermission, add bool) error {
	g := st.groups[id]
	if g == nil {
		return apiErr("InvalidGroup.NotFound")
	}
	list := &g.IpPermissions
	if egress {
		list = &g.IpPermissionsEgress
	}
	for _, p := range perms {
		k := permKey(p)
		i := slices.IndexFunc(*list, func(o ec2types.IpPermission) bool { return permKey(o) == k })
		switch {
		case add && i >= 0:
			return apiErr("InvalidPermission.Duplicate")
		case add:
			*list = append(*list, p)
		case i < 0:
			return apiErr("InvalidPermission.NotFound")
		default:
			*list = slices.Delete(*list, i, i+1)
		}
	}
	return nil
}

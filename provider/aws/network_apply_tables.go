package aws

import (
	"context"
	"fmt"
	"strings"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// syncTable creates the mirror of a route table (or tags it), adds and
// replaces its routes with targets translated to the mirrored gateways,
// deletes the routes not in the primary when pruning, and associates the
// mirrored subnets.
func (a *netApply) syncTable(ctx context.Context, ts tableSync) (string, error) {
	t := ts.table
	var id string
	if ts.create {
		vpcID, err := a.id(ts.vpc)
		if err != nil {
			return "", err
		}
		// The client token makes a retried create return the same table.
		in := &ec2.CreateRouteTableInput{VpcId: sdkaws.String(vpcID), ClientToken: sdkaws.String(token(a.s.Plan.Name, "route-table", t.ID)),
			TagSpecifications: a.tagSpec(ec2types.ResourceTypeRouteTable, t.ID, t.Name)}
		if err := a.s.call(ctx, true, "create route table", t.ID, func() error {
			out, err := a.api.CreateRouteTable(ctx, in)
			if err == nil {
				id = sdkaws.ToString(out.RouteTable.RouteTableId)
			}
			return err
		}); err != nil {
			return "", err
		}
		a.ids[t.ID], a.fresh[id] = id, true
	} else {
		var err error
		if id, err = a.id(t.ID); err != nil {
			return "", err
		}
		if ts.tag {
			if err := a.tag(ctx, "route table", id, t.ID, t.Name); err != nil {
				return id, err
			}
		}
	}
	for _, r := range ts.add {
		if err := a.route(ctx, id, r, false); err != nil {
			return id, err
		}
	}
	for _, r := range ts.replace {
		if err := a.route(ctx, id, r, true); err != nil {
			return id, err
		}
	}
	for _, r := range ts.extra {
		in := &ec2.DeleteRouteInput{RouteTableId: sdkaws.String(id)}
		setDest(r.Dest, &in.DestinationCidrBlock, &in.DestinationIpv6CidrBlock)
		if err := a.s.call(ctx, true, "delete route "+r.Dest, id, func() error {
			_, err := a.api.DeleteRoute(ctx, in)
			return ignore(err, "InvalidRoute.NotFound")
		}); err != nil {
			return id, err
		}
	}
	for _, op := range ts.assoc {
		if err := a.associate(ctx, id, op); err != nil {
			return id, err
		}
	}
	return id, nil
}

// setDest sets the IPv4 or IPv6 destination of a route.
func setDest(dest string, v4, v6 **string) {
	if strings.Contains(dest, ":") {
		*v6 = sdkaws.String(dest)
	} else {
		*v4 = sdkaws.String(dest)
	}
}

// route creates (or replaces) route r in table id, its target the mirror
// of the primary's gateway.
func (a *netApply) route(ctx context.Context, id string, r netRoute, replace bool) error {
	target, err := a.id(r.Target)
	if err != nil {
		return err
	}
	var gw, nat *string
	if r.Kind == "nat" {
		nat = sdkaws.String(target)
	} else {
		gw = sdkaws.String(target)
	}
	op := map[bool]string{false: "create route ", true: "replace route "}[replace] + r.Dest
	return a.s.call(ctx, true, op, id, func() error {
		if replace {
			in := &ec2.ReplaceRouteInput{RouteTableId: sdkaws.String(id), GatewayId: gw, NatGatewayId: nat}
			setDest(r.Dest, &in.DestinationCidrBlock, &in.DestinationIpv6CidrBlock)
			_, err := a.api.ReplaceRoute(ctx, in)
			return err
		}
		in := &ec2.CreateRouteInput{RouteTableId: sdkaws.String(id), GatewayId: gw, NatGatewayId: nat}
		setDest(r.Dest, &in.DestinationCidrBlock, &in.DestinationIpv6CidrBlock)
		_, err := a.api.CreateRoute(ctx, in)
		return ignore(err, "RouteAlreadyExists")
	})
}

// associate associates the mirror of a primary subnet with table id.
func (a *netApply) associate(ctx context.Context, id string, op assocOp) error {
	subnet, err := a.id(op.subnet)
	if err != nil {
		return err
	}
	return a.s.call(ctx, true, "associate route table", id+" "+subnet, func() error {
		if op.replace != "" {
			_, err := a.api.ReplaceRouteTableAssociation(ctx, &ec2.ReplaceRouteTableAssociationInput{AssociationId: sdkaws.String(op.replace), RouteTableId: sdkaws.String(id)})
			return err
		}
		_, err := a.api.AssociateRouteTable(ctx, &ec2.AssociateRouteTableInput{RouteTableId: sdkaws.String(id), SubnetId: sdkaws.String(subnet)})
		return ignore(err, "Resource.AlreadyAssociated")
	})
}

// delete deletes stale resource id of kind (--prune). An internet gateway
// is detached first; a route table must have no associations left.
func (a *netApply) delete(ctx context.Context, kind, id string) error {
	call := func(op string, fn func() error) error {
		return a.s.call(ctx, false, op, id, func() error {
			return ignore(fn(), "InvalidVpcID.NotFound", "InvalidSubnetID.NotFound", "InvalidRouteTableID.NotFound",
				"InvalidGroup.NotFound", "InvalidInternetGatewayID.NotFound", "InvalidAllocationID.NotFound", "NatGatewayNotFound")
		})
	}
	ec := func(_ any, err error) error { return err }
	switch kind {
	case "nat-gateway":
		return call("delete nat gateway", func() error {
			return ec(a.api.DeleteNatGateway(ctx, &ec2.DeleteNatGatewayInput{NatGatewayId: sdkaws.String(id)}))
		})
	case "route-table":
		return call("delete route table", func() error {
			return ec(a.api.DeleteRouteTable(ctx, &ec2.DeleteRouteTableInput{RouteTableId: sdkaws.String(id)}))
		})
	case "security-group":
		return call("delete security group", func() error {
			return ec(a.api.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: sdkaws.String(id)}))
		})
	case "subnet":
		return call("delete subnet", func() error {
			return ec(a.api.DeleteSubnet(ctx, &ec2.DeleteSubnetInput{SubnetId: sdkaws.String(id)}))
		})
	case "internet-gateway":
		igws, err := a.s.igws(ctx, a.api, id, []ec2types.Filter{filter("internet-gateway-id", id)})
		if err != nil {
			return err
		}
		if len(igws) > 0 && igws[0].VPC != "" {
			if err := call("detach internet gateway", func() error {
				return ec(a.api.DetachInternetGateway(ctx, &ec2.DetachInternetGatewayInput{InternetGatewayId: sdkaws.String(id), VpcId: sdkaws.String(igws[0].VPC)}))
			}); err != nil {
				return err
			}
		}
		return call("delete internet gateway", func() error {
			return ec(a.api.DeleteInternetGateway(ctx, &ec2.DeleteInternetGatewayInput{InternetGatewayId: sdkaws.String(id)}))
		})
	case "elastic-ip":
		return call("release address", func() error {
			return ec(a.api.ReleaseAddress(ctx, &ec2.ReleaseAddressInput{AllocationId: sdkaws.String(id)}))
		})
	case "vpc":
		return call("delete vpc", func() error {
			return ec(a.api.DeleteVpc(ctx, &ec2.DeleteVpcInput{VpcId: sdkaws.String(id)}))
		})
	}
	return fmt.Errorf("network: delete %s %s: unknown kind", kind, id)
}

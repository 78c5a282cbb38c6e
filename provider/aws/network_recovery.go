package aws

import (
	"context"
	"slices"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// netEIP is an Elastic IP address allocated for a mirrored NAT gateway.
type netEIP struct {
	ID, Source, Association string
}

// netRecovery is what the plan has in the recovery region: the resources
// tagged with it, the main route tables and default security groups of
// its VPCs, and the region's availability zones.
type netRecovery struct {
	vpcs    []*netVPC
	subnets []netSubnet
	tables  []netTable
	igws    []netIGW
	nats    []netNAT
	groups  []netGroup
	eips    []netEIP
	zones   []string
}

// readRecovery reads the plan's resources in the recovery region. It
// never lists resources without the plan's tag, but for the main route
// table and the default security group of the plan's own VPCs.
func (s *NetworkSync) readRecovery(ctx context.Context) (*netRecovery, error) {
	api, r := s.Recovery, &netRecovery{}
	var azOut *ec2.DescribeAvailabilityZonesOutput
	if err := s.call(ctx, false, "describe availability zones", "recovery", func() (err error) {
		azOut, err = api.DescribeAvailabilityZones(ctx, &ec2.DescribeAvailabilityZonesInput{
			Filters: []ec2types.Filter{filter("zone-type", "availability-zone"), filter("state", "available")}})
		return err
	}); err != nil {
		return nil, err
	}
	for _, z := range azOut.AvailabilityZones {
		r.zones = append(r.zones, sdkaws.ToString(z.ZoneName))
	}
	slices.Sort(r.zones)
	mine := []ec2types.Filter{filter("tag:"+TagPlan, s.Plan.Name)}
	if err := pages(ctx, s, "describe vpcs", "recovery", ec2.NewDescribeVpcsPaginator(api, &ec2.DescribeVpcsInput{Filters: mine}),
		func(o *ec2.DescribeVpcsOutput) {
			for _, v := range o.Vpcs {
				r.vpcs = append(r.vpcs, vpcOf(v))
			}
		}); err != nil {
		return nil, err
	}
	var ids []string
	for _, v := range r.vpcs {
		if err := s.readAttributes(ctx, api, v); err != nil {
			return nil, err
		}
		ids = append(ids, v.ID)
	}
	var err error
	if r.subnets, err = s.subnets(ctx, api, "recovery", mine); err != nil {
		return nil, err
	}
	if r.tables, err = s.tables(ctx, api, "recovery", mine); err != nil {
		return nil, err
	}
	if r.igws, err = s.igws(ctx, api, "recovery", mine); err != nil {
		return nil, err
	}
	if r.nats, err = s.nats(ctx, api, "recovery", mine); err != nil {
		return nil, err
	}
	if r.groups, err = s.groups(ctx, api, "recovery", mine); err != nil {
		return nil, err
	}
	if len(ids) > 0 {
		mains, err := s.tables(ctx, api, "recovery", []ec2types.Filter{filter("vpc-id", ids...), filter("association.main", "true")})
		if err != nil {
			return nil, err
		}
		r.tables = mergeByID(r.tables, mains, func(t netTable) string { return t.ID })
		defaults, err := s.groups(ctx, api, "recovery", []ec2types.Filter{filter("vpc-id", ids...), filter("group-name", "default")})
		if err != nil {
			return nil, err
		}
		r.groups = mergeByID(r.groups, defaults, func(g netGroup) string { return g.ID })
	}
	var addrs *ec2.DescribeAddressesOutput
	if err := s.call(ctx, false, "describe addresses", "recovery", func() (err error) {
		addrs, err = api.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{Filters: mine})
		return err
	}); err != nil {
		return nil, err
	}
	for _, a := range addrs.Addresses {
		r.eips = append(r.eips, netEIP{ID: sdkaws.ToString(a.AllocationId), Source: ec2Tag(a.Tags, TagSource), Association: sdkaws.ToString(a.AssociationId)})
	}
	return r, nil
}

// mergeByID appends to a the elements of b whose ID is not in a.
func mergeByID[T any](a, b []T, id func(T) string) []T {
	seen := map[string]bool{}
	for _, x := range a {
		seen[id(x)] = true
	}
	for _, x := range b {
		if !seen[id(x)] {
			a = append(a, x)
		}
	}
	return a
}

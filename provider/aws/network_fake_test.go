package aws

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go/middleware"
)

// netRegionState is one region of the network fake, as EC2 types.
type netRegionState struct {
	vpcs    map[string]*ec2types.Vpc
	attrs   map[string]*[2]bool // VPC → DNS support, hostnames
	subnets map[string]*ec2types.Subnet
	tables  map[string]*ec2types.RouteTable
	igws    map[string]*ec2types.InternetGateway
	nats    map[string]*ec2types.NatGateway
	groups  map[string]*ec2types.SecurityGroup
	addrs   map[string]*ec2types.Address
	zones   []string
}

func newNetRegionState(zones ...string) *netRegionState {
	return &netRegionState{vpcs: map[string]*ec2types.Vpc{}, attrs: map[string]*[2]bool{}, subnets: map[string]*ec2types.Subnet{},
		tables: map[string]*ec2types.RouteTable{}, igws: map[string]*ec2types.InternetGateway{}, nats: map[string]*ec2types.NatGateway{},
		groups: map[string]*ec2types.SecurityGroup{}, addrs: map[string]*ec2types.Address{}, zones: zones}
}

// netCloud answers the EC2 network calls of two regions in place of AWS:
// like fakeCloud, its middleware sits last in the initialize step, records
// each typed request (with its region) and answers from memory, so the
// SDK's own validation and defaults run. Describes answer two items a
// page, so every caller must paginate.
type netCloud struct {
	t       *testing.T
	callLog // the mutex of the whole fake, its calls and the failures to inject

	regions []string       // region of each call
	lose    map[string]int // op → next calls that succeed but answer InternalError
	pageLen int

	next   int
	state  map[string]*netRegionState
	tokens map[string]string // client token → ID
}

func newNetCloud(t *testing.T) *netCloud {
	return &netCloud{t: t, lose: map[string]int{}, pageLen: 2, tokens: map[string]string{},
		state: map[string]*netRegionState{
			primaryRegion:  newNetRegionState("ap-northeast-2a", "ap-northeast-2b", "ap-northeast-2c", "ap-northeast-2d"),
			recoveryRegion: newNetRegionState("us-east-1c", "us-east-1a", "us-east-1b"),
		}}
}

// client returns an EC2 client of region whose calls the fake answers.
func (f *netCloud) client(region string) *ec2.Client {
	return ec2.New(ec2.Options{Region: region, Credentials: testCreds, HTTPClient: awshttp.NewBuildableClient(),
		Retryer: sdkaws.NopRetryer{}, APIOptions: []func(*middleware.Stack) error{f.stack}})
}

func (f *netCloud) stack(st *middleware.Stack) error {
	return st.Initialize.Add(middleware.InitializeMiddlewareFunc("netCloud",
		func(ctx context.Context, in middleware.InitializeInput, _ middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			out, err := f.handle(awsmiddleware.GetRegion(ctx), awsmiddleware.GetOperationName(ctx), in.Parameters)
			return middleware.InitializeOutput{Result: out}, middleware.Metadata{}, err
		}), middleware.After)
}

// mutations returns the names of the calls that are not describes, in
// order, with their region.
func (f *netCloud) mutations() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for i, c := range f.calls {
		if !strings.HasPrefix(c.Op, "Describe") {
			out = append(out, f.regions[i]+" "+c.Op)
		}
	}
	return out
}

// netInputs returns the recorded inputs of op.
func netInputs[T any](f *netCloud, op string) []T { return loggedInputs[T](&f.callLog, op) }

func (f *netCloud) id(prefix string) string {
	f.next++
	return fmt.Sprintf("%s-r%03d", prefix, f.next)
}

func (f *netCloud) handle(region, op string, params any) (any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.regions = append(f.regions, region)
	if err := f.record(op, op, params); err != nil {
		return nil, err
	}
	st := f.state[region]
	if st == nil {
		f.t.Errorf("netCloud: call %s in unknown region %q", op, region)
		return nil, apiErr("InvalidRegion")
	}
	if region == primaryRegion && !strings.HasPrefix(op, "Describe") {
		f.t.Errorf("netCloud: mutating call %s in the primary region", op)
	}
	out, err := f.describe(st, params)
	if out == nil && err == nil {
		out, err = f.mutate(st, op, params)
	}
	if err == nil && f.lose[op] > 0 {
		f.lose[op]--
		return nil, apiErr("InternalError")
	}
	return out, err
}

// page returns the page of items that token starts, and the next token.
func page[T any](f *netCloud, items []T, token *string) ([]T, *string) {
	start := 0
	if token != nil {
		fmt.Sscan(*token, &start)
	}
	end := min(start+f.pageLen, len(items))
	if end < len(items) {
		return items[start:end], sdkaws.String(fmt.Sprint(end))
	}
	return items[start:end], nil
}

// sorted returns the values of m by key, those kept by keep.
func sorted[T any](m map[string]*T, keep func(*T) bool) []T {
	var out []T
	for _, k := range sortedKeys(m) {
		if keep(m[k]) {
			out = append(out, *m[k])
		}
	}
	return out
}

// match reports whether a resource with the given attribute values (by
// filter name) and tags passes every filter.
func match(filters []ec2types.Filter, tags []ec2types.Tag, attrs map[string][]string) bool {
	for _, fl := range filters {
		name := sdkaws.ToString(fl.Name)
		vals := attrs[name]
		if k, ok := strings.CutPrefix(name, "tag:"); ok {
			vals = nil
			for _, t := range tags {
				if sdkaws.ToString(t.Key) == k {
					vals = append(vals, sdkaws.ToString(t.Value))
				}
			}
		}
		if !slices.ContainsFunc(vals, func(v string) bool { return slices.Contains(fl.Values, v) }) {
			return false
		}
	}
	return true
}

func (f *netCloud) describe(st *netRegionState, params any) (any, error) {
	switch in := params.(type) {
	case *ec2.DescribeAvailabilityZonesInput:
		var out []ec2types.AvailabilityZone
		for _, z := range st.zones {
			out = append(out, ec2types.AvailabilityZone{ZoneName: sdkaws.String(z), State: ec2types.AvailabilityZoneStateAvailable})
		}
		return &ec2.DescribeAvailabilityZonesOutput{AvailabilityZones: out}, nil
	case *ec2.DescribeVpcsInput:
		for _, id := range in.VpcIds {
			if st.vpcs[id] == nil {
				return nil, apiErr("InvalidVpcID.NotFound")
			}
		}
		items := sorted(st.vpcs, func(v *ec2types.Vpc) bool {
			return (len(in.VpcIds) == 0 || slices.Contains(in.VpcIds, *v.VpcId)) && match(in.Filters, v.Tags, nil)
		})
		items, next := page(f, items, in.NextToken)
		return &ec2.DescribeVpcsOutput{Vpcs: items, NextToken: next}, nil
	case *ec2.DescribeVpcAttributeInput:
		a := st.attrs[*in.VpcId]
		if a == nil {
			return nil, apiErr("InvalidVpcID.NotFound")
		}
		return &ec2.DescribeVpcAttributeOutput{VpcId: in.VpcId, EnableDnsSupport: &ec2types.AttributeBooleanValue{Value: sdkaws.Bool(a[0])},
			EnableDnsHostnames: &ec2types.AttributeBooleanValue{Value: sdkaws.Bool(a[1])}}, nil
	case *ec2.DescribeSubnetsInput:
		items, next := page(f, sorted(st.subnets, func(s *ec2types.Subnet) bool {
			return match(in.Filters, s.Tags, map[string][]string{"vpc-id": {*s.VpcId}})
		}), in.NextToken)
		return &ec2.DescribeSubnetsOutput{Subnets: items, NextToken: next}, nil
	case *ec2.DescribeRouteTablesInput:
		items, next := page(f, sorted(st.tables, func(t *ec2types.RouteTable) bool {
			main := "false"
			for _, a := range t.Associations {
				if sdkaws.ToBool(a.Main) {
					main = "true"
				}
			}
			return match(in.Filters, t.Tags, map[string][]string{"vpc-id": {*t.VpcId}, "association.main": {main}})
		}), in.NextToken)
		return &ec2.DescribeRouteTablesOutput{RouteTables: items, NextToken: next}, nil
	case *ec2.DescribeInternetGatewaysInput:
		items, next := page(f, sorted(st.igws, func(g *ec2types.InternetGateway) bool {
			attrs := map[string][]string{"internet-gateway-id": {*g.InternetGatewayId}}
			for _, a := range g.Attachments {
				attrs["attachment.vpc-id"] = append(attrs["attachment.vpc-id"], *a.VpcId)
			}
			return match(in.Filters, g.Tags, attrs)
		}), in.NextToken)
		return &ec2.DescribeInternetGatewaysOutput{InternetGateways: items, NextToken: next}, nil
	case *ec2.DescribeNatGatewaysInput:
		items := sorted(st.nats, func(g *ec2types.NatGateway) bool {
			return (len(in.NatGatewayIds) == 0 || slices.Contains(in.NatGatewayIds, *g.NatGatewayId)) &&
				match(in.Filter, g.Tags, map[string][]string{"vpc-id": {*g.VpcId}, "state": {string(g.State)}})
		})
		for _, g := range items {
			if n := st.nats[*g.NatGatewayId]; n.State == ec2types.NatGatewayStatePending {
				n.State = ec2types.NatGatewayStateAvailable // on the next describe
			}
		}
		items, next := page(f, items, in.NextToken)
		return &ec2.DescribeNatGatewaysOutput{NatGateways: items, NextToken: next}, nil
	case *ec2.DescribeSecurityGroupsInput:
		items, next := page(f, sorted(st.groups, func(g *ec2types.SecurityGroup) bool {
			return match(in.Filters, g.Tags, map[string][]string{"vpc-id": {*g.VpcId}, "group-name": {*g.GroupName}, "group-id": {*g.GroupId}})
		}), in.NextToken)
		return &ec2.DescribeSecurityGroupsOutput{SecurityGroups: items, NextToken: next}, nil
	case *ec2.DescribeAddressesInput:
		return &ec2.DescribeAddressesOutput{Addresses: sorted(st.addrs, func(a *ec2types.Address) bool { return match(in.Filters, a.Tags, nil) })}, nil
	}
	return nil, nil
}

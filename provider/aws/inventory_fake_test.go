package aws

import (
	"context"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/smithy-go/middleware"
)

// invCloud answers the describes of the inventory export from memory,
// pageSize items a page, like fakeCloud (last in the initialize step,
// typed requests recorded as calls).
type invCloud struct {
	t        *testing.T
	callLog  // the mutex of the whole fake, its calls and the failures to inject
	pageSize int

	instances []ec2types.Instance
	lbs       []elbtypes.LoadBalancer
	listeners map[string][]elbtypes.Listener    // LB ARN →
	tgs       map[string][]elbtypes.TargetGroup // LB ARN →
	targets   map[string][]elbtypes.TargetHealthDescription
	vpcs      []ec2types.Vpc
	subnets   []ec2types.Subnet
	tables    []ec2types.RouteTable
	groups    []ec2types.SecurityGroup
}

func newInvCloud(t *testing.T) *invCloud {
	return &invCloud{t: t, pageSize: 2, listeners: map[string][]elbtypes.Listener{},
		tgs: map[string][]elbtypes.TargetGroup{}, targets: map[string][]elbtypes.TargetHealthDescription{}}
}

func (f *invCloud) clients() (*ec2.Client, *elbv2.Client) {
	opts := []func(*middleware.Stack) error{f.stack}
	return ec2.New(ec2.Options{Region: primaryRegion, Credentials: testCreds, HTTPClient: awshttp.NewBuildableClient(), Retryer: sdkaws.NopRetryer{}, APIOptions: opts}),
		elbv2.New(elbv2.Options{Region: primaryRegion, Credentials: testCreds, HTTPClient: awshttp.NewBuildableClient(), Retryer: sdkaws.NopRetryer{}, APIOptions: opts})
}

func (f *invCloud) stack(st *middleware.Stack) error {
	return st.Initialize.Add(middleware.InitializeMiddlewareFunc("invCloud",
		func(ctx context.Context, in middleware.InitializeInput, _ middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			out, err := f.handle(awsmiddleware.GetOperationName(ctx), in.Parameters)
			return middleware.InitializeOutput{Result: out}, middleware.Metadata{}, err
		}), middleware.After)
}

// invPage returns the page of items at token (an index), and the next.
func invPage[T any](f *invCloud, items []T, token *string) ([]T, *string) {
	start, _ := strconv.Atoi(sdkaws.ToString(token))
	end := min(start+f.pageSize, len(items))
	if end < len(items) {
		return items[start:end], sdkaws.String(strconv.Itoa(end))
	}
	return items[start:end], nil
}

func (f *invCloud) handle(op string, params any) (any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record(op, op, params); err != nil {
		return nil, err
	}
	switch in := params.(type) {
	case *ec2.DescribeInstancesInput:
		var match []ec2types.Instance
		for _, i := range f.instances {
			if matchEC2Tags(in.Filters, i.Tags) && invMatch(in.Filters, "vpc-id", sdkaws.ToString(i.VpcId)) {
				match = append(match, i)
			}
		}
		items, next := invPage(f, match, in.NextToken)
		return &ec2.DescribeInstancesOutput{Reservations: []ec2types.Reservation{{Instances: items}}, NextToken: next}, nil
	case *ec2.DescribeVpcsInput:
		var match []ec2types.Vpc
		for _, v := range f.vpcs {
			if slices.Contains(in.VpcIds, sdkaws.ToString(v.VpcId)) {
				match = append(match, v)
			}
		}
		items, next := invPage(f, match, in.NextToken)
		return &ec2.DescribeVpcsOutput{Vpcs: items, NextToken: next}, nil
	case *ec2.DescribeSubnetsInput:
		items, next := invPage(f, invByVPC(f.subnets, in.Filters, func(s ec2types.Subnet) *string { return s.VpcId }), in.NextToken)
		return &ec2.DescribeSubnetsOutput{Subnets: items, NextToken: next}, nil
	case *ec2.DescribeRouteTablesInput:
		items, next := invPage(f, invByVPC(f.tables, in.Filters, func(s ec2types.RouteTable) *string { return s.VpcId }), in.NextToken)
		return &ec2.DescribeRouteTablesOutput{RouteTables: items, NextToken: next}, nil
	case *ec2.DescribeSecurityGroupsInput:
		items, next := invPage(f, invByVPC(f.groups, in.Filters, func(s ec2types.SecurityGroup) *string { return s.VpcId }), in.NextToken)
		return &ec2.DescribeSecurityGroupsOutput{SecurityGroups: items, NextToken: next}, nil
	case *elbv2.DescribeLoadBalancersInput:
		items, next := invPage(f, f.lbs, in.Marker)
		return &elbv2.DescribeLoadBalancersOutput{LoadBalancers: items, NextMarker: next}, nil
	case *elbv2.DescribeListenersInput:
		items, next := invPage(f, f.listeners[*in.LoadBalancerArn], in.Marker)
		return &elbv2.DescribeListenersOutput{Listeners: items, NextMarker: next}, nil
	case *elbv2.DescribeTargetGroupsInput:
		items, next := invPage(f, f.tgs[*in.LoadBalancerArn], in.Marker)
		return &elbv2.DescribeTargetGroupsOutput{TargetGroups: items, NextMarker: next}, nil
	case *elbv2.DescribeTargetHealthInput:
		return &elbv2.DescribeTargetHealthOutput{TargetHealthDescriptions: f.targets[*in.TargetGroupArn]}, nil
	}
	f.t.Errorf("inventory cloud: unexpected call %s %T", op, params)
	return nil, apiErr("NotImplemented")
}

// invMatch reports whether value passes the filter called name, if any.
func invMatch(filters []ec2types.Filter, name, value string) bool {
	for _, fl := range filters {
		if sdkaws.ToString(fl.Name) == name && !slices.Contains(fl.Values, value) {
			return false
		}
	}
	return true
}

func invByVPC[T any](items []T, filters []ec2types.Filter, vpc func(T) *string) []T {
	var out []T
	for _, it := range items {
		if invMatch(filters, "vpc-id", sdkaws.ToString(vpc(it))) {
			out = append(out, it)
		}
	}
	return out
}

// invBucket is an S3 bucket in memory behind a fakeAWS: PutObject,
// GetObject, DeleteObject, and ListObjectsV2 through bucketListing.
type invBucket struct {
	mu      sync.Mutex
	objects map[string]string
	puts    []string // keys in order
	failPut map[string]string
	listing *bucketListing
}

func newInvBucket(f *fakeAWS) *invBucket {
	b := &invBucket{objects: map[string]string{}, failPut: map[string]string{}, listing: &bucketListing{pageSize: 2}}
	key := func(s sent) string {
		k, _ := url.PathUnescape(strings.TrimPrefix(s.Path, "/"))
		return k
	}
	f.on("PutObject", func(s sent) reply {
		b.mu.Lock()
		defer b.mu.Unlock()
		k := key(s)
		if code := b.failPut[k]; code != "" {
			return s3Error(500, code, "fake failure")
		}
		b.objects[k] = s.Body
		b.puts = append(b.puts, k)
		return reply{}
	})
	f.on("GetObject", func(s sent) reply {
		b.mu.Lock()
		defer b.mu.Unlock()
		body, ok := b.objects[key(s)]
		if !ok {
			return s3Error(404, "NoSuchKey", "The specified key does not exist.")
		}
		return reply{body: body}
	})
	f.on("DeleteObject", func(s sent) reply {
		b.mu.Lock()
		defer b.mu.Unlock()
		delete(b.objects, key(s))
		return reply{status: 204}
	})
	f.on("ListObjectsV2", func(s sent) reply {
		b.mu.Lock()
		prefix := ""
		if v := s.Query["prefix"]; len(v) > 0 {
			prefix = v[0]
		}
		var keys []string
		for k := range b.objects {
			if strings.HasPrefix(k, prefix) {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		b.listing.keys = keys
		b.mu.Unlock()
		return b.listing.list(s)
	})
	return b
}

// keys returns the stored keys, sorted.
func (b *invBucket) keys() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for k := range b.objects {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func invInstance(id, vpc, subnet string, kv ...string) ec2types.Instance {
	return ec2types.Instance{InstanceId: sdkaws.String(id), InstanceType: "m6i.xlarge", ImageId: sdkaws.String("ami-web"),
		VpcId: sdkaws.String(vpc), SubnetId: sdkaws.String(subnet), PrivateIpAddress: sdkaws.String("10.0.1." + id[len(id)-1:]),
		State: &ec2types.InstanceState{Name: "running"}, Placement: &ec2types.Placement{AvailabilityZone: sdkaws.String("ap-northeast-2a")},
		SecurityGroups: []ec2types.GroupIdentifier{{GroupId: sdkaws.String("sg-web")}}, Tags: tags(kv...)}
}

package aws

import (
	"context"
	"slices"
	"testing"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/aws-sdk-go-v2/service/servicequotas"
	sqtypes "github.com/aws/aws-sdk-go-v2/service/servicequotas/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/middleware"
)

// readyCloud is a prepared account in two regions (primary and recovery)
// behind the SDK clients that readiness uses. Like fakeCloud, its
// middleware sits last in the initialize step: the client validates the
// typed request, the fake records it and answers a typed output or an API
// error. Tests break one thing at a time.
type readyCloud struct {
	t       *testing.T
	callLog // the mutex of the whole fake, its calls and the failures to inject

	allow func(action string) bool

	snapshots map[string]ec2types.SnapshotState // recovery EBS snapshots
	dbSnaps   map[string]string                 // recovery DB snapshot → status
	clSnaps   map[string]string
	templates map[string]string              // recovery launch template → AMI
	images    map[string]ec2types.ImageState // recovery AMIs
	vpcs      map[string][]ec2types.Vpc      // region → VPCs
	subnets   map[string][]ec2types.Subnet   // region → subnets
	offerings map[string][]string            // instance type → recovery zones
	quotas    map[string]float64             // quota code → value
	caller    string
	repos     map[string][]string // recovery ECR repository → tags
}

func tags(kv ...string) []ec2types.Tag {
	var out []ec2types.Tag
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, ec2T(kv[i], kv[i+1]))
	}
	return out
}

func subnet(id, vpc, cidr, zone string, kv ...string) ec2types.Subnet {
	return ec2types.Subnet{SubnetId: sdkaws.String(id), VpcId: sdkaws.String(vpc), CidrBlock: sdkaws.String(cidr),
		AvailabilityZone: sdkaws.String(zone), Tags: tags(kv...)}
}

// newReadyCloud returns the account fully prepared for the fixture plan
// testdata/readiness-plan.yaml.
func newReadyCloud(t *testing.T) *readyCloud {
	return &readyCloud{t: t, allow: func(string) bool { return true },
		snapshots: map[string]ec2types.SnapshotState{"snap-r1": ec2types.SnapshotStateCompleted},
		dbSnaps:   map[string]string{"pl-orders": "available"},
		clSnaps:   map[string]string{"pl-ledger": "available"},
		templates: map[string]string{"web": "ami-r1", "worker": "resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"},
		images:    map[string]ec2types.ImageState{"ami-r1": ec2types.ImageStateAvailable},
		vpcs: map[string][]ec2types.Vpc{
			"primary":  {{VpcId: sdkaws.String("vpc-p1"), CidrBlock: sdkaws.String("10.0.0.0/16")}},
			"recovery": {{VpcId: sdkaws.String("vpc-r1"), CidrBlock: sdkaws.String("10.0.0.0/16"), Tags: tags(TagSource, "vpc-p1", TagPlan, "ticketing")}},
		},
		subnets: map[string][]ec2types.Subnet{
			"primary": {subnet("subnet-p1", "vpc-p1", "10.0.1.0/24", "ap-northeast-2a"), subnet("subnet-p2", "vpc-p1", "10.0.2.0/24", "ap-northeast-2b")},
			"recovery": {subnet("subnet-r1", "vpc-r1", "10.0.1.0/24", "us-east-1a", TagSource, "subnet-p1"),
				subnet("subnet-r2", "vpc-r1", "10.0.2.0/24", "us-east-1b", TagSource, "subnet-p2")},
		},
		offerings: map[string][]string{"m6i.xlarge": {"us-east-1a", "us-east-1b"}, "m5.xlarge": {"us-east-1a", "us-east-1b"},
			"c6i.large": {"us-east-1a", "us-east-1b", "us-east-1c"}, "g5.xlarge": {"us-east-1a"}},
		quotas: map[string]float64{"L-1216C47A": 64, "L-DB2E81BA": 8},
		caller: "arn:aws:sts::123456789012:assumed-role/pilotlight-dr/readiness",
		repos:  map[string][]string{"web": {"v1", "v0"}},
	}
}

// clients returns the readiness clients of both regions.
func (f *readyCloud) clients() ReadinessClients {
	opt := func(region string) []func(*middleware.Stack) error {
		return []func(*middleware.Stack) error{func(st *middleware.Stack) error {
			return st.Initialize.Add(middleware.InitializeMiddlewareFunc("readyCloud",
				func(ctx context.Context, in middleware.InitializeInput, _ middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
					out, err := f.handle(region, awsmiddleware.GetOperationName(ctx), in.Parameters)
					return middleware.InitializeOutput{Result: out}, middleware.Metadata{}, err
				}), middleware.After)
		}}
	}
	h := awshttp.NewBuildableClient()
	ec2c := func(region string) *ec2.Client {
		return ec2.New(ec2.Options{Region: "us-east-1", Credentials: testCreds, HTTPClient: h, Retryer: sdkaws.NopRetryer{}, APIOptions: opt(region)})
	}
	rec := opt("recovery")
	return ReadinessClients{
		Primary:  ec2c("primary"),
		Recovery: ec2c("recovery"),
		RDS:      rds.New(rds.Options{Region: "us-east-1", Credentials: testCreds, HTTPClient: h, Retryer: sdkaws.NopRetryer{}, APIOptions: rec}),
		Quotas:   servicequotas.New(servicequotas.Options{Region: "us-east-1", Credentials: testCreds, HTTPClient: h, Retryer: sdkaws.NopRetryer{}, APIOptions: rec}),
		IAM:      iam.New(iam.Options{Region: "us-east-1", Credentials: testCreds, HTTPClient: h, Retryer: sdkaws.NopRetryer{}, APIOptions: rec}),
		STS:      sts.New(sts.Options{Region: "us-east-1", Credentials: testCreds, HTTPClient: h, Retryer: sdkaws.NopRetryer{}, APIOptions: rec}),
		ECR:      ecr.New(ecr.Options{Region: "us-east-1", Credentials: testCreds, HTTPClient: h, Retryer: sdkaws.NopRetryer{}, APIOptions: rec}),
	}
}

// failNext makes the next calls of op fail with codes, in order (ECR's
// DescribeImages is ecr:DescribeImages).
// requests returns the recorded inputs of op in region.
func readyRequests[T any](f *readyCloud, region, op string) []T {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []T
	for _, c := range f.calls {
		if c.Op == region+":"+op {
			out = append(out, c.In.(T))
		}
	}
	return out
}

func (f *readyCloud) handle(region, op string, params any) (any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := op
	if _, ok := params.(*ecr.DescribeImagesInput); ok {
		key = "ecr:" + op
	}
	if err := f.record(region+":"+op, key, params); err != nil {
		return nil, err
	}
	switch in := params.(type) {
	case *ec2.DescribeSnapshotsInput:
		st, ok := f.snapshots[in.SnapshotIds[0]]
		if !ok {
			return nil, apiErr("InvalidSnapshot.NotFound")
		}
		return &ec2.DescribeSnapshotsOutput{Snapshots: []ec2types.Snapshot{{SnapshotId: sdkaws.String(in.SnapshotIds[0]), State: st}}}, nil
	case *ec2.DescribeLaunchTemplateVersionsInput:
		ami, ok := f.templates[sdkaws.ToString(in.LaunchTemplateName)]
		if !ok || !slices.Equal(in.Versions, []string{"$Default"}) {
			return nil, apiErr("InvalidLaunchTemplateName.NotFoundException")
		}
		return &ec2.DescribeLaunchTemplateVersionsOutput{LaunchTemplateVersions: []ec2types.LaunchTemplateVersion{
			{LaunchTemplateData: &ec2types.ResponseLaunchTemplateData{ImageId: sdkaws.String(ami)}}}}, nil
	case *ec2.DescribeImagesInput:
		st, ok := f.images[in.ImageIds[0]]
		if !ok {
			return nil, apiErr("InvalidAMIID.NotFound")
		}
		return &ec2.DescribeImagesOutput{Images: []ec2types.Image{{ImageId: sdkaws.String(in.ImageIds[0]), State: st}}}, nil
	case *ec2.DescribeVpcsInput:
		return f.describeVpcs(region, in)
	case *ec2.DescribeSubnetsInput:
		return f.describeSubnets(region, in)
	case *ec2.DescribeInstanceTypesInput:
		var out ec2.DescribeInstanceTypesOutput
		for _, t := range in.InstanceTypes {
			if t != "g5.xlarge" {
				return nil, apiErr("InvalidInstanceType")
			}
			out.InstanceTypes = append(out.InstanceTypes, ec2types.InstanceTypeInfo{InstanceType: t,
				VCpuInfo: &ec2types.VCpuInfo{DefaultVCpus: sdkaws.Int32(4)}, MemoryInfo: &ec2types.MemoryInfo{SizeInMiB: sdkaws.Int64(16384)}})
		}
		return &out, nil
	case *ec2.DescribeInstanceTypeOfferingsInput:
		return f.describeOfferings(in)
	case *rds.DescribeDBSnapshotsInput:
		st, ok := f.dbSnaps[sdkaws.ToString(in.DBSnapshotIdentifier)]
		if !ok {
			return nil, apiErr("DBSnapshotNotFound")
		}
		return &rds.DescribeDBSnapshotsOutput{DBSnapshots: []rdstypes.DBSnapshot{{DBSnapshotIdentifier: in.DBSnapshotIdentifier, Status: sdkaws.String(st)}}}, nil
	case *rds.DescribeDBClusterSnapshotsInput:
		st, ok := f.clSnaps[sdkaws.ToString(in.DBClusterSnapshotIdentifier)]
		if !ok {
			return nil, apiErr("DBClusterSnapshotNotFoundFault")
		}
		return &rds.DescribeDBClusterSnapshotsOutput{DBClusterSnapshots: []rdstypes.DBClusterSnapshot{
			{DBClusterSnapshotIdentifier: in.DBClusterSnapshotIdentifier, Status: sdkaws.String(st)}}}, nil
	case *servicequotas.GetServiceQuotaInput:
		v, ok := f.quotas[sdkaws.ToString(in.QuotaCode)]
		if !ok || sdkaws.ToString(in.ServiceCode) != "ec2" {
			return nil, apiErr("NoSuchResourceException")
		}
		return &servicequotas.GetServiceQuotaOutput{Quota: &sqtypes.ServiceQuota{QuotaCode: in.QuotaCode, Value: sdkaws.Float64(v)}}, nil
	case *sts.GetCallerIdentityInput:
		return &sts.GetCallerIdentityOutput{Arn: sdkaws.String(f.caller), Account: sdkaws.String("123456789012")}, nil
	case *iam.SimulatePrincipalPolicyInput:
		if got := sdkaws.ToString(in.PolicySourceArn); got != "arn:aws:iam::123456789012:role/pilotlight-dr" {
			return nil, apiErr("NoSuchEntity")
		}
		var out iam.SimulatePrincipalPolicyOutput
		for _, a := range in.ActionNames {
			d := iamtypes.PolicyEvaluationDecisionTypeImplicitDeny
			if f.allow(a) {
				d = iamtypes.PolicyEvaluationDecisionTypeAllowed
			}
			out.EvaluationResults = append(out.EvaluationResults, iamtypes.EvaluationResult{EvalActionName: sdkaws.String(a),
				EvalResourceName: sdkaws.String("*"), EvalDecision: d})
		}
		return &out, nil
	case *ecr.DescribeImagesInput:
		have, ok := f.repos[sdkaws.ToString(in.RepositoryName)]
		if !ok {
			return nil, apiErr("RepositoryNotFoundException")
		}
		var out ecr.DescribeImagesOutput
		for _, id := range in.ImageIds {
			if !slices.Contains(have, sdkaws.ToString(id.ImageTag)) {
				return nil, apiErr("ImageNotFoundException")
			}
			out.ImageDetails = append(out.ImageDetails, ecrtypes.ImageDetail{ImageTags: []string{sdkaws.ToString(id.ImageTag)}})
		}
		return &out, nil
	}
	f.t.Errorf("readyCloud: unexpected call %s in %s", op, region)
	return nil, apiErr("InvalidAction")
}

func (f *readyCloud) describeVpcs(region string, in *ec2.DescribeVpcsInput) (any, error) {
	var out ec2.DescribeVpcsOutput
	for _, v := range f.vpcs[region] {
		if len(in.VpcIds) > 0 && !slices.Contains(in.VpcIds, sdkaws.ToString(v.VpcId)) {
			continue
		}
		if matchEC2Tags(in.Filters, v.Tags) {
			out.Vpcs = append(out.Vpcs, v)
		}
	}
	if len(in.VpcIds) > 0 && len(out.Vpcs) == 0 {
		return nil, apiErr("InvalidVpcID.NotFound")
	}
	return &out, nil
}

// describeSubnets answers by IDs or by a vpc-id filter, one subnet per
// page so that pagination is exercised.
func (f *readyCloud) describeSubnets(region string, in *ec2.DescribeSubnetsInput) (any, error) {
	var match []ec2types.Subnet
	for _, s := range f.subnets[region] {
		switch {
		case len(in.SubnetIds) > 0 && !slices.Contains(in.SubnetIds, sdkaws.ToString(s.SubnetId)):
		case len(in.Filters) > 0 && (sdkaws.ToString(in.Filters[0].Name) != "vpc-id" || in.Filters[0].Values[0] != sdkaws.ToString(s.VpcId)):
		default:
			match = append(match, s)
		}
	}
	if len(in.SubnetIds) > 0 && len(match) != len(in.SubnetIds) {
		return nil, apiErr("InvalidSubnetID.NotFound")
	}
	if len(in.SubnetIds) > 0 {
		return &ec2.DescribeSubnetsOutput{Subnets: match}, nil
	}
	i := 0
	if tok := sdkaws.ToString(in.NextToken); tok != "" {
		i = int(tok[0] - '0')
	}
	out := &ec2.DescribeSubnetsOutput{}
	if i < len(match) {
		out.Subnets = match[i : i+1]
		if i+1 < len(match) {
			out.NextToken = sdkaws.String(string(rune('0' + i + 1)))
		}
	}
	return out, nil
}

func (f *readyCloud) describeOfferings(in *ec2.DescribeInstanceTypeOfferingsInput) (any, error) {
	if in.LocationType != ec2types.LocationTypeAvailabilityZone {
		f.t.Errorf("DescribeInstanceTypeOfferings location type %q", in.LocationType)
	}
	var types, zones []string
	for _, fl := range in.Filters {
		switch sdkaws.ToString(fl.Name) {
		case "instance-type":
			types = fl.Values
		case "location":
			zones = fl.Values
		default:
			f.t.Errorf("DescribeInstanceTypeOfferings filter %s", sdkaws.ToString(fl.Name))
		}
	}
	var out ec2.DescribeInstanceTypeOfferingsOutput
	for _, t := range types {
		for _, z := range f.offerings[t] {
			if zones == nil || slices.Contains(zones, z) {
				out.InstanceTypeOfferings = append(out.InstanceTypeOfferings, ec2types.InstanceTypeOffering{
					InstanceType: ec2types.InstanceType(t), Location: sdkaws.String(z), LocationType: ec2types.LocationTypeAvailabilityZone})
			}
		}
	}
	return &out, nil
}

// retag makes the recovery subnet id the mirror of source instead.
func (f *readyCloud) retag(id, source string) {
	for i, s := range f.subnets["recovery"] {
		if sdkaws.ToString(s.SubnetId) == id {
			f.subnets["recovery"][i].Tags = tags(TagSource, source)
		}
	}
}

// denyActions makes the simulation deny the given actions.
func (f *readyCloud) denyActions(actions ...string) {
	f.allow = func(a string) bool { return !slices.Contains(actions, a) }
}

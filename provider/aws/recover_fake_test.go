package aws

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
)

// call is one SDK call as the client built it (validated, with the SDK's
// defaults such as an idempotency token filled in), before serialization.
type call struct {
	Op string
	In any
}

// fInst is an instance of the fake cloud.
type fInst struct {
	ID, Type, State, Subnet string
	Tags                    map[string]string
	hidden                  int  // DescribeInstances calls that do not see it yet
	elbUnknown              bool // RegisterTargets does not know it yet
}

type fDB struct {
	status   string
	hidden   int // describes answered "not found"
	creating int // describes answered "creating"
	restores int
	snapshot string
	engine   string
}

type fVol struct {
	ID, State, Zone, Snapshot, Attached string
	Tags                                map[string]string
	hidden                              int
}

// fakeCloud answers EC2, Auto Scaling, ELBv2 and RDS calls in place of AWS
// from an in-memory region. Its middleware sits last in the initialize
// step: it records each typed request and returns a typed answer or an
// API error, so the client's own validation and defaults run but nothing
// is serialized or sent.
type fakeCloud struct {
	t       *testing.T
	callLog // the mutex of the whole fake, its calls and the failures to inject

	// Behaviour knobs.
	noCapacity map[string]bool // instance types without capacity
	hideNew    int             // describes a new instance, volume or DB is invisible to
	elbLag     bool            // RegisterTargets answers InvalidTarget for new instances once
	dbCreating int             // describes a restored DB stays "creating"

	next      int
	instances map[string]*fInst
	tokens    map[string][]string // RunInstances client token → IDs
	groups    map[string]*astypes.AutoScalingGroup
	lbs       map[string]elbtypes.LoadBalancer
	tgs       map[string]elbtypes.TargetGroup
	listeners map[string][]int32    // LB ARN → ports
	targets   map[string][]string   // TG ARN → instance IDs
	dbSnaps   []rdstypes.DBSnapshot // in the recovery region
	clSnaps   []rdstypes.DBClusterSnapshot
	dbs       map[string]*fDB
	snapshots []ec2types.Snapshot
	volumes   map[string]*fVol
	volTokens map[string]string
	drill     *drillFake // tags and deletes of drills (drill_fake_test.go)
}

func newFakeCloud(t *testing.T) *fakeCloud {
	return &fakeCloud{t: t, noCapacity: map[string]bool{}, instances: map[string]*fInst{},
		tokens: map[string][]string{}, groups: map[string]*astypes.AutoScalingGroup{}, lbs: map[string]elbtypes.LoadBalancer{},
		tgs: map[string]elbtypes.TargetGroup{}, listeners: map[string][]int32{}, targets: map[string][]string{},
		dbs: map[string]*fDB{}, volumes: map[string]*fVol{}, volTokens: map[string]string{}}
}

// clients returns SDK clients whose calls the fake answers, with extra
// API options in front of it.
func (f *fakeCloud) clients(extra ...func(*middleware.Stack) error) RegionClients {
	opts := append([]func(*middleware.Stack) error{f.stack}, extra...)
	return RegionClients{
		EC2: ec2.New(ec2.Options{Region: "us-east-1", Credentials: testCreds, HTTPClient: awshttp.NewBuildableClient(),
			Retryer: sdkaws.NopRetryer{}, APIOptions: opts}),
		AutoScaling: autoscaling.New(autoscaling.Options{Region: "us-east-1", Credentials: testCreds, HTTPClient: awshttp.NewBuildableClient(),
			Retryer: sdkaws.NopRetryer{}, APIOptions: opts}),
		ELB: elbv2.New(elbv2.Options{Region: "us-east-1", Credentials: testCreds, HTTPClient: awshttp.NewBuildableClient(),
			Retryer: sdkaws.NopRetryer{}, APIOptions: opts}),
		RDS: rds.New(rds.Options{Region: "us-east-1", Credentials: testCreds, HTTPClient: awshttp.NewBuildableClient(),
			Retryer: sdkaws.NopRetryer{}, APIOptions: opts}),
	}
}

func (f *fakeCloud) stack(st *middleware.Stack) error {
	return st.Initialize.Add(middleware.InitializeMiddlewareFunc("fakeCloud",
		func(ctx context.Context, in middleware.InitializeInput, _ middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			out, err := f.handle(awsmiddleware.GetOperationName(ctx), in.Parameters)
			return middleware.InitializeOutput{Result: out}, middleware.Metadata{}, err
		}), middleware.After)
}

// callsOf returns the recorded inputs of op.
func callsOf[T any](f *fakeCloud, op string) []T { return loggedInputs[T](&f.callLog, op) }

// live returns the IDs of the pending and running instances tagged for
// service, sorted.
func (f *fakeCloud) live(service string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []string
	for _, in := range f.instances {
		if in.Tags[TagService] == service && (in.State == "running" || in.State == "pending") {
			ids = append(ids, in.ID)
		}
	}
	slices.Sort(ids)
	return ids
}

// addInstance adds an instance (such as a stopped pilot light) directly.
func (f *fakeCloud) addInstance(typ, state, subnet string, tags map[string]string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.newInstance(typ, state, subnet, tags).ID
}

func (f *fakeCloud) newInstance(typ, state, subnet string, tags map[string]string) *fInst {
	f.next++
	if subnet == "" {
		subnet = "subnet-default"
	}
	in := &fInst{ID: fmt.Sprintf("i-%04d", f.next), Type: typ, State: state, Subnet: subnet, Tags: tags, hidden: f.hideNew, elbUnknown: f.elbLag}
	f.instances[in.ID] = in
	return in
}

func apiErr(code string) error {
	return &smithy.GenericAPIError{Code: code, Message: code + " from fake", Fault: smithy.FaultClient}
}

func (f *fakeCloud) handle(op string, params any) (any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record(op, op, params); err != nil {
		return nil, err
	}
	if out, err, ok := f.handleDrill(params); ok {
		return out, err
	}
	switch in := params.(type) {
	// EC2
	case *ec2.RunInstancesInput:
		return f.runInstances(in)
	case *ec2.StartInstancesInput:
		for _, id := range in.InstanceIds {
			if i := f.instances[id]; i != nil && f.noCapacity[i.Type] {
				return nil, apiErr("InsufficientInstanceCapacity")
			}
		}
		for _, id := range in.InstanceIds {
			f.instances[id].State = "running"
		}
		return &ec2.StartInstancesOutput{}, nil
	case *ec2.StopInstancesInput:
		for _, id := range in.InstanceIds {
			f.instances[id].State = "stopped"
		}
		return &ec2.StopInstancesOutput{}, nil
	case *ec2.TerminateInstancesInput:
		for _, id := range in.InstanceIds {
			f.instances[id].State = "terminated"
		}
		return &ec2.TerminateInstancesOutput{}, nil
	case *ec2.DescribeInstancesInput:
		return f.describeInstances(in), nil
	case *ec2.DescribeAvailabilityZonesInput:
		return &ec2.DescribeAvailabilityZonesOutput{AvailabilityZones: []ec2types.AvailabilityZone{
			{ZoneName: sdkaws.String("us-east-1a"), State: ec2types.AvailabilityZoneStateAvailable}}}, nil
	case *ec2.DescribeSnapshotsInput:
		var out []ec2types.Snapshot
		for _, s := range f.snapshots {
			if matchEC2Tags(in.Filters, s.Tags) {
				out = append(out, s)
			}
		}
		return &ec2.DescribeSnapshotsOutput{Snapshots: out}, nil
	case *ec2.CreateVolumeInput:
		return f.createVolume(in)
	case *ec2.DescribeVolumesInput:
		v := f.volumes[in.VolumeIds[0]]
		if v == nil || v.hidden > 0 {
			if v != nil {
				v.hidden--
			}
			return nil, apiErr("InvalidVolume.NotFound")
		}
		out := ec2types.Volume{VolumeId: sdkaws.String(v.ID), State: ec2types.VolumeState(v.State)}
		if v.State == "creating" {
			v.State = "available"
		}
		if v.Attached != "" {
			out.Attachments = []ec2types.VolumeAttachment{{InstanceId: sdkaws.String(v.Attached), State: ec2types.VolumeAttachmentStateAttached}}
		}
		return &ec2.DescribeVolumesOutput{Volumes: []ec2types.Volume{out}}, nil
	case *ec2.AttachVolumeInput:
		v := f.volumes[*in.VolumeId]
		if v.Attached != "" {
			return nil, apiErr("VolumeInUse")
		}
		v.Attached, v.State = *in.InstanceId, "in-use"
		return &ec2.AttachVolumeOutput{}, nil

	// Auto Scaling
	case *autoscaling.DescribeAutoScalingGroupsInput:
		var out []astypes.AutoScalingGroup
		for _, g := range f.groups {
			if matchASGTags(in.Filters, g.Tags) {
				out = append(out, *g)
			}
		}
		return &autoscaling.DescribeAutoScalingGroupsOutput{AutoScalingGroups: out}, nil
	case *autoscaling.SetDesiredCapacityInput:
		g := f.groups[*in.AutoScalingGroupName]
		f.setDesired(g, *in.DesiredCapacity)
		return &autoscaling.SetDesiredCapacityOutput{}, nil
	case *autoscaling.UpdateAutoScalingGroupInput:
		g := f.groups[*in.AutoScalingGroupName]
		if in.MaxSize != nil {
			g.MaxSize = in.MaxSize
		}
		if in.MixedInstancesPolicy != nil {
			g.MixedInstancesPolicy = in.MixedInstancesPolicy
		}
		if in.DesiredCapacity != nil {
			f.setDesired(g, *in.DesiredCapacity)
		}
		return &autoscaling.UpdateAutoScalingGroupOutput{}, nil
	case *autoscaling.AttachLoadBalancerTargetGroupsInput:
		g := f.groups[*in.AutoScalingGroupName]
		g.TargetGroupARNs = append(g.TargetGroupARNs, in.TargetGroupARNs...)
		for _, arn := range in.TargetGroupARNs {
			for _, in := range f.instances {
				if in.Tags["aws:autoscaling:groupName"] == *g.AutoScalingGroupName && in.State == "running" {
					f.targets[arn] = append(f.targets[arn], in.ID)
				}
			}
		}
		return &autoscaling.AttachLoadBalancerTargetGroupsOutput{}, nil

	// ELBv2
	case *elbv2.DescribeLoadBalancersInput:
		lb, ok := f.lbs[in.Names[0]]
		if !ok {
			return nil, apiErr("LoadBalancerNotFound")
		}
		return &elbv2.DescribeLoadBalancersOutput{LoadBalancers: []elbtypes.LoadBalancer{lb}}, nil
	case *elbv2.CreateLoadBalancerInput:
		name := *in.Name
		if len(in.Subnets) < 2 {
			return nil, apiErr("ValidationError")
		}
		if _, ok := f.lbs[name]; !ok {
			f.lbs[name] = elbtypes.LoadBalancer{LoadBalancerArn: sdkaws.String("arn:lb/" + name),
				DNSName: sdkaws.String(name + "-1234.us-east-1.elb.amazonaws.com"), CanonicalHostedZoneId: sdkaws.String("Z35SXDOTRQ7X7K")}
		}
		return &elbv2.CreateLoadBalancerOutput{LoadBalancers: []elbtypes.LoadBalancer{f.lbs[name]}}, nil
	case *elbv2.DescribeTargetGroupsInput:
		tg, ok := f.tgs[in.Names[0]]
		if !ok {
			return nil, apiErr("TargetGroupNotFound")
		}
		return &elbv2.DescribeTargetGroupsOutput{TargetGroups: []elbtypes.TargetGroup{tg}}, nil
	case *elbv2.CreateTargetGroupInput:
		name := *in.Name
		if _, ok := f.tgs[name]; !ok {
			f.tgs[name] = elbtypes.TargetGroup{TargetGroupArn: sdkaws.String("arn:tg/" + name), TargetGroupName: in.Name}
		}
		return &elbv2.CreateTargetGroupOutput{TargetGroups: []elbtypes.TargetGroup{f.tgs[name]}}, nil
	case *elbv2.DescribeListenersInput:
		var out []elbtypes.Listener
		for _, p := range f.listeners[*in.LoadBalancerArn] {
			out = append(out, elbtypes.Listener{Port: sdkaws.Int32(p)})
		}
		return &elbv2.DescribeListenersOutput{Listeners: out}, nil
	case *elbv2.CreateListenerInput:
		f.listeners[*in.LoadBalancerArn] = append(f.listeners[*in.LoadBalancerArn], *in.Port)
		return &elbv2.CreateListenerOutput{}, nil
	case *elbv2.RegisterTargetsInput:
		unknown := false
		for _, t := range in.Targets {
			if i := f.instances[*t.Id]; i == nil || i.elbUnknown {
				unknown = true
				if i != nil {
					i.elbUnknown = false // known from now on
				}
			}
		}
		if unknown {
			return nil, apiErr("InvalidTarget")
		}
		for _, t := range in.Targets {
			if !slices.Contains(f.targets[*in.TargetGroupArn], *t.Id) {
				f.targets[*in.TargetGroupArn] = append(f.targets[*in.TargetGroupArn], *t.Id)
			}
		}
		return &elbv2.RegisterTargetsOutput{}, nil
	case *elbv2.DescribeTargetHealthInput:
		var out []elbtypes.TargetHealthDescription
		for _, id := range f.targets[*in.TargetGroupArn] {
			state := elbtypes.TargetHealthStateEnumInitial
			if f.instances[id].State == "running" {
				state = elbtypes.TargetHealthStateEnumHealthy
			}
			out = append(out, elbtypes.TargetHealthDescription{Target: &elbtypes.TargetDescription{Id: sdkaws.String(id)},
				TargetHealth: &elbtypes.TargetHealth{State: state}})
		}
		return &elbv2.DescribeTargetHealthOutput{TargetHealthDescriptions: out}, nil

	// RDS
	case *rds.DescribeDBSnapshotsInput:
		var out []rdstypes.DBSnapshot
		for _, s := range f.dbSnaps {
			if *s.DBInstanceIdentifier == *in.DBInstanceIdentifier {
				out = append(out, s)
			}
		}
		return &rds.DescribeDBSnapshotsOutput{DBSnapshots: out}, nil
	case *rds.DescribeDBClusterSnapshotsInput:
		var out []rdstypes.DBClusterSnapshot
		for _, s := range f.clSnaps {
			if *s.DBClusterIdentifier == *in.DBClusterIdentifier {
				out = append(out, s)
			}
		}
		return &rds.DescribeDBClusterSnapshotsOutput{DBClusterSnapshots: out}, nil
	case *rds.RestoreDBInstanceFromDBSnapshotInput:
		return &rds.RestoreDBInstanceFromDBSnapshotOutput{}, f.restoreDB(*in.DBInstanceIdentifier, *in.DBSnapshotIdentifier, "", "DBInstanceAlreadyExists")
	case *rds.RestoreDBClusterFromSnapshotInput:
		return &rds.RestoreDBClusterFromSnapshotOutput{}, f.restoreDB(*in.DBClusterIdentifier, *in.SnapshotIdentifier, *in.Engine, "DBClusterAlreadyExistsFault")
	case *rds.DescribeDBInstancesInput:
		st, err := f.dbStatus(*in.DBInstanceIdentifier, "DBInstanceNotFound")
		if err != nil {
			return nil, err
		}
		return &rds.DescribeDBInstancesOutput{DBInstances: []rdstypes.DBInstance{{DBInstanceStatus: sdkaws.String(st),
			Endpoint: &rdstypes.Endpoint{Address: sdkaws.String(*in.DBInstanceIdentifier + ".rds.example")}}}}, nil
	case *rds.DescribeDBClustersInput:
		st, err := f.dbStatus(*in.DBClusterIdentifier, "DBClusterNotFoundFault")
		if err != nil {
			return nil, err
		}
		return &rds.DescribeDBClustersOutput{DBClusters: []rdstypes.DBCluster{{Status: sdkaws.String(st),
			Endpoint: sdkaws.String(*in.DBClusterIdentifier + ".cluster.rds.example")}}}, nil
	}
	f.t.Errorf("fake cloud: unexpected call %s %T", op, params)
	return nil, apiErr("NotImplemented")
}

func (f *fakeCloud) runInstances(in *ec2.RunInstancesInput) (any, error) {
	typ := string(in.InstanceType)
	if ids, ok := f.tokens[*in.ClientToken]; ok {
		return f.reservation(ids), nil
	}
	if f.noCapacity[typ] {
		return nil, apiErr("InsufficientInstanceCapacity")
	}
	if *in.MinCount != *in.MaxCount {
		f.t.Errorf("RunInstances MinCount %d != MaxCount %d", *in.MinCount, *in.MaxCount)
	}
	tags := map[string]string{}
	for _, ts := range in.TagSpecifications {
		if ts.ResourceType == ec2types.ResourceTypeInstance {
			for _, t := range ts.Tags {
				tags[*t.Key] = *t.Value
			}
		}
	}
	var ids []string
	for range *in.MaxCount {
		ids = append(ids, f.newInstance(typ, "pending", sdkaws.ToString(in.SubnetId), tags).ID)
	}
	f.tokens[*in.ClientToken] = ids
	return f.reservation(ids), nil
}

func (f *fakeCloud) reservation(ids []string) *ec2.RunInstancesOutput {
	out := &ec2.RunInstancesOutput{}
	for _, id := range ids {
		i := f.instances[id]
		out.Instances = append(out.Instances, ec2types.Instance{InstanceId: sdkaws.String(id), InstanceType: ec2types.InstanceType(i.Type),
			SubnetId: sdkaws.String(i.Subnet), VpcId: sdkaws.String("vpc-1")})
	}
	return out
}

// describeInstances answers with the visible instances matching the tag
// and state filters; a pending instance seen once is running next time.
func (f *fakeCloud) describeInstances(in *ec2.DescribeInstancesInput) *ec2.DescribeInstancesOutput {
	res := ec2types.Reservation{}
	ids := make([]string, 0, len(f.instances))
	for id := range f.instances {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		i := f.instances[id]
		if i.hidden > 0 {
			i.hidden--
			continue
		}
		if !matchEC2Tags(in.Filters, toEC2Tags(i.Tags)) || !matchState(in.Filters, i.State) {
			continue
		}
		out := ec2types.Instance{InstanceId: sdkaws.String(i.ID), InstanceType: ec2types.InstanceType(i.Type),
			State: &ec2types.InstanceState{Name: ec2types.InstanceStateName(i.State)}, SubnetId: sdkaws.String(i.Subnet),
			VpcId: sdkaws.String("vpc-1"), Placement: &ec2types.Placement{AvailabilityZone: sdkaws.String(zoneOf(i.Subnet))}, Tags: toEC2Tags(i.Tags)}
		res.Instances = append(res.Instances, out)
		if i.State == "pending" {
			i.State = "running"
		}
	}
	return &ec2.DescribeInstancesOutput{Reservations: []ec2types.Reservation{res}}
}

func zoneOf(subnet string) string { return "us-east-1" + subnet[len(subnet)-1:] }

func toEC2Tags(m map[string]string) []ec2types.Tag {
	var out []ec2types.Tag
	for k, v := range m {
		out = append(out, ec2types.Tag{Key: sdkaws.String(k), Value: sdkaws.String(v)})
	}
	return out
}

func matchEC2Tags(filters []ec2types.Filter, tags []ec2types.Tag) bool {
	for _, fl := range filters {
		name := sdkaws.ToString(fl.Name)
		if !strings.HasPrefix(name, "tag:") {
			continue
		}
		ok := false
		for _, t := range tags {
			if *t.Key == name[4:] && slices.Contains(fl.Values, *t.Value) {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func matchState(filters []ec2types.Filter, state string) bool {
	for _, fl := range filters {
		if sdkaws.ToString(fl.Name) == "instance-state-name" && !slices.Contains(fl.Values, state) {
			return false
		}
	}
	return true
}

func matchASGTags(filters []astypes.Filter, tags []astypes.TagDescription) bool {
	for _, fl := range filters {
		name := sdkaws.ToString(fl.Name)
		ok := false
		for _, t := range tags {
			if "tag:"+*t.Key == name && slices.Contains(fl.Values, *t.Value) {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// addGroup adds an Auto Scaling group for service, its instances running.
func (f *fakeCloud) addGroup(planName, service string, desired, maxSize int32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	name := planName + "-" + service + "-asg"
	g := &astypes.AutoScalingGroup{AutoScalingGroupName: sdkaws.String(name), MaxSize: sdkaws.Int32(maxSize), DesiredCapacity: sdkaws.Int32(0),
		Tags: []astypes.TagDescription{{Key: sdkaws.String(TagPlan), Value: sdkaws.String(planName)}, {Key: sdkaws.String(TagService), Value: sdkaws.String(service)}}}
	f.groups[name] = g
	f.setDesired(g, desired)
}

// setDesired launches or terminates the group's instances to desired.
func (f *fakeCloud) setDesired(g *astypes.AutoScalingGroup, desired int32) {
	g.DesiredCapacity = sdkaws.Int32(desired)
	typ := "m6i.xlarge"
	if m := g.MixedInstancesPolicy; m != nil {
		typ = *m.LaunchTemplate.Overrides[0].InstanceType
	}
	var tags map[string]string
	n := int32(0)
	for _, in := range f.instances {
		if in.Tags["aws:autoscaling:groupName"] == *g.AutoScalingGroupName && in.State == "running" {
			n++
		}
	}
	for _, t := range g.Tags {
		if tags == nil {
			tags = map[string]string{"aws:autoscaling:groupName": *g.AutoScalingGroupName}
		}
		tags[*t.Key] = *t.Value
	}
	for ; n < desired; n++ {
		in := f.newInstance(typ, "running", "subnet-a", tags)
		in.hidden = 0
		for _, arn := range g.TargetGroupARNs {
			f.targets[arn] = append(f.targets[arn], in.ID)
		}
	}
}

func (f *fakeCloud) createVolume(in *ec2.CreateVolumeInput) (any, error) {
	if id, ok := f.volTokens[*in.ClientToken]; ok {
		return &ec2.CreateVolumeOutput{VolumeId: sdkaws.String(id)}, nil
	}
	f.next++
	v := &fVol{ID: fmt.Sprintf("vol-%04d", f.next), State: "creating", Zone: *in.AvailabilityZone, Snapshot: *in.SnapshotId,
		Tags: map[string]string{}, hidden: f.hideNew}
	for _, ts := range in.TagSpecifications {
		for _, t := range ts.Tags {
			v.Tags[*t.Key] = *t.Value
		}
	}
	f.volumes[v.ID] = v
	f.volTokens[*in.ClientToken] = v.ID
	return &ec2.CreateVolumeOutput{VolumeId: sdkaws.String(v.ID)}, nil
}

func (f *fakeCloud) restoreDB(id, snap, engine, exists string) error {
	if db, ok := f.dbs[id]; ok {
		db.restores++
		return apiErr(exists)
	}
	f.dbs[id] = &fDB{status: "creating", hidden: f.hideNew, creating: f.dbCreating, restores: 1, snapshot: snap, engine: engine}
	return nil
}

func (f *fakeCloud) dbStatus(id, notFound string) (string, error) {
	db, ok := f.dbs[id]
	if !ok || db.hidden > 0 {
		if ok {
			db.hidden--
		}
		return "", apiErr(notFound)
	}
	if db.creating > 0 {
		db.creating--
		return "creating", nil
	}
	db.status = "available"
	return db.status, nil
}

// stepClock is a runbook clock whose After fires at once and moves the
// time on, so that waits cost nothing.
type stepClock struct {
	mu  sync.Mutex
	now time.Time
}

func newStepClock() *stepClock { return &stepClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *stepClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	ch := make(chan time.Time, 1)
	ch <- c.now
	return ch
}

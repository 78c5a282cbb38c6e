package aws

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/pilotlight/pilotlight/plan"
)

// invFixture is an inventory export against fakes: EC2 and ELBv2 in the
// primary region, Route 53 with zone example.com. (Z1), and the recovery
// bucket dr-inventory, all answering 2 items a page.
type invFixture struct {
	cloud  *invCloud
	r53    *fakeR53
	bucket *invBucket
	clock  *stepClock
	dir    string
	x      *Inventory
}

func invPlan(vpcs ...string) *plan.Plan {
	p := &plan.Plan{Name: "ticketing",
		Regions:  plan.Regions{Primary: plan.Region{Name: primaryRegion, Provider: plan.ProviderAWS}, Recovery: plan.Region{Name: recoveryRegion, Provider: plan.ProviderAWS}},
		Services: []plan.Service{{Name: "web", Compute: plan.Compute{AWS: &plan.AWSCompute{LaunchTemplate: "web"}}}},
		Routing:  &plan.Routing{Zone: "example.com."},
		Data:     plan.Data{Inventory: &plan.Inventory{Bucket: "dr-inventory", Keep: 3}},
	}
	if len(vpcs) > 0 {
		p.Network = &plan.Network{VPCs: vpcs}
	}
	return p
}

func newInvFixture(t *testing.T, p *plan.Plan) *invFixture {
	fx := &invFixture{cloud: newInvCloud(t), r53: newFakeR53(t), clock: newStepClock(), dir: filepath.Join(t.TempDir(), "inventory")}
	fx.r53.pageSize = 2
	fx.bucket = newInvBucket(fx.r53.fakeAWS)
	c := fx.cloud
	c.instances = []ec2types.Instance{
		invInstance("i-1", "vpc-1", "subnet-a", TagLaunchTemplate, "web", "Name", "web-1"),
		invInstance("i-2", "vpc-1", "subnet-b", TagLaunchTemplate, "web"),
		invInstance("i-3", "vpc-1", "subnet-a", "Name", "batch"),
		invInstance("i-4", "vpc-2", "subnet-z", "Name", "other"),
		invInstance("i-5", "vpc-3", "subnet-y", TagLaunchTemplate, "web"),
	}
	lb := func(name, vpc string) elbtypes.LoadBalancer {
		return elbtypes.LoadBalancer{LoadBalancerArn: sdkaws.String("arn:lb/" + name), LoadBalancerName: sdkaws.String(name), Type: "application",
			Scheme: "internet-facing", DNSName: sdkaws.String(name + ".elb.amazonaws.com"), VpcId: sdkaws.String(vpc), SecurityGroups: []string{"sg-lb"},
			AvailabilityZones: []elbtypes.AvailabilityZone{{SubnetId: sdkaws.String("subnet-a")}, {SubnetId: sdkaws.String("subnet-b")}}}
	}
	c.lbs = []elbtypes.LoadBalancer{lb("web", "vpc-1"), lb("admin", "vpc-1"), lb("elsewhere", "vpc-2")}
	c.listeners["arn:lb/web"] = []elbtypes.Listener{
		{ListenerArn: sdkaws.String("arn:l/80"), Port: sdkaws.Int32(80), Protocol: "HTTP"},
		{ListenerArn: sdkaws.String("arn:l/443"), Port: sdkaws.Int32(443), Protocol: "HTTPS", SslPolicy: sdkaws.String("ELBSecurityPolicy-TLS13-1-2-2021-06"),
			Certificates: []elbtypes.Certificate{{CertificateArn: sdkaws.String("arn:acm/web")}}},
		{ListenerArn: sdkaws.String("arn:l/8443"), Port: sdkaws.Int32(8443), Protocol: "HTTPS"},
	}
	c.tgs["arn:lb/web"] = []elbtypes.TargetGroup{{TargetGroupArn: sdkaws.String("arn:tg/web"), TargetGroupName: sdkaws.String("web"), Protocol: "HTTP",
		Port: sdkaws.Int32(8080), TargetType: "instance", HealthCheckPath: sdkaws.String("/healthz"), HealthCheckIntervalSeconds: sdkaws.Int32(10),
		HealthyThresholdCount: sdkaws.Int32(3), UnhealthyThresholdCount: sdkaws.Int32(2), Matcher: &elbtypes.Matcher{HttpCode: sdkaws.String("200")}}}
	c.targets["arn:tg/web"] = []elbtypes.TargetHealthDescription{
		{Target: &elbtypes.TargetDescription{Id: sdkaws.String("i-1"), Port: sdkaws.Int32(8080)}, TargetHealth: &elbtypes.TargetHealth{State: "healthy"}},
		{Target: &elbtypes.TargetDescription{Id: sdkaws.String("i-2"), Port: sdkaws.Int32(8080)}, TargetHealth: &elbtypes.TargetHealth{State: "unhealthy"}},
	}
	for _, v := range []string{"vpc-1", "vpc-2", "vpc-3"} {
		c.vpcs = append(c.vpcs, ec2types.Vpc{VpcId: sdkaws.String(v), CidrBlock: sdkaws.String("10.0.0.0/16")})
		c.tables = append(c.tables, ec2types.RouteTable{RouteTableId: sdkaws.String("rtb-" + v), VpcId: sdkaws.String(v)})
		c.groups = append(c.groups, ec2types.SecurityGroup{GroupId: sdkaws.String("sg-" + v), VpcId: sdkaws.String(v)})
	}
	for _, s := range []string{"a", "b", "c"} {
		c.subnets = append(c.subnets, subnet("subnet-"+s, "vpc-1", "10.0.1.0/24", "ap-northeast-2a"))
	}
	c.subnets = append(c.subnets, subnet("subnet-z", "vpc-2", "10.9.0.0/24", "ap-northeast-2a"))
	for i := range 5 {
		name := fmt.Sprintf("r%d.example.com.", i)
		fx.r53.zones["Z1"][name+" A "] = xRRSet{Name: name, Type: "A", TTL: sdkaws.Int64(60), ResourceRecords: []xRR{{"192.0.2.1"}}}
	}
	ec2c, elbc := c.clients()
	fx.x = &Inventory{Plan: p, EC2: ec2c, ELB: elbc, Route53: fx.r53.client(), Clock: fx.clock,
		Store:   &InventoryStore{Plan: p.Name, S3: fx.r53.s3(recoveryRegion), Bucket: "dr-inventory", Dir: fx.dir, Keep: p.Data.Inventory.Keep},
		Backoff: Backoff{Initial: time.Millisecond, Max: 4 * time.Millisecond, Attempts: 4}}
	return fx
}

func TestInventoryExport(t *testing.T) {
	fx := newInvFixture(t, invPlan("vpc-1"))
	d, err := fx.x.Export(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := InventoryCounts{Instances: 3, LoadBalancers: 2, TargetGroups: 1, Records: 5, VPCs: 1, Subnets: 3, RouteTables: 1, SecurityGroups: 1}
	if d.Counts != want {
		t.Errorf("counts %+v, want %+v", d.Counts, want)
	}
	// 3 instances, 3 load balancers, 3 listeners, 5 records at 2 a page.
	for op, n := range map[string]int{"DescribeInstances": 2, "DescribeLoadBalancers": 2, "DescribeListeners": 2 + 1, "DescribeSubnets": 2} {
		if got := fx.cloud.count(op); got != n {
			t.Errorf("%s called %d times, want %d", op, got, n)
		}
	}
	if got := len(fx.r53.calls("ListResourceRecordSets")); got != 3 {
		t.Errorf("ListResourceRecordSets called %d times, want 3", got)
	}
	i1 := d.Instances[0]
	if i1.ID != "i-1" || i1.Type != "m6i.xlarge" || i1.Image != "ami-web" || i1.Subnet != "subnet-a" || i1.Zone != "ap-northeast-2a" ||
		i1.PrivateIP != "10.0.1.1" || !slices.Equal(i1.SecurityGroups, []string{"sg-web"}) || i1.Tags["Name"] != "web-1" {
		t.Errorf("instance %+v", i1)
	}
	web := d.LoadBalancers[1]
	if web.Name != "web" || len(web.Listeners) != 3 || !slices.Equal(web.Listeners[1].Certificates, []string{"arn:acm/web"}) ||
		!slices.Equal(web.Subnets, []string{"subnet-a", "subnet-b"}) || len(web.TargetGroups) != 1 {
		t.Fatalf("load balancer %+v", web)
	}
	tg := web.TargetGroups[0]
	if tg.HealthCheck.Path != "/healthz" || tg.HealthCheck.Matcher != "200" || tg.HealthCheck.UnhealthyThreshold != 2 ||
		len(tg.Targets) != 2 || tg.Targets[1] != (InvTarget{ID: "i-2", Port: 8080, Health: "unhealthy"}) {
		t.Errorf("target group %+v", tg)
	}
	key := "pilotlight/ticketing/inventory/2026-01-01T00:00:00Z.json"
	if d.Key != key || !slices.Equal(fx.bucket.puts, []string{key, "pilotlight/ticketing/inventory/latest.json"}) {
		t.Errorf("key %s, puts %v", d.Key, fx.bucket.puts)
	}
	for _, name := range []string{"2026-01-01T00:00:00Z.json", "latest.json"} {
		if _, err := os.Stat(filepath.Join(fx.dir, name)); err != nil {
			t.Errorf("local copy: %v", err)
		}
	}
}

// TestInventoryServiceInstances exports, without network.vpcs, the
// instances of the services' launch templates and the VPCs they sit in.
func TestInventoryServiceInstances(t *testing.T) {
	fx := newInvFixture(t, invPlan())
	d, err := fx.x.Export(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ids, vpcs []string
	for _, i := range d.Instances {
		ids = append(ids, i.ID)
	}
	for _, v := range d.VPCs {
		vpcs = append(vpcs, *v.VpcId)
	}
	if !slices.Equal(ids, []string{"i-1", "i-2", "i-5"}) || !slices.Equal(vpcs, []string{"vpc-1", "vpc-3"}) || d.Counts.LoadBalancers != 2 {
		t.Errorf("instances %v, vpcs %v, counts %+v", ids, vpcs, d.Counts)
	}
}

func TestInventoryThrottled(t *testing.T) {
	fx := newInvFixture(t, invPlan("vpc-1"))
	fx.cloud.failNext("DescribeInstances", "RequestLimitExceeded", "RequestLimitExceeded")
	fx.cloud.failNext("DescribeLoadBalancers", "Throttling")
	fx.cloud.failNext("DescribeTargetHealth", "InternalError")
	fx.r53.failNext("ListResourceRecordSets", "Throttling")
	d, err := fx.x.Export(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if d.Counts.Instances != 3 || d.Counts.Records != 5 || fx.cloud.count("DescribeInstances") != 4 {
		t.Errorf("counts %+v after %d DescribeInstances", d.Counts, fx.cloud.count("DescribeInstances"))
	}

	t.Run("not retried", func(t *testing.T) {
		fx := newInvFixture(t, invPlan("vpc-1"))
		fx.cloud.failNext("DescribeInstances", "UnauthorizedOperation")
		_, err := fx.x.Export(context.Background())
		if err == nil || !strings.Contains(err.Error(), "inventory: describe instances ticketing") || fx.cloud.count("DescribeInstances") != 1 {
			t.Fatalf("err %v after %d calls", err, fx.cloud.count("DescribeInstances"))
		}
		if len(fx.bucket.puts) != 0 {
			t.Errorf("a failed export wrote %v", fx.bucket.puts)
		}
	})
	t.Run("gives up", func(t *testing.T) {
		fx := newInvFixture(t, invPlan("vpc-1"))
		fx.cloud.failNext("DescribeVpcs", "RequestLimitExceeded", "RequestLimitExceeded", "RequestLimitExceeded", "RequestLimitExceeded")
		_, err := fx.x.Export(context.Background())
		if err == nil || !strings.Contains(err.Error(), "gave up after 4 attempts") {
			t.Fatalf("err %v", err)
		}
	})
}

// TestInventoryRetention keeps the newest Keep exports in the bucket and
// the directory.
func TestInventoryRetention(t *testing.T) {
	fx := newInvFixture(t, invPlan("vpc-1"))
	for range 5 {
		if _, err := fx.x.Export(context.Background()); err != nil {
			t.Fatal(err)
		}
		fx.clock.After(time.Hour)
	}
	prefix := "pilotlight/ticketing/inventory/"
	want := []string{prefix + "2026-01-01T02:00:00Z.json", prefix + "2026-01-01T03:00:00Z.json", prefix + "2026-01-01T04:00:00Z.json", prefix + "latest.json"}
	if got := fx.bucket.keys(); !slices.Equal(got, want) {
		t.Errorf("bucket keys %v, want %v", got, want)
	}
	entries, err := os.ReadDir(fx.dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{"2026-01-01T02:00:00Z.json", "2026-01-01T03:00:00Z.json", "2026-01-01T04:00:00Z.json", "latest.json"}) {
		t.Errorf("local files %v", names)
	}
	st := &InventoryStore{Plan: "ticketing", Keep: 1}
	if got := st.expired([]string{"b", "c", "a"}, "a"); !slices.Equal(got, []string{"b"}) {
		t.Errorf("expired %v: the newest export must never be deleted", got)
	}
}

// TestInventoryCrashBeforePointer fails the pointer write after the
// versioned one: the pointer, and so LoadInventory, still give the
// previous complete export.
func TestInventoryCrashBeforePointer(t *testing.T) {
	ctx := context.Background()
	fx := newInvFixture(t, invPlan("vpc-1"))
	first, err := fx.x.Export(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fx.clock.After(time.Hour)
	fx.bucket.failPut["pilotlight/ticketing/inventory/latest.json"] = "InternalError"
	fx.cloud.instances = fx.cloud.instances[:1]
	if _, err := fx.x.Export(ctx); err == nil || !strings.Contains(err.Error(), "s3 put inventory") {
		t.Fatalf("err %v", err)
	}
	if !slices.Contains(fx.bucket.keys(), "pilotlight/ticketing/inventory/2026-01-01T01:00:00Z.json") {
		t.Errorf("the versioned object was not written first: %v", fx.bucket.keys())
	}
	got, err := LoadInventory(ctx, fx.r53.s3(recoveryRegion), "dr-inventory", "ticketing", "")
	if err != nil {
		t.Fatal(err)
	}
	if got.Key != first.Key || got.Counts.Instances != 3 {
		t.Errorf("loaded %s with %+v, want the first export", got.Key, got.Counts)
	}
}

func TestInventoryLoad(t *testing.T) {
	ctx := context.Background()
	fx := newInvFixture(t, invPlan("vpc-1"))
	s3c := fx.r53.s3(recoveryRegion)
	if _, err := LoadInventory(ctx, s3c, "dr-inventory", "ticketing", ""); !errors.Is(err, ErrNoInventory) {
		t.Fatalf("load before any export: %v", err)
	}
	first, err := fx.x.Export(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fx.clock.After(time.Hour)
	fx.cloud.instances = fx.cloud.instances[:2]
	second, err := fx.x.Export(ctx)
	if err != nil {
		t.Fatal(err)
	}
	latest, err := LoadInventory(ctx, s3c, "dr-inventory", "ticketing", "")
	if err != nil {
		t.Fatal(err)
	}
	if latest.Key != second.Key || latest.Counts != second.Counts || latest.Region != primaryRegion || latest.Plan != "ticketing" ||
		latest.Instances[0].Tags["Name"] != "web-1" || *latest.Subnets[0].SubnetId != "subnet-a" || latest.Records[0].Name != "r0.example.com." {
		t.Errorf("latest %+v", latest)
	}
	old, err := LoadInventory(ctx, s3c, "dr-inventory", "ticketing", "2026-01-01T00:00:00Z")
	if err != nil || old.Counts != first.Counts {
		t.Fatalf("load version: %v %+v", err, old)
	}
	local, err := (&InventoryStore{Plan: "ticketing", Dir: fx.dir}).Load(ctx, "")
	if err != nil || local.Key != second.Key || local.Counts != second.Counts {
		t.Fatalf("local load: %v %+v", err, local)
	}
	// Loading touches only the recovery bucket: no call reached the primary.
	calls := len(fx.cloud.calls)
	if _, err := LoadInventory(ctx, s3c, "dr-inventory", "ticketing", ""); err != nil || len(fx.cloud.calls) != calls {
		t.Errorf("load called the primary region: %v", err)
	}
}

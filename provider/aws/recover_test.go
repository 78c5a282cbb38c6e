package aws

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/pilotlight/pilotlight/capacity"
	"github.com/pilotlight/pilotlight/plan"
	"github.com/pilotlight/pilotlight/runbook"
)

const testRegion = "us-east-1"

func loadTestPlan(t *testing.T) *plan.Plan {
	t.Helper()
	p, err := plan.Load("testdata/recover-aws.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func newTestRecovery(t *testing.T, f *fakeCloud, p *plan.Plan) *Recovery {
	return &Recovery{Plan: p, Regions: map[string]RegionClients{testRegion: f.clients()}, Clock: newStepClock(),
		Poll: time.Millisecond, DescribeTTL: time.Second}
}

func tagsOf(in *ec2.RunInstancesInput) map[string]string {
	m := map[string]string{}
	for _, t := range in.TagSpecifications[0].Tags {
		m[*t.Key] = *t.Value
	}
	return m
}

func TestScaleLaunchesInBatchesPerSubnetOnce(t *testing.T) {
	f := newFakeCloud(t)
	r := newTestRecovery(t, f, loadTestPlan(t))
	r.MaxLaunch = 2
	ctx := context.Background()
	const key = "0123456789abcdef0123456789abcdef"
	if err := r.Scale(ctx, testRegion, "web", "m5.xlarge", 5, key); err != nil {
		t.Fatal(err)
	}
	runs := callsOf[*ec2.RunInstancesInput](f, "RunInstances")
	type batch struct {
		subnet string
		n      int32
	}
	var got []batch
	tokens := map[string]bool{}
	for _, in := range runs {
		got = append(got, batch{*in.SubnetId, *in.MinCount})
		if *in.MinCount != *in.MaxCount {
			t.Errorf("MinCount %d MaxCount %d", *in.MinCount, *in.MaxCount)
		}
		if in.InstanceType != "m5.xlarge" || *in.LaunchTemplate.LaunchTemplateName != "web" {
			t.Errorf("type %s template %s", in.InstanceType, *in.LaunchTemplate.LaunchTemplateName)
		}
		tags := tagsOf(in)
		if tags[TagPlan] != "ticketing" || tags[TagService] != "web" || tags[TagStepKey] != key {
			t.Errorf("tags %v", tags)
		}
		if tokens[*in.ClientToken] || len(*in.ClientToken) > 64 {
			t.Errorf("client token %q reused or too long", *in.ClientToken)
		}
		tokens[*in.ClientToken] = true
	}
	want := []batch{{"subnet-a", 2}, {"subnet-a", 1}, {"subnet-b", 2}}
	if !slices.Equal(got, want) {
		t.Fatalf("RunInstances batches %v, want %v", got, want)
	}
	if n := len(f.live("web")); n != 5 {
		t.Fatalf("%d instances, want 5", n)
	}
	// The load balancer, target group and listener exist; every instance
	// is registered.
	if f.count("CreateLoadBalancer") != 1 || f.count("CreateTargetGroup") != 1 || f.count("CreateListener") != 1 {
		t.Fatalf("calls %v", f.calls)
	}
	tg := callsOf[*elbv2.CreateTargetGroupInput](f, "CreateTargetGroup")[0]
	if *tg.HealthCheckPath != "/healthz" || *tg.HealthCheckIntervalSeconds != 10 || *tg.VpcId != "vpc-1" || *tg.Port != 80 {
		t.Errorf("target group %+v", tg)
	}
	if got := f.targets["arn:tg/ticketing-web"]; len(got) != 5 {
		t.Fatalf("registered %v", got)
	}

	// The same step again (a retry, or a resume after a crash) with none
	// of its instances visible yet launches nothing new: same tokens.
	f.mu.Lock()
	for _, in := range f.instances {
		in.hidden = 1
	}
	f.mu.Unlock()
	if err := r.Scale(ctx, testRegion, "web", "m5.xlarge", 5, key); err != nil {
		t.Fatal(err)
	}
	again := callsOf[*ec2.RunInstancesInput](f, "RunInstances")[len(runs):]
	for i, in := range again {
		if *in.ClientToken != *runs[i].ClientToken {
			t.Errorf("token %d changed: %s != %s", i, *in.ClientToken, *runs[i].ClientToken)
		}
	}
	if n := len(f.live("web")); n != 5 {
		t.Fatalf("after the retry: %d instances, want 5", n)
	}
	// Once visible, the step's own instances are not counted as existing:
	// a third call launches nothing and sends the same tokens again.
	if err := r.Scale(ctx, testRegion, "web", "m5.xlarge", 5, key); err != nil {
		t.Fatal(err)
	}
	if n := len(f.live("web")); n != 5 || f.count("CreateLoadBalancer") != 1 {
		t.Fatalf("after the third call: %d instances, %d load balancers", n, f.count("CreateLoadBalancer"))
	}
}

func TestScaleStartsPilotLightFirst(t *testing.T) {
	f := newFakeCloud(t)
	p := loadTestPlan(t)
	r := newTestRecovery(t, f, p)
	tags := map[string]string{TagPlan: "ticketing", TagService: "api"}
	var stopped []string
	for _, s := range []string{"subnet-a", "subnet-b", "subnet-a"} {
		stopped = append(stopped, f.addInstance("c6i.large", "stopped", s, tags))
	}
	f.addInstance("m5.large", "stopped", "subnet-a", tags) // another type: not started
	if err := r.Scale(context.Background(), testRegion, "api", "c6i.large", 2, "key-api"); err != nil {
		t.Fatal(err)
	}
	starts := callsOf[*ec2.StartInstancesInput](f, "StartInstances")
	if len(starts) != 1 || !slices.Equal(starts[0].InstanceIds, stopped[:2]) {
		t.Fatalf("StartInstances %v, want %v", starts, stopped[:2])
	}
	if n := f.count("RunInstances"); n != 0 {
		t.Fatalf("%d RunInstances: the pilot light has enough", n)
	}
	// Four wanted: the third stopped one starts and one more is launched.
	if err := r.Scale(context.Background(), testRegion, "api", "c6i.large", 4, "key-api"); err != nil {
		t.Fatal(err)
	}
	runs := callsOf[*ec2.RunInstancesInput](f, "RunInstances")
	if len(runs) != 1 || *runs[0].MaxCount != 1 {
		t.Fatalf("RunInstances %+v", runs)
	}
	if n := len(f.live("api")); n != 4 {
		t.Fatalf("%d live, want 4", n)
	}
	// Scale back to 1: the launched one is terminated, two of the pilot
	// light's own are stopped again.
	if err := r.Scale(context.Background(), testRegion, "api", "", 1, "key-standby"); err != nil {
		t.Fatal(err)
	}
	if f.count("TerminateInstances") != 1 || f.count("StopInstances") != 1 || len(f.live("api")) != 1 {
		t.Fatalf("scale down: terminate %d stop %d live %v", f.count("TerminateInstances"), f.count("StopInstances"), f.live("api"))
	}
	term := callsOf[*ec2.TerminateInstancesInput](f, "TerminateInstances")[0]
	if len(term.InstanceIds) != 1 || f.instances[term.InstanceIds[0]].Tags[TagStepKey] != "key-api" {
		t.Fatalf("terminated %v", term.InstanceIds)
	}
}

func TestScaleErrorsAreClassed(t *testing.T) {
	tests := []struct {
		name      string
		setup     func(f *fakeCloud)
		wantClass runbook.Class
		wantText  string
	}{
		{"no capacity", func(f *fakeCloud) { f.noCapacity["m6i.xlarge"] = true }, runbook.ClassCapacity,
			"capacity: insufficient capacity for m6i.xlarge in subnet-a"},
		{"throttled", func(f *fakeCloud) { f.failNext("RunInstances", "RequestLimitExceeded") }, runbook.ClassThrottled,
			"aws: ec2 run instances web 2 × m6i.xlarge: operation error EC2: RunInstances, api error RequestLimitExceeded"},
		{"describe throttled", func(f *fakeCloud) { f.failNext("DescribeInstances", "RequestLimitExceeded") }, runbook.ClassThrottled,
			"RequestLimitExceeded"},
		{"access denied", func(f *fakeCloud) { f.failNext("RunInstances", "UnauthorizedOperation") }, runbook.ClassFatal,
			"UnauthorizedOperation"},
		{"new instance unknown to ELB", func(f *fakeCloud) { f.elbLag = true }, runbook.ClassTransient,
			"aws: elbv2 register targets arn:tg/ticketing-web: operation error Elastic Load Balancing v2: RegisterTargets, api error InvalidTarget"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeCloud(t)
			tt.setup(f)
			r := newTestRecovery(t, f, loadTestPlan(t))
			err := r.Scale(context.Background(), testRegion, "web", "m6i.xlarge", 4, "k")
			if runbook.Classify(err) != tt.wantClass || err == nil || !strings.Contains(err.Error(), tt.wantText) {
				t.Fatalf("err %v (class %v), want class %v with %q", err, runbook.Classify(err), tt.wantClass, tt.wantText)
			}
			if tt.wantClass == runbook.ClassCapacity {
				var ice *capacity.InsufficientCapacityError
				if !errors.As(err, &ice) || ice.Type != "m6i.xlarge" {
					t.Fatalf("err %v: no InsufficientCapacityError", err)
				}
			}
		})
	}
}

// scaleStep is the recovery package's scale step for one service: the
// engine falls back through the chooser on a capacity error.
func scaleStep(t *testing.T, r *Recovery, svc string, types []string, count int) (runbook.Step, *capacity.Chooser) {
	ch, err := capacity.NewChooser(types, count)
	if err != nil {
		t.Fatal(err)
	}
	return runbook.Step{ID: "scale-" + svc, Mutating: true, API: "compute", Fallback: ch.Fallback(),
		Run: func(ctx context.Context, sc *runbook.StepContext) (runbook.Output, error) {
			c := ch.Current()
			return runbook.Output{"type": c.Type, "count": fmt.Sprint(c.Count)}, r.Scale(ctx, testRegion, svc, c.Type, c.Count, sc.Key())
		}}, ch
}

func TestEngineFallsBackAndRetriesThroughScale(t *testing.T) {
	f := newFakeCloud(t)
	f.noCapacity["m6i.xlarge"] = true
	f.noCapacity["m5.xlarge"] = true
	f.failNext("RunInstances", "RequestLimitExceeded")
	f.elbLag = true
	r := newTestRecovery(t, f, loadTestPlan(t))
	step, ch := scaleStep(t, r, "web", []string{"m6i.xlarge", "m5.xlarge", "m6i.2xlarge"}, 4)
	clk := newStepClock()
	e, err := runbook.New(runbook.Options{Clock: clk, Backoff: runbook.Backoff{Initial: time.Millisecond, Max: 2 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Run(context.Background(), runbook.Runbook{Name: "rb", Steps: []runbook.Step{step}}, "run-1")
	if err != nil {
		t.Fatal(err)
	}
	if out := res.Steps[0].Output; out["type"] != "m6i.2xlarge" || out["count"] != "2" {
		t.Fatalf("output %v", out)
	}
	if tried := ch.Tried(); len(tried) != 2 {
		t.Fatalf("tried %v", tried)
	}
	// Calls: m6i.xlarge throttled, then short; m5.xlarge short; m6i.2xlarge
	// launched (one per subnet), then launched again with the same tokens
	// after ELB did not know the new instances yet.
	var types []string
	for _, in := range callsOf[*ec2.RunInstancesInput](f, "RunInstances") {
		types = append(types, fmt.Sprintf("%s/%d", in.InstanceType, *in.MaxCount))
	}
	want := []string{"m6i.xlarge/2", "m6i.xlarge/2", "m5.xlarge/2", "m6i.2xlarge/1", "m6i.2xlarge/1", "m6i.2xlarge/1", "m6i.2xlarge/1"}
	if !slices.Equal(types, want) {
		t.Fatalf("RunInstances %v, want %v", types, want)
	}
	if live := f.live("web"); len(live) != 2 {
		t.Fatalf("live %v: want 2 × m6i.2xlarge and no duplicates", live)
	}
}

func TestWarmStandbyScalesTheGroup(t *testing.T) {
	tests := []struct {
		name     string
		typ      string
		count    int
		maxSize  int32
		wantOp   string
		wantType string
	}{
		{"same type within max", "m6i.xlarge", 4, 10, "SetDesiredCapacity", "m6i.xlarge"},
		{"same type beyond max", "m6i.xlarge", 12, 10, "UpdateAutoScalingGroup", "m6i.xlarge"},
		{"fallback type", "m5.xlarge", 4, 10, "UpdateAutoScalingGroup", "m5.xlarge"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeCloud(t)
			p := loadTestPlan(t)
			p.Strategy = plan.WarmStandby
			f.addGroup("ticketing", "web", 1, tt.maxSize)
			r := newTestRecovery(t, f, p)
			if err := r.Scale(context.Background(), testRegion, "web", tt.typ, tt.count, "k"); err != nil {
				t.Fatal(err)
			}
			if f.count(tt.wantOp) != 1 || f.count("RunInstances") != 0 {
				t.Fatalf("calls %v", f.calls)
			}
			if tt.wantOp == "UpdateAutoScalingGroup" {
				in := callsOf[*autoscaling.UpdateAutoScalingGroupInput](f, tt.wantOp)[0]
				if *in.DesiredCapacity != int32(tt.count) || *in.MaxSize < int32(tt.count) {
					t.Fatalf("update %+v", in)
				}
				if tt.typ != "m6i.xlarge" && *in.MixedInstancesPolicy.LaunchTemplate.Overrides[0].InstanceType != tt.typ {
					t.Fatalf("override %+v", in.MixedInstancesPolicy)
				}
			}
			if f.count("AttachLoadBalancerTargetGroups") != 1 {
				t.Fatalf("target group not attached: %v", f.calls)
			}
			st, err := r.Service(context.Background(), testRegion, "web")
			if err != nil {
				t.Fatal(err)
			}
			if st.Running != tt.count || st.Healthy != tt.count || st.InstanceType != tt.wantType || st.LoadBalancer == "" {
				t.Fatalf("state %+v", st)
			}
		})
	}
}

func TestServiceCoalescesDescribes(t *testing.T) {
	f := newFakeCloud(t)
	r := newTestRecovery(t, f, loadTestPlan(t))
	ctx := context.Background()
	if err := r.Scale(ctx, testRegion, "web", "m6i.xlarge", 4, "k1"); err != nil {
		t.Fatal(err)
	}
	if err := r.Scale(ctx, testRegion, "api", "c6i.large", 2, "k2"); err != nil {
		t.Fatal(err)
	}
	before := f.count("DescribeInstances")
	errs := make(chan error, 20)
	for i := range 20 {
		go func() {
			st, err := r.Service(ctx, testRegion, []string{"web", "api"}[i%2])
			if err == nil && st.Desired == 0 {
				err = fmt.Errorf("state %+v", st)
			}
			errs <- err
		}()
	}
	for range 20 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if n := f.count("DescribeInstances") - before; n > 2 {
		t.Fatalf("%d DescribeInstances for 20 concurrent polls of 2 services", n)
	}
	<-r.Clock.After(2 * time.Second) // past the describe TTL: pending instances seen running
	st, err := r.Service(ctx, testRegion, "web")
	if err != nil || st.Running != 4 || st.Healthy != 4 || st.InstanceType != "m6i.xlarge" {
		t.Fatalf("web %+v %v", st, err)
	}
	st, err = r.Service(ctx, testRegion, "api")
	if err != nil || st.Running != 2 || st.Healthy != 2 || st.LoadBalancer != "" {
		t.Fatalf("api %+v %v", st, err)
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		err         error
		want        runbook.Class
		afterCreate runbook.Class
	}{
		{apiErr("RequestLimitExceeded"), runbook.ClassThrottled, runbook.ClassThrottled},
		{apiErr("Throttling"), runbook.ClassThrottled, runbook.ClassThrottled},
		{apiErr("ThrottlingException"), runbook.ClassThrottled, runbook.ClassThrottled},
		{apiErr("TooManyRequestsException"), runbook.ClassThrottled, runbook.ClassThrottled},
		{apiErr("InsufficientInstanceCapacity"), runbook.ClassCapacity, runbook.ClassCapacity},
		{apiErr("InstanceLimitExceeded"), runbook.ClassCapacity, runbook.ClassCapacity},
		{apiErr("InsufficientCapacity"), runbook.ClassCapacity, runbook.ClassCapacity},
		{apiErr("InvalidInstanceID.NotFound"), runbook.ClassNotFound, runbook.ClassTransient},
		{apiErr("DBInstanceNotFound"), runbook.ClassNotFound, runbook.ClassTransient},
		{apiErr("TargetGroupNotFound"), runbook.ClassNotFound, runbook.ClassTransient},
		{apiErr("InternalError"), runbook.ClassTransient, runbook.ClassTransient},
		{apiErr("IncorrectInstanceState"), runbook.ClassTransient, runbook.ClassTransient},
		{apiErr("UnauthorizedOperation"), runbook.ClassFatal, runbook.ClassFatal},
		{apiErr("InvalidParameterValue"), runbook.ClassFatal, runbook.ClassFatal},
		{fmt.Errorf("aws: x: %w", apiErr("RequestLimitExceeded")), runbook.ClassThrottled, runbook.ClassThrottled},
		{&smithyhttp.RequestSendError{Err: errors.New("connection reset")}, runbook.ClassTransient, runbook.ClassTransient},
		{runbook.Capacity(errors.New("already classed")), runbook.ClassCapacity, runbook.ClassCapacity},
		{errors.New("plain"), runbook.ClassFatal, runbook.ClassFatal},
	}
	for _, tt := range tests {
		t.Run(tt.err.Error(), func(t *testing.T) {
			if got := runbook.Classify(classify(tt.err)); got != tt.want {
				t.Errorf("classify = %v, want %v", got, tt.want)
			}
			if got := runbook.Classify(classifyAfterCreate(tt.err)); got != tt.afterCreate {
				t.Errorf("classifyAfterCreate = %v, want %v", got, tt.afterCreate)
			}
			if !errors.Is(classify(tt.err), tt.err) {
				t.Errorf("classify lost the cause")
			}
		})
	}
	if classify(nil) != nil || classify(context.Canceled) != context.Canceled {
		t.Error("nil and context errors must pass through")
	}
}

func TestResourceNamesAndTokens(t *testing.T) {
	if got := resourceName("ticketing", "web"); got != "ticketing-web" {
		t.Errorf("short name %q", got)
	}
	long := resourceName("a-very-long-plan-name-indeed", "and-a-long-service")
	if len(long) != 32 || long == resourceName("a-very-long-plan-name-indeed", "and-a-long-servicf") {
		t.Errorf("long name %q", long)
	}
	a, b := token("k", "m5.large", "subnet-a", 0, 2), token("k", "m5.large", "subnet-a", 0, 3)
	if a == b || len(a) > 64 || a != token("k", "m5.large", "subnet-a", 0, 2) {
		t.Errorf("tokens %q %q", a, b)
	}

}

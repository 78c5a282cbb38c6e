package aws

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/pilotlight/pilotlight/runbook"
)

func TestDefaultLimitsAreAWSDocumented(t *testing.T) {
	want := map[string]runbook.Limit{
		LimitEC2Describe: {Burst: 100, Rate: 20}, LimitEC2DescribeUnfiltered: {Burst: 50, Rate: 10}, LimitEC2Mutate: {Burst: 50, Rate: 5},
		LimitRunInstances: {Burst: 1000, Rate: 2}, LimitStartInstances: {Burst: 1000, Rate: 2}, LimitTerminateInstances: {Burst: 1000, Rate: 20},
		LimitRoute53: {Burst: 5, Rate: 5}, LimitRoute53Account: {Burst: 50, Rate: 10}, LimitRDS: {Burst: 300, Rate: 12},
		LimitELBv2Describe: {Burst: 40, Rate: 10},
	}
	got := DefaultLimits()
	if len(got) != len(want) {
		t.Fatalf("%d limits, want %d", len(got), len(want))
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %+v, want %+v", k, got[k], w)
		}
	}
	got[LimitRDS] = runbook.Limit{Rate: 1, Burst: 1}
	if DefaultLimits()[LimitRDS].Burst != 300 {
		t.Error("DefaultLimits shares its map")
	}
}

func TestLimitsOverrides(t *testing.T) {
	tests := []struct {
		name string
		over map[string]runbook.Limit
		want string // error text; "" for none
	}{
		{"none", nil, ""},
		{"fractional rate", map[string]runbook.Limit{LimitRunInstances: {Rate: 0.5, Burst: 100}}, ""},
		{"unknown", map[string]runbook.Limit{"ec2:RunInstance": {Rate: 1, Burst: 1}}, "ec2:RunInstance: unknown bucket"},
		{"zero rate", map[string]runbook.Limit{LimitRDS: {Burst: 3}}, "rds: rate 0 must be > 0"},
		{"zero burst", map[string]runbook.Limit{LimitRDS: {Rate: 3}}, "rds: burst 0 must be >= 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Limits(tt.over)
			if tt.want != "" {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("err %v, want %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for k, l := range tt.over {
				if got[k] != l {
					t.Errorf("%s = %+v", k, got[k])
				}
			}
			if got[LimitEC2Mutate] != DefaultLimits()[LimitEC2Mutate] {
				t.Error("an override changed another bucket")
			}
		})
	}
}

// TestBucketsBurstThenRate takes a burst at once, then waits 1/rate per
// token on the clock.
func TestBucketsBurstThenRate(t *testing.T) {
	clk := newStepClock()
	b := NewBuckets(map[string]runbook.Limit{"x": {Rate: 0.5, Burst: 3}}, clk)
	start := clk.Now()
	ctx := context.Background()
	for range 3 {
		if err := b.Wait(ctx, "x", 1); err != nil {
			t.Fatal(err)
		}
	}
	if d := clk.Now().Sub(start); d != 0 {
		t.Fatalf("burst waited %s", d)
	}
	if err := b.Wait(ctx, "x", 2); err != nil {
		t.Fatal(err)
	}
	if d := clk.Now().Sub(start); d < 4*time.Second-time.Millisecond || d > 4*time.Second+time.Millisecond {
		t.Fatalf("2 tokens at 0.5/s waited %s, want 4s", d)
	}
	if err := b.Wait(ctx, "x", 4); err == nil {
		t.Fatal("4 tokens from a burst of 3")
	}
	if b.Waited()["x"] != 1 || b.Burst("x") != 3 || b.Burst("y") != 0 || b.Wait(ctx, "y", 1000) != nil {
		t.Fatalf("waited %v", b.Waited())
	}
}

func TestBucketsOfCalls(t *testing.T) {
	tests := []struct {
		service, op string
		params      any
		want        string
	}{
		{ec2.ServiceID, "DescribeInstances", &ec2.DescribeInstancesInput{}, LimitEC2DescribeUnfiltered},
		{ec2.ServiceID, "DescribeInstances", &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{{}}}, LimitEC2Describe},
		{ec2.ServiceID, "DescribeVolumes", &ec2.DescribeVolumesInput{}, LimitEC2Describe},
		{ec2.ServiceID, "RunInstances", &ec2.RunInstancesInput{}, LimitEC2Mutate},
		{"Route 53", "ChangeResourceRecordSets", nil, LimitRoute53 + "," + LimitRoute53Account},
		{"RDS", "RestoreDBInstanceFromDBSnapshot", nil, LimitRDS},
		{"Elastic Load Balancing v2", "DescribeTargetHealth", nil, LimitELBv2Describe},
		{"Elastic Load Balancing v2", "RegisterTargets", nil, ""},
		{"Auto Scaling", "SetDesiredCapacity", nil, ""},
	}
	for _, tt := range tests {
		if got := strings.Join(bucketsOf(tt.service, tt.op, tt.params), ","); got != tt.want {
			t.Errorf("%s %s = %q, want %q", tt.service, tt.op, got, tt.want)
		}
	}
}

// TestBucketsMiddlewarePacesCalls checks that the SDK option makes real
// client calls wait: the mutating bucket of 2 then 1 per second spaces the
// third and fourth calls a second apart.
func TestBucketsMiddlewarePacesCalls(t *testing.T) {
	f := newFakeCloud(t)
	clk := newStepClock()
	b := NewBuckets(map[string]runbook.Limit{LimitEC2Mutate: {Rate: 1, Burst: 2}}, clk)
	api := ec2.New(ec2.Options{Region: testRegion, Credentials: testCreds, APIOptions: []func(*middleware.Stack) error{b.APIOption(), f.stack}})
	start := clk.Now()
	for range 4 {
		if _, err := api.StopInstances(context.Background(), &ec2.StopInstancesInput{InstanceIds: []string{f.addInstance("m5.large", "running", "subnet-a", nil)}}); err != nil {
			t.Fatal(err)
		}
	}
	if d := clk.Now().Sub(start); d != 2*time.Second {
		t.Fatalf("4 calls waited %s, want 2s", d)
	}
	if f.count("StopInstances") != 4 {
		t.Fatalf("calls %v", f.calls)
	}
}

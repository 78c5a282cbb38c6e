package sim

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pilotlight/pilotlight/plan"
	awsp "github.com/pilotlight/pilotlight/provider/aws"
	"github.com/pilotlight/pilotlight/recovery"
)

// simulateOn runs Simulate on a cloud the test keeps, to inspect it after.
func simulateOn(t *testing.T, p *plan.Plan, o SimulateOptions) (*Report, *Cloud) {
	t.Helper()
	clock := NewClock(ClockOptions{})
	t.Cleanup(clock.Stop)
	cloud, err := NewCloud(CloudOptions{Plan: AsSim(p), Clock: clock, Seed: o.Seed, DrillID: o.DrillID, Throttle: o.Throttle})
	if err != nil {
		t.Fatal(err)
	}
	o.Cloud = cloud
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rep, err := Simulate(ctx, p, o)
	if err != nil {
		t.Fatalf("simulate: %v", err)
	}
	return rep, cloud
}

// TestFailoverUnderAPIThrottle: with 30% of the API calls refused by the
// api-throttle fault, the failover completes, every service runs its
// count exactly (no duplicate launches) and the injected throttles are
// counted apart from the buckets'.
func TestFailoverUnderAPIThrottle(t *testing.T) {
	p := genPlan(t, GenerateOptions{Instances: 120, Services: 6, LoadBalancers: 4, Records: 40, Databases: 2})
	base, _ := simulateOn(t, p, SimulateOptions{Seed: 3})
	rep, cloud := simulateOn(t, p, SimulateOptions{Seed: 3, Throttle: APIThrottle{Share: 0.3, Seed: 1}})
	if rep.InjectedThrottles == 0 || base.InjectedThrottles != 0 {
		t.Fatalf("injected %d (baseline %d)", rep.InjectedThrottles, base.InjectedThrottles)
	}
	inv := cloud.Inventory(p.Regions.Recovery.Name)
	for _, s := range p.Services {
		if inv.Instances[s.Name] != s.Compute.Count {
			t.Errorf("%s runs %d, want %d", s.Name, inv.Instances[s.Name], s.Compute.Count)
		}
	}
	t.Logf("30%% api-throttle: %d injected of %d calls, RTO %.0fs (no fault: %.0fs, %d calls)",
		rep.InjectedThrottles, rep.TotalCalls, rep.RTO, base.RTO, base.TotalCalls)
}

// TestIsolatedDrillUnderAPIThrottle: an isolated drill on the simulated
// cloud under 30% throttling completes with smoke checks and no DNS
// change, creates its own load balancers beside production's, launches
// each service's count once, and its teardown removes exactly what it
// made.
func TestIsolatedDrillUnderAPIThrottle(t *testing.T) {
	p := genPlan(t, GenerateOptions{Instances: 120, Services: 6, LoadBalancers: 4, Records: 40, Databases: 2})
	rep, cloud := simulateOn(t, p, SimulateOptions{Seed: 3, DrillID: "drill-sim-1", Mode: recovery.Ungraceful,
		Throttle: APIThrottle{Share: 0.3, Seed: 1}})
	if rep.InjectedThrottles == 0 {
		t.Fatal("no injected throttles")
	}
	smoke := 0
	for _, s := range rep.Result.Steps {
		switch kind, _, _ := strings.Cut(s.ID, "-"); kind {
		case "dns", "fence", "sync", "promote", "verify":
			t.Errorf("isolated drill ran %s", s.ID)
		case "smoke":
			smoke++
		}
	}
	for _, a := range rep.Calls {
		if strings.HasPrefix(a.Action, "route53:") {
			t.Errorf("isolated drill called %s %d times", a.Action, a.Calls)
		}
	}
	want, lbs := 0, 0
	for _, s := range p.Services {
		want += s.Compute.Count
		if s.LoadBalancer != nil {
			lbs++
		}
	}
	if smoke != lbs {
		t.Errorf("%d smoke steps, want %d", smoke, lbs)
	}
	n := map[string]int{}
	for _, r := range rep.Removed {
		kind, _, _ := strings.Cut(r, "/")
		n[kind]++
	}
	if n[awsp.KindInstance] != want || n[awsp.KindLoadBalancer] != lbs || n[awsp.KindTargetGroup] != lbs || n[awsp.KindDBRestore] != len(p.Data.Databases) {
		t.Errorf("removed %v, want %d instances, %d load balancers and target groups, %d databases", n, want, lbs, len(p.Data.Databases))
	}
	inv := cloud.Inventory(p.Regions.Recovery.Name)
	for _, s := range p.Services {
		if inv.Instances[s.Name] != 0 {
			t.Errorf("%s still runs %d after teardown", s.Name, inv.Instances[s.Name])
		}
		if s.LoadBalancer != nil && inv.LoadBalancers[s.Name] != 1 {
			t.Errorf("%s has %d load balancers after teardown, want production's 1", s.Name, inv.LoadBalancers[s.Name])
		}
	}
	t.Logf("isolated drill under 30%% api-throttle: RTO %.0fs (virtual), %d injected of %d calls, removed %d", rep.RTO, rep.InjectedThrottles, rep.TotalCalls, len(rep.Removed))
}

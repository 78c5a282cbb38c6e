package sim

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pilotlight/pilotlight/capacity"
	"github.com/pilotlight/pilotlight/plan"
	"github.com/pilotlight/pilotlight/recovery"
	"github.com/pilotlight/pilotlight/runbook"
)

func genPlan(t *testing.T, o GenerateOptions) *plan.Plan {
	t.Helper()
	b, err := Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Parse("gen.yaml", b)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func simulate(t *testing.T, p *plan.Plan, o SimulateOptions) *Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := Simulate(ctx, p, o)
	if err != nil {
		t.Fatalf("simulate: %v", err)
	}
	return rep
}

func TestSimulateDeterministic(t *testing.T) {
	p := genPlan(t, GenerateOptions{Instances: 300, Services: 12, LoadBalancers: 10, Records: 600, Databases: 6})
	short := []Shortage{{Type: "m6i.xlarge", Zone: "tokyob"}}
	a := simulate(t, p, SimulateOptions{Seed: 7, Shortages: short})
	b := simulate(t, p, SimulateOptions{Seed: 7, Shortages: short})
	c := simulate(t, p, SimulateOptions{Seed: 8, Shortages: short})
	if a.RTO != b.RTO || a.TotalCalls != b.TotalCalls || a.Bound.Seconds != b.Bound.Seconds {
		t.Fatalf("same seed, different runs: RTO %v / %v, calls %d / %d", a.RTO, b.RTO, a.TotalCalls, b.TotalCalls)
	}
	for i := range a.Steps {
		if a.Steps[i] != b.Steps[i] {
			t.Fatalf("same seed, step %+v / %+v", a.Steps[i], b.Steps[i])
		}
	}
	if a.RTO == c.RTO && a.Bound.Seconds == c.Bound.Seconds {
		t.Errorf("seeds 7 and 8 gave the same RTO %v: the seed draws nothing", a.RTO)
	}
	if a.Clock.Stalls != 0 {
		t.Errorf("clock stalled %d times: a participant is not counted", a.Clock.Stalls)
	}
	// A zone shortage moves shares to the other zones: no type fallback.
	if len(a.Fallbacks) != 0 {
		t.Errorf("fallbacks %+v for a one-zone shortage", a.Fallbacks)
	}
	if a.RTO < a.Bound.Seconds || a.TotalCalls < a.Bound.MinCalls {
		t.Errorf("beat the bound: %v s < %v s or %d calls < %d", a.RTO, a.Bound.Seconds, a.TotalCalls, a.Bound.MinCalls)
	}
}

func TestSimulateFallbackRecomputesCount(t *testing.T) {
	p := genPlan(t, GenerateOptions{Instances: 60, Services: 3, LoadBalancers: 3, Records: 3, Databases: 1})
	// svc-001 and svc-002 prefer m6i.xlarge, m5.xlarge, m6i.2xlarge;
	// svc-003 c6i.xlarge. With the first two short, the count halves.
	short := []Shortage{{Type: "m6i.xlarge"}, {Type: "m5.xlarge"}}
	rep := simulate(t, p, SimulateOptions{Seed: 1, Shortages: short})
	if len(rep.Fallbacks) != 2 {
		t.Fatalf("fallbacks %+v, want svc-001 and svc-002", rep.Fallbacks)
	}
	for _, f := range rep.Fallbacks {
		if f.Type != "m6i.2xlarge" || f.Count != 10 || f.Steps != 2 || f.From != "m6i.xlarge" {
			t.Errorf("fallback %+v, want 10 × m6i.2xlarge after 2 fallbacks", f)
		}
	}
	var run capacity.Choice
	for _, a := range rep.Calls {
		if a.Action == ActRunInstances {
			run.Count = a.Failed
		}
	}
	// Two types short in three zones each: six failed calls, once each.
	if run.Count != 6 {
		t.Errorf("failed RunInstances = %d, want 6 (each short type and zone learnt once)", run.Count)
	}
	if rep.TotalCalls != rep.Bound.MinCalls {
		t.Errorf("calls %d, minimum %d", rep.TotalCalls, rep.Bound.MinCalls)
	}
}

// TestCrashAndResume crashes a 500-instance failover after the first
// scale steps are done and resumes it from the journal on the same cloud
// with a new provider: nothing is created twice.
func TestCrashAndResume(t *testing.T) {
	p := AsSim(genPlan(t, GenerateOptions{Instances: 500, Services: 15, LoadBalancers: 15, Records: 1200, Databases: 3}))
	p.Strategy = plan.BackupRestore // the load balancers are created by the run
	clock := NewClock(ClockOptions{})
	defer clock.Stop()
	cloud, err := NewCloud(CloudOptions{Plan: p, Clock: clock, Seed: 3, Shortages: []Shortage{{Type: "m6i.xlarge"}}})
	if err != nil {
		t.Fatal(err)
	}
	journal := filepath.Join(t.TempDir(), "journal")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	crashCtx, crash := context.WithCancel(ctx)
	scaled := 0
	_, err = Simulate(crashCtx, p, SimulateOptions{Cloud: cloud, Journal: journal, RunID: "r1", Observer: func(ev runbook.Event) {
		if ev.Kind == runbook.EventDone && strings.HasPrefix(ev.Step, "scale-") {
			if scaled++; scaled == 3 {
				crash()
			}
		}
	}})
	if err == nil {
		t.Fatal("the crashed run succeeded")
	}
	before := cloud.Inventory(p.Regions.Recovery.Name)
	if len(before.Instances) == 0 || len(before.Instances) == len(p.Services) {
		t.Fatalf("crash after %d services scaled, want some but not all: %v", len(before.Instances), before.Instances)
	}
	rep, err := Simulate(ctx, p, SimulateOptions{Cloud: cloud, Journal: journal, RunID: "r1"})
	if err != nil {
		t.Fatalf("resume: %v", err)
	}
	resumed := 0
	for _, s := range rep.Result.Steps {
		if s.State == runbook.StateResumed {
			resumed++
		}
	}
	if resumed < 3 {
		t.Errorf("%d steps resumed from the journal, want at least 3", resumed)
	}
	inv := cloud.Inventory(p.Regions.Recovery.Name)
	total := 0
	for _, s := range p.Services {
		want := s.Compute.Count
		if got := inv.Instances[s.Name]; got != want {
			t.Errorf("%s: %d instances, want %d (types %v)", s.Name, got, want, inv.Types)
		}
		total += inv.Instances[s.Name]
		if s.LoadBalancer != nil && inv.LoadBalancers[s.Name] != 1 {
			t.Errorf("%s: %d load balancers", s.Name, inv.LoadBalancers[s.Name])
		}
	}
	if total != 500 {
		t.Errorf("%d instances, want 500", total)
	}
	for _, r := range p.Routing.Records {
		if inv.Records[r.Name] != recovery.RoleRecovery || inv.Upserts[r.Name] > 1 {
			t.Fatalf("record %s: role %q after %d upserts", r.Name, inv.Records[r.Name], inv.Upserts[r.Name])
		}
	}
	if len(inv.Databases) != 3 {
		t.Errorf("databases %v", inv.Databases)
	}
}

func TestGenerate(t *testing.T) {
	p := genPlan(t, GenerateOptions{Instances: 100, Services: 9, LoadBalancers: 6, Records: 20, Databases: 4, Popular: "c6i.large"})
	n, tiers := 0, map[int]int{}
	for _, s := range p.Services {
		n += s.Compute.Count
		tiers[s.Tier]++
		if s.Tier > 1 && len(s.DependsOn) != 1 {
			t.Errorf("%s: dependsOn %v", s.Name, s.DependsOn)
		}
	}
	if n != 100 || len(p.Services) != 9 || tiers[1] != 3 || tiers[2] != 3 || tiers[3] != 3 {
		t.Errorf("%d instances over %d services, tiers %v", n, len(p.Services), tiers)
	}
	if got := p.Services[0].Compute.AWS.InstanceTypes; len(got) != 3 || got[0] != "c6i.large" {
		t.Errorf("types %v", got)
	}
	if len(p.Routing.Records) != 20 || len(p.Data.Databases) != 4 || p.Regions.Recovery.Provider != plan.ProviderSim {
		t.Errorf("records %d, databases %d, provider %s", len(p.Routing.Records), len(p.Data.Databases), p.Regions.Recovery.Provider)
	}
	for _, tt := range []struct {
		o    GenerateOptions
		want string
	}{
		{GenerateOptions{Instances: 5, Services: 10}, "at least one per service"},
		{GenerateOptions{Instances: 10, Services: 2, LoadBalancers: 3}, "--lbs 3"},
		{GenerateOptions{Instances: 10, Services: 2, Records: 3}, "--lbs must be > 0"},
		{GenerateOptions{Instances: 10, Services: 2, Popular: "x9.huge"}, "unknown instance type"},
	} {
		if _, err := Generate(tt.o); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Generate(%+v) = %v, want %q", tt.o, err, tt.want)
		}
	}
}

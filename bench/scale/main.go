// Command scale benchmarks a recovery at the largest reference team's
// scale on the simulated cloud: it generates a plan (2,000 instances, 100
// services in 3 tiers, 100 load balancers, 4,000 records, 50 databases,
// the popular instance type short of capacity), runs pilotlight's
// failover runbook on it in virtual time, and a naive baseline (one call
// per resource, in sequence, no cache, no batching) on the same
// simulator, and prints both next to the bounds and the goals.
//
//	go run ./bench/scale
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/pilotlight/pilotlight/bench/internal/benchkit"
	"github.com/pilotlight/pilotlight/plan"
	"github.com/pilotlight/pilotlight/provider/sim"
)

func main() {
	var g sim.GenerateOptions
	flag.IntVar(&g.Instances, "instances", 2000, "instances")
	flag.IntVar(&g.Services, "services", 100, "services (3 tiers)")
	flag.IntVar(&g.LoadBalancers, "lbs", 100, "load balancers")
	flag.IntVar(&g.Records, "records", 4000, "failover records")
	flag.IntVar(&g.Databases, "databases", 50, "databases")
	flag.StringVar(&g.Popular, "short", "m6i.xlarge", "popular instance type, declared out of capacity")
	seed := flag.Int64("seed", 1, "seed of the drawn durations")
	share := flag.Float64("throttle", 0.3, "share of the calls refused by the api-throttle fault in the third run")
	out := flag.String("out", "", "also write the figures as JSON to this file")
	flag.Parse()
	if err := run(g, *seed, *share, *out); err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(1)
	}
}

// figures are the benchmark's results.
type figures struct {
	Plan       sim.GenerateOptions `json:"plan"`
	Pilotlight outcome             `json:"pilotlight"`
	Naive      outcome             `json:"naive"`
	// Throttled is pilotlight under the api-throttle fault (Share of the
	// calls refused on top of the token buckets).
	Throttled outcome `json:"throttled"`
	Share     float64 `json:"throttleShare"`
	MinCalls  int     `json:"minCalls"`
	BoundSec  float64 `json:"boundSeconds"`
	Fallbacks int     `json:"fallbacks"`
}

func run(g sim.GenerateOptions, seed int64, share float64, out string) error {
	b, err := sim.Generate(g)
	if err != nil {
		return err
	}
	p, err := plan.Parse("synthetic.yaml", b)
	if err != nil {
		return err
	}
	shorts := []sim.Shortage{{Type: g.Popular}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rep, err := sim.Simulate(ctx, p, sim.SimulateOptions{Seed: seed, Shortages: shorts})
	if err != nil {
		return fmt.Errorf("pilotlight: %w", err)
	}
	th, err := sim.Simulate(ctx, p, sim.SimulateOptions{Seed: seed, Shortages: shorts, Throttle: sim.APIThrottle{Share: share, Seed: seed}})
	if err != nil {
		return fmt.Errorf("pilotlight under %.0f%% api-throttle: %w", share*100, err)
	}
	nv, err := naive(ctx, p, seed, shorts)
	if err != nil {
		return fmt.Errorf("naive: %w", err)
	}
	f := figures{Plan: g, MinCalls: rep.Bound.MinCalls, BoundSec: rep.Bound.Seconds, Fallbacks: len(rep.Fallbacks), Naive: nv,
		Pilotlight: outcome{Seconds: rep.RTO, Calls: rep.TotalCalls, Throttles: rep.Throttles, Wall: rep.WallSeconds},
		Throttled:  outcome{Seconds: th.RTO, Calls: th.TotalCalls, Throttles: th.Throttles + th.InjectedThrottles, Wall: th.WallSeconds}, Share: share}
	fmt.Print(f.text())
	if out != "" {
		b, _ := json.MarshalIndent(f, "", "  ")
		return os.WriteFile(out, b, 0o644)
	}
	return nil
}

func (f figures) text() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "plan: %d instances, %d services in 3 tiers, %d load balancers, %d records, %d databases; %s short of capacity\n",
		f.Plan.Instances, f.Plan.Services, f.Plan.LoadBalancers, f.Plan.Records, f.Plan.Databases, f.Plan.Popular)
	fmt.Fprintf(&sb, "\n%-12s %14s %10s %10s %12s\n", "", "simulated RTO", "API calls", "throttles", "wall clock")
	row := func(name string, o outcome) {
		fmt.Fprintf(&sb, "%-12s %14s %10d %10d %11.2fs\n", name, dur(o.Seconds), o.Calls, o.Throttles, o.Wall)
	}
	row("pilotlight", f.Pilotlight)
	row("naive", f.Naive)
	row(fmt.Sprintf("%.0f%% thrott.", f.Share*100), f.Throttled)
	fmt.Fprintf(&sb, "%-12s %14s %10d\n", "lower bound", dur(f.BoundSec), f.MinCalls)
	fmt.Fprintf(&sb, "fallbacks taken: %d services; the throttled run is pilotlight with %.0f%% of the calls refused (api-throttle), throttles counting those\n",
		f.Fallbacks, f.Share*100)
	callsRatio := float64(f.Pilotlight.Calls) / float64(max(f.MinCalls, 1))
	timeRatio := f.Pilotlight.Seconds / max(f.BoundSec, 1e-9)
	fewer := float64(f.Naive.Calls) / float64(max(f.Pilotlight.Calls, 1))
	benchkit.WriteGoals(&sb, []benchkit.Goal{
		{Name: "API calls within 1.1x of the minimum", Measured: fmt.Sprintf("%.2fx (%d / %d)", callsRatio, f.Pilotlight.Calls, f.MinCalls), Met: callsRatio <= 1.1, Known: true},
		{Name: "simulated time within 1.2x of the bound", Measured: fmt.Sprintf("%.2fx (%s / %s)", timeRatio, dur(f.Pilotlight.Seconds), dur(f.BoundSec)), Met: timeRatio <= 1.2, Known: true},
		{Name: "at least 4x fewer calls than the naive baseline", Measured: fmt.Sprintf("%.1fx (%d / %d)", fewer, f.Naive.Calls, f.Pilotlight.Calls), Met: fewer >= 4, Known: true},
		{Name: "simulation wall clock under 10s", Measured: fmt.Sprintf("%.2fs", f.Pilotlight.Wall), Met: f.Pilotlight.Wall < 10, Known: true},
	})
	return sb.String()
}

func dur(s float64) string {
	return time.Duration(s * float64(time.Second)).Round(time.Second).String()
}

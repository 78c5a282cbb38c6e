package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/pilotlight/pilotlight/drill"
	"github.com/pilotlight/pilotlight/plan"
	awsp "github.com/pilotlight/pilotlight/provider/aws"
	"github.com/pilotlight/pilotlight/provider/sim"
	"github.com/pilotlight/pilotlight/recovery"
	"github.com/pilotlight/pilotlight/report"
	"github.com/pilotlight/pilotlight/runbook"
)

// faultAPIThrottle is the fault of aws and sim drills (and simulate).
const faultAPIThrottle = "api-throttle"

// cloudDrillFlags are the flags of isolated drills on aws and sim plans.
type cloudDrillFlags struct {
	isolated bool
	faultSet bool // --fault was given
	throttle throttleFlags
}

// throttleFlags are the api-throttle fault's flags (drill and simulate).
type throttleFlags struct {
	share   float64
	actions []string
}

func registerThrottleFlags(fl *pflag.FlagSet, t *throttleFlags) {
	fl.Float64Var(&t.share, "share", 0.3, "api-throttle: share of the cloud API attempts answered with throttling errors (0 < share ≤ 1)")
	fl.StringSliceVar(&t.actions, "actions", nil, "api-throttle: throttle only these API actions (such as RunInstances,DescribeInstances)")
}

func registerCloudDrillFlags(fl *pflag.FlagSet, f *cloudDrillFlags) {
	fl.BoolVar(&f.isolated, "isolated", false, "aws and sim plans: run the recovery in the recovery region beside production, without switching DNS, then tear it down")
	registerThrottleFlags(fl, &f.throttle)
}

// throttle returns the api-throttle fault the flags ask for (nil without
// --fault api-throttle), checking the share.
func (t throttleFlags) throttle(kind string, seed int64) (*awsp.Throttle, error) {
	if kind != faultAPIThrottle {
		return nil, nil
	}
	if err := awsp.ValidShare(t.share); err != nil {
		return nil, &usageError{err}
	}
	return &awsp.Throttle{Share: t.share, Seed: seed, Actions: t.actions}, nil
}

// cloudPlan reports whether p's regions are cloud regions (aws or sim),
// whose drills are isolated.
func cloudPlan(p *plan.Plan) bool {
	for _, r := range []plan.Region{p.Regions.Primary, p.Regions.Recovery} {
		if r.Provider == plan.ProviderAWS || r.Provider == plan.ProviderSim {
			return true
		}
	}
	return false
}

// runCloudDrill runs an isolated drill of an aws or sim plan.
func runCloudDrill(ctx context.Context, g *globals, f *drillFlags, p *plan.Plan) error {
	provider := p.Regions.Recovery.Provider
	if !f.cloud.isolated {
		if provider == plan.ProviderAWS || p.Regions.Primary.Provider == plan.ProviderAWS {
			return &usageError{errors.New("drill: plan " + p.Name + " has aws regions: pass --isolated (a non-isolated AWS drill would move production traffic; an isolated one recovers beside production without switching DNS)")}
		}
		return &usageError{errors.New("drill: plan " + p.Name + " has sim regions: pass --isolated (or use 'pilotlight simulate' for a simulated failover)")}
	}
	kind := ""
	if f.cloud.faultSet {
		if f.fault.Kind != faultAPIThrottle {
			return &usageError{fmt.Errorf("drill: an isolated drill injects only %s, not %q", faultAPIThrottle, f.fault.Kind)}
		}
		kind = faultAPIThrottle
	}
	seed := f.fault.Seed
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	th, err := f.cloud.throttle.throttle(kind, seed)
	if err != nil {
		return err
	}
	id := "drill-" + time.Now().UTC().Format("20060102T150405Z") + "-" + strconv.Itoa(os.Getpid())
	fault := report.Fault{}
	if th != nil {
		fault = report.Fault{Kind: faultAPIThrottle, Description: fmt.Sprintf("%.0f%% of the cloud API attempts answered with throttling errors, retried as the AWS SDK retries them (seed %d)", th.Share*100, th.Seed)}
		if len(th.Actions) > 0 {
			fault.Description += " for " + strings.Join(th.Actions, ", ")
		}
	}
	var d report.Drill
	if provider == plan.ProviderSim {
		d, err = simDrill(ctx, p, id, fault, th)
	} else {
		d, err = awsDrill(ctx, g, f, p, id, fault, th)
	}
	if d.ID != "" {
		err = errors.Join(err, writeDrillReport(g, f, d))
	}
	if err == nil && !d.Verdict.Pass {
		var msgs []string
		for _, fl := range d.Verdict.Failures {
			msgs = append(msgs, fl.Message)
		}
		return &exitError{code: 1, err: fmt.Errorf("drill: objectives not met: %s", strings.Join(msgs, "; "))}
	}
	return err
}

// simDrill runs the isolated drill on the simulated cloud, in virtual time.
func simDrill(ctx context.Context, p *plan.Plan, id string, fault report.Fault, th *awsp.Throttle) (report.Drill, error) {
	o := sim.SimulateOptions{Seed: 1, DrillID: id, RunID: id}
	if th != nil {
		o.Throttle = sim.APIThrottle{Share: th.Share, Seed: th.Seed, Actions: th.Actions}
	}
	rep, err := sim.Simulate(ctx, p, o)
	if rep == nil {
		return report.Drill{}, fmt.Errorf("drill: simulate: %w", err)
	}
	if th != nil {
		fault.Description += fmt.Sprintf("; %d attempts throttled by the fault", rep.InjectedThrottles)
	}
	res := rep.Result
	d := drill.NewIsolatedReport(id, p, fault, res.Started)
	drill.FillIsolated(&d, res, err, rep.Removed, nil, res.Ended)
	return d, nil
}

// awsDrill runs the isolated drill in the plan's AWS recovery region.
func awsDrill(ctx context.Context, g *globals, f *drillFlags, p *plan.Plan, id string, fault report.Fault, th *awsp.Throttle) (report.Drill, error) {
	dir := filepath.Join(drillsDir(g.stateDir), id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return report.Drill{}, err
	}
	started := time.Now().UTC()
	region := p.Regions.Recovery
	buckets := awsp.NewBuckets(awsp.DefaultLimits(), nil)
	rc, err := awsp.NewRegionClients(ctx, region, buckets, th.APIOption())
	if err != nil {
		return report.Drill{}, fmt.Errorf("drill: %w", err)
	}
	// Restores take their sources from the catalog, as a failover would.
	cat, err := openCatalog(ctx, g, p)
	if err != nil {
		return report.Drill{}, fmt.Errorf("drill: %w", err)
	}
	log := g.logger()
	rec := &awsp.Recovery{Plan: p, Regions: map[string]awsp.RegionClients{region.Name: rc}, Buckets: buckets,
		Catalog: cat, DrillID: id, DrillStarted: started, Logger: log, Poll: 10 * time.Second}
	say := func(format string, a ...any) {
		if !g.json() {
			fmt.Fprintf(g.stderr, "drill: "+format+"\n", a...)
		}
	}
	say("%s: isolated drill of plan %s in %s (DNS is not switched)", id, p.Name, region.Name)
	attempts := awsp.StepAttempts
	if th != nil {
		attempts = awsp.ThrottledStepAttempts
	}
	d, _, err := drill.Isolated(ctx, drill.IsolatedOptions{
		ID: id, Plan: p, Provider: rec, Fault: fault, HealthyTimeout: f.timeout, Poll: 5 * time.Second, Progress: say,
		Extend: func(rb *runbook.Runbook) error {
			rb.Steps = append(rb.Steps, rec.DatabaseSteps(recovery.TierData, nil)...)
			return nil
		},
		Engine: runbook.Options{Journal: filepath.Join(dir, "drill.journal"), Logger: log, Limits: awsp.DefaultLimits(),
			Backoff: runbook.Backoff{Attempts: attempts}},
		Teardown: func(ctx context.Context) ([]string, error) {
			removed, err := rec.Teardown(ctx)
			return awsp.LeftoverNames(removed), err
		},
	})
	if th != nil {
		_, n := th.Injected()
		d.Fault.Description += fmt.Sprintf("; %d attempts throttled by the fault", n)
	}
	if err == nil {
		_ = os.RemoveAll(dir)
	}
	return d, err
}

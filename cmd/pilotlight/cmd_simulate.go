package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/plan"
	"github.com/pilotlight/pilotlight/provider/sim"
	"github.com/pilotlight/pilotlight/recovery"
)

// simulateFlags are the flags of simulate.
type simulateFlags struct {
	provider string
	short    []string
	seed     int64
	mode     string
	poll     time.Duration
	fault    string
	throttle throttleFlags
}

func newSimulateCommand(g *globals) *cobra.Command {
	f := &simulateFlags{}
	cmd := &cobra.Command{
		Use:   "simulate",
		Short: "Run the failover runbook on the simulated cloud in virtual time and report RTO, API calls and bounds",
		Long: `Run the plan's failover runbook through the runbook engine against the
simulated cloud (provider sim): AWS's API token buckets, instance, load
balancer, database and DNS latencies from the step-duration model, and
per-zone capacity, all in virtual time, so a recovery of thousands of
resources takes seconds. The plan's regions must use provider sim, or pass
--provider sim to simulate any plan.

The report gives the simulated RTO (total, per tier, per kind of step), the
API calls per action, the throttles met, the instance-type fallbacks taken,
and two bounds: the fewest API calls the work needs given the API's batch
sizes, and the least time the token buckets and latencies allow.

--fault api-throttle answers a share (--share, default 0.3) of the cloud API
attempts, or of --actions only, with throttling errors, on top of the token
buckets, like AWS FIS's inject-api-throttle-error; callers retry them as the
AWS SDK's standard retryer does (3 attempts, jittered exponential delay), and
the runbook engine retries what still fails. The report counts them as
injected throttles; the recovery must still complete.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := g.loadPlan()
			if err != nil {
				return err
			}
			if f.provider != "" && f.provider != string(plan.ProviderSim) {
				return &usageError{fmt.Errorf("--provider must be sim, not %q", f.provider)}
			}
			if f.provider == "" {
				for _, r := range []plan.Region{p.Regions.Primary, p.Regions.Recovery} {
					if r.Provider != plan.ProviderSim {
						return fmt.Errorf("simulate: region %s uses provider %s: pass --provider sim to simulate it", r.Name, r.Provider)
					}
				}
			}
			var mode recovery.Mode
			switch f.mode {
			case string(recovery.Graceful), string(recovery.Ungraceful):
				mode = recovery.Mode(f.mode)
			default:
				return &usageError{fmt.Errorf("--mode must be graceful or ungraceful, not %q", f.mode)}
			}
			var shorts []sim.Shortage
			for _, s := range f.short {
				sh, err := sim.ParseShortage(s)
				if err != nil {
					return &usageError{err}
				}
				shorts = append(shorts, sh)
			}
			o := sim.SimulateOptions{Seed: f.seed, Shortages: shorts, Mode: mode, Poll: f.poll}
			switch f.fault {
			case "":
			case faultAPIThrottle:
				th, err := f.throttle.throttle(f.fault, f.seed)
				if err != nil {
					return err
				}
				o.Throttle = sim.APIThrottle{Share: th.Share, Seed: th.Seed, Actions: th.Actions}
			default:
				return &usageError{fmt.Errorf("--fault must be %s, not %q", faultAPIThrottle, f.fault)}
			}
			rep, err := sim.Simulate(cmd.Context(), p, o)
			if rep == nil {
				return fmt.Errorf("simulate: %w", err)
			}
			if g.json() {
				if perr := g.printJSON(rep); perr != nil {
					return perr
				}
			} else if werr := rep.WriteText(g.stdout); werr != nil {
				return werr
			}
			if err != nil {
				return &exitError{code: 1, err: fmt.Errorf("simulate: %w", err), silent: true}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.provider, "provider", "", "simulate the plan's regions as this provider whatever they use (only sim)")
	fl.StringArrayVar(&f.short, "short", nil, "declare TYPE or TYPE@ZONE out of capacity in the recovery region (repeatable; zones are the region name with a, b, c)")
	fl.Int64Var(&f.seed, "seed", 1, "seed of the drawn provisioning durations (same seed, same result)")
	fl.StringVar(&f.mode, "mode", string(recovery.Ungraceful), "graceful (fence and sync the primary first) or ungraceful (primary lost)")
	fl.DurationVar(&f.poll, "poll", 10*time.Second, "poll interval of the runbook's waits, in virtual time")
	fl.StringVar(&f.fault, "fault", "", "inject a fault during the simulated recovery: "+faultAPIThrottle)
	registerThrottleFlags(fl, &f.throttle)
	return cmd
}

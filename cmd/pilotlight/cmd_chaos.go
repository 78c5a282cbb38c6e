package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/pilotlight/pilotlight/drill"
	"github.com/pilotlight/pilotlight/provider/local"
)

// registerFaultFlags adds the flags that parameterise a fault.
func registerFaultFlags(fl *pflag.FlagSet, f *drill.FaultSpec) {
	fl.StringVar(&f.Region, "fault-region", "", "region the fault hits (default: the primary)")
	fl.StringVar(&f.Service, "service", "", "instance-kill: the service (default: every service)")
	fl.IntVar(&f.Count, "count", 1, "instance-kill: instances to kill")
	fl.StringVar(&f.Zone, "zone", "", "zone-outage: the zone (default: the region's first)")
	fl.DurationVar(&f.Latency, "latency", 0, "network: added latency (default: blackhole)")
	fl.Int64Var(&f.Seed, "seed", 0, "random seed of the fault's choices (0: from the clock)")
}

// normalizeFault checks the kind and clears the parameters that do not
// apply to it.
func normalizeFault(f *drill.FaultSpec) error {
	if !validFault(f.Kind) {
		return &usageError{fmt.Errorf("fault must be one of %s, not %q", strings.Join(drill.FaultKinds, ", "), f.Kind)}
	}
	if f.Kind != "instance-kill" {
		f.Count, f.Service = 0, ""
	}
	if f.Kind == "network" {
		f.Blackhole = f.Latency == 0
	} else {
		f.Latency = 0
	}
	if f.Kind != "zone-outage" {
		f.Zone = ""
	}
	return nil
}

func localFault(s drill.FaultSpec) local.FaultSpec {
	return local.FaultSpec{Kind: s.Kind, Region: s.Region, Service: s.Service, Count: s.Count, Zone: s.Zone, Latency: s.Latency, Blackhole: s.Blackhole, Seed: s.Seed}
}

func newChaosCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "chaos",
		Short: "Inject one fault into a running 'pilotlight up', with guaranteed rollback",
	}
	var spec drill.FaultSpec
	var duration time.Duration
	run := &cobra.Command{
		Use:   "run FAULT",
		Short: "Inject FAULT for --duration, then roll it back (also on Ctrl-C)",
		Long: `Inject one fault into the running 'pilotlight up' of the plan (same --state-dir)
for --duration, then roll it back, also when interrupted. Faults:
instance-kill, zone-outage, region-outage, network, store-outage. If this
command dies, stopping 'up' rolls every fault back; 'pilotlight chaos list'
shows the faults in place.`,
		Args:      cobra.ExactArgs(1),
		ValidArgs: drill.FaultKinds,
		RunE: func(cmd *cobra.Command, args []string) error {
			spec.Kind = args[0]
			if err := normalizeFault(&spec); err != nil {
				return err
			}
			p, err := g.loadPlan()
			if err != nil {
				return err
			}
			ctl, err := local.DialControl(g.stateDir, p)
			if err != nil {
				return fmt.Errorf("chaos: %w (start it with 'pilotlight up -f %s')", err, g.file)
			}
			ctx := cmd.Context()
			f, err := ctl.InjectFault(ctx, localFault(spec))
			if err != nil {
				return fmt.Errorf("chaos: %w", err)
			}
			start := time.Now()
			if !g.json() {
				fmt.Fprintf(g.stderr, "chaos: %s injected (%s); rolling back in %s or on Ctrl-C\n", f.ID, f.Description, duration)
			}
			select {
			case <-ctx.Done():
			case <-time.After(duration):
			}
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			if err := ctl.RollbackFault(rctx, f.ID); err != nil {
				return fmt.Errorf("chaos: roll back %s: %w", f.ID, err)
			}
			out := struct {
				Fault   local.Fault `json:"fault"`
				Seconds float64     `json:"seconds"`
			}{f, time.Since(start).Seconds()}
			if g.json() {
				return g.printJSON(out)
			}
			fmt.Fprintf(g.stdout, "%s %s: injected for %.1fs, rolled back\n", f.ID, f.Description, out.Seconds)
			return nil
		},
	}
	registerFaultFlags(run.Flags(), &spec)
	run.Flags().DurationVar(&duration, "duration", 30*time.Second, "how long the fault lasts")
	list := &cobra.Command{
		Use:   "list",
		Short: "List the faults in place in the running 'pilotlight up'",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := g.loadPlan()
			if err != nil {
				return err
			}
			ctl, err := local.DialControl(g.stateDir, p)
			if err != nil {
				return fmt.Errorf("chaos: %w", err)
			}
			fs, err := ctl.Faults(cmd.Context())
			if err != nil {
				return err
			}
			if g.json() {
				return g.printJSON(fs)
			}
			if len(fs) == 0 {
				fmt.Fprintln(g.stdout, "no fault in place")
			}
			for _, f := range fs {
				fmt.Fprintf(g.stdout, "%s  %-14s %s (since %s)\n", f.ID, f.Kind, f.Description, f.Injected.Format(time.RFC3339))
			}
			return nil
		},
	}
	cmd.AddCommand(run, list)
	return cmd
}

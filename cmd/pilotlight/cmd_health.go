package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/pilotlight/pilotlight/health"
	"github.com/pilotlight/pilotlight/plan"
)

func newHealthCommand(g *globals) *cobra.Command {
	var settle time.Duration
	var watch bool
	cmd := &cobra.Command{
		Use:   "health",
		Short: "Run the plan's health checks and show their states",
		Long: `Run the health checks of the plan's routing records against each region's
target and show a table of checks, states, vantage-point votes and reasons.
On a terminal the table is redrawn every second until Ctrl-C; otherwise (or
with -o json) one snapshot is printed once the checks have had time to decide
(--settle).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := g.loadRoutingPlan("health")
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			rt, err := startRouting(ctx, p, "", g.logger())
			if err != nil {
				return err
			}
			defer rt.wait()
			if settle == 0 {
				settle = settleTime(p)
			}
			f, isFile := g.stdout.(*os.File)
			live := watch && !g.json() && isFile && term.IsTerminal(int(f.Fd()))
			if !live {
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(settle):
				}
				sts := rt.reg.Statuses()
				if g.json() {
					return g.printJSON(sts)
				}
				return health.WriteTable(g.stdout, sts, time.Now())
			}
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for {
				fmt.Fprint(g.stdout, "\x1b[H\x1b[2J")
				fmt.Fprintf(g.stdout, "health checks of plan %s — %s (Ctrl-C to stop)\n\n", p.Name, time.Now().Format(time.TimeOnly))
				if err := health.WriteTable(g.stdout, rt.reg.Statuses(), time.Now()); err != nil {
					return err
				}
				select {
				case <-ctx.Done():
					return nil
				case <-tick.C:
				}
			}
		},
	}
	cmd.Flags().BoolVar(&watch, "watch", true, "on a terminal, redraw the table every second until Ctrl-C")
	cmd.Flags().DurationVar(&settle, "settle", 0, "time to let checks decide before a snapshot (default: the slowest check's interval × its larger threshold, plus one interval)")
	return cmd
}

// settleTime is how long the plan's slowest health check needs to decide:
// its interval times its larger threshold, plus one interval.
func settleTime(p *plan.Plan) time.Duration {
	d := time.Second
	for _, r := range p.Routing.Records {
		if hc := r.HealthCheck; hc != nil {
			n := max(hc.FailureThreshold, hc.SuccessThreshold) + 1
			d = max(d, time.Duration(n)*hc.Interval.D())
		}
	}
	return d
}

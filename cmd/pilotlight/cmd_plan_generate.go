package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/provider/sim"
)

// planGenerateFlags are the flags of plan generate.
type planGenerateFlags struct {
	o   sim.GenerateOptions
	out string
}

// newPlanGenerateCommand is `plan generate`, a subcommand of plan.
func newPlanGenerateCommand(g *globals) *cobra.Command {
	f := &planGenerateFlags{}
	cmd := &cobra.Command{
		Use:   "generate",
		Short: "Write a synthetic plan of a given size on the simulated cloud (for 'pilotlight simulate')",
		Long: `Write a valid synthetic plan with sim regions: services in 3 tiers with
dependencies, three instance types each (most prefer the --short type, with
fallbacks), load balancers, failover records and databases with sizes. Size
your own recovery with it, then run 'pilotlight simulate -f FILE --short TYPE'.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := sim.Generate(f.o)
			if err != nil {
				return &usageError{err}
			}
			if f.out == "" || f.out == "-" {
				_, err = g.stdout.Write(b)
				return err
			}
			if err := os.WriteFile(f.out, b, 0o644); err != nil {
				return fmt.Errorf("plan generate: %w", err)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&f.o.Instances, "instances", 2000, "instances, over all services")
	fl.IntVar(&f.o.Services, "services", 100, "services, in 3 tiers")
	fl.IntVar(&f.o.LoadBalancers, "lbs", 100, "load balancers (one per service, at most --services)")
	fl.IntVar(&f.o.Records, "records", 4000, "failover DNS records")
	fl.IntVar(&f.o.Databases, "databases", 50, "databases")
	fl.StringVar(&f.o.Popular, "short", "m6i.xlarge", "the popular instance type most services prefer (declare it short when simulating)")
	fl.StringVar(&f.o.Name, "name", "synthetic", "plan name")
	fl.StringVar(&f.out, "out", "-", "file to write (- for stdout)")
	return cmd
}

package main

import (
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/provider/local"
	"github.com/pilotlight/pilotlight/replicate/rpo"
)

func newStatusCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the regions, instances, load balancers and stores of a running 'up'",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := local.FetchStatus(cmd.Context(), g.stateDir)
			running := err == nil
			rep, replicating := readReplication(g.stateDir)
			prot, protecting := readProtect(g.stateDir)
			switch {
			case errors.Is(err, local.ErrNotRunning) && !replicating && !protecting:
				return fmt.Errorf("status: nothing is running for state dir %s (start it with 'pilotlight up -f PLAN')", g.stateDir)
			case err != nil && !errors.Is(err, local.ErrNotRunning):
				return fmt.Errorf("status: %w", err)
			}
			if g.json() {
				out := statusOutput{Replication: nonNil(rep.Buckets)}
				if running {
					out.DeploymentStatus = &st
				}
				if protecting {
					out.Protection = statusProtection(prot, time.Now())
				}
				return g.printJSON(out)
			}
			if running {
				if err := writeStatus(g, st); err != nil {
					return err
				}
			}
			if replicating {
				writeReplication(g, rep)
			}
			if protecting {
				return writeProtection(g, prot, time.Now())
			}
			return nil
		},
	}
}

// statusOutput is what `status -o json` prints: the running regions (when
// `up` runs) and the replication of each bucket with its measured RPO.
type statusOutput struct {
	*local.DeploymentStatus
	Replication []rpo.Status `json:"replication"`
	// Protection is the last `protect` run's per-resource RPO, when there
	// was one.
	Protection *protectState `json:"protection,omitempty"`
}

func writeReplication(g *globals, f replicationFile) {
	fmt.Fprintln(g.stdout)
	tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "BUCKET\tSTATE\tLAG\tRPO BOUND\tPENDING\tLAST PASS\tREPLICATED\tFAILED\tOBJECTIVE")
	for _, b := range f.Buckets {
		lastPass, bound := "-", "-"
		if !b.LastPass.IsZero() {
			lastPass = time.Since(b.LastPass).Round(time.Second).String() + " ago"
		}
		if b.RPOBoundSeconds >= 0 {
			bound = fmt.Sprintf("%.1fs", b.RPOBoundSeconds)
		}
		objective := "-"
		if b.ObjectiveSeconds > 0 {
			objective = fmt.Sprintf("%gs", b.ObjectiveSeconds)
			if b.ObjectiveExceeded {
				objective += " EXCEEDED"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%.1fs\t%s\t%d\t%s\t%d\t%d\t%s\n", b.Bucket, b.State, b.LagSeconds, bound, b.Pending, lastPass, b.Replicated, b.Failed, objective)
	}
	tw.Flush()
	for _, b := range f.Buckets {
		if b.LastError != "" {
			fmt.Fprintf(g.stdout, "%s: last error: %s\n", b.Bucket, b.LastError)
		}
	}
}

func writeStatus(g *globals, st local.DeploymentStatus) error {
	fmt.Fprintf(g.stdout, "plan %s (%s), up since %s (pid %d)\n\n", st.Plan, st.Strategy, st.Started.Format(time.RFC3339), st.PID)
	tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REGION\tROLE\tNETWORK\tSTORE\tBUCKETS")
	for _, r := range st.Regions {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Name, r.Role, r.Network, r.Store.Endpoint, strings.Join(r.Store.Buckets, ","))
	}
	tw.Flush()
	fmt.Fprintln(g.stdout)
	tw = tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REGION\tSERVICE\tLOAD BALANCER\tHEALTHY\tDESIRED\tRUNNING")
	for _, r := range st.Regions {
		if len(r.Services) == 0 {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t0\t0\n", r.Name)
		}
		for _, s := range r.Services {
			addr, healthy := "-", "-"
			if s.LoadBalancer != nil {
				addr = "http://" + s.LoadBalancer.Addr
				healthy = fmt.Sprintf("%d/%d", s.LoadBalancer.Healthy, len(s.LoadBalancer.Targets))
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\n", r.Name, s.Name, addr, healthy, s.Group.Desired, s.Group.Running)
		}
	}
	tw.Flush()
	fmt.Fprintln(g.stdout)
	tw = tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REGION\tSERVICE\tINSTANCE\tZONE\tADDRESS\tSTATE\tHEALTH\tPID\tRESTARTS")
	for _, r := range st.Regions {
		for _, s := range r.Services {
			health := map[string]string{}
			if s.LoadBalancer != nil {
				for _, t := range s.LoadBalancer.Targets {
					health[t.ID] = t.State.String()
				}
			}
			for _, in := range s.Instances {
				h := health[in.ID]
				if h == "" {
					h = "-"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\n", r.Name, s.Name, in.ID, in.Zone, in.Addr, in.State, h, in.PID, in.Restarts)
			}
		}
	}
	return tw.Flush()
}

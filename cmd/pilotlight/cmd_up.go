package main

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/provider/local"
)

func newUpCommand(g *globals) *cobra.Command {
	var bin string
	var noReplicate bool
	var dnsListen string
	ro := defaultReplicateOptions()
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run the plan's regions on this machine until interrupted",
		Long: `Start the plan's regions with the embedded local provider: the primary region
fully (object store, instances, load balancers) and the recovery region according
to the strategy (backup-restore and pilot-light: object store only; warm-standby:
the standby instances; active-active: everything). Runs until SIGINT or SIGTERM,
then stops every process it started.

While it runs, 'pilotlight status' (from another shell, same --state-dir) shows
regions, instances, load balancers and stores.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := g.loadPlan()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			st, err := startStack(ctx, g, p, stackOptions{bin: bin, noReplicate: noReplicate, dnsListen: dnsListen, networkFaults: true, replicate: ro})
			if err != nil {
				return fmt.Errorf("up: %w", err)
			}
			d, rt, log := st.d, st.rt, st.log
			printUp(g, d, st.started)
			if rt != nil {
				fmt.Fprintf(g.stdout, "  dns      %s serves %s (try: dig @%s -p %s www.%s)\n", dnsListen, p.Routing.Zone, hostOf(dnsListen), portOf(dnsListen), p.Routing.Zone)
			}
			<-ctx.Done()
			log.Info("stopping")
			if err := st.stop(ctx); err != nil {
				return err
			}
			log.Info("stopped")
			return nil
		},
	}
	cmd.Flags().StringVar(&dnsListen, "dns-listen", "127.0.0.1:5353", "serve the plan's routing zone with health-checked records on this address (empty: no DNS)")
	cmd.Flags().BoolVar(&noReplicate, "no-replicate", false, "do not replicate the plan's buckets to the recovery region")
	cmd.Flags().DurationVar(&ro.interval, "replicate-interval", ro.interval, "full listing pass of continuous replication every interval (events trigger copies in between)")
	cmd.Flags().StringVar(&ro.metricsListen, "metrics-listen", "", "serve Prometheus replication metrics on this address (e.g. 127.0.0.1:9464)")
	cmd.Flags().StringVar(&bin, "bin", "", "directory of service binaries for {{.Bin}} (default: the directory of pilotlight)")
	return cmd
}

func hostOf(addr string) string {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return h
}

func portOf(addr string) string {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "53"
	}
	return p
}

func stopDeployment(ctx context.Context, d *local.Deployment) error {
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	return d.Stop(stopCtx)
}

func printUp(g *globals, d *local.Deployment, took time.Duration) {
	if g.json() {
		_ = g.printJSON(d.Status())
		return
	}
	fmt.Fprintf(g.stdout, "plan %s is up (%s) in %s\n", d.Plan.Name, d.Plan.Strategy, took.Round(time.Millisecond))
	for _, r := range d.Regions() {
		st := r.Status()
		fmt.Fprintf(g.stdout, "  %-8s %-10s store %s", st.Role, st.Name, st.Store.Endpoint)
		for _, s := range st.Services {
			if s.LoadBalancer != nil {
				fmt.Fprintf(g.stdout, "  %s http://%s", s.Name, s.LoadBalancer.Addr)
			}
		}
		fmt.Fprintln(g.stdout)
	}
	fmt.Fprintln(g.stdout, "press Ctrl-C to stop; 'pilotlight status' shows details")
}

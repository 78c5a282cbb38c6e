package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/plan"
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
			for _, r := range []plan.Region{p.Regions.Primary, p.Regions.Recovery} {
				if r.Provider != plan.ProviderLocal {
					return fmt.Errorf("up: region %s uses provider %q; `up` runs local regions only", r.Name, r.Provider)
				}
			}
			if rt, err := local.ReadRuntime(g.stateDir); err == nil {
				return fmt.Errorf("up: already running for state dir %s (pid %d, plan %s)", g.stateDir, rt.PID, rt.Plan)
			}
			log := g.logger()
			ctx := cmd.Context()
			start := time.Now()
			var rep *upReplication
			webhook := ""
			if !noReplicate && len(p.Data.Buckets) > 0 {
				if rep, err = listenEvents(ctx, log.With("component", "events")); err != nil {
					return err
				}
				webhook = rep.webhook
			}
			d, err := local.Up(ctx, p, local.Options{StateDir: g.stateDir, Bin: bin, EventWebhook: webhook, Logger: log})
			if err != nil {
				return err
			}
			repDone := make(chan struct{})
			repCtx, stopRep := context.WithCancel(context.WithoutCancel(ctx))
			defer stopRep()
			if rep != nil {
				go func() {
					defer close(repDone)
					if err := rep.run(repCtx, g, p, ro); err != nil {
						log.Error("replication stopped", "err", err)
					}
				}()
			} else {
				close(repDone)
			}
			statusCtx, stopStatus := context.WithCancel(context.WithoutCancel(ctx))
			statusDone, err := d.ServeStatus(statusCtx, g.stateDir, g.file)
			if err != nil {
				stopStatus()
				stopRep()
				<-repDone
				return errors.Join(err, stopDeployment(ctx, d))
			}
			var rt *routing
			if p.Routing != nil && dnsListen != "" {
				if rt, err = startRouting(repCtx, p, dnsListen, log); err != nil {
					stopRep()
					<-repDone
					stopStatus()
					<-statusDone
					return errors.Join(err, stopDeployment(ctx, d))
				}
			}
			printUp(g, d, time.Since(start))
			if rt != nil {
				fmt.Fprintf(g.stdout, "  dns      %s serves %s (try: dig @%s -p %s www.%s)\n", dnsListen, p.Routing.Zone, hostOf(dnsListen), portOf(dnsListen), p.Routing.Zone)
			}
			<-ctx.Done()
			log.Info("stopping")
			stopRep()
			<-repDone
			if rt != nil {
				rt.wait()
			}
			stopStatus()
			<-statusDone
			if err := stopDeployment(ctx, d); err != nil {
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

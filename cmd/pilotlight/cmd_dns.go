package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/plan"
)

func newDNSCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dns",
		Short: "Serve the plan's DNS records, or sync them to Amazon Route 53",
	}
	cmd.AddCommand(newDNSServeCommand(g), newDNSSyncCommand(g))
	return cmd
}

func newDNSServeCommand(g *globals) *cobra.Command {
	var listen string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the plan's zone with health-checked failover and weighted records",
		Long: `Serve the plan's routing zone as an authoritative DNS server (UDP and TCP) with
the plan's health checks: a failover record answers the primary while its check
passes and the recovery target as soon as the check's failure threshold is
reached; weighted records leave out unhealthy members. When every target of a
record is unhealthy the answer fails open (the primary, or all members).

The plan is reloaded on SIGHUP and when the file changes, without dropping
queries; an invalid new plan is reported and the old one keeps serving.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := g.loadRoutingPlan("dns")
			if err != nil {
				return err
			}
			log := g.logger()
			ctx := cmd.Context()
			rt, err := startRouting(ctx, p, listen, log)
			if err != nil {
				return err
			}
			watchPlan(ctx, g, log, func(p *plan.Plan) error { return rt.reload(p) })
			<-ctx.Done()
			rt.wait()
			return nil
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:5353", "address to serve DNS on (UDP and TCP)")
	return cmd
}

// watchPlan calls apply with the reloaded plan on SIGHUP and when the plan
// file's modification time changes (checked every 2 s), until ctx ends.
// Invalid plans are logged and skipped.
func watchPlan(ctx context.Context, g *globals, log *slog.Logger, apply func(*plan.Plan) error) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	modTime := func() time.Time {
		fi, err := os.Stat(g.file)
		if err != nil {
			return time.Time{}
		}
		return fi.ModTime()
	}
	last := modTime()
	go func() {
		defer signal.Stop(hup)
		tick := time.NewTicker(2 * time.Second)
		defer tick.Stop()
		for {
			why := ""
			select {
			case <-ctx.Done():
				return
			case <-hup:
				why = "SIGHUP"
			case <-tick.C:
				if m := modTime(); !m.Equal(last) {
					last, why = m, "plan file changed"
				}
			}
			if why == "" {
				continue
			}
			p, err := plan.Load(g.file)
			if err != nil {
				log.Error("reload: plan not valid, keeping the previous one", "reason", why, "err", err)
				continue
			}
			if err := apply(p); err != nil {
				log.Error("reload failed, keeping the previous configuration", "reason", why, "err", err)
				continue
			}
			log.Info("plan reloaded", "reason", why)
		}
	}()
}

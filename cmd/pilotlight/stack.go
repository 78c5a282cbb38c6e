package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/pilotlight/pilotlight/plan"
	"github.com/pilotlight/pilotlight/provider/local"
)

// stackOptions configure what `up` (and a drill) run.
type stackOptions struct {
	bin           string
	noReplicate   bool
	dnsListen     string
	networkFaults bool
	replicate     *replicateOptions
}

// stack is everything `up` runs for a plan: both regions, continuous
// replication, health checks and DNS, and the status and control API.
type stack struct {
	p    *plan.Plan
	d    *local.Deployment
	rt   *routing        // nil without routing or DNS
	repl *replicationCtl // nil without replication
	log  *slog.Logger

	stopRun    context.CancelFunc
	stopStatus context.CancelFunc
	statusDone <-chan struct{}
	started    time.Duration
}

// startStack starts the plan's stack; stop it with stop.
func startStack(ctx context.Context, g *globals, p *plan.Plan, o stackOptions) (*stack, error) {
	for _, r := range []plan.Region{p.Regions.Primary, p.Regions.Recovery} {
		if r.Provider != plan.ProviderLocal {
			return nil, fmt.Errorf("region %s uses provider %q; only local regions run on this machine", r.Name, r.Provider)
		}
	}
	if rt, err := local.ReadRuntime(g.stateDir); err == nil {
		return nil, fmt.Errorf("already running for state dir %s (pid %d, plan %s)", g.stateDir, rt.PID, rt.Plan)
	}
	log := g.logger()
	start := time.Now()
	var rep *upReplication
	webhook := ""
	var err error
	if !o.noReplicate && len(p.Data.Buckets) > 0 {
		if rep, err = listenEvents(ctx, log.With("component", "events")); err != nil {
			return nil, err
		}
		webhook = rep.webhook
	}
	d, err := local.Up(ctx, p, local.Options{StateDir: g.stateDir, Bin: o.bin, EventWebhook: webhook, Logger: log, NetworkFaults: o.networkFaults})
	if err != nil {
		return nil, err
	}
	s := &stack{p: p, d: d, log: log}
	runCtx, stopRun := context.WithCancel(context.WithoutCancel(ctx))
	s.stopRun = stopRun
	fail := func(err error) (*stack, error) {
		return nil, errors.Join(err, s.stop(ctx))
	}
	// Routing first: the control API needs it.
	if p.Routing != nil && o.dnsListen != "" {
		if s.rt, err = startRouting(runCtx, p, o.dnsListen, log); err != nil {
			return fail(err)
		}
	}
	if rep != nil {
		s.repl = newReplicationCtl(runCtx, g, p, o.replicate, rep.receiver, log.With("component", "replicate"))
		if err := s.repl.SetDirection(ctx, p.Regions.Primary.Name, p.Regions.Recovery.Name); err != nil {
			return fail(err)
		}
	}
	hooks := local.Hooks{}
	if s.rt != nil {
		hooks.Routing, hooks.DNS = s.rt, o.dnsListen
	}
	if s.repl != nil {
		hooks.Replication = s.repl
	}
	statusCtx, stopStatus := context.WithCancel(context.WithoutCancel(ctx))
	s.stopStatus = stopStatus
	if s.statusDone, err = d.ServeStatus(statusCtx, g.stateDir, g.file, hooks); err != nil {
		return fail(err)
	}
	s.started = time.Since(start)
	return s, nil
}

// stop stops everything the stack started, in reverse order. It is safe
// to call on a partly started stack.
func (s *stack) stop(ctx context.Context) error {
	if s.stopStatus != nil {
		s.stopStatus()
		<-s.statusDone
	}
	if s.repl != nil {
		s.repl.stop()
	}
	s.stopRun()
	if s.rt != nil {
		s.rt.wait()
	}
	return stopDeployment(ctx, s.d)
}

package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"

	"github.com/pilotlight/pilotlight/dns"
	"github.com/pilotlight/pilotlight/health"
	"github.com/pilotlight/pilotlight/plan"
	"github.com/pilotlight/pilotlight/provider/local"
)

// routing is the plan's health checks and, optionally, the embedded DNS
// server answering from them.
type routing struct {
	plan *plan.Plan
	reg  *health.Registry
	srv  *dns.Server // nil when only health checks run
	log  *slog.Logger

	mu      sync.Mutex
	targets map[string]*health.Target
	pins    map[string]string // record → pinned role
	wg      sync.WaitGroup
}

// lbResolver resolves services' load balancers in the plan's regions. The
// embedded DNS server and health checks reach load balancers of local
// regions only; records of other providers need fixed addresses.
func lbResolver(p *plan.Plan) func(role string, svc *plan.Service) (netip.AddrPort, error) {
	localAddr := local.LBAddrFunc(p)
	return func(role string, svc *plan.Service) (netip.AddrPort, error) {
		r := p.Regions.Primary
		if role == dns.RoleRecovery {
			r = p.Regions.Recovery
		}
		if r.Provider != plan.ProviderLocal {
			return netip.AddrPort{}, fmt.Errorf("record bound to service %s: region %s uses provider %s; the embedded DNS server knows load balancers of local regions only (give the record fixed primary/recovery addresses, or use 'pilotlight dns sync' for Route 53)", svc.Name, r.Name, r.Provider)
		}
		return localAddr(role, svc)
	}
}

// startRouting starts the plan's health checks and, when listen is not
// empty, the DNS server on listen. Both stop when ctx ends; wait for them
// with Wait.
func startRouting(ctx context.Context, p *plan.Plan, listen string, log *slog.Logger) (*routing, error) {
	rt := &routing{plan: p, reg: health.NewRegistry(health.RegistryOptions{Logger: log}), log: log, targets: map[string]*health.Target{}}
	if err := rt.bind(p); err != nil {
		return nil, err
	}
	rt.wg.Add(1)
	go func() {
		defer rt.wg.Done()
		_ = rt.reg.Run(ctx)
	}()
	if listen == "" {
		return rt, nil
	}
	cfg, err := dns.ConfigFromPlan(p, dnsResolver(p))
	if err != nil {
		return nil, fmt.Errorf("dns: %w", err)
	}
	if rt.srv, err = dns.NewServer(cfg, rt.reg, dns.Options{Logger: log}); err != nil {
		return nil, fmt.Errorf("dns: %w", err)
	}
	udp, _, err := rt.srv.Start(ctx, listen)
	if err != nil {
		return nil, fmt.Errorf("dns: listen %s: %w", listen, err)
	}
	log.Info("serving DNS", "addr", udp, "zone", cfg.Zones[0].Origin)
	return rt, nil
}

func dnsResolver(p *plan.Plan) dns.LBAddr {
	resolve := lbResolver(p)
	return func(role string, svc *plan.Service) (netip.Addr, error) {
		ap, err := resolve(role, svc)
		return ap.Addr(), err
	}
}

func healthResolver(p *plan.Plan) health.Resolver {
	resolve := lbResolver(p)
	return func(role string, svc *plan.Service) (string, int, error) {
		ap, err := resolve(role, svc)
		return ap.Addr().String(), int(ap.Port()), err
	}
}

// bind makes the registry's targets those of plan p: new targets are
// added, targets no longer in the plan removed, and targets whose check
// or rule changed replaced; unchanged targets keep their state.
func (rt *routing) bind(p *plan.Plan) error {
	targets, err := health.FromPlan(p, healthResolver(p), health.BindingOptions{Logger: rt.log})
	if err != nil {
		return err
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	want := map[string]*health.Target{}
	for _, t := range targets {
		want[t.ID()] = t
	}
	for id, old := range rt.targets {
		if t, ok := want[id]; ok && t.Check() == old.Check() && t.Rule() == old.Rule() {
			want[id] = old
			continue
		}
		rt.reg.Remove(id)
		delete(rt.targets, id)
	}
	for id, t := range want {
		if rt.targets[id] == t {
			continue
		}
		if err := rt.reg.Add(t); err != nil {
			return err
		}
		rt.targets[id] = t
	}
	return nil
}

// reload applies a new version of the plan: health targets first, then
// the DNS answers. The old configuration keeps serving if p is invalid.
func (rt *routing) reload(p *plan.Plan) error {
	var cfg dns.Config
	if rt.srv != nil {
		var err error
		if cfg, err = dns.ConfigFromPlan(p, dnsResolver(p)); err != nil {
			return fmt.Errorf("dns: reload: %w", err)
		}
	}
	if err := rt.bind(p); err != nil {
		return fmt.Errorf("health: reload: %w", err)
	}
	if rt.srv != nil {
		if err := rt.srv.Reload(cfg); err != nil {
			return fmt.Errorf("dns: reload: %w", err)
		}
	}
	rt.plan = p
	return nil
}

// wait waits for the health checks and the DNS server to stop (after ctx
// ends).
func (rt *routing) wait() {
	rt.wg.Wait()
	if rt.srv != nil {
		_ = rt.srv.Wait()
	}
}

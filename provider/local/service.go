package local

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/pilotlight/pilotlight/health"
	"github.com/pilotlight/pilotlight/plan"
	"github.com/pilotlight/pilotlight/provider/local/compute"
	"github.com/pilotlight/pilotlight/provider/local/lb"
)

// service is one plan service running in a region: an instance group and,
// when the plan gives one, a load balancer in front of it.
type service struct {
	spec  *plan.Service
	group *compute.Group
	lb    *lb.LB    // nil when the service has no load balancer
	net   *netProxy // in front of lb with Options.NetworkFaults (netfault.go)

	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
	err    error
}

// StartService starts svc in the region with desired instances, or sets the
// desired count when it is already running. The recovery runbook uses it to
// bring up a pilot-light service.
func (r *Region) StartService(ctx context.Context, name string, desired int) error {
	spec := r.plan.Service(name)
	if spec == nil {
		return fmt.Errorf("local: region %s: start service %s: no such service in the plan", r.spec.Name, name)
	}
	if spec.Compute.Local == nil {
		return fmt.Errorf("local: region %s: start service %s: compute.local is not set in the plan", r.spec.Name, name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return fmt.Errorf("local: region %s: start service %s: region is stopped", r.spec.Name, name)
	}
	if s, ok := r.services[name]; ok {
		s.group.SetDesired(desired)
		return nil
	}
	log := r.log.With("service", name)
	g, err := compute.NewGroup(compute.GroupConfig{
		Service:  name,
		Region:   r.spec.Name,
		Zones:    r.Zones(),
		Template: compute.Template{Command: spec.Compute.Local.Command, Env: spec.Compute.Local.Env, Port: spec.Compute.Local.Port},
		Bin:      r.opts.Bin,
		Endpoint: r.StoreEndpoint(),
		StateDir: r.opts.StateDir,
		Credentials: compute.Credentials{
			AccessKey: r.creds.AccessKey, SecretKey: r.creds.SecretKey, Region: storeRegion,
		},
		Addrs:   r.pool,
		LogDir:  filepath.Join(r.dir, "instances"),
		Desired: desired,
		Logger:  log,
	})
	if err != nil {
		return fmt.Errorf("local: region %s: service %s: %w", r.spec.Name, name, err)
	}
	s := &service{spec: spec, group: g}
	if lbSpec := spec.LoadBalancer; lbSpec != nil {
		addr, err := LoadBalancerAddr(r.plan, r.spec, spec)
		if err != nil {
			return fmt.Errorf("local: region %s: service %s: %w", r.spec.Name, name, err)
		}
		hc := plan.HealthCheck{}
		if lbSpec.HealthCheck != nil {
			hc = *lbSpec.HealthCheck
		}
		s.lb, err = lb.New(lb.Config{
			Name:             r.spec.Name + "/" + name,
			Listen:           r.lbListenAddr(addr),
			Algorithm:        string(lbSpec.Algorithm),
			Check:            health.CheckFromPlan(&hc, ""),
			Interval:         hc.Interval.D(),
			FailureThreshold: hc.FailureThreshold,
			SuccessThreshold: hc.SuccessThreshold,
			Logger:           log,
		})
		if err != nil {
			return fmt.Errorf("local: region %s: service %s: load balancer: %w", r.spec.Name, name, err)
		}
		if err := s.lb.Start(r.ctx); err != nil {
			return fmt.Errorf("local: region %s: service %s: start load balancer: %w", r.spec.Name, name, err)
		}
		if err := r.startNetProxy(s, addr); err != nil {
			return err
		}
	}
	r.applyFaults(s)
	sctx, cancel := context.WithCancel(r.ctx)
	s.cancel = cancel
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := g.Run(sctx); err != nil && !errors.Is(err, context.Canceled) {
			log.Error("instance group stopped", "err", err)
		}
	}()
	if s.lb != nil {
		r.wire(sctx, s)
	}
	r.services[name] = s
	log.Info("service started", "desired", desired)
	return nil
}

// wire keeps the load balancer's targets equal to the group's running
// instances, and replaces instances the load balancer finds unhealthy once
// they are past the health-check grace period.
func (r *Region) wire(ctx context.Context, s *service) {
	events, unsubscribe := s.group.Subscribe(64)
	lbEvents, lbUnsubscribe := s.lb.Subscribe(64)
	converge := func() {
		var targets []lb.Target
		for _, in := range s.group.Instances() {
			if in.State == compute.StateRunning || in.State == compute.StateStarting {
				targets = append(targets, lb.Target{ID: in.ID, Addr: in.Addr, Zone: in.Zone})
			}
		}
		if err := s.lb.SetTargets(targets); err != nil {
			r.log.Warn("update load balancer targets", "service", s.spec.Name, "err", err)
		}
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer unsubscribe()
		defer lbUnsubscribe()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		converge()
		for {
			select {
			case <-ctx.Done():
				return
			case <-events:
				converge()
			case <-tick.C:
				// Events may be dropped under load; converge anyway.
				converge()
			case ev := <-lbEvents:
				if ev.To != health.Unhealthy {
					continue
				}
				for _, in := range s.group.Instances() {
					if in.ID == ev.TargetID && time.Since(in.Started) >= r.opts.HealthGrace {
						s.group.MarkUnhealthy(in.ID, "load balancer health check: "+ev.Reason)
					}
				}
			}
		}
	}()
}

// stop stops the service: first the load balancer takes no new requests,
// then the instances are stopped and the wiring goroutines end.
func (s *service) stop(ctx context.Context) error {
	s.once.Do(func() {
		var errs []error
		s.stopNetProxy()
		if s.lb != nil {
			errs = append(errs, s.lb.Close(ctx))
		}
		s.cancel()
		s.wg.Wait()
		s.err = errors.Join(errs...)
	})
	return s.err
}

package main

import (
	"context"
	"fmt"
	"time"

	"github.com/pilotlight/pilotlight/capacity"
	"github.com/pilotlight/pilotlight/plan"
	"github.com/pilotlight/pilotlight/provider/sim"
	"github.com/pilotlight/pilotlight/runbook"
)

// outcome is what one way of recovering the plan cost on the simulator.
type outcome struct {
	Seconds   float64 `json:"seconds"`
	Calls     int     `json:"calls"`
	Throttles int     `json:"throttles"`
	Wall      float64 `json:"wallSeconds"`
}

// naive recovers p the way a first script would: one call per resource,
// in sequence, no client-side pacing, no cache, no batching; a throttled
// call is retried after a second, a capacity error moves the service to
// its next instance type (count recomputed); waits poll every 10s, one
// resource per call. It runs on a cloud of its own with the same seed and
// shortages as pilotlight's.
func naive(ctx context.Context, p *plan.Plan, seed int64, shorts []sim.Shortage) (outcome, error) {
	wall := time.Now()
	clock := sim.NewClock(sim.ClockOptions{})
	defer clock.Stop()
	p = sim.AsSim(p)
	cloud, err := sim.NewCloud(sim.CloudOptions{Plan: p, Clock: clock, Seed: seed, Shortages: shorts})
	if err != nil {
		return outcome{}, err
	}
	clock.Enter() // this goroutine drives the cloud
	defer clock.Leave()
	start := clock.Now()
	n := &naiveRun{ctx: ctx, clock: clock, cloud: cloud, p: p, to: p.Regions.Recovery.Name}
	if err := n.run(); err != nil {
		return outcome{}, err
	}
	o := outcome{Seconds: clock.Now().Sub(start).Seconds(), Wall: time.Since(wall).Seconds()}
	for _, a := range cloud.Stats() {
		o.Calls += a.Calls
		o.Throttles += a.Throttled
	}
	return o, nil
}

type naiveRun struct {
	ctx   context.Context
	clock *sim.Clock
	cloud *sim.Cloud
	p     *plan.Plan
	to    string
}

// do retries fn while it is throttled.
func (n *naiveRun) do(fn func() error) error {
	for {
		err := fn()
		if runbook.Classify(err) != runbook.ClassThrottled {
			return err
		}
		if err := n.clock.Sleep(n.ctx, "", time.Second); err != nil {
			return err
		}
	}
}

// poll calls done every 10s until it reports true.
func (n *naiveRun) poll(done func() (bool, error)) error {
	for {
		ok, err := done()
		if err != nil || ok {
			return err
		}
		if err := n.clock.Sleep(n.ctx, "", 10*time.Second); err != nil {
			return err
		}
	}
}

func (n *naiveRun) run() error {
	// Data: every database restored, then polled one by one.
	for _, db := range n.p.Data.Databases {
		if err := n.do(func() error { return n.cloud.RestoreDB(n.ctx, n.to, db, "naive") }); err != nil {
			return err
		}
	}
	pending := append([]plan.Database(nil), n.p.Data.Databases...)
	if err := n.poll(func() (bool, error) {
		var left []plan.Database
		for _, db := range pending {
			var got []sim.DBInstance
			if err := n.do(func() (err error) {
				got, err = n.cloud.DescribeDBInstances(n.ctx, n.to, []string{db.ID})
				return err
			}); err != nil {
				return false, err
			}
			if len(got) == 0 || got[0].Status != "available" {
				left = append(left, db)
			}
		}
		pending = left
		return len(pending) == 0, nil
	}); err != nil {
		return err
	}
	// Compute, tier by tier: one instance per call, one target per call.
	for t := 1; t <= 3; t++ {
		var tgs []string
		for i := range n.p.Services {
			s := &n.p.Services[i]
			if s.Tier != t {
				continue
			}
			ids, err := n.launch(s)
			if err != nil {
				return err
			}
			if s.LoadBalancer == nil {
				continue
			}
			tg, err := n.targetGroup(s)
			if err != nil {
				return err
			}
			for _, id := range ids {
				if err := n.do(func() error { return n.cloud.RegisterTargets(n.ctx, n.to, tg, []string{id}) }); err != nil {
					return err
				}
			}
			tgs = append(tgs, tg)
		}
		if err := n.poll(func() (bool, error) {
			var left []string
			for _, tg := range tgs {
				var ths []sim.TargetHealth
				if err := n.do(func() (err error) {
					ths, err = n.cloud.DescribeTargetHealth(n.ctx, n.to, tg)
					return err
				}); err != nil {
					return false, err
				}
				for _, th := range ths {
					if th.State != "healthy" {
						left = append(left, tg)
						break
					}
				}
			}
			tgs = left
			return len(tgs) == 0, nil
		}); err != nil {
			return err
		}
	}
	// DNS: one change per record, then each change polled.
	if n.p.Routing == nil {
		return nil
	}
	var changes []string
	for _, r := range n.p.Routing.Records {
		if r.Policy != plan.PolicyFailover {
			continue
		}
		var id string
		if err := n.do(func() (err error) {
			id, err = n.cloud.ChangeRecordSets(n.ctx, []sim.RecordChange{{Record: r.Name, Role: "recovery"}})
			return err
		}); err != nil {
			return err
		}
		changes = append(changes, id)
	}
	return n.poll(func() (bool, error) {
		var left []string
		for _, id := range changes {
			var st string
			if err := n.do(func() (err error) {
				st, err = n.cloud.GetChange(n.ctx, id)
				return err
			}); err != nil {
				return false, err
			}
			if st != "INSYNC" {
				left = append(left, id)
			}
		}
		changes = left
		return len(changes) == 0, nil
	})
}

// launch runs the service's instances one RunInstances call each, moving
// to the next type on a capacity error.
func (n *naiveRun) launch(s *plan.Service) ([]string, error) {
	types := sim.InstanceTypes(n.p, s, n.p.Regions.Recovery)
	ch, err := capacity.NewChooser(types, s.Compute.Count)
	if err != nil {
		return nil, err
	}
	zones := []string{n.to + "a", n.to + "b", n.to + "c"}
	var ids []string
	for {
		c := ch.Current()
		short := false
		for k := len(ids); k < c.Count; k++ {
			var got []sim.Instance
			err := n.do(func() (err error) {
				got, err = n.cloud.RunInstances(n.ctx, sim.LaunchSpec{Region: n.to, Service: s.Name, Type: c.Type,
					Zone: zones[k%len(zones)], Count: 1})
				return err
			})
			if runbook.Classify(err) == runbook.ClassCapacity {
				short = true
				break
			}
			if err != nil {
				return nil, err
			}
			ids = append(ids, got[0].ID)
		}
		if !short {
			return ids, nil
		}
		if len(ids) > 0 {
			if err := n.do(func() error { return n.cloud.TerminateInstances(n.ctx, n.to, ids) }); err != nil {
				return nil, err
			}
			ids = nil
		}
		if !ch.Next() {
			return nil, fmt.Errorf("naive: %s: no instance type left", s.Name)
		}
	}
}

// targetGroup finds the service's target group by listing (no cache: one
// listing per service), creating the load balancer when the region has
// none.
func (n *naiveRun) targetGroup(s *plan.Service) (string, error) {
	var lbs []sim.LoadBalancer
	if err := n.do(func() (err error) {
		lbs, err = n.cloud.DescribeLoadBalancers(n.ctx, n.to, "")
		return err
	}); err != nil {
		return "", err
	}
	for _, lb := range lbs {
		if lb.Service == s.Name && lb.TargetGroupARN != "" {
			return lb.TargetGroupARN, nil
		}
	}
	var lb sim.LoadBalancer
	var tg sim.TargetGroup
	if err := n.do(func() (err error) { lb, err = n.cloud.CreateLoadBalancer(n.ctx, n.to, s.Name); return err }); err != nil {
		return "", err
	}
	if err := n.do(func() (err error) { tg, err = n.cloud.CreateTargetGroup(n.ctx, n.to, s.Name); return err }); err != nil {
		return "", err
	}
	return tg.ARN, n.do(func() error { return n.cloud.CreateListener(n.ctx, n.to, lb.ARN, tg.ARN) })
}

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/pilotlight/pilotlight/dns"
	"github.com/pilotlight/pilotlight/health"
	"github.com/pilotlight/pilotlight/plan"
	"github.com/pilotlight/pilotlight/provider/local"
	"github.com/pilotlight/pilotlight/replicate"
	"github.com/pilotlight/pilotlight/replicate/events"
	"github.com/pilotlight/pilotlight/replicate/rpo"
)

// The routing of a running `up` is a local.RoutingControl: a pin is a pair
// of health overrides (the side left unhealthy, the side taken healthy),
// so the DNS server's failover logic answers with the pinned side whatever
// the probes say, until the pin is released.
var _ local.RoutingControl = (*routing)(nil)

// SetActive pins a failover record to role, or releases it ("").
func (rt *routing) SetActive(ctx context.Context, record, role string) error {
	rec := rt.record(record)
	if rec == nil {
		return fmt.Errorf("routing: pin %s: no failover record of that name in the plan", record)
	}
	prim, rec2 := health.TargetID(record, dns.RolePrimary), health.TargetID(record, dns.RoleRecovery)
	var err error
	switch role {
	case "":
		err = errors.Join(rt.reg.ClearOverride(prim), rt.reg.ClearOverride(rec2))
	case dns.RoleRecovery:
		err = errors.Join(rt.reg.Override(prim, health.Unhealthy, time.Time{}, "pinned to recovery"),
			rt.reg.Override(rec2, health.Healthy, time.Time{}, "pinned to recovery"))
	case dns.RolePrimary:
		err = errors.Join(rt.reg.Override(prim, health.Healthy, time.Time{}, "pinned to primary"),
			rt.reg.Override(rec2, health.Unhealthy, time.Time{}, "pinned to primary"))
	default:
		return fmt.Errorf("routing: pin %s: role %q: want primary, recovery or empty", record, role)
	}
	if err != nil {
		return fmt.Errorf("routing: pin %s to %q: %w", record, role, err)
	}
	rt.mu.Lock()
	if rt.pins == nil {
		rt.pins = map[string]string{}
	}
	if role == "" {
		delete(rt.pins, record)
	} else {
		rt.pins[record] = role
	}
	rt.mu.Unlock()
	rt.log.Info("record pinned", "record", record, "role", role)
	return nil
}

func (rt *routing) record(name string) *plan.Record {
	if rt.plan.Routing == nil {
		return nil
	}
	for i := range rt.plan.Routing.Records {
		if r := &rt.plan.Routing.Records[i]; r.Name == name && r.Policy == plan.PolicyFailover {
			return r
		}
	}
	return nil
}

// Routing returns the pin and health of every failover record.
func (rt *routing) Routing() []local.RecordRouting {
	var out []local.RecordRouting
	if rt.plan.Routing == nil {
		return out
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	for _, r := range rt.plan.Routing.Records {
		if r.Policy != plan.PolicyFailover {
			continue
		}
		p := rt.reg.Health(health.TargetID(r.Name, dns.RolePrimary))
		s := rt.reg.Health(health.TargetID(r.Name, dns.RoleRecovery))
		answer := dns.RolePrimary
		if p == health.Unhealthy && s != health.Unhealthy {
			answer = dns.RoleRecovery
		}
		out = append(out, local.RecordRouting{Record: r.Name, Pinned: rt.pins[r.Name], Primary: string(p), Recovery: string(s), Answer: answer})
	}
	return out
}

// replicationCtl runs `up`'s continuous replication in one direction at a
// time and runs one-off passes for recovery runbooks: it is the
// local.ReplicationControl of a running `up`.
type replicationCtl struct {
	ctx      context.Context // lives as long as `up`
	g        *globals
	p        *plan.Plan
	o        *replicateOptions
	receiver *events.Receiver
	log      *slog.Logger

	mu       sync.Mutex
	from, to string
	cancel   context.CancelFunc
	done     chan struct{}
	cur      *continuous
	last     []rpo.Status // status when replication was last stopped
}

var _ local.ReplicationControl = (*replicationCtl)(nil)

func newReplicationCtl(ctx context.Context, g *globals, p *plan.Plan, o *replicateOptions, receiver *events.Receiver, log *slog.Logger) *replicationCtl {
	return &replicationCtl{ctx: ctx, g: g, p: p, o: o, receiver: receiver, log: log}
}

// pairsFor returns the plan's bucket pairs replicating region from to
// region to (either way between the plan's two regions).
func (c *replicationCtl) pairsFor(ctx context.Context, from, to string) ([]pair, error) {
	prim, rec := c.p.Regions.Primary.Name, c.p.Regions.Recovery.Name
	f := &replicateFlags{}
	pairs, err := f.pairsFromPlan(ctx, c.g, c.p)
	if err != nil {
		return nil, err
	}
	switch {
	case from == prim && to == rec:
		return pairs, nil
	case from == rec && to == prim:
		for i := range pairs {
			pr := &pairs[i]
			pr.src, pr.dst = pr.dst, pr.src
			pr.id = unsafeChars.ReplaceAllString(rec+"-"+pr.src.Bucket+"-to-"+prim+"-"+pr.dst.Bucket, "_")
		}
		return pairs, nil
	}
	return nil, fmt.Errorf("replicate: direction %s → %s: want %s → %s or the reverse", from, to, prim, rec)
}

// SetDirection implements local.ReplicationControl.
func (c *replicationCtl) SetDirection(ctx context.Context, from, to string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if from == c.from && to == c.to && (from == "" || c.cur != nil) {
		return nil
	}
	var pairs []pair
	if from != "" || to != "" {
		var err error
		if pairs, err = c.pairsFor(ctx, from, to); err != nil {
			return err
		}
	}
	c.stopLocked()
	c.from, c.to = from, to
	if from == "" {
		c.log.Info("continuous replication paused")
		return nil
	}
	cont, err := newContinuous(c.g, pairs, c.o, c.log)
	if err != nil {
		return err
	}
	cont.receiver = c.receiver
	runCtx, cancel := context.WithCancel(c.ctx)
	done := make(chan struct{})
	c.cur, c.cancel, c.done = cont, cancel, done
	go func() {
		defer close(done)
		defer cont.close()
		if err := cont.run(runCtx); err != nil {
			c.log.Error("replication stopped", "err", err)
		}
	}()
	c.log.Info("continuous replication", "from", from, "to", to)
	return nil
}

// stopLocked stops the running replication and keeps its last status.
func (c *replicationCtl) stopLocked() {
	if c.cur == nil {
		return
	}
	c.last = c.cur.snapshot()
	c.cancel()
	<-c.done
	c.cur, c.cancel, c.done = nil, nil, nil
}

// stop stops replication for good (when `up` stops).
func (c *replicationCtl) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopLocked()
}

// Replication implements local.ReplicationControl.
func (c *replicationCtl) Replication() local.ReplicationState {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := local.ReplicationState{From: c.from, To: c.to, Paused: c.cur == nil}
	if c.cur != nil {
		st.Buckets = c.cur.snapshot()
	} else {
		st.Buckets = c.last
	}
	if st.Buckets == nil {
		st.Buckets = []rpo.Status{}
	}
	return st
}

// Sync implements local.ReplicationControl: one full pass of every plan
// bucket from → to, without a checkpoint (the continuous replication may
// hold it), comparing both listings.
func (c *replicationCtl) Sync(ctx context.Context, from, to string) (local.SyncResult, error) {
	res := local.SyncResult{From: from, To: to}
	start := time.Now()
	pairs, err := c.pairsFor(ctx, from, to)
	if err != nil {
		return res, err
	}
	o := *c.o
	o.noCheckpoint = true
	var errs []error
	for _, pr := range pairs {
		ro, err := o.engineOptions(c.g, pr, c.log)
		if err != nil {
			return res, err
		}
		r, err := replicate.New(pr.src, pr.dst, pr.policy, ro)
		if err != nil {
			return res, err
		}
		s, err := r.Pass(ctx)
		r.Close()
		res.Listed += int64(s.Listed)
		res.Copied += int64(s.Copied)
		res.Failed += int64(s.Failed)
		if err != nil {
			errs = append(errs, fmt.Errorf("bucket %s: %w", pr.name, err))
		}
	}
	res.Seconds = time.Since(start).Seconds()
	c.log.Info("replication pass", "from", from, "to", to, "listed", res.Listed, "copied", res.Copied, "failed", res.Failed, "seconds", res.Seconds)
	if err := errors.Join(errs...); err != nil {
		return res, fmt.Errorf("replicate: sync %s → %s: %w", from, to, err)
	}
	return res, nil
}

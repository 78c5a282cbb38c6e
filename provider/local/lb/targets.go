package lb

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"sync/atomic"

	"github.com/pilotlight/pilotlight/health"
)

// Target is one backend of the balancer.
type Target struct {
	ID   string // unique within the balancer, e.g. the instance ID
	Addr string // host:port
	Zone string // availability zone, informational
}

// TargetStatus is a snapshot of one target, for status pages and metrics.
type TargetStatus struct {
	ID         string        `json:"id"`
	Addr       string        `json:"addr"`
	Zone       string        `json:"zone"`
	State      health.State  `json:"state"`
	Draining   bool          `json:"draining"` // removed, finishing in-flight requests
	InFlight   int           `json:"inFlight"` // requests being proxied now
	Served     uint64        `json:"served"`   // requests proxied to completion
	Failed     uint64        `json:"failed"`   // requests that failed at the transport level
	LastResult health.Result `json:"lastResult"`
}

// Event is a health transition of one target.
type Event struct {
	TargetID string
	Zone     string
	health.Event
}

// backend is a registered target with its monitor and counters.
type backend struct {
	target   Target
	url      *url.URL
	mon      *health.Monitor
	ctx      context.Context // ends the monitor and aborts remaining requests
	stop     context.CancelFunc
	inflight atomic.Int64
	served   atomic.Uint64
	failed   atomic.Uint64
	removed  atomic.Bool
	idle     chan struct{} // signalled when a removed backend's inflight reaches 0
}

// release ends one in-flight request.
func (b *backend) release() {
	if b.inflight.Add(-1) == 0 && b.removed.Load() {
		select {
		case b.idle <- struct{}{}:
		default:
		}
	}
}

func (b *backend) healthy() bool { return b.mon.State() == health.Healthy }

type subscriber struct{ ch chan Event }

// SetTargets replaces the target set. Targets are matched by ID: a target
// whose Addr or Zone changed is replaced. New targets start health checks at
// once and receive traffic once healthy (see Config.StartHealthy). Removed
// targets get no new requests from now on; their in-flight requests may run
// for up to DrainTimeout, then are cancelled and the target's checks stop.
// An invalid list (empty or duplicate ID, bad address) changes nothing.
func (lb *LB) SetTargets(targets []Target) error {
	seen := make(map[string]bool, len(targets))
	for _, t := range targets {
		if t.ID == "" {
			return fmt.Errorf("lb: set targets %s: target %q: empty id", lb.cfg.Name, t.Addr)
		}
		if seen[t.ID] {
			return fmt.Errorf("lb: set targets %s: target %s: duplicate id", lb.cfg.Name, t.ID)
		}
		seen[t.ID] = true
		if _, _, err := net.SplitHostPort(t.Addr); err != nil {
			return fmt.Errorf("lb: set targets %s: target %s: address %q: %w", lb.cfg.Name, t.ID, t.Addr, err)
		}
	}
	lb.mu.Lock()
	defer lb.mu.Unlock()
	if lb.closing {
		return fmt.Errorf("lb: set targets %s: %w", lb.cfg.Name, ErrClosed)
	}
	next := make([]*backend, 0, len(targets))
	byID := make(map[string]*backend, len(targets))
	for _, t := range targets {
		b := lb.byID[t.ID]
		if b == nil || b.target != t {
			b = lb.add(t)
		}
		next = append(next, b)
		byID[t.ID] = b
	}
	var gone []*backend
	for id, b := range lb.byID {
		if byID[id] != b {
			gone = append(gone, b)
		}
	}
	lb.byID = byID
	lb.active.Store(&next)
	// Mark after the swap: a request that picked b from the old list sees
	// removed and picks again (see pick).
	for _, b := range gone {
		lb.remove(b)
	}
	return nil
}

// add starts checking t. Callers hold lb.mu.
func (lb *LB) add(t Target) *backend {
	c := lb.cfg.Check
	c.Target = t.Addr
	initial := health.Unknown
	if lb.cfg.StartHealthy {
		initial = health.Healthy
	}
	b := &backend{
		target: t,
		url:    &url.URL{Scheme: "http", Host: t.Addr},
		idle:   make(chan struct{}, 1),
		mon: health.NewMonitor(c, health.MonitorOptions{
			Interval:         lb.cfg.Interval,
			FailureThreshold: lb.cfg.FailureThreshold,
			SuccessThreshold: lb.cfg.SuccessThreshold,
			Initial:          initial,
			Clock:            lb.cfg.Clock,
			Logger:           lb.baseLog.With("lb", lb.cfg.Name, "target_id", t.ID),
		}),
	}
	b.ctx, b.stop = context.WithCancel(lb.base)
	events, unsubscribe := b.mon.Subscribe(16)
	lb.wg.Add(2)
	go func() {
		defer lb.wg.Done()
		_ = b.mon.Run(b.ctx)
	}()
	go func() {
		defer lb.wg.Done()
		defer unsubscribe()
		for {
			select {
			case ev := <-events:
				lb.publish(Event{TargetID: t.ID, Zone: t.Zone, Event: ev})
			case <-b.ctx.Done():
				return
			}
		}
	}()
	lb.log.Info("target added", "target_id", t.ID, "addr", t.Addr, "zone", t.Zone)
	return b
}

// remove drains b in the background. Callers hold lb.mu.
func (lb *LB) remove(b *backend) {
	b.removed.Store(true)
	lb.drains[b] = struct{}{}
	lb.wg.Add(1)
	go func() {
		defer lb.wg.Done()
		t := lb.cfg.Clock.NewTimer(lb.cfg.DrainTimeout)
		defer t.Stop()
	wait:
		for b.inflight.Load() > 0 {
			select {
			case <-b.idle:
			case <-t.C():
				lb.log.Warn("drain timeout, cancelling requests", "target_id", b.target.ID, "in_flight", b.inflight.Load())
				break wait
			case <-b.ctx.Done():
				break wait
			}
		}
		b.stop()
		lb.mu.Lock()
		delete(lb.drains, b)
		lb.mu.Unlock()
		lb.log.Info("target removed", "target_id", b.target.ID, "addr", b.target.Addr)
	}()
}

// Targets returns the status of every registered target in SetTargets
// order, followed by targets still draining.
func (lb *LB) Targets() []TargetStatus {
	lb.mu.Lock()
	list := append([]*backend(nil), *lb.active.Load()...)
	for b := range lb.drains {
		list = append(list, b)
	}
	lb.mu.Unlock()
	out := make([]TargetStatus, 0, len(list))
	for _, b := range list {
		s := TargetStatus{
			ID: b.target.ID, Addr: b.target.Addr, Zone: b.target.Zone,
			State:    b.mon.State(),
			Draining: b.removed.Load(),
			InFlight: int(b.inflight.Load()),
			Served:   b.served.Load(),
			Failed:   b.failed.Load(),
		}
		if last := b.mon.Last(); len(last) > 0 {
			s.LastResult = last[len(last)-1]
		}
		out = append(out, s)
	}
	return out
}

// Subscribe returns a channel of target health transitions and a function
// that unsubscribes and closes it. Close also closes it. The balancer never
// blocks on a subscriber: when the buffer (buf, minimum 1) is full the event
// is dropped and counted in Dropped; re-read Targets to resynchronise.
func (lb *LB) Subscribe(buf int) (<-chan Event, func()) {
	if buf < 1 {
		buf = 1
	}
	s := &subscriber{ch: make(chan Event, buf)}
	lb.mu.Lock()
	defer lb.mu.Unlock()
	if lb.closing {
		close(s.ch)
		return s.ch, func() {}
	}
	lb.subs[s] = struct{}{}
	return s.ch, func() {
		lb.mu.Lock()
		defer lb.mu.Unlock()
		if _, ok := lb.subs[s]; ok {
			delete(lb.subs, s)
			close(s.ch)
		}
	}
}

// Dropped returns how many events subscribers missed because their buffer
// was full.
func (lb *LB) Dropped() uint64 { return lb.dropped.Load() }

func (lb *LB) publish(ev Event) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	for s := range lb.subs {
		select {
		case s.ch <- ev:
		default:
			lb.dropped.Add(1)
		}
	}
}

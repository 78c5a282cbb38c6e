package sim

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/pilotlight/pilotlight/capacity"
	"github.com/pilotlight/pilotlight/plan"
	awsp "github.com/pilotlight/pilotlight/provider/aws"
	"github.com/pilotlight/pilotlight/recovery"
	"github.com/pilotlight/pilotlight/runbook"
)

// Interface guards.
var (
	_ recovery.Provider     = (*Provider)(nil)
	_ recovery.BatchRouting = (*Provider)(nil)
	_ recovery.Databases    = (*Provider)(nil)
)

// Provider is pilotlight's side of the simulated cloud: it implements the
// recovery interfaces by calling the Cloud's API the way provider/aws
// calls AWS:
//
//   - every call first waits for its tokens in client-side buckets with
//     the cloud's definitions (aws.Buckets on the virtual clock), so that
//     it is not throttled;
//   - Scale launches each zone's share in RunInstances calls of up to the
//     RunInstances burst (MinCount = MaxCount) with client tokens derived
//     from the step key, type, zone and batch, so that a retried or
//     resumed step launches nothing twice; a zone out of capacity for the
//     type passes its share to the next zones (and is remembered), and
//     when every zone is out the step gets a capacity error and the
//     engine falls back to the next type;
//   - waits are confirmed with as few describes as the API allows: the
//     provider knows when what it started is due (the model's durations
//     at their upper spread), answers "not yet" before that without a
//     call, and then describes everything in flight at once through a
//     runbook.Cache (DescribeInstances with up to 1,000 IDs, one
//     DescribeTargetHealth per target group, DescribeDBInstances with up
//     to 100 IDs), whose TTL lets the other waiters share the answer.
//
// A Provider holds only what a pilotlight process would hold in memory:
// after a crash, a new Provider on the same Cloud resumes.
type Provider struct {
	cloud *Cloud
	o     ProviderOptions
	pace  *awsp.Buckets
	p     *plan.Plan

	mu        sync.Mutex
	short     map[string]bool           // region/zone/type without capacity
	probing   map[string]*waiters       // region/zone/type: first launch under way
	good      map[string]bool           // region/zone/type launched once
	lbs       map[string]*lbDirectory   // by region
	launched  map[string]*serviceLaunch // region/service
	dbs       map[string]time.Time      // region/db → due
	instCache map[string]*runbook.Cache[Instance]
	dbCache   map[string]*runbook.Cache[DBInstance]
	thCache   map[string]*runbook.Cache[[]TargetHealth]
	probes    int
	flights   map[string]*flight
}

// flight lets one caller at a time through a shared describe cache: the
// others wait (not counted active on the clock) and then find the answer
// in the cache. Without it a caller coalesced into another's fetch would
// block unseen by the clock.
type flight struct {
	mu      sync.Mutex
	running bool
	waiters int
	done    chan struct{}
}

// serial runs fn as the only caller of name's flight.
func (pr *Provider) serial(ctx context.Context, who, name string, fn func()) {
	pr.mu.Lock()
	f := pr.flights[name]
	if f == nil {
		f = &flight{}
		pr.flights[name] = f
	}
	pr.mu.Unlock()
	for {
		f.mu.Lock()
		if !f.running {
			f.running, f.done = true, make(chan struct{})
			f.mu.Unlock()
			break
		}
		f.waiters++
		d := f.done
		f.mu.Unlock()
		pr.cloud.clock.Leave()
		<-d // the runner counted us active again
		_ = pr.turn(ctx, who)
	}
	fn()
	f.mu.Lock()
	n, d := f.waiters, f.done
	f.running, f.waiters = false, 0
	f.mu.Unlock()
	for range n {
		pr.cloud.clock.Enter()
	}
	close(d)
}

// ProviderOptions configure a Provider.
type ProviderOptions struct {
	// Poll is how long describe answers are shared (default 10s, the
	// recovery runbook's poll interval in a simulation).
	Poll time.Duration
	// NoPacing turns the client-side buckets off (calls may be throttled).
	NoPacing bool
}

// serviceLaunch is what the provider launched for a service.
type serviceLaunch struct {
	ids    []string
	tg     string
	lbDNS  string
	typ    string
	due    time.Time
	region string
}

// lbDirectory is the load balancers and target groups of a region, listed
// once.
type lbDirectory struct {
	w     *waiters                // ready and err are guarded by the Provider's mu
	lbs   map[string]LoadBalancer // by service
	tgs   map[string]string       // service → target group ARN
	err   error
	mu    sync.Mutex
	ready bool
}

// NewProvider returns pilotlight's provider on cloud.
func NewProvider(cloud *Cloud, o ProviderOptions) *Provider {
	if o.Poll <= 0 {
		o.Poll = 10 * time.Second
	}
	pr := &Provider{cloud: cloud, o: o, p: cloud.o.Plan, short: map[string]bool{},
		probing: map[string]*waiters{}, good: map[string]bool{}, lbs: map[string]*lbDirectory{},
		launched: map[string]*serviceLaunch{}, dbs: map[string]time.Time{},
		instCache: map[string]*runbook.Cache[Instance]{}, dbCache: map[string]*runbook.Cache[DBInstance]{},
		thCache: map[string]*runbook.Cache[[]TargetHealth]{}, flights: map[string]*flight{}}
	if !o.NoPacing {
		pr.pace = awsp.NewBuckets(cloud.o.Limits, cloud.clock)
	}
	return pr
}

// Probes returns the probes made (Reachable and Verify): end-to-end
// requests, not cloud API calls.
func (pr *Provider) Probes() int {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	return pr.probes
}

// wait takes the tokens of action (and n of resource) from the client
// buckets.
func (pr *Provider) wait(ctx context.Context, action, resource string, n int) error {
	if pr.pace == nil {
		return nil
	}
	for _, k := range bucketsOf(action) {
		if err := pr.pace.Wait(ctx, k, 1); err != nil {
			return err
		}
	}
	if resource != "" {
		return pr.pace.Wait(ctx, resource, n)
	}
	return nil
}

// turn waits for the caller's turn among the callers of the same
// instant, in key order, so that what they do to the provider's shared
// state does not depend on the Go scheduler.
func (pr *Provider) turn(ctx context.Context, key string) error {
	return pr.cloud.clock.Sleep(ctx, key, 0)
}

// upper is d at the top of the cloud's spread: what the provider waits
// before it describes.
func (pr *Provider) upper(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (1 + pr.cloud.o.Spread))
}

func (pr *Provider) service(name string) (*plan.Service, error) {
	for i := range pr.p.Services {
		if pr.p.Services[i].Name == name {
			return &pr.p.Services[i], nil
		}
	}
	return nil, runbook.Fatal(fmt.Errorf("sim: service %s: not in plan %s", name, pr.p.Name))
}

// zones returns the zones a service launches into: one per subnet of its
// compute.aws (by index), or the region's first.
func (pr *Provider) zones(regionName string, svc *plan.Service) ([]string, error) {
	rg, err := pr.cloud.region(regionName)
	if err != nil {
		return nil, err
	}
	n := 1
	if svc.Compute.AWS != nil && len(svc.Compute.AWS.Subnets) > 0 {
		n = min(len(svc.Compute.AWS.Subnets), len(rg.zones))
	}
	return rg.zones[:n], nil
}

// token derives a client token from a step key and what makes one call
// differ from another.
func token(key string, parts ...any) string {
	h := sha256.New()
	fmt.Fprint(h, key)
	for _, p := range parts {
		fmt.Fprintf(h, "\x00%v", p)
	}
	return "pl-" + hex.EncodeToString(h.Sum(nil)[:24])
}

// Scale runs count instances of instanceType for service in region (see
// Provider) and registers them with the service's load balancer, creating
// it when the region has none. It is idempotent for a given key.
func (pr *Provider) Scale(ctx context.Context, regionName, service, instanceType string, count int, key string) error {
	if err := pr.turn(ctx, "scale/"+service); err != nil {
		return err
	}
	svc, err := pr.service(service)
	if err != nil {
		return err
	}
	if count < 0 {
		return runbook.Fatal(fmt.Errorf("sim: scale %s in %s: count %d < 0", service, regionName, count))
	}
	typ := instanceType
	if typ == "" {
		typ = InstanceTypes(pr.p, svc, pr.p.Regions.Recovery)[0]
	}
	zones, err := pr.zones(regionName, svc)
	if err != nil {
		return err
	}
	ids, err := pr.launch(ctx, regionName, svc, typ, zones, count, key)
	if err != nil {
		return err
	}
	sl := &serviceLaunch{ids: ids, typ: typ, region: regionName}
	m := pr.cloud.o.Model
	due := pr.cloud.clock.Now().Add(pr.upper(m.Launch(typ) + m.Instance.Boot.D()))
	if svc.LoadBalancer != nil && len(ids) > 0 {
		lb, tg, err := pr.ensureLoadBalancer(ctx, regionName, svc)
		if err != nil {
			return err
		}
		for _, batch := range chunk(ids, MaxTargets) {
			if err := pr.wait(ctx, ActRegisterTargets, "", 0); err != nil {
				return err
			}
			if err := pr.cloud.RegisterTargets(ctx, regionName, tg, batch); err != nil {
				return fmt.Errorf("sim: scale %s: %w", service, err)
			}
		}
		now := pr.cloud.clock.Now()
		if lb.State != "active" {
			due = maxTime(due, now.Add(pr.upper(m.LoadBalancer.Create.D())))
		}
		due = maxTime(due, now.Add(m.LoadBalancer.Register.D()))
		interval, threshold := HealthCheck(svc, m)
		due = due.Add(interval * time.Duration(threshold))
		sl.tg, sl.lbDNS = tg, lb.DNS
	}
	sl.due = due
	pr.mu.Lock()
	pr.launched[regionName+"/"+service] = sl
	pr.mu.Unlock()
	return nil
}

// launch runs count instances of typ over zones, each zone's share in
// calls of up to the RunInstances burst, and returns their IDs.
func (pr *Provider) launch(ctx context.Context, regionName string, svc *plan.Service, typ string, zones []string, count int, key string) ([]string, error) {
	batch := MaxDescribeIDs
	if b := pr.cloud.buckets[awsp.LimitRunInstances]; b != nil {
		batch = min(batch, b.limit.Burst)
	}
	var ids []string
	left := count
	done := map[string]bool{}
	for left > 0 {
		var open []string
		for _, z := range zones {
			if !done[z] && !pr.isShort(regionName, z, typ) {
				open = append(open, z)
			}
		}
		if len(open) == 0 {
			pr.rollback(ctx, regionName, ids)
			return nil, fmt.Errorf("sim: scale %s: %w", svc.Name, &capacity.InsufficientCapacityError{Type: typ, Zone: regionName})
		}
		z := open[0]
		share := (left + len(open) - 1) / len(open)
		got := 0
		for b := 0; got < share; b++ {
			m := min(share-got, batch)
			spec := LaunchSpec{Region: regionName, Service: svc.Name, Type: typ, Zone: z, Count: m, StepKey: key,
				ClientToken: token(key, typ, z, b, m)}
			probe, wasShort := pr.probe(ctx, "scale/"+svc.Name, regionName, z, typ)
			if wasShort {
				break
			}
			if err := pr.wait(ctx, ActRunInstances, awsp.LimitRunInstances, m); err != nil {
				probe(false, false)
				return nil, err
			}
			insts, err := pr.cloud.RunInstances(ctx, spec)
			if runbook.Classify(err) == runbook.ClassCapacity {
				probe(false, true)
				break
			}
			probe(err == nil, false)
			if err != nil {
				return nil, fmt.Errorf("sim: scale %s: %w", svc.Name, err)
			}
			for _, in := range insts {
				ids = append(ids, in.ID)
			}
			got += len(insts)
		}
		done[z] = true
		left -= got
	}
	return ids, nil
}

// rollback terminates what a failed launch started (best effort), so that
// the fallback type does not run beside it.
func (pr *Provider) rollback(ctx context.Context, regionName string, ids []string) {
	for _, batch := range chunk(ids, MaxDescribeIDs) {
		if pr.wait(ctx, ActTerminateInstances, awsp.LimitTerminateInstances, len(batch)) == nil {
			_ = pr.cloud.TerminateInstances(ctx, regionName, batch)
		}
	}
}

// probe returns once this launch may try zone for typ: the first launch
// of a type in a zone goes alone (concurrent ones wait for its outcome, so
// that a shortage costs one failed call, not one per service). It returns
// true when the zone is known short; otherwise the caller must report
// the outcome with done(ok, short).
func (pr *Provider) probe(ctx context.Context, who, regionName, zone, typ string) (done func(ok, short bool), short bool) {
	k := regionName + "/" + zone + "/" + typ
	for {
		pr.mu.Lock()
		switch {
		case pr.short[k]:
			pr.mu.Unlock()
			return nil, true
		case pr.good[k]:
			pr.mu.Unlock()
			return func(bool, bool) {}, false
		}
		w, ok := pr.probing[k]
		if !ok {
			w = &waiters{done: make(chan struct{})}
			pr.probing[k] = w
			pr.mu.Unlock()
			return func(good, short bool) {
				pr.mu.Lock()
				pr.good[k] = pr.good[k] || good
				pr.short[k] = pr.short[k] || short
				delete(pr.probing, k)
				pr.mu.Unlock()
				w.wake(pr.cloud.clock)
			}, false
		}
		w.n++
		pr.mu.Unlock()
		pr.cloud.clock.Leave()
		<-w.done              // the waker counted us active again
		_ = pr.turn(ctx, who) // woken with others: take turns again
	}
}

// waiters are participants blocked on another's work, not on the clock:
// they Leave before waiting, and the one who wakes them Enters for each
// before it closes done, so that the clock never sees a moment when
// nobody is active in between. n is guarded by the Provider's mu.
type waiters struct {
	n    int
	done chan struct{}
}

func (w *waiters) wake(c *Clock) {
	for range w.n {
		c.Enter()
	}
	close(w.done)
}

func (pr *Provider) isShort(regionName, zone, typ string) bool {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	return pr.short[regionName+"/"+zone+"/"+typ]
}

// ensureLoadBalancer returns the service's load balancer and target group
// ARN in region, from the region's directory (listed once), creating
// what is missing.
func (pr *Provider) ensureLoadBalancer(ctx context.Context, regionName string, svc *plan.Service) (LoadBalancer, string, error) {
	d, err := pr.directory(ctx, "scale/"+svc.Name, regionName)
	if err != nil {
		return LoadBalancer{}, "", err
	}
	d.mu.Lock()
	lb, okLB := d.lbs[svc.Name]
	tg, okTG := d.tgs[svc.Name]
	d.mu.Unlock()
	if okLB && okTG && lb.TargetGroupARN == tg {
		return lb, tg, nil
	}
	if !okLB {
		if lb, err = pr.cloud.CreateLoadBalancer(ctx, regionName, svc.Name); err != nil {
			return LoadBalancer{}, "", err
		}
	}
	if !okTG {
		t, err := pr.cloud.CreateTargetGroup(ctx, regionName, svc.Name)
		if err != nil {
			return LoadBalancer{}, "", err
		}
		tg = t.ARN
	}
	if err := pr.cloud.CreateListener(ctx, regionName, lb.ARN, tg); err != nil {
		return LoadBalancer{}, "", err
	}
	lb.TargetGroupARN = tg
	d.mu.Lock()
	d.lbs[svc.Name], d.tgs[svc.Name] = lb, tg
	d.mu.Unlock()
	return lb, tg, nil
}

// directory lists the region's load balancers and target groups once;
// concurrent callers wait for the first (not counted active meanwhile).
func (pr *Provider) directory(ctx context.Context, who, regionName string) (*lbDirectory, error) {
	for {
		pr.mu.Lock()
		d, ok := pr.lbs[regionName]
		if !ok {
			d = &lbDirectory{w: &waiters{done: make(chan struct{})}, lbs: map[string]LoadBalancer{}, tgs: map[string]string{}}
			pr.lbs[regionName] = d
			pr.mu.Unlock()
			err := pr.list(ctx, regionName, d)
			pr.mu.Lock()
			d.ready, d.err = true, err
			if err != nil {
				delete(pr.lbs, regionName) // the next caller lists again
			}
			pr.mu.Unlock()
			d.w.wake(pr.cloud.clock)
			return d, err
		}
		if d.ready {
			pr.mu.Unlock()
			return d, nil
		}
		d.w.n++
		pr.mu.Unlock()
		pr.cloud.clock.Leave()
		<-d.w.done
		_ = pr.turn(ctx, who)
	}
}

func (pr *Provider) list(ctx context.Context, regionName string, d *lbDirectory) error {
	for after := ""; ; {
		if err := pr.wait(ctx, ActDescribeLoadBalancers, "", 0); err != nil {
			return err
		}
		page, err := pr.cloud.DescribeLoadBalancers(ctx, regionName, after)
		if err != nil {
			return err
		}
		for _, lb := range page {
			after = lb.Name
			if lb.Drill == pr.cloud.o.DrillID { // a drill's own, or production's outside one
				d.lbs[lb.Service] = lb
			}
		}
		if len(page) < MaxDescribePage {
			break
		}
	}
	for after := ""; ; {
		if err := pr.wait(ctx, ActDescribeTargetGroups, "", 0); err != nil {
			return err
		}
		page, err := pr.cloud.DescribeTargetGroups(ctx, regionName, after)
		if err != nil {
			return err
		}
		for _, tg := range page {
			after = tg.Name
			if tg.Drill == pr.cloud.o.DrillID {
				d.tgs[tg.Service] = tg.ARN
			}
		}
		if len(page) < MaxDescribePage {
			return nil
		}
	}
}

// Service returns the state of service in region: before what Scale
// started is due, what it launched as pending without a call; then the
// instances of every service in flight, described at once, and the
// health of the service's targets.
func (pr *Provider) Service(ctx context.Context, regionName, service string) (recovery.ServiceState, error) {
	if err := pr.turn(ctx, "service/"+service); err != nil {
		return recovery.ServiceState{}, err
	}
	pr.mu.Lock()
	sl, ok := pr.launched[regionName+"/"+service]
	pr.mu.Unlock()
	if !ok {
		// Scaled before a crash: find its instances by tag.
		var err error
		if sl, err = pr.rediscover(ctx, regionName, service); err != nil {
			return recovery.ServiceState{}, err
		}
	}
	inflight := sl.ids
	var horizon time.Time
	pr.mu.Lock()
	if !sl.due.IsZero() {
		for _, o := range pr.launched {
			if o.region == regionName && !o.due.IsZero() {
				inflight = append(inflight, o.ids...)
				horizon = maxTime(horizon, o.due)
			}
		}
	}
	pr.mu.Unlock()
	st := recovery.ServiceState{InstanceType: sl.typ, Desired: len(sl.ids), LoadBalancer: sl.lbDNS}
	if pr.cloud.clock.Now().Before(horizon) {
		return st, nil
	}
	var insts map[string]Instance
	var err error
	pr.serial(ctx, "service/"+service, "instances/"+regionName, func() { insts, err = pr.instCacheOf(regionName).GetMany(ctx, inflight) })
	if err != nil && len(insts) == 0 {
		return st, err
	}
	running := map[string]bool{}
	for _, id := range sl.ids {
		if insts[id].State == "running" {
			st.Running++
			running[id] = true
		}
	}
	if sl.tg == "" {
		st.Healthy = st.Running
	} else {
		ths, err := pr.thCacheOf(regionName).Get(ctx, sl.tg)
		if err != nil {
			return st, err
		}
		for _, t := range ths {
			if t.State == "healthy" && running[t.ID] {
				st.Healthy++
			}
		}
	}
	if st.Healthy >= len(sl.ids) {
		pr.mu.Lock()
		sl.due = time.Time{} // confirmed: no longer in flight
		pr.mu.Unlock()
	}
	return st, nil
}

// rediscover finds what an earlier process launched for service (by its
// tag) and its target group.
func (pr *Provider) rediscover(ctx context.Context, regionName, service string) (*serviceLaunch, error) {
	svc, err := pr.service(service)
	if err != nil {
		return nil, err
	}
	if err := pr.wait(ctx, ActDescribeInstances, "", 0); err != nil {
		return nil, err
	}
	insts, err := pr.cloud.DescribeServiceInstances(ctx, regionName, service)
	if err != nil {
		return nil, err
	}
	sl := &serviceLaunch{region: regionName}
	for _, in := range insts {
		if in.State != "terminated" {
			sl.ids = append(sl.ids, in.ID)
			sl.typ = in.Type
		}
	}
	if svc.LoadBalancer != nil {
		d, err := pr.directory(ctx, "service/"+service, regionName)
		if err != nil {
			return nil, err
		}
		d.mu.Lock()
		sl.tg, sl.lbDNS = d.tgs[service], d.lbs[service].DNS
		d.mu.Unlock()
	}
	pr.mu.Lock()
	pr.launched[regionName+"/"+service] = sl
	pr.mu.Unlock()
	return sl, nil
}

func (pr *Provider) instCacheOf(regionName string) *runbook.Cache[Instance] {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	c, ok := pr.instCache[regionName]
	if !ok {
		c = runbook.NewCache(func(ctx context.Context, ids []string) (map[string]Instance, error) {
			if err := pr.wait(ctx, ActDescribeInstances, "", 0); err != nil {
				return nil, err
			}
			list, err := pr.cloud.DescribeInstances(ctx, regionName, ids)
			out := make(map[string]Instance, len(list))
			for _, in := range list {
				out[in.ID] = in
			}
			return out, err
		}, runbook.CacheOptions{TTL: pr.o.Poll, MaxBatch: MaxDescribeIDs, Window: time.Microsecond, Clock: pr.cloud.clock})
		pr.instCache[regionName] = c
	}
	return c
}

func (pr *Provider) thCacheOf(regionName string) *runbook.Cache[[]TargetHealth] {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	c, ok := pr.thCache[regionName]
	if !ok {
		c = runbook.NewCache(func(ctx context.Context, arns []string) (map[string][]TargetHealth, error) {
			if err := pr.wait(ctx, ActDescribeTargetHealth, "", 0); err != nil {
				return nil, err
			}
			ths, err := pr.cloud.DescribeTargetHealth(ctx, regionName, arns[0])
			if err != nil {
				return nil, err
			}
			return map[string][]TargetHealth{arns[0]: ths}, nil
		}, runbook.CacheOptions{TTL: pr.o.Poll, MaxBatch: 1, Window: time.Microsecond, Clock: pr.cloud.clock})
		pr.thCache[regionName] = c
	}
	return c
}

func chunk(ids []string, n int) [][]string {
	var out [][]string
	for len(ids) > 0 {
		m := min(n, len(ids))
		out = append(out, ids[:m])
		ids = ids[m:]
	}
	return out
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

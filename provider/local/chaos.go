package local

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pilotlight/pilotlight/provider/local/compute"
	"github.com/pilotlight/pilotlight/provider/local/objstore"
)

// Fault kinds.
const (
	// FaultInstanceKill SIGKILLs random instances (Chaos Monkey); their
	// groups replace them. Rolling it back does nothing.
	FaultInstanceKill = "instance-kill"
	// FaultZoneOutage kills every instance in a zone and launches none
	// there until it is rolled back.
	FaultZoneOutage = "zone-outage"
	// FaultRegionOutage takes the whole region dark (Chaos Kong): load
	// balancers refuse connections, instances are killed and not replaced,
	// the object store is stopped.
	FaultRegionOutage = "region-outage"
	// FaultNetwork adds latency to, or blackholes, the traffic between
	// clients and the region's load balancers (needs Options.NetworkFaults).
	FaultNetwork = "network"
	// FaultStoreOutage stops the region's object store.
	FaultStoreOutage = "store-outage"
)

// ErrUnknownFault is returned when rolling back a fault ID that was never
// injected.
var ErrUnknownFault = errors.New("no such fault")

// FaultSpec describes a fault to inject.
type FaultSpec struct {
	// Kind is one of instance-kill, zone-outage, region-outage, network and
	// store-outage.
	Kind string `json:"kind"`
	// Region is the region's name (default: the primary region).
	Region string `json:"region,omitempty"`
	// Service limits instance-kill to one service (default: every service).
	Service string `json:"service,omitempty"`
	// Count is how many instances instance-kill kills in each service
	// (default 1), chosen at random.
	Count int `json:"count,omitempty"`
	// Zone is the zone of a zone-outage (default: the region's first zone).
	Zone string `json:"zone,omitempty"`
	// Latency is the delay a network fault adds to every response (at
	// least 1ms, and 0 with Blackhole).
	Latency time.Duration `json:"latency,omitempty"`
	// Blackhole makes a network fault drop all traffic: requests get no
	// response and connections hang until the fault is rolled back.
	Blackhole bool `json:"blackhole,omitempty"`
	// Seed drives the random choices so that a drill can be reproduced
	// (default: a random seed, reported in Fault.Spec).
	Seed int64 `json:"seed,omitempty"`
}

// Fault is an injected fault.
type Fault struct {
	ID          string    `json:"id"`
	Kind        string    `json:"kind"`
	Region      string    `json:"region"`
	Description string    `json:"description"`
	Injected    time.Time `json:"injected"`
	// Spec is the spec as applied, defaults (and the seed) filled in.
	Spec FaultSpec `json:"spec"`
	// Targets are what the fault hit: instance IDs, a zone, load-balancer
	// or store addresses.
	Targets []string `json:"targets,omitempty"`
}

// FaultStatus is an active fault, as Faults reports it.
type FaultStatus struct {
	Fault
	// RollbackError is the error of the last failed rollback; a further
	// rollback retries what is left to undo.
	RollbackError string `json:"rollbackError,omitempty"`
}

// chaosState is a region's injected faults.
type chaosState struct {
	// mu serialises injections and rollbacks; it is taken before Region.mu.
	mu        sync.Mutex
	closed    bool            // the region is stopping
	done      map[string]bool // IDs rolled back
	storeDown int             // active faults that hold the store down
	now       func() time.Time

	listMu sync.Mutex // guards active and each fault's err
	active []*activeFault

	// Guarded by Region.mu as well, since StartService reads them
	// (applyFaults, startNetProxy).
	zonesDown map[string]int     // zone → active faults holding it down
	lbsDown   int                // active faults holding the load balancers down
	netToxics map[string][]toxic // fault ID → toxics on every proxy
}

// activeFault is a fault with what is left to undo.
type activeFault struct {
	Fault
	undo []undoStep // in the order applied
	err  error      // last rollback error
}

type undoStep struct {
	what string
	fn   func(context.Context) error
}

// InjectFault injects a fault into the region named in spec (default: the
// primary). See FaultSpec and the Fault* kinds.
func (d *Deployment) InjectFault(ctx context.Context, spec FaultSpec) (*Fault, error) {
	r := d.Primary
	if spec.Region != "" {
		var err error
		if r, err = d.Region(spec.Region); err != nil {
			return nil, fmt.Errorf("local: inject fault: %w", err)
		}
	}
	return r.InjectFault(ctx, spec)
}

// RollbackFault rolls back the fault with the given ID. Rolling back a
// fault that was already rolled back does nothing; an ID never injected
// fails with ErrUnknownFault.
func (d *Deployment) RollbackFault(ctx context.Context, id string) error {
	for _, r := range d.Regions() {
		if err := r.RollbackFault(ctx, id); !errors.Is(err, ErrUnknownFault) {
			return err
		}
	}
	return fmt.Errorf("local: rollback fault %s: %w", id, ErrUnknownFault)
}

// Faults returns the active faults of both regions, oldest first.
func (d *Deployment) Faults() []FaultStatus {
	out := d.Primary.Faults()
	out = append(out, d.Recovery.Faults()...)
	slices.SortStableFunc(out, func(a, b FaultStatus) int { return a.Injected.Compare(b.Injected) })
	return out
}

// RollbackAll rolls back every active fault of both regions and returns
// the errors met. Region.Stop, and so Deployment.Stop, calls it first.
func (d *Deployment) RollbackAll(ctx context.Context) error {
	return errors.Join(d.Recovery.RollbackAll(ctx), d.Primary.RollbackAll(ctx))
}

// InjectFault injects a fault into the region; spec.Region must be empty
// or the region's name. If the injection fails half-way, what was applied
// is undone; if that fails too, the fault stays active (with its ID in the
// error) so that a later rollback can finish the job.
func (r *Region) InjectFault(ctx context.Context, spec FaultSpec) (*Fault, error) {
	spec, err := r.normalizeFault(spec)
	if err != nil {
		return nil, err
	}
	c := &r.chaos
	c.mu.Lock()
	defer c.mu.Unlock()
	r.mu.Lock()
	stopped, started := r.stopped, r.ctx != nil
	r.mu.Unlock()
	if c.closed || stopped || !started {
		return nil, fmt.Errorf("local: region %s: inject %s: region is not running", r.spec.Name, spec.Kind)
	}
	now := time.Now
	if c.now != nil {
		now = c.now
	}
	f := &activeFault{Fault: Fault{ID: r.newFaultID(), Kind: spec.Kind, Region: r.spec.Name, Injected: now(), Spec: spec}}
	switch spec.Kind {
	case FaultInstanceKill:
		err = r.injectInstanceKill(f)
	case FaultZoneOutage:
		err = r.injectZoneOutage(f)
	case FaultRegionOutage:
		err = r.injectRegionOutage(ctx, f)
	case FaultNetwork:
		err = r.injectNetwork(f)
	case FaultStoreOutage:
		err = r.injectStoreOutage(ctx, f)
	}
	if err != nil {
		err = fmt.Errorf("local: region %s: inject %s: %w", r.spec.Name, spec.Kind, err)
		if uerr := r.undo(ctx, f); uerr != nil {
			c.listMu.Lock()
			f.err = uerr
			c.active = append(c.active, f)
			c.listMu.Unlock()
			r.log.Error("fault half-injected; roll it back", "fault", f.ID, "kind", f.Kind, "err", err, "undoErr", uerr)
			return nil, fmt.Errorf("%w; undoing it failed too, roll back fault %s: %w", err, f.ID, uerr)
		}
		return nil, err
	}
	c.listMu.Lock()
	c.active = append(c.active, f)
	c.listMu.Unlock()
	r.log.Info("fault injected", "fault", f.ID, "kind", f.Kind, "description", f.Description)
	out := f.Fault
	out.Targets = slices.Clone(f.Targets)
	return &out, nil
}

// RollbackFault rolls back one of the region's faults; see
// Deployment.RollbackFault.
func (r *Region) RollbackFault(ctx context.Context, id string) error {
	c := &r.chaos
	c.mu.Lock()
	defer c.mu.Unlock()
	c.listMu.Lock()
	i := slices.IndexFunc(c.active, func(f *activeFault) bool { return f.ID == id })
	c.listMu.Unlock()
	if i < 0 {
		if c.done[id] {
			return nil
		}
		return fmt.Errorf("local: region %s: rollback fault %s: %w", r.spec.Name, id, ErrUnknownFault)
	}
	return r.rollback(ctx, c.active[i])
}

// RollbackAll rolls back every active fault of the region, newest first,
// and returns the errors met.
func (r *Region) RollbackAll(ctx context.Context) error {
	r.chaos.mu.Lock()
	defer r.chaos.mu.Unlock()
	return r.rollbackAll(ctx)
}

// closeFaults rolls back every fault and refuses new ones: the region is
// stopping.
func (r *Region) closeFaults(ctx context.Context) error {
	r.chaos.mu.Lock()
	defer r.chaos.mu.Unlock()
	r.chaos.closed = true
	return r.rollbackAll(ctx)
}

// rollbackAll is RollbackAll with chaos.mu held.
func (r *Region) rollbackAll(ctx context.Context) error {
	c := &r.chaos
	c.listMu.Lock()
	faults := slices.Clone(c.active)
	c.listMu.Unlock()
	var errs []error
	for _, f := range slices.Backward(faults) {
		errs = append(errs, r.rollback(ctx, f))
	}
	return errors.Join(errs...)
}

// Faults returns the region's active faults, oldest first.
func (r *Region) Faults() []FaultStatus {
	c := &r.chaos
	c.listMu.Lock()
	defer c.listMu.Unlock()
	out := make([]FaultStatus, 0, len(c.active))
	for _, f := range c.active {
		st := FaultStatus{Fault: f.Fault}
		st.Targets = slices.Clone(f.Targets)
		if f.err != nil {
			st.RollbackError = f.err.Error()
		}
		out = append(out, st)
	}
	return out
}

// rollback undoes f and forgets it, or keeps it with its error. Called with
// chaos.mu held.
func (r *Region) rollback(ctx context.Context, f *activeFault) error {
	c := &r.chaos
	err := r.undo(ctx, f)
	c.listMu.Lock()
	defer c.listMu.Unlock()
	if err != nil {
		f.err = err
		r.log.Error("fault rollback failed", "fault", f.ID, "kind", f.Kind, "err", err)
		return fmt.Errorf("local: region %s: rollback fault %s (%s): %w", r.spec.Name, f.ID, f.Kind, err)
	}
	c.active = slices.DeleteFunc(c.active, func(a *activeFault) bool { return a == f })
	if c.done == nil {
		c.done = map[string]bool{}
	}
	c.done[f.ID] = true
	r.log.Info("fault rolled back", "fault", f.ID, "kind", f.Kind)
	return nil
}

// undo runs f's undo steps, newest first. Steps that succeed are dropped;
// the failed ones stay for the next attempt. Called with chaos.mu held.
func (r *Region) undo(ctx context.Context, f *activeFault) error {
	var errs []error
	var left []undoStep
	for i := len(f.undo) - 1; i >= 0; i-- {
		s := f.undo[i]
		if err := s.fn(ctx); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.what, err))
			left = append([]undoStep{s}, left...)
		}
	}
	f.undo = left
	return errors.Join(errs...)
}

// normalizeFault checks spec and fills in its defaults.
func (r *Region) normalizeFault(spec FaultSpec) (FaultSpec, error) {
	bad := func(format string, args ...any) (FaultSpec, error) {
		return spec, fmt.Errorf("local: region %s: fault %s: %s", r.spec.Name, spec.Kind, fmt.Sprintf(format, args...))
	}
	if spec.Region == "" {
		spec.Region = r.spec.Name
	}
	if spec.Region != r.spec.Name {
		return bad("region %q is not this region", spec.Region)
	}
	if spec.Kind != FaultInstanceKill && (spec.Service != "" || spec.Count != 0) {
		return bad("service and count apply to %s only", FaultInstanceKill)
	}
	if spec.Kind != FaultZoneOutage && spec.Zone != "" {
		return bad("zone applies to %s only", FaultZoneOutage)
	}
	if spec.Kind != FaultNetwork && (spec.Latency != 0 || spec.Blackhole) {
		return bad("latency and blackhole apply to %s only", FaultNetwork)
	}
	switch spec.Kind {
	case FaultInstanceKill:
		if spec.Count < 0 {
			return bad("count %d < 0", spec.Count)
		}
		if spec.Count == 0 {
			spec.Count = 1
		}
		if spec.Service != "" && r.plan.Service(spec.Service) == nil {
			return bad("no service %q in the plan", spec.Service)
		}
	case FaultZoneOutage:
		if spec.Zone == "" {
			spec.Zone = r.Zones()[0]
		}
		if !slices.Contains(r.Zones(), spec.Zone) {
			return bad("zone %q is not one of %s", spec.Zone, strings.Join(r.Zones(), ", "))
		}
	case FaultNetwork:
		if !r.opts.NetworkFaults {
			return bad("the deployment runs without Options.NetworkFaults")
		}
		if spec.Blackhole == (spec.Latency != 0) {
			return bad("set either latency or blackhole")
		}
		if !spec.Blackhole && spec.Latency < time.Millisecond {
			return bad("latency %s < 1ms", spec.Latency)
		}
	case FaultRegionOutage, FaultStoreOutage:
	default:
		return spec, fmt.Errorf("local: region %s: unknown fault kind %q (want %s, %s, %s, %s or %s)", r.spec.Name, spec.Kind,
			FaultInstanceKill, FaultZoneOutage, FaultRegionOutage, FaultNetwork, FaultStoreOutage)
	}
	if spec.Seed == 0 && spec.Kind == FaultInstanceKill {
		var b [8]byte
		_, _ = rand.Read(b[:])
		spec.Seed = int64(binary.LittleEndian.Uint64(b[:]) >> 1)
	}
	return spec, nil
}

// newFaultID returns an ID unused in the region. Called with chaos.mu held.
func (r *Region) newFaultID() string {
	for {
		var b [3]byte
		_, _ = rand.Read(b[:])
		id := "fault-" + r.spec.Name + "-" + hex.EncodeToString(b[:])
		r.chaos.listMu.Lock()
		taken := slices.ContainsFunc(r.chaos.active, func(f *activeFault) bool { return f.ID == id })
		r.chaos.listMu.Unlock()
		if !taken && !r.chaos.done[id] {
			return id
		}
	}
}

// servicesInOrder returns the region's running services in plan order.
func (r *Region) servicesInOrder() []*service {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*service
	for i := range r.plan.Services {
		if s, ok := r.services[r.plan.Services[i].Name]; ok {
			out = append(out, s)
		}
	}
	return out
}

func (r *Region) injectInstanceKill(f *activeFault) error {
	rng := mrand.New(mrand.NewPCG(uint64(f.Spec.Seed), 0x9e3779b97f4a7c15))
	var parts []string
	for _, s := range r.servicesInOrder() {
		if f.Spec.Service != "" && s.spec.Name != f.Spec.Service {
			continue
		}
		var ids []string
		for _, in := range s.group.Instances() {
			if in.State == compute.StateRunning {
				ids = append(ids, in.ID)
			}
		}
		rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
		var killed []string
		for _, id := range ids[:min(f.Spec.Count, len(ids))] {
			// An instance that exited meanwhile is no error.
			if err := s.group.Kill(id, syscall.SIGKILL); err != nil && !errors.Is(err, compute.ErrNotFound) {
				return err
			}
			killed = append(killed, id)
		}
		if len(killed) > 0 {
			f.Targets = append(f.Targets, killed...)
			parts = append(parts, fmt.Sprintf("%s (%s)", s.spec.Name, strings.Join(killed, ", ")))
		}
	}
	if len(f.Targets) == 0 {
		if f.Spec.Service != "" {
			return fmt.Errorf("service %s has no running instance", f.Spec.Service)
		}
		return errors.New("no running instance")
	}
	f.Description = fmt.Sprintf("SIGKILLed %d instance(s) for their groups to replace: %s", len(f.Targets), strings.Join(parts, "; "))
	return nil
}

func (r *Region) injectZoneOutage(f *activeFault) error {
	killed := r.zonesDown(f, f.Spec.Zone)
	f.Targets = []string{f.Spec.Zone}
	f.Description = fmt.Sprintf("zone %s down: %d instance(s) killed, none launched there until rollback", f.Spec.Zone, killed)
	return nil
}

func (r *Region) injectRegionOutage(ctx context.Context, f *activeFault) error {
	lbs, err := r.lbsDown(f)
	if err != nil {
		return err
	}
	killed := r.zonesDown(f, r.Zones()...)
	if err := r.storeDown(ctx, f); err != nil {
		return err
	}
	f.Targets = append(lbs, r.StoreEndpoint())
	f.Description = fmt.Sprintf("region %s dark: %d load balancer(s) refuse connections, %d instance(s) killed and none launched, object store stopped",
		r.spec.Name, len(lbs), killed)
	return nil
}

func (r *Region) injectStoreOutage(ctx context.Context, f *activeFault) error {
	if err := r.storeDown(ctx, f); err != nil {
		return err
	}
	f.Targets = []string{r.StoreEndpoint()}
	f.Description = fmt.Sprintf("object store %s stopped", r.StoreEndpoint())
	return nil
}

func (r *Region) injectNetwork(f *activeFault) error {
	toxics := networkToxics(f.ID, f.Spec.Latency, f.Spec.Blackhole)
	r.mu.Lock()
	if r.chaos.netToxics == nil {
		r.chaos.netToxics = map[string][]toxic{}
	}
	r.chaos.netToxics[f.ID] = toxics
	r.mu.Unlock()
	f.undo = append(f.undo, undoStep{"remove network toxics", func(ctx context.Context) error {
		r.mu.Lock()
		delete(r.chaos.netToxics, f.ID)
		r.mu.Unlock()
		var errs []error
		for _, s := range r.servicesInOrder() {
			if s.net == nil {
				continue
			}
			for _, t := range toxics {
				errs = append(errs, s.net.removeToxic(ctx, t.Name))
			}
		}
		return errors.Join(errs...)
	}})
	for _, s := range r.servicesInOrder() {
		if s.net == nil {
			continue
		}
		for _, t := range toxics {
			if err := s.net.addToxic(t); err != nil {
				return err
			}
		}
		f.Targets = append(f.Targets, s.net.addr)
	}
	if len(f.Targets) == 0 {
		return errors.New("no load balancer runs in the region")
	}
	if f.Spec.Blackhole {
		f.Description = fmt.Sprintf("traffic to %d load balancer(s) blackholed: no response, connections hang", len(f.Targets))
	} else {
		f.Description = fmt.Sprintf("%s added to every response of %d load balancer(s)", f.Spec.Latency, len(f.Targets))
	}
	return nil
}

// zonesDown marks zones down in every group, kills their instances and
// records the undo step; it returns how many instances it signalled.
func (r *Region) zonesDown(f *activeFault, zones ...string) int {
	r.mu.Lock()
	if r.chaos.zonesDown == nil {
		r.chaos.zonesDown = map[string]int{}
	}
	for _, z := range zones {
		r.chaos.zonesDown[z]++
	}
	r.mu.Unlock()
	f.undo = append(f.undo, undoStep{"zones up", func(context.Context) error {
		r.mu.Lock()
		var up []string
		for _, z := range zones {
			if r.chaos.zonesDown[z]--; r.chaos.zonesDown[z] <= 0 {
				delete(r.chaos.zonesDown, z)
				up = append(up, z)
			}
		}
		r.mu.Unlock()
		for _, s := range r.servicesInOrder() {
			for _, z := range up {
				s.group.SetZoneDown(z, false)
			}
		}
		return nil
	}})
	killed := 0
	for _, s := range r.servicesInOrder() {
		for _, z := range zones {
			s.group.SetZoneDown(z, true)
		}
		for _, z := range zones {
			killed += s.group.KillZone(z)
		}
	}
	return killed
}

// lbsDown closes every load balancer's listener (and its proxy) and records
// the undo step; it returns the public addresses.
func (r *Region) lbsDown(f *activeFault) ([]string, error) {
	r.mu.Lock()
	r.chaos.lbsDown++
	r.mu.Unlock()
	f.undo = append(f.undo, undoStep{"load balancers up", func(ctx context.Context) error {
		r.mu.Lock()
		last := r.chaos.lbsDown == 1
		r.mu.Unlock()
		if last {
			var errs []error
			for _, s := range r.servicesInOrder() {
				errs = append(errs, resumeLB(ctx, s))
			}
			if err := errors.Join(errs...); err != nil {
				return err
			}
		}
		r.mu.Lock()
		r.chaos.lbsDown--
		r.mu.Unlock()
		return nil
	}})
	var addrs []string
	var errs []error
	for _, s := range r.servicesInOrder() {
		if s.lb == nil {
			continue
		}
		errs = append(errs, pauseLB(s))
		addrs = append(addrs, s.lbPublicAddr())
	}
	return addrs, errors.Join(errs...)
}

func pauseLB(s *service) error {
	if s.lb == nil {
		return nil
	}
	s.stopNetProxy()
	return s.lb.Pause()
}

func resumeLB(ctx context.Context, s *service) error {
	if s.lb == nil {
		return nil
	}
	if err := s.lb.Resume(ctx); err != nil {
		return err
	}
	if s.net != nil {
		return s.net.start()
	}
	return nil
}

// storeDown stops the object store (unless another fault holds it down)
// and records the undo step, which starts it again from the same data
// directory and address.
func (r *Region) storeDown(ctx context.Context, f *activeFault) error {
	c := &r.chaos
	if c.storeDown == 0 {
		r.mu.Lock()
		p := r.store
		r.mu.Unlock()
		if p != nil {
			// An outage is a crash, not a shutdown: no draining of
			// connections, no last writes.
			p.Kill()
		}
	}
	c.storeDown++
	f.undo = append(f.undo, undoStep{"restart object store", func(ctx context.Context) error {
		if c.storeDown == 1 {
			p, err := objstore.Start(ctx, r.storeSpec())
			if err != nil {
				return err
			}
			r.mu.Lock()
			r.store = p
			r.mu.Unlock()
		}
		c.storeDown--
		return nil
	}})
	return nil
}

// applyFaults puts a service started during an outage in the same state as
// the rest of the region. Called with r.mu held, before the group runs.
func (r *Region) applyFaults(s *service) {
	for z := range r.chaos.zonesDown {
		s.group.SetZoneDown(z, true)
	}
	if r.chaos.lbsDown > 0 {
		if err := pauseLB(s); err != nil {
			r.log.Warn("pause load balancer of a service started during a region outage", "service", s.spec.Name, "err", err)
		}
	}
}

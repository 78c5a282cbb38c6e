package recovery

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/pilotlight/pilotlight/capacity"
	"github.com/pilotlight/pilotlight/plan"
	"github.com/pilotlight/pilotlight/runbook"
)

// Direction of a recovery.
type Direction string

// Directions.
const (
	// Failover moves the service from the primary to the recovery region.
	Failover Direction = "failover"
	// Failback returns it to the primary region.
	Failback Direction = "failback"
)

// Mode of a failover.
type Mode string

// Modes.
const (
	// Graceful: the region being left is reachable; its writes are fenced
	// and a final replication pass runs before the replica is promoted, so
	// no acknowledged write is lost.
	Graceful Mode = "graceful"
	// Ungraceful: the region being left is gone; the replica is promoted
	// as it is (the loss is bounded by replication's RPO).
	Ungraceful Mode = "ungraceful"
)

// Runbook tiers. Services of plan tier t run in runbook tier TierCompute+t-1.
const (
	TierPrepare = 0
	TierData    = 1
	TierCompute = 2 // .. 4, by service tier
	TierResync  = 5 // failback: fence the recovery region and copy its data back
	TierDNS     = 6
	TierFinish  = 7
	TierVerify  = 8
)

// TierName names a runbook tier for progress and reports.
func TierName(t int) string {
	switch {
	case t == TierPrepare:
		return "prepare"
	case t == TierData:
		return "data"
	case t >= TierCompute && t < TierResync:
		return "compute tier " + strconv.Itoa(t-TierCompute+1)
	case t == TierResync:
		return "resync"
	case t == TierDNS:
		return "dns"
	case t == TierFinish:
		return "finish"
	case t == TierVerify:
		return "verify"
	}
	return "tier " + strconv.Itoa(t)
}

// Options shape the runbook.
type Options struct {
	Direction Direction
	Mode      Mode
	// Approver, when set, adds a manual approval before anything changes.
	Approver runbook.Approver
	// HealthyTimeout bounds the wait for load balancers and the end-to-end
	// check (default 2m).
	HealthyTimeout time.Duration
	// Poll is the interval of those waits (default 200ms).
	Poll time.Duration
	// Isolated builds a drill's runbook (see isolated.go): the failover's
	// compute, data restores and load balancers in the recovery region,
	// with no fence, final sync, promotion, DNS switch or hooks, and smoke
	// checks of the recovered load balancers instead of the request
	// through DNS. The provider must implement Smoke.
	Isolated bool
	// DrillID names the isolated drill (required with Isolated); it names
	// the runbook, so step keys never match a real failover's.
	DrillID string
}

// Build returns the runbook that moves plan p's service in direction
// o.Direction through prov. Step IDs are stable for a plan and options, so
// that a resumed run finds its journal.
func Build(p *plan.Plan, prov Provider, o Options) (runbook.Runbook, error) {
	if o.HealthyTimeout <= 0 {
		o.HealthyTimeout = 2 * time.Minute
	}
	if o.Poll <= 0 {
		o.Poll = 200 * time.Millisecond
	}
	if o.Direction == "" {
		o.Direction = Failover
	}
	if o.Mode == "" {
		o.Mode = Graceful
	}
	switch o.Direction {
	case Failover, Failback:
	default:
		return runbook.Runbook{}, fmt.Errorf("recovery: build: direction %q: want failover or failback", o.Direction)
	}
	switch o.Mode {
	case Graceful, Ungraceful:
	default:
		return runbook.Runbook{}, fmt.Errorf("recovery: build: mode %q: want graceful or ungraceful", o.Mode)
	}
	if err := checkIsolated(prov, o); err != nil {
		return runbook.Runbook{}, err
	}
	b := &builder{p: p, prov: prov, o: o}
	from, to := p.Regions.Primary.Name, p.Regions.Recovery.Name
	if o.Direction == Failback {
		from, to = to, from
	}
	b.from, b.to = from, to
	if err := b.build(); err != nil {
		return runbook.Runbook{}, err
	}
	rb := runbook.Runbook{Name: string(o.Direction) + "-" + p.Name, Steps: b.steps}
	if o.Isolated {
		rb.Name = "drill-" + o.DrillID + "-" + p.Name
	}
	return rb, rb.Validate()
}

type builder struct {
	p        *plan.Plan
	prov     Provider
	o        Options
	from, to string // region names: left, and taken over
	steps    []runbook.Step
}

func (b *builder) add(s runbook.Step) string {
	b.steps = append(b.steps, s)
	return s.ID
}

func (b *builder) build() error {
	// Prepare: the target region answers, the data is there, approval.
	b.add(runbook.Step{
		ID: "check-" + b.to, Tier: TierPrepare, API: "probe",
		Describe: "check that region " + b.to + " is reachable",
		Run: func(ctx context.Context, sc *runbook.StepContext) (runbook.Output, error) {
			if err := b.prov.Reachable(ctx, b.to); err != nil {
				return nil, runbook.Transient(err)
			}
			return runbook.Output{"region": b.to}, nil
		},
	})
	if (b.o.Direction == Failback || b.o.Mode == Graceful) && !b.o.Isolated {
		b.add(runbook.Step{
			ID: "check-" + b.from, Tier: TierPrepare, API: "probe",
			Describe: "check that region " + b.from + " is reachable (graceful: its writes will be fenced and synced)",
			Run: func(ctx context.Context, sc *runbook.StepContext) (runbook.Output, error) {
				if err := b.prov.Reachable(ctx, b.from); err != nil {
					return nil, runbook.Transient(err)
				}
				return runbook.Output{"region": b.from}, nil
			},
		})
	}
	if len(b.p.Data.Buckets) > 0 && b.o.Direction == Failover {
		b.add(b.checkData())
	}
	if b.o.Approver != nil {
		b.add(runbook.Approval("approve", TierPrepare,
			fmt.Sprintf("%s plan %s from %s to %s (%s)?", b.o.Direction, b.p.Name, b.from, b.to, b.o.Mode), b.o.Approver))
	}

	// Compute by service tier, in the region taken over.
	healthy := map[string]string{} // service → step ID of its healthy wait
	for _, svc := range b.services() {
		tier := TierCompute + svc.Tier - 1
		var deps []string
		for _, d := range svc.DependsOn {
			if id, ok := healthy[d]; ok {
				deps = append(deps, id)
			}
		}
		scale, err := b.scaleStep(svc, tier, deps)
		if err != nil {
			return err
		}
		b.add(scale)
		healthy[svc.Name] = b.add(b.healthyStep(svc, tier, scale.ID))
	}

	// Data: fence the region left, final pass, promote (failover) or
	// resync back (failback).
	var dataDone []string
	if len(b.p.Data.Buckets) > 0 && !b.o.Isolated {
		dataTier := TierData
		if b.o.Direction == Failback {
			// Failback brings the primary's compute up first, while the
			// recovery region still serves; writes stop only for the resync.
			dataTier = TierResync
		}
		last := ""
		if b.o.Mode == Graceful || b.o.Direction == Failback {
			last = b.add(runbook.Step{
				ID: "fence-" + b.from, Tier: dataTier, Mutating: true, API: "fence",
				Describe: "refuse writes in " + b.from + " (no write may be acknowledged there after the final pass starts)",
				Run: func(ctx context.Context, sc *runbook.StepContext) (runbook.Output, error) {
					return nil, b.prov.Fence(ctx, b.from, true)
				},
			})
			last = b.add(runbook.Step{
				ID: "sync-" + b.from + "-to-" + b.to, Tier: dataTier, Mutating: true, API: "replicate", DependsOn: []string{last},
				Describe: "final replication pass of every bucket from " + b.from + " to " + b.to,
				Run: func(ctx context.Context, sc *runbook.StepContext) (runbook.Output, error) {
					r, err := b.prov.Sync(ctx, b.from, b.to)
					if err != nil {
						return nil, runbook.Transient(err)
					}
					if r.Failed > 0 {
						return nil, runbook.Transient(fmt.Errorf("recovery: sync %s to %s: %d objects failed", b.from, b.to, r.Failed))
					}
					return runbook.Output{"listed": itoa(r.Listed), "copied": itoa(r.Copied), "seconds": ftoa(r.Seconds)}, nil
				},
			})
		}
		if b.o.Direction == Failback {
			// The primary was fenced by a graceful failover: it takes writes
			// again once it holds the recovery region's data, before DNS
			// sends clients back.
			last = b.add(runbook.Step{
				ID: "unfence-" + b.to, Tier: dataTier, Mutating: true, API: "fence", DependsOn: []string{last},
				Describe: "accept writes in " + b.to + " again (fenced by a graceful failover)",
				Run: func(ctx context.Context, sc *runbook.StepContext) (runbook.Output, error) {
					return nil, b.prov.Fence(ctx, b.to, false)
				},
			})
		}
		if b.o.Direction == Failover {
			var deps []string
			if last != "" {
				deps = []string{last}
			}
			last = b.add(runbook.Step{
				ID: "promote-data", Tier: dataTier, Mutating: true, API: "replicate", DependsOn: deps,
				Describe: "promote the replicas in " + b.to + ": stop replication into them",
				Run: func(ctx context.Context, sc *runbook.StepContext) (runbook.Output, error) {
					return runbook.Output{"replication": "paused"}, b.prov.SetReplication(ctx, "", "")
				},
			})
		}
		dataDone = append(dataDone, last)
	}

	if dbs, ok := b.prov.(Databases); ok && b.o.Direction == Failover {
		for _, db := range b.p.Data.Databases {
			dataDone = append(dataDone, b.addDatabase(dbs, db))
		}
	}

	// DNS: every record of the plan's routing to the region taken over, in
	// batches when the provider can.
	if b.o.Isolated {
		b.addSmoke(healthy, dataDone)
		return nil
	}
	if br, ok := b.prov.(BatchRouting); ok && b.p.Routing != nil {
		b.addBatchedDNS(br, healthy, dataDone)
	} else if b.p.Routing != nil {
		for _, rec := range b.p.Routing.Records {
			if rec.Policy != plan.PolicyFailover {
				continue
			}
			var deps []string
			if id, ok := healthy[rec.Service]; ok {
				deps = append(deps, id)
			}
			deps = append(deps, dataDone...)
			role := RoleRecovery
			describe := "answer " + rec.Name + " with " + b.to + " (pinned)"
			if b.o.Direction == Failback {
				role = ""
				describe = "answer " + rec.Name + " by health again (" + b.to + " first)"
			}
			name := rec.Name
			b.add(runbook.Step{
				ID: "dns-" + name, Tier: TierDNS, Mutating: true, API: "dns", DependsOn: deps,
				Describe: describe,
				Run: func(ctx context.Context, sc *runbook.StepContext) (runbook.Output, error) {
					if err := b.prov.SetActive(ctx, name, role); err != nil {
						return nil, err
					}
					return runbook.Output{"region": b.to}, nil
				},
			})
		}
	}

	// Finish (failback): writes back on in the recovery region, replication
	// primary → recovery again, the recovery region back to its standby size.
	if b.o.Direction == Failback {
		if len(b.p.Data.Buckets) > 0 {
			b.add(runbook.Step{
				ID: "unfence-" + b.from, Tier: TierFinish, Mutating: true, API: "fence",
				Describe: "accept writes in " + b.from + " again",
				Run: func(ctx context.Context, sc *runbook.StepContext) (runbook.Output, error) {
					return nil, b.prov.Fence(ctx, b.from, false)
				},
			})
			b.add(runbook.Step{
				ID: "resume-replication", Tier: TierFinish, Mutating: true, API: "replicate",
				Describe: "replicate " + b.to + " to " + b.from + " continuously again",
				Run: func(ctx context.Context, sc *runbook.StepContext) (runbook.Output, error) {
					return nil, b.prov.SetReplication(ctx, b.to, b.from)
				},
			})
		}
		for _, svc := range b.services() {
			standby := standbyCount(b.p.Strategy, svc)
			name := svc.Name
			b.add(runbook.Step{
				ID: "standby-" + name, Tier: TierFinish, Mutating: true, API: "compute",
				Describe: fmt.Sprintf("scale %s in %s back to its standby size (%d)", name, b.from, standby),
				Run: func(ctx context.Context, sc *runbook.StepContext) (runbook.Output, error) {
					return runbook.Output{"count": strconv.Itoa(standby)}, b.prov.Scale(ctx, b.from, name, "", standby, sc.Key())
				},
			})
		}
	}

	// Verify: one request through the first switched record of each
	// service (a plan may route thousands of names to one service).
	if b.p.Routing != nil {
		seen := map[string]bool{}
		for _, rec := range b.p.Routing.Records {
			if rec.Policy != plan.PolicyFailover || seen[rec.Service] {
				continue
			}
			seen[rec.Service] = true
			b.add(b.verifyStep(rec.Name))
		}
	}
	b.addHooks()
	return nil
}

// addDatabase adds the restore of db and the wait until it is available,
// and returns the ID of the wait.
func (b *builder) addDatabase(dbs Databases, db plan.Database) string {
	restore := b.add(runbook.Step{
		ID: "restore-" + db.ID, Tier: TierData, Mutating: true, API: "database:restore",
		Describe: "restore database " + db.ID + " in " + b.to + " from its newest copy there",
		Run: func(ctx context.Context, sc *runbook.StepContext) (runbook.Output, error) {
			return nil, dbs.RestoreDatabase(ctx, b.to, db, sc.Key())
		},
	})
	return b.add(runbook.Step{
		ID: "available-" + db.ID, Tier: TierData, DependsOn: []string{restore}, API: "database:describe",
		Describe: "wait until database " + db.ID + " is available in " + b.to,
		Run: func(ctx context.Context, sc *runbook.StepContext) (runbook.Output, error) {
			var st DatabaseState
			err := b.poll(ctx, sc, func() (bool, error) {
				var err error
				st, err = dbs.Database(ctx, b.to, db.ID)
				return err == nil && st.Available, nil
			})
			if err != nil {
				return nil, fmt.Errorf("recovery: database %s in %s (%s): %w", db.ID, b.to, st.Status, err)
			}
			return runbook.Output{"status": st.Status}, nil
		},
	})
}

// addBatchedDNS switches the plan's failover records in batches of at most
// br.MaxRecords(), each after the services its records route to.
func (b *builder) addBatchedDNS(br BatchRouting, healthy map[string]string, dataDone []string) {
	role, verb := RoleRecovery, "pin"
	if b.o.Direction == Failback {
		role, verb = "", "release"
	}
	size := max(br.MaxRecords(), 1)
	var recs []plan.Record
	for _, r := range b.p.Routing.Records {
		if r.Policy == plan.PolicyFailover {
			recs = append(recs, r)
		}
	}
	for i := 0; i < len(recs); i += size {
		batch := recs[i:min(i+size, len(recs))]
		names := make([]string, len(batch))
		deps := append([]string(nil), dataDone...)
		seen := map[string]bool{}
		for j, r := range batch {
			names[j] = r.Name
			if id, ok := healthy[r.Service]; ok && !seen[id] {
				seen[id] = true
				deps = append(deps, id)
			}
		}
		b.add(runbook.Step{
			ID: fmt.Sprintf("dns-batch-%d", i/size+1), Tier: TierDNS, Mutating: true, API: "dns", DependsOn: deps,
			Describe: fmt.Sprintf("%s %d records (%s … %s) to %s in one change", verb, len(names), names[0], names[len(names)-1], b.to),
			Run: func(ctx context.Context, sc *runbook.StepContext) (runbook.Output, error) {
				if err := br.SetActiveMany(ctx, names, role); err != nil {
					return nil, err
				}
				return runbook.Output{"records": strconv.Itoa(len(names)), "region": b.to}, nil
			},
		})
	}
}

// addHooks adds the plan's hooks for this direction, each at the end of
// its stage: in the stage's tier, after every other step of it.
func (b *builder) addHooks() {
	for _, h := range b.p.Hooks {
		if !h.Runs(string(b.o.Direction)) {
			continue
		}
		tier := b.stageTier(h.After)
		var deps []string
		for _, s := range b.steps {
			if s.Tier == tier && !isHook(s.ID) {
				deps = append(deps, s.ID)
			}
		}
		id := "hook-" + h.Name
		var st runbook.Step
		if len(h.Command) > 0 {
			st = runbook.Command(id, tier, h.Command, nil)
			st.Describe = fmt.Sprintf("run %v after %s", h.Command, h.After)
		} else {
			st = runbook.Webhook(id, tier, h.Webhook, map[string]string{
				"plan": b.p.Name, "direction": string(b.o.Direction), "after": string(h.After), "from": b.from, "to": b.to,
			})
			st.Describe = fmt.Sprintf("POST %s after %s", h.Webhook, h.After)
		}
		st.DependsOn = deps
		b.add(st)
	}
}

func isHook(id string) bool { return len(id) > 5 && id[:5] == "hook-" }

// stageTier is the runbook tier of a stage: compute is its last tier.
func (b *builder) stageTier(s plan.Stage) int {
	switch s {
	case plan.StagePrepare:
		return TierPrepare
	case plan.StageData:
		if b.o.Direction == Failback {
			return TierResync
		}
		return TierData
	case plan.StageCompute:
		t := TierCompute
		for _, st := range b.steps {
			if st.Tier >= TierCompute && st.Tier < TierResync {
				t = max(t, st.Tier)
			}
		}
		return t
	case plan.StageDNS:
		return TierDNS
	}
	return TierVerify
}

// services returns the plan's services in tier order.
func (b *builder) services() []*plan.Service {
	var out []*plan.Service
	for t := 1; t <= 3; t++ {
		for i := range b.p.Services {
			if b.p.Services[i].Tier == t {
				out = append(out, &b.p.Services[i])
			}
		}
	}
	return out
}

// instanceTypes returns the service's instance types on the provider of
// the region taken over.
func (b *builder) instanceTypes(svc *plan.Service) []string {
	r := b.p.Regions.Recovery
	if b.o.Direction == Failback {
		r = b.p.Regions.Primary
	}
	switch {
	case (r.Provider == plan.ProviderAWS || r.Provider == plan.ProviderSim) && svc.Compute.AWS != nil:
		return svc.Compute.AWS.InstanceTypes
	case svc.Compute.Local != nil && len(svc.Compute.Local.InstanceTypes) > 0:
		return svc.Compute.Local.InstanceTypes
	}
	return []string{plan.DefaultLocalInstanceType}
}

// scaleStep runs the service's full count in the region taken over, moving
// to the next instance type with a recomputed count on a capacity error.
func (b *builder) scaleStep(svc *plan.Service, tier int, deps []string) (runbook.Step, error) {
	types := b.instanceTypes(svc)
	ch, err := capacity.NewChooser(types, svc.Compute.Count)
	if err != nil {
		return runbook.Step{}, fmt.Errorf("recovery: service %s: %w", svc.Name, err)
	}
	name := svc.Name
	return runbook.Step{
		ID: "scale-" + name, Tier: tier, Mutating: true, API: "compute", DependsOn: deps,
		Describe: fmt.Sprintf("run %s in %s: %d × %v (fallbacks recompute the count)", name, b.to, svc.Compute.Count, types),
		Run: func(ctx context.Context, sc *runbook.StepContext) (runbook.Output, error) {
			c := ch.Current()
			if err := b.prov.Scale(ctx, b.to, name, c.Type, c.Count, sc.Key()); err != nil {
				return nil, err
			}
			return runbook.Output{"instanceType": c.Type, "count": strconv.Itoa(c.Count)}, nil
		},
		Fallback: ch.Fallback(),
	}, nil
}

// healthyStep waits until the service's load balancer in the region taken
// over has every instance the scale step asked for healthy.
func (b *builder) healthyStep(svc *plan.Service, tier int, scaleID string) runbook.Step {
	name := svc.Name
	return runbook.Step{
		ID: "healthy-" + name, Tier: tier, DependsOn: []string{scaleID}, API: "describe",
		Describe: "wait until " + name + "'s load balancer in " + b.to + " has every instance healthy",
		Run: func(ctx context.Context, sc *runbook.StepContext) (runbook.Output, error) {
			want, _ := strconv.Atoi(sc.Input(scaleID)["count"])
			want = max(want, 1)
			var st ServiceState
			err := b.poll(ctx, sc, func() (bool, error) {
				var err error
				st, err = b.prov.Service(ctx, b.to, name)
				if err != nil {
					return false, nil // not there yet: keep waiting
				}
				return st.Healthy >= want, nil
			})
			if err != nil {
				return nil, fmt.Errorf("recovery: %s in %s: %d of %d healthy: %w", name, b.to, st.Healthy, want, err)
			}
			return runbook.Output{"healthy": strconv.Itoa(st.Healthy), "loadBalancer": st.LoadBalancer}, nil
		},
	}
}

func (b *builder) checkData() runbook.Step {
	return runbook.Step{
		ID: "check-data", Tier: TierPrepare, API: "describe",
		Describe: "check that every bucket has a replica in " + b.to + " and how old it is",
		Run: func(ctx context.Context, sc *runbook.StepContext) (runbook.Output, error) {
			rep, err := b.prov.Replication(ctx)
			if err != nil {
				return nil, runbook.Transient(err)
			}
			out := runbook.Output{}
			var stale []string
			for _, bk := range rep.Buckets {
				if bk.Converged.IsZero() {
					return nil, runbook.Fatal(fmt.Errorf("recovery: bucket %s has never been fully replicated to %s", bk.Bucket, b.to))
				}
				out["lag."+bk.Bucket] = ftoa(bk.Lag.Seconds())
				if rpo := b.p.Objectives.RPO.D(); rpo > 0 && bk.Lag > rpo {
					stale = append(stale, bk.Bucket)
				}
			}
			if len(stale) > 0 {
				out["beyondRPO"] = fmt.Sprint(stale)
				sc.Logger().Warn("replica older than the RPO", "buckets", stale)
			}
			return out, nil
		},
	}
}

func (b *builder) verifyStep(record string) runbook.Step {
	return runbook.Step{
		ID: "verify-" + record, Tier: TierVerify, API: "probe",
		Describe: "request " + record + " through its DNS name until " + b.to + " answers",
		Run: func(ctx context.Context, sc *runbook.StepContext) (runbook.Output, error) {
			var last Answer
			var lastErr error
			err := b.poll(ctx, sc, func() (bool, error) {
				last, lastErr = b.prov.Verify(ctx, record)
				return lastErr == nil && last.Region == b.to, nil
			})
			if err != nil {
				return nil, fmt.Errorf("recovery: verify %s: last answer %+v, %v: %w", record, last, lastErr, err)
			}
			return runbook.Output{"region": last.Region, "addr": last.Addr, "status": strconv.Itoa(last.Status)}, nil
		},
	}
}

// errTimeout is wrapped when a wait runs out of time.
var errTimeout = errors.New("timed out")

// poll calls done every Poll until it returns true, an error, or
// HealthyTimeout passes (a transient error), on the engine's clock.
func (b *builder) poll(ctx context.Context, sc *runbook.StepContext, done func() (bool, error)) error {
	clock := sc.Clock()
	deadline := clock.Now().Add(b.o.HealthyTimeout)
	for {
		ok, err := done()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if !clock.Now().Before(deadline) {
			return runbook.Transient(fmt.Errorf("after %s: %w", b.o.HealthyTimeout, errTimeout))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-clock.After(b.o.Poll):
		}
	}
}

// standbyCount is what a service runs in the recovery region in normal times.
func standbyCount(s plan.Strategy, svc *plan.Service) int {
	switch s {
	case plan.WarmStandby:
		return svc.Compute.Standby
	case plan.ActiveActive:
		return svc.Compute.Count
	}
	return 0
}

func itoa(n int64) string   { return strconv.FormatInt(n, 10) }
func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', 3, 64) }

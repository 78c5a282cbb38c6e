package sim

import (
	"fmt"
	"math"
	"time"

	"github.com/pilotlight/pilotlight/plan"
)

// PartKind says which stage of a recovery a Part times.
type PartKind string

// Stages of a recovery, in the order they run (as in the recovery
// runbook: data, then compute by tier, then DNS).
const (
	// PartDetect is the time DNS health checks take to see the primary
	// fail (interval × failure threshold).
	PartDetect PartKind = "detect"
	// PartData restores or promotes the data in the recovery region.
	PartData PartKind = "data"
	// PartCompute brings the services of one tier to serving.
	PartCompute PartKind = "compute"
	// PartDNS moves clients to the recovery region.
	PartDNS PartKind = "dns"
)

// Part is one stage of an estimated recovery. Parts run one after another.
type Part struct {
	Kind PartKind `json:"kind"`
	// Name of the stage, such as "compute tier 1".
	Name string `json:"name"`
	// Detail names what takes the time: the slowest item of the stage.
	Detail   string        `json:"detail"`
	Duration time.Duration `json:"duration"`
}

// Estimate is the estimated recovery time of a plan under a strategy.
type Estimate struct {
	Strategy plan.Strategy `json:"strategy"`
	// Total is the recovery time: from the disaster until the recovery
	// region serves, the sum of the parts.
	Total time.Duration `json:"total"`
	Parts []Part        `json:"parts"`
	// FullCapacity is when every instance of every service serves; it is
	// later than Total for a warm standby, which serves with its standby
	// instances while it scales out.
	FullCapacity time.Duration `json:"fullCapacity"`
}

// EstimateRecovery estimates the recovery time of plan p under strategy s
// with model m, for an unplanned failover (the primary region is gone):
//
//   - detect: the slowest record health check, interval × failure
//     threshold (interval at least dns.minCheckInterval);
//   - data, in parallel over the data sources: backup-restore restores
//     databases and volumes from snapshots; pilot-light and warm-standby
//     promote database replicas and restore volumes from snapshots;
//     active-active writes both regions and has nothing to do. Bucket
//     replicas are in place under every strategy;
//   - compute, tiers one after another, services of a tier in parallel:
//     backup-restore creates the load balancer while it launches the
//     instances from zero; pilot-light launches them (the load balancer is
//     there); warm-standby and active-active already serve. A launch is
//     the Auto Scaling scale-out, the RunInstances bucket for the tier's
//     instances, the family's launch time and the boot, then the targets
//     become healthy (register + interval × success threshold);
//   - dns: the record change propagates and clients drop their cached
//     answer (propagation + the longest TTL); active-active records already
//     answer for both regions, so only the TTL counts.
//
// Each part is rounded to the second.
func EstimateRecovery(p *plan.Plan, s plan.Strategy, m *Model) (Estimate, error) {
	if !validStrategy(s) {
		return Estimate{}, fmt.Errorf("sim: estimate recovery of %s: unknown strategy %q", p.Name, s)
	}
	e := Estimate{Strategy: s}
	if d, detail, ok := detect(p, m); ok {
		e.Parts = append(e.Parts, Part{Kind: PartDetect, Name: "detect", Detail: detail, Duration: d})
	}
	if part, ok := dataPart(p, s, m); ok {
		e.Parts = append(e.Parts, part)
	}
	var scaleOut time.Duration // warm-standby: the scale-out to full capacity
	for tier := 1; tier <= 3; tier++ {
		svcs := tierServices(p, tier)
		if len(svcs) == 0 {
			continue
		}
		name := fmt.Sprintf("compute tier %d", tier)
		switch s {
		case plan.BackupRestore, plan.PilotLight:
			d, detail := computeTier(p, svcs, s, m, func(c plan.Compute) int { return c.Count })
			e.Parts = append(e.Parts, Part{Kind: PartCompute, Name: name, Detail: detail, Duration: d})
		case plan.WarmStandby:
			d, _ := computeTier(p, svcs, s, m, func(c plan.Compute) int { return max(c.Count-c.Standby, 0) })
			scaleOut += d
			e.Parts = append(e.Parts, Part{Kind: PartCompute, Name: name, Detail: fmt.Sprintf("standby instances serve already; scale-out to full capacity %s", round(d))})
		case plan.ActiveActive:
			e.Parts = append(e.Parts, Part{Kind: PartCompute, Name: name, Detail: "full capacity serves already"})
		}
	}
	if part, ok := dnsPart(p, s, m); ok {
		e.Parts = append(e.Parts, part)
	}
	for i := range e.Parts {
		e.Parts[i].Duration = round(e.Parts[i].Duration)
		e.Total += e.Parts[i].Duration
	}
	e.FullCapacity = e.Total + round(scaleOut)
	return e, nil
}

func validStrategy(s plan.Strategy) bool {
	for _, v := range plan.Strategies {
		if s == v {
			return true
		}
	}
	return false
}

func round(d time.Duration) time.Duration { return d.Round(time.Second) }

// detect returns the slowest detection of the records' health checks.
func detect(p *plan.Plan, m *Model) (time.Duration, string, bool) {
	if p.Routing == nil {
		return 0, "", false
	}
	var best time.Duration
	detail, found := "", false
	for _, r := range p.Routing.Records {
		hc := r.HealthCheck
		if hc == nil {
			continue
		}
		interval := max(hc.Interval.D(), m.DNS.MinCheckInterval.D())
		d := interval * time.Duration(max(hc.FailureThreshold, 1))
		if !found || d > best {
			best, found = d, true
			detail = fmt.Sprintf("record %s: health check every %s × %d failures", r.Name, plan.Duration(interval), max(hc.FailureThreshold, 1))
		}
	}
	return best, detail, found
}

// dataPart returns the slowest data source's restore or promotion.
func dataPart(p *plan.Plan, s plan.Strategy, m *Model) (Part, bool) {
	d := p.Data
	if len(d.Buckets)+len(d.Volumes)+len(d.Databases) == 0 {
		return Part{}, false
	}
	part := Part{Kind: PartData, Name: "data", Detail: "replicas already in place"}
	if s == plan.ActiveActive {
		part.Detail = "written in both regions: nothing to restore"
		return part, true
	}
	slowest := func(dur time.Duration, detail string) {
		if dur > part.Duration {
			part.Duration, part.Detail = dur, detail
		}
	}
	for _, db := range d.Databases {
		if s == plan.BackupRestore {
			slowest(m.Database.Restore.For(db.SizeGB), fmt.Sprintf("restore database %s from its snapshot, %s", db.ID, gb(db.SizeGB)))
			continue
		}
		what := "promote the read replica of database " + db.ID
		if db.Cluster {
			what = "promote the secondary cluster of database " + db.ID
		}
		slowest(m.Database.Promote.Of(db.Cluster), what)
	}
	for _, v := range d.Volumes {
		slowest(m.Volume.Restore.For(v.SizeGB), fmt.Sprintf("create volume %s from its snapshot, %s", v.ID, gb(v.SizeGB)))
	}
	return part, true
}

// tierServices returns the services of plan tier t.
func tierServices(p *plan.Plan, t int) []plan.Service {
	var out []plan.Service
	for _, svc := range p.Services {
		if svc.Tier == t {
			out = append(out, svc)
		}
	}
	return out
}

// computeTier times launching count(compute) instances of every service of
// a tier in parallel; the RunInstances bucket is shared by the tier.
func computeTier(p *plan.Plan, svcs []plan.Service, s plan.Strategy, m *Model, count func(plan.Compute) int) (time.Duration, string) {
	total := 0
	for _, svc := range svcs {
		total += count(svc.Compute)
	}
	throttle := time.Duration(0)
	if b := m.Instance.RunInstances; total > b.Burst {
		throttle = time.Duration(math.Ceil(float64(total-b.Burst)/b.PerSecond)) * time.Second
	}
	var slowest time.Duration
	detail := ""
	for _, svc := range svcs {
		n := count(svc.Compute)
		if n == 0 {
			continue
		}
		it := InstanceType(p, svc)
		d := m.AutoScaling.ScaleOut.D() + throttle + m.Launch(it) + m.Instance.Boot.D()
		what := fmt.Sprintf("%s: launch %d × %s", svc.Name, n, it)
		if throttle > 0 {
			what += fmt.Sprintf(" (%d instances in the tier wait %s for RunInstances)", total, throttle)
		}
		if lb := svc.LoadBalancer; lb != nil {
			if s == plan.BackupRestore && m.LoadBalancer.Create.D() > d {
				d = m.LoadBalancer.Create.D()
				what = fmt.Sprintf("%s: create its load balancer", svc.Name)
			}
			d += healthy(lb, m)
			what += " and wait for healthy targets"
		}
		if d > slowest {
			slowest, detail = d, what
		}
	}
	return slowest, detail
}

// healthy is the time a new target takes to pass its load balancer's
// health checks.
func healthy(lb *plan.LoadBalancer, m *Model) time.Duration {
	interval, threshold := plan.DefaultCheckInterval, plan.DefaultSuccessThreshold
	if hc := lb.HealthCheck; hc != nil {
		if hc.Interval > 0 {
			interval = hc.Interval.D()
		}
		if hc.SuccessThreshold > 0 {
			threshold = hc.SuccessThreshold
		}
	}
	interval = max(interval, m.LoadBalancer.MinInterval.D())
	return m.LoadBalancer.Register.D() + interval*time.Duration(threshold)
}

// InstanceType returns the instance type a service runs in the recovery
// region: the first of compute.aws.instanceTypes when that region uses
// provider aws (or the service has no local compute), otherwise the first
// of compute.local.instanceTypes (default local.medium).
func InstanceType(p *plan.Plan, svc plan.Service) string {
	aws := svc.Compute.AWS != nil && len(svc.Compute.AWS.InstanceTypes) > 0
	if aws && (p.Regions.Recovery.Provider == plan.ProviderAWS || svc.Compute.Local == nil) {
		return svc.Compute.AWS.InstanceTypes[0]
	}
	if l := svc.Compute.Local; l != nil && len(l.InstanceTypes) > 0 {
		return l.InstanceTypes[0]
	}
	return plan.DefaultLocalInstanceType
}

// dnsPart times moving clients to the recovery region.
func dnsPart(p *plan.Plan, s plan.Strategy, m *Model) (Part, bool) {
	if p.Routing == nil || len(p.Routing.Records) == 0 {
		return Part{}, false
	}
	ttl, name := 0, ""
	for _, r := range p.Routing.Records {
		if r.TTL > ttl || name == "" {
			ttl, name = r.TTL, r.Name
		}
	}
	ttlD := time.Duration(ttl) * time.Second
	if s == plan.ActiveActive {
		return Part{Kind: PartDNS, Name: "dns", Duration: ttlD,
			Detail: fmt.Sprintf("records answer for both regions; clients drop cached answers (TTL %ds, record %s)", ttl, name)}, true
	}
	return Part{Kind: PartDNS, Name: "dns", Duration: m.DNS.Propagation.D() + ttlD,
		Detail: fmt.Sprintf("change propagates (%s), then clients drop cached answers (TTL %ds, record %s)", m.DNS.Propagation, ttl, name)}, true
}

// gb formats a size for a detail.
func gb(size float64) string {
	if size == 0 {
		return "size unknown"
	}
	return fmt.Sprintf("%g GB", size)
}

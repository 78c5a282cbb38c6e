package sim

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pilotlight/pilotlight/plan"
	awsp "github.com/pilotlight/pilotlight/provider/aws"
	"github.com/pilotlight/pilotlight/runbook"
)

// Cloud is the simulated cloud: the regions of a plan as AWS would hold
// them (instances, load balancers, target groups, database restores, DNS
// records, buckets), answering an AWS-like API (see api.go) on a virtual
// Clock. Every call takes its tokens from AWS's token buckets
// (provider/aws DefaultLimits) and is refused with a throttling error
// when its bucket is empty; provisioning takes the model's durations,
// each drawn within ±Spread by a hash of the seed and the resource, so a
// run is the same for the same seed whatever the order of the calls.
// Every call is recorded. Cloud is the server side: it outlives the
// pilotlight process that drives it (see Provider), which is what a
// crash-and-resume test needs. It is safe for concurrent use.
type Cloud struct {
	o     CloudOptions
	clock *Clock

	mu       sync.Mutex
	regions  map[string]*region
	buckets  map[string]*bucket
	calls    map[string]*ActionStats
	seq      map[string]int // ID sequence per resource kind
	changes  map[string]*change
	records  map[string]*record
	upserts  map[string]int // record → UPSERTs applied
	launched map[string]int // service → instances launched, all regions
	injectN  uint64         // calls drawn by the api-throttle fault
}

// CloudOptions configure a Cloud.
type CloudOptions struct {
	// Plan whose regions the cloud holds. Required.
	Plan *plan.Plan
	// Clock is the virtual clock. Required.
	Clock *Clock
	// Model times provisioning (default DefaultModel()).
	Model *Model
	// Limits are the token buckets by provider/aws key (default
	// aws.DefaultLimits()).
	Limits map[string]runbook.Limit
	// Seed draws the durations.
	Seed int64
	// Spread is the relative spread of every drawn duration around the
	// model's: uniform in [1-Spread, 1+Spread] (default 0.05; negative: 0).
	Spread float64
	// CallLatency is the round trip of one API call (default 50ms).
	CallLatency time.Duration
	// Shortages declare instance types without capacity.
	Shortages []Shortage
	// Zones per region (default 3: the region name with a, b, c).
	Zones int
	// DrillID, when set, tags what the API creates with an isolated
	// drill's ID and names load balancers from it (see drill.go).
	DrillID string
	// Throttle is the api-throttle fault (off when its Share is 0).
	Throttle APIThrottle
	// ClientAttempts models the AWS SDK's standard retryer between the
	// caller and the API: a throttled call is sent again, after the SDK's
	// exponential jittered delay, up to this many attempts in all, before
	// the caller sees the error (default 1: no retry; the SDK's is 3).
	// Every attempt is a call in Stats.
	ClientAttempts int
}

// Shortage is an instance type out of capacity in a zone of the recovery
// region, or in all of its zones when Zone is empty.
type Shortage struct {
	Type string `json:"type"`
	Zone string `json:"zone,omitempty"`
}

// ParseShortage parses TYPE or TYPE@ZONE.
func ParseShortage(s string) (Shortage, error) {
	typ, zone, _ := strings.Cut(s, "@")
	if typ == "" || strings.Contains(zone, "@") {
		return Shortage{}, fmt.Errorf("sim: shortage %q: want TYPE or TYPE@ZONE", s)
	}
	return Shortage{Type: typ, Zone: zone}, nil
}

// ActionStats counts the calls of one API action.
type ActionStats struct {
	Action string `json:"action"`
	Calls  int    `json:"calls"`
	// Throttled calls were refused for lack of tokens.
	Throttled int `json:"throttled"`
	// Failed calls were refused for another reason (capacity, conflict).
	Failed int `json:"failed"`
	// Injected calls were refused by the api-throttle fault (not counted
	// in Throttled).
	Injected int `json:"injected,omitempty"`
}

// region is the state of one region.
type region struct {
	name      string
	zones     []string
	instances map[string]*instance
	tokens    map[string][]string // client token → instance IDs
	capacity  map[string]int      // zone/type → instances left; absent: unlimited
	lbs       map[string]*loadBalancer
	tgs       map[string]*targetGroup // by ARN
	dbs       map[string]*database
	fenced    bool
}

type instance struct {
	ID, Service, Type, Zone, StepKey string
	launched, running, ready         time.Time
	terminated                       bool
	drill                            string
}

type loadBalancer struct {
	Name, ARN, DNS, Service string
	active                  time.Time
	listener                string // target group ARN forwarded to
	drill                   string
}

type targetGroup struct {
	Name, ARN, Service string
	interval           time.Duration
	threshold          int
	targets            map[string]time.Time // instance → registered
	drill              string
}

type database struct {
	ID, Key   string
	SizeGB    float64
	Cluster   bool
	available time.Time
	drill     string
}

type change struct {
	ID     string
	insync time.Time
}

type record struct {
	Name, Role string
	insync     time.Time
	ttl        time.Duration
}

// NewCloud returns the cloud of o.Plan: both regions empty but for what
// the plan's strategy keeps in the recovery region (load balancers for
// pilot-light, warm-standby and active-active; the standby instances of a
// warm standby, all instances of active-active), and the declared
// shortages.
func NewCloud(o CloudOptions) (*Cloud, error) {
	if o.Plan == nil || o.Clock == nil {
		return nil, errors.New("sim: new cloud: a plan and a clock are required")
	}
	if o.Model == nil {
		o.Model = DefaultModel()
	}
	if o.Limits == nil {
		o.Limits = awsp.DefaultLimits()
	}
	if o.Spread == 0 {
		o.Spread = 0.05
	}
	o.Spread = max(o.Spread, 0)
	if o.CallLatency <= 0 {
		o.CallLatency = 50 * time.Millisecond
	}
	if o.Zones <= 0 {
		o.Zones = 3
	}
	c := &Cloud{o: o, clock: o.Clock, regions: map[string]*region{}, buckets: map[string]*bucket{},
		calls: map[string]*ActionStats{}, seq: map[string]int{}, changes: map[string]*change{},
		records: map[string]*record{}, upserts: map[string]int{}, launched: map[string]int{}}
	now := o.Clock.Now()
	keys := make([]string, 0, len(o.Limits))
	for k := range o.Limits {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		c.buckets[k] = newBucket(o.Limits[k], now)
	}
	p := o.Plan
	for _, r := range []plan.Region{p.Regions.Primary, p.Regions.Recovery} {
		rg := &region{name: r.Name, instances: map[string]*instance{}, tokens: map[string][]string{},
			capacity: map[string]int{}, lbs: map[string]*loadBalancer{}, tgs: map[string]*targetGroup{}, dbs: map[string]*database{}}
		for i := range o.Zones {
			rg.zones = append(rg.zones, r.Name+string(rune('a'+i)))
		}
		c.regions[r.Name] = rg
	}
	rec := c.regions[p.Regions.Recovery.Name]
	for _, s := range o.Shortages {
		if s.Zone != "" && !contains(rec.zones, s.Zone) {
			return nil, fmt.Errorf("sim: new cloud: shortage of %s in %s: no such zone (zones: %s)", s.Type, s.Zone, strings.Join(rec.zones, ", "))
		}
		for _, z := range rec.zones {
			if s.Zone == "" || s.Zone == z {
				rec.capacity[z+"/"+s.Type] = 0
			}
		}
	}
	c.seed(rec, now)
	if p.Routing != nil {
		for _, r := range p.Routing.Records {
			c.records[r.Name] = &record{Name: r.Name, Role: "", ttl: time.Duration(r.TTL) * time.Second}
		}
	}
	return c, nil
}

// seed puts in the recovery region what the strategy keeps there.
func (c *Cloud) seed(rg *region, now time.Time) {
	p := c.o.Plan
	if p.Strategy == plan.BackupRestore {
		return
	}
	past := now.Add(-time.Hour)
	for _, s := range p.Services {
		var tg *targetGroup
		if s.LoadBalancer != nil {
			lb, t := c.newLoadBalancer(rg, &s, past)
			lb.listener = t.ARN
			tg = t
		}
		n := 0
		switch p.Strategy {
		case plan.WarmStandby:
			n = s.Compute.Standby
		case plan.ActiveActive:
			n = s.Compute.Count
		}
		types := InstanceTypes(p, &s, p.Regions.Recovery)
		for i := range n {
			in := c.newInstance(rg, s.Name, types[0], rg.zones[i%len(rg.zones)], "", past)
			if tg != nil {
				tg.targets[in.ID] = past
			}
		}
	}
}

// InstanceTypes returns the instance types of svc in region r, as the
// recovery runbook chooses them: compute.aws for aws and sim regions,
// compute.local otherwise.
func InstanceTypes(p *plan.Plan, svc *plan.Service, r plan.Region) []string {
	switch {
	case (r.Provider == plan.ProviderAWS || r.Provider == plan.ProviderSim) && svc.Compute.AWS != nil:
		return svc.Compute.AWS.InstanceTypes
	case svc.Compute.Local != nil && len(svc.Compute.Local.InstanceTypes) > 0:
		return svc.Compute.Local.InstanceTypes
	}
	return []string{plan.DefaultLocalInstanceType}
}

// jitter is the factor of the duration of resource key: uniform in
// [1-Spread, 1+Spread], from the seed and the key only.
func (c *Cloud) jitter(key string) float64 {
	return 1 + c.o.Spread*(2*c.unit(key)-1)
}

// unit is a number drawn uniformly in [0, 1) from the seed and key.
func (c *Cloud) unit(key string) float64 {
	h := sha256.Sum256(fmt.Appendf(nil, "%d\x00%s", c.o.Seed, key))
	return float64(binary.BigEndian.Uint64(h[:8])>>11) / (1 << 53)
}

func (c *Cloud) draw(key string, d time.Duration) time.Duration {
	return time.Duration(float64(d) * c.jitter(key)).Round(time.Millisecond)
}

// nextID returns a new ID of kind: kind-00001, ...
func (c *Cloud) nextID(kind string) string {
	c.seq[kind]++
	return fmt.Sprintf("%s-%05d", kind, c.seq[kind])
}

func (c *Cloud) newInstance(rg *region, service, typ, zone, stepKey string, now time.Time) *instance {
	id := c.nextID("i")
	in := &instance{ID: id, Service: service, Type: typ, Zone: zone, StepKey: stepKey, launched: now}
	// Durations are drawn per service and ordinal, not per ID, so that
	// they do not depend on the order of launches across services.
	c.launched[service]++
	k := fmt.Sprintf("%s/%s/%s/%d", rg.name, service, typ, c.launched[service])
	in.running = now.Add(c.draw("launch/"+k, c.o.Model.Launch(typ)))
	in.ready = in.running.Add(c.draw("boot/"+k, c.o.Model.Instance.Boot.D()))
	rg.instances[id] = in
	return in
}

func (c *Cloud) newLoadBalancer(rg *region, s *plan.Service, now time.Time) (*loadBalancer, *targetGroup) {
	name := lbName(c.o.Plan.Name, s.Name)
	lb := &loadBalancer{Name: name, Service: s.Name, ARN: "arn:sim:elasticloadbalancing:" + rg.name + ":loadbalancer/app/" + name + "/" + c.nextID("lb"),
		DNS: name + "." + rg.name + ".elb.sim", active: now.Add(c.draw("lb/"+rg.name+"/"+name, c.o.Model.LoadBalancer.Create.D()))}
	rg.lbs[name] = lb
	tg := c.newTargetGroup(rg, name, s)
	return lb, tg
}

func (c *Cloud) newTargetGroup(rg *region, name string, s *plan.Service) *targetGroup {
	interval, threshold := HealthCheck(s, c.o.Model)
	tg := &targetGroup{Name: name, Service: s.Name, ARN: "arn:sim:elasticloadbalancing:" + rg.name + ":targetgroup/" + name + "/" + c.nextID("tg"),
		interval: interval, threshold: threshold, targets: map[string]time.Time{}}
	rg.tgs[tg.ARN] = tg
	return tg
}

// HealthCheck returns the interval (at least the model's minimum) and the
// success threshold of the target health check of svc's load balancer.
func HealthCheck(svc *plan.Service, m *Model) (time.Duration, int) {
	interval, threshold := plan.DefaultCheckInterval, plan.DefaultSuccessThreshold
	if svc.LoadBalancer != nil && svc.LoadBalancer.HealthCheck != nil {
		hc := svc.LoadBalancer.HealthCheck
		if hc.Interval > 0 {
			interval = hc.Interval.D()
		}
		if hc.SuccessThreshold > 0 {
			threshold = hc.SuccessThreshold
		}
	}
	return max(interval, m.LoadBalancer.MinInterval.D()), threshold
}

// lbName is the name of a service's load balancer and target group.
func lbName(planName, service string) string {
	s := planName + "-" + service
	if len(s) <= 32 {
		return s
	}
	h := sha256.Sum256([]byte(s))
	return fmt.Sprintf("%s-%x", s[:23], h[:4])
}

// healthy returns when target in of tg is healthy behind lb.
func (c *Cloud) healthy(lb *loadBalancer, tg *targetGroup, in *instance, registered time.Time) time.Time {
	t := in.ready
	if r := registered.Add(c.o.Model.LoadBalancer.Register.D()); r.After(t) {
		t = r
	}
	if lb != nil && lb.active.After(t) {
		t = lb.active
	}
	return t.Add(tg.interval * time.Duration(tg.threshold))
}

// Stats returns the calls so far, by action (sorted).
func (c *Cloud) Stats() []ActionStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]ActionStats, 0, len(c.calls))
	for _, s := range c.calls {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Action < out[j].Action })
	return out
}

// Inventory is what a region holds, for checks after a run.
type Inventory struct {
	// Instances counts the live instances by service.
	Instances map[string]int `json:"instances"`
	// Types counts the live instances by service and type ("svc/type").
	Types map[string]int `json:"types"`
	// LoadBalancers counts the load balancers by service.
	LoadBalancers map[string]int `json:"loadBalancers"`
	// Databases lists the restored databases.
	Databases []string `json:"databases"`
	// Records maps each record to the role it is pinned to.
	Records map[string]string `json:"records"`
	// Upserts counts the UPSERTs applied to each record.
	Upserts map[string]int `json:"upserts"`
}

// Inventory returns what region holds.
func (c *Cloud) Inventory(regionName string) Inventory {
	c.mu.Lock()
	defer c.mu.Unlock()
	inv := Inventory{Instances: map[string]int{}, Types: map[string]int{}, LoadBalancers: map[string]int{},
		Records: map[string]string{}, Upserts: map[string]int{}}
	rg := c.regions[regionName]
	if rg == nil {
		return inv
	}
	for _, in := range rg.instances {
		if !in.terminated {
			inv.Instances[in.Service]++
			inv.Types[in.Service+"/"+in.Type]++
		}
	}
	for _, lb := range rg.lbs {
		inv.LoadBalancers[lb.Service]++
	}
	for id := range rg.dbs {
		inv.Databases = append(inv.Databases, id)
	}
	sort.Strings(inv.Databases)
	for n, r := range c.records {
		inv.Records[n] = r.Role
	}
	for n, u := range c.upserts {
		inv.Upserts[n] = u
	}
	return inv
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

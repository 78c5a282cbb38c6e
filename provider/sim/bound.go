package sim

import (
	"fmt"
	"time"

	"github.com/pilotlight/pilotlight/plan"
	awsp "github.com/pilotlight/pilotlight/provider/aws"
	"github.com/pilotlight/pilotlight/recovery"
	"github.com/pilotlight/pilotlight/runbook"
)

// Bound is what no implementation of the plan's failover can beat on the
// simulated cloud.
//
// MinCalls is the fewest API calls the work needs given the API's batch
// sizes: every mutation once at the largest batch (RunInstances per zone
// share, up to the RunInstances burst; RegisterTargets up to 1,000
// targets; Route 53 changes of 500 UPSERTs; one restore per database),
// one failed RunInstances per (type, zone) out of capacity that the
// services' preferences reach (a shortage is only learnt by asking), the
// load balancers and target groups listed once (or three create calls
// each when the strategy keeps none), and every wait confirmed by one
// describe once everything it waits for is done: DescribeInstances of a
// tier's instances by 1,000 IDs, one DescribeTargetHealth per target
// group, DescribeDBInstances by 100 databases, one GetChange per change;
// plus the bucket calls of the data stage. Probes are not API calls.
//
// Seconds is the least time the runbook's order (a tier starts when the
// one before has ended), the token buckets and the drawn provisioning
// durations allow, API round trips and polling left out: the data tier
// is its slowest restore (or final replication pass); a compute tier is
// the slowest of its services (slowest instance's launch and boot, load
// balancer creation, registration, then health check interval ×
// threshold), and no shorter than the RunInstances and mutating request
// buckets, at their level when the tier starts, allow for its
// instances and calls plus the fastest service's duration; the DNS tier
// is the last change's propagation, changes paced by Route 53's bucket;
// verification waits for each checked record's TTL after its change.
type Bound struct {
	MinCalls int `json:"minCalls"`
	// CallsByAction details MinCalls.
	CallsByAction map[string]int `json:"callsByAction"`
	Seconds       float64        `json:"seconds"`
	Tiers         []TierBound    `json:"tiers"`
}

// TierBound is one tier's share of Bound.Seconds.
type TierBound struct {
	Tier    int     `json:"tier"`
	Seconds float64 `json:"seconds"`
	Detail  string  `json:"detail"`
}

// Bounds computes the bounds of the failover of p on cloud (whose drawn
// durations and shortages it uses).
func Bounds(p *plan.Plan, cloud *Cloud, mode recovery.Mode) Bound {
	b := Bound{CallsByAction: map[string]int{}}
	add := func(action string, n int) {
		if n > 0 {
			b.CallsByAction[action] += n
			b.MinCalls += n
		}
	}
	m := cloud.o.Model
	cloud.mu.Lock()
	defer cloud.mu.Unlock()
	rg := cloud.regions[p.Regions.Recovery.Name]
	tier := func(t int, d time.Duration, detail string) {
		b.Tiers = append(b.Tiers, TierBound{Tier: t, Seconds: d.Seconds(), Detail: detail})
		b.Seconds += d.Seconds()
	}

	// Data.
	var data time.Duration
	detail := "nothing to restore"
	nb := len(p.Data.Buckets)
	if nb > 0 {
		add(ActGetBucketReplication, nb)
		add(ActPutBucketReplication, nb)
		if mode == recovery.Graceful {
			add(ActPutBucketPolicy, nb)
			add(ActCreateJob, nb)
			add(ActDescribeJob, nb)
			for _, bk := range p.Data.Buckets {
				if d := cloud.draw("sync/"+bk.Name, m.ObjectReplication.Native.D()); d > data {
					data, detail = d, "final replication pass of "+bk.Name
				}
			}
		}
	}
	if nd := len(p.Data.Databases); nd > 0 {
		add(ActRestoreDB, nd)
		add(ActDescribeDBInstances, ceilDiv(nd, MaxDBFilter))
		for _, db := range p.Data.Databases {
			if d := cloud.draw("db/"+rg.name+"/"+db.ID, m.Database.Restore.For(db.SizeGB)); d > data {
				data, detail = d, "restore of database "+db.ID
			}
		}
	}
	if nb > 0 || len(p.Data.Databases) > 0 {
		tier(recovery.TierData, data, detail)
	}
	elapsed := data

	// Compute, tier by tier.
	run := newBucketAt(cloud.o.Limits[awsp.LimitRunInstances])
	mut := newBucketAt(cloud.o.Limits[awsp.LimitEC2Mutate])
	met := map[string]bool{}
	lbServices, existing := 0, 0
	for _, s := range p.Services {
		if s.LoadBalancer != nil {
			lbServices++
			if _, ok := rg.lbs[lbName(p.Name, s.Name)]; ok {
				existing++
			}
		}
	}
	if existing > 0 || lbServices > 0 {
		add(ActDescribeLoadBalancers, max(1, ceilDiv(existing, MaxDescribePage)))
		add(ActDescribeTargetGroups, max(1, ceilDiv(existing, MaxDescribePage)))
	}
	for t := 1; t <= 3; t++ {
		var longest, fastest time.Duration
		slowest := ""
		instances, calls := 0, 0
		for i := range p.Services {
			s := &p.Services[i]
			if s.Tier != t {
				continue
			}
			zones := serviceZones(rg, s)
			choice, short := finalChoice(p, s, func(typ string) ([]string, bool) {
				var out []string
				for _, z := range zones {
					if left, ok := rg.capacity[z+"/"+typ]; ok && left == 0 {
						out = append(out, z)
					}
				}
				return out, len(out) == len(zones)
			})
			for _, k := range short {
				if !met[k] {
					met[k] = true
					add(ActRunInstances, 1)
				}
			}
			var open []string
			for _, z := range zones {
				if left, ok := rg.capacity[z+"/"+choice.Type]; !ok || left > 0 {
					open = append(open, z)
				}
			}
			batch := min(MaxDescribeIDs, max(cloud.o.Limits[awsp.LimitRunInstances].Burst, 1))
			left := choice.Count
			for j := range open {
				share := ceilDiv(left, len(open)-j)
				calls += ceilDiv(share, batch)
				left -= share
			}
			instances += choice.Count
			// Durations of its instances, as the cloud draws them.
			seeded := cloud.seeded(s)
			var d time.Duration
			for k := 1; k <= choice.Count; k++ {
				key := fmt.Sprintf("%s/%s/%s/%d", rg.name, s.Name, choice.Type, seeded+k)
				d = max(d, cloud.draw("launch/"+key, m.Launch(choice.Type))+cloud.draw("boot/"+key, m.Instance.Boot.D()))
			}
			if s.LoadBalancer != nil {
				d = max(d, m.LoadBalancer.Register.D())
				if _, ok := rg.lbs[lbName(p.Name, s.Name)]; !ok {
					add(ActCreateLoadBalancer, 1)
					add(ActCreateTargetGroup, 1)
					add(ActCreateListener, 1)
					d = max(d, cloud.draw("lb/"+rg.name+"/"+lbName(p.Name, s.Name), m.LoadBalancer.Create.D()))
				}
				interval, threshold := HealthCheck(s, m)
				d += interval * time.Duration(threshold)
				add(ActRegisterTargets, ceilDiv(choice.Count, MaxTargets))
				add(ActDescribeTargetHealth, 1)
			}
			if d > longest {
				longest, slowest = d, s.Name
			}
			if fastest == 0 || d < fastest {
				fastest = d
			}
		}
		if instances == 0 {
			continue
		}
		add(ActRunInstances, calls)
		add(ActDescribeInstances, ceilDiv(instances, MaxDescribeIDs))
		pace := max(run.delay(elapsed, instances), mut.delay(elapsed, calls))
		d := longest
		detail := "service " + slowest
		if pace+fastest > d {
			d, detail = pace+fastest, fmt.Sprintf("token buckets: %d instances in %d RunInstances calls", instances, calls)
		}
		tier(recovery.TierCompute+t-1, d, detail)
		run.spend(elapsed, instances)
		mut.spend(elapsed, calls)
		elapsed += d
	}

	// DNS and verification.
	if p.Routing != nil {
		var recs []plan.Record
		for _, r := range p.Routing.Records {
			if r.Policy == plan.PolicyFailover {
				recs = append(recs, r)
			}
		}
		size := MaxChangeRecords / 2
		r53 := newBucketAt(cloud.o.Limits[awsp.LimitRoute53])
		var dns time.Duration
		insync := map[string]time.Duration{}
		for i := 0; i < len(recs); i += size {
			at := r53.delay(0, 1)
			r53.spend(0, 1)
			d := at + cloud.draw("dns/"+recs[i].Name, m.DNS.Propagation.D())
			dns = max(dns, d)
			for _, r := range recs[i:min(i+size, len(recs))] {
				insync[r.Name] = d
			}
			add(ActChangeRecordSets, 1)
			add(ActGetChange, 1)
		}
		if len(recs) > 0 {
			tier(recovery.TierDNS, dns, fmt.Sprintf("%d changes of up to %d records", ceilDiv(len(recs), size), size))
			var verify time.Duration
			seen := map[string]bool{}
			for _, r := range recs {
				if seen[r.Service] {
					continue
				}
				seen[r.Service] = true
				verify = max(verify, insync[r.Name]+time.Duration(r.TTL)*time.Second-dns)
			}
			tier(recovery.TierVerify, verify, "record TTLs after their change")
		}
	}
	return b
}

// seeded counts the instances the cloud put in the recovery region for
// service before the run (warm standby); c.mu is held.
func (c *Cloud) seeded(s *plan.Service) int {
	switch c.o.Plan.Strategy {
	case plan.WarmStandby:
		return s.Compute.Standby
	case plan.ActiveActive:
		return s.Compute.Count
	}
	return 0
}

// serviceZones are the zones the provider launches a service into.
func serviceZones(rg *region, s *plan.Service) []string {
	n := 1
	if s.Compute.AWS != nil && len(s.Compute.AWS.Subnets) > 0 {
		n = min(len(s.Compute.AWS.Subnets), len(rg.zones))
	}
	return rg.zones[:n]
}

// paceBucket follows a token bucket in durations since the run started.
type paceBucket struct {
	rate, burst, level float64
	at                 time.Duration
}

func newBucketAt(l runbook.Limit) *paceBucket {
	return &paceBucket{rate: l.Rate, burst: float64(max(l.Burst, 1)), level: float64(max(l.Burst, 1))}
}

func (b *paceBucket) levelAt(at time.Duration) float64 {
	if at <= b.at {
		return b.level
	}
	return min(b.burst, b.level+(at-b.at).Seconds()*b.rate)
}

// delay is the wait from at until n tokens can have been taken.
func (b *paceBucket) delay(at time.Duration, n int) time.Duration {
	if b.rate <= 0 {
		return 0
	}
	need := float64(n) - b.levelAt(at)
	if need <= 0 {
		return 0
	}
	return time.Duration(need / b.rate * float64(time.Second))
}

// spend takes n tokens at at (the level may go below zero: tokens owed).
func (b *paceBucket) spend(at time.Duration, n int) {
	b.level = b.levelAt(at) - float64(n)
	b.at = max(b.at, at)
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

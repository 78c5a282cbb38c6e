package advise

import (
	"math"

	"github.com/pilotlight/pilotlight/plan"
	"github.com/pilotlight/pilotlight/provider/sim"
)

// DefaultStandbyFraction is the share of a service's count that a warm
// standby runs when the service sets no compute.standby: a quarter, at
// least one instance.
const DefaultStandbyFraction = 0.25

// Lines is a monthly cost of the recovery region, by item, in the price
// table's currency, each rounded to the cent; Total is their sum.
type Lines struct {
	// Compute is the instance hours of the services.
	Compute float64 `json:"compute"`
	// LoadBalancers is the load balancer hours of the services that have
	// one.
	LoadBalancers float64 `json:"loadBalancers"`
	// Storage is the replicas and snapshots of the data sources.
	Storage float64 `json:"storage"`
	// Transfer is the cross-region transfer of the data's change rate.
	Transfer float64 `json:"transfer"`
	// HealthChecks is the DNS health checks of the failover records.
	HealthChecks float64 `json:"healthChecks"`
	Total        float64 `json:"total"`
}

// Cost is what the recovery region costs a month under a strategy.
type Cost struct {
	// Normal is the cost in normal times, while the primary serves.
	Normal Lines `json:"normal"`
	// Failover is the cost a month while the recovery region serves
	// everything, after a failover.
	Failover Lines `json:"failover"`
}

// StandbyCount returns the instances a warm standby keeps running for svc:
// compute.standby when set, otherwise DefaultStandbyFraction of the count
// rounded up, at least 1.
func StandbyCount(svc plan.Service) int {
	if svc.Compute.Standby > 0 {
		return svc.Compute.Standby
	}
	return max(1, int(math.Ceil(float64(svc.Compute.Count)*DefaultStandbyFraction)))
}

// running returns the instances svc runs in the recovery region in normal
// times under strategy s.
func running(s plan.Strategy, svc plan.Service) int {
	switch s {
	case plan.WarmStandby:
		return min(StandbyCount(svc), svc.Compute.Count)
	case plan.ActiveActive:
		return svc.Compute.Count
	}
	return 0
}

// PriceRegion returns the price-table region of a plan region: its name
// for provider aws, the table's default region otherwise.
func (pr *Prices) PriceRegion(r plan.Region) string {
	if r.Provider == plan.ProviderAWS {
		return r.Name
	}
	return pr.DefaultRegion
}

// MonthlyCost prices the recovery region of plan p under strategy s:
//
//   - compute: the instances running in normal times (none for
//     backup-restore and pilot-light, StandbyCount for warm-standby, the
//     full count for active-active) and the full count during a failover,
//     each at the hourly price of its first instance type (sim.InstanceType);
//   - load balancers: one per service that has one, kept by every strategy
//     but backup-restore in normal times, and by all during a failover;
//   - storage: bucket replicas at S3 Standard, volume snapshots at EBS
//     snapshot prices, databases as snapshots (backup-restore) or replica
//     storage (the others);
//   - transfer: the change rate of every data source, sent from the primary
//     region each day (none during a failover: the primary is gone);
//   - health checks: one per region for every record with a health check.
//
// Data without sizes or change rates costs nothing. Database instance
// hours are not priced: the plan does not give an instance class.
func (pr *Prices) MonthlyCost(p *plan.Plan, s plan.Strategy) (Cost, error) {
	recName := pr.PriceRegion(p.Regions.Recovery)
	rec, err := pr.Region(recName)
	if err != nil {
		return Cost{}, err
	}
	prim, err := pr.Region(pr.PriceRegion(p.Regions.Primary))
	if err != nil {
		return Cost{}, err
	}
	hours := pr.HoursPerMonth
	var normal, failover Lines
	for _, svc := range p.Services {
		it := sim.InstanceType(p, svc)
		hourly, err := pr.Instance(rec, recName, it)
		if err != nil {
			return Cost{}, err
		}
		normal.Compute += float64(running(s, svc)) * hourly * hours
		failover.Compute += float64(svc.Compute.Count) * hourly * hours
		if svc.LoadBalancer != nil {
			lb := rec.LoadBalancerHour * hours
			if s != plan.BackupRestore {
				normal.LoadBalancers += lb
			}
			failover.LoadBalancers += lb
		}
	}
	days := hours / 24
	var storage, change float64
	for _, b := range p.Data.Buckets {
		storage += b.SizeGB * rec.S3StandardGBMonth
		change += b.ChangeRateGBPerDay
	}
	for _, v := range p.Data.Volumes {
		storage += v.SizeGB * rec.EBSSnapshotGBMonth
		change += v.ChangeRateGBPerDay
	}
	for _, db := range p.Data.Databases {
		if s == plan.BackupRestore {
			storage += db.SizeGB * rec.RDSSnapshotGBMonth
		} else {
			storage += db.SizeGB * rec.RDSStorageGBMonth
		}
		change += db.ChangeRateGBPerDay
	}
	normal.Storage, failover.Storage = storage, storage
	normal.Transfer = change * days * prim.TransferOutGB
	checks := 0
	if p.Routing != nil {
		for _, r := range p.Routing.Records {
			if r.HealthCheck != nil {
				checks += 2
			}
		}
	}
	normal.HealthChecks = float64(checks) * pr.HealthCheckMonth
	failover.HealthChecks = normal.HealthChecks
	return Cost{Normal: normal.rounded(), Failover: failover.rounded()}, nil
}

// rounded rounds every line to the cent and sums them into Total.
func (l Lines) rounded() Lines {
	l.Compute, l.LoadBalancers, l.Storage = cents(l.Compute), cents(l.LoadBalancers), cents(l.Storage)
	l.Transfer, l.HealthChecks = cents(l.Transfer), cents(l.HealthChecks)
	l.Total = cents(l.Compute + l.LoadBalancers + l.Storage + l.Transfer + l.HealthChecks)
	return l
}

func cents(x float64) float64 { return math.Round(x*100) / 100 }

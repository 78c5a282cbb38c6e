package sim

import (
	"fmt"
	"time"

	"github.com/pilotlight/pilotlight/plan"
)

// SourceKind is the kind of a data source.
type SourceKind string

// Kinds of data source.
const (
	SourceBucket   SourceKind = "bucket"
	SourceVolume   SourceKind = "volume"
	SourceDatabase SourceKind = "database"
)

// Mechanism is how a data source reaches the recovery region.
type Mechanism string

// Mechanisms, from the furthest behind to the closest.
const (
	// Snapshots are taken every snapshot.interval and copied across
	// regions (EBS and RDS snapshots).
	Snapshots Mechanism = "snapshots"
	// BatchCopy copies a bucket's changes every snapshot.interval.
	BatchCopy Mechanism = "batch-copy"
	// Continuous replicates every change as it happens, asynchronously
	// (bucket replication, database read replicas).
	Continuous Mechanism = "continuous"
	// MultiRegionWrite writes both regions before a write is acknowledged.
	MultiRegionWrite Mechanism = "multi-region-write"
)

// SourceRPO is the estimated recovery point of one data source.
type SourceRPO struct {
	Kind SourceKind `json:"kind"`
	// Name of the source: a bucket name, volume or database ID.
	Name      string    `json:"name"`
	Mechanism Mechanism `json:"mechanism"`
	// Detail says how the recovery point comes about.
	Detail string `json:"detail"`
	// RPO is the age of the newest copy in the recovery region when the
	// primary fails, at worst in a typical interval.
	RPO time.Duration `json:"rpo"`
}

// EstimateRPO estimates the recovery point of each data source of plan p
// under strategy s with model m, for an unplanned failover (nothing can be
// copied once the primary is gone):
//
//   - backup-restore: buckets are batch-copied every snapshot.interval
//     (interval + objectReplication.batch); volumes and databases are
//     snapshotted every interval and copied (interval + snapshot.copy of
//     one interval's changes);
//   - pilot-light and warm-standby: buckets replicate continuously
//     (objectReplication.continuous), databases to a cross-region replica
//     (database.replicaLag); volumes still rely on snapshots;
//   - active-active: every source is written in both regions
//     (multiRegionWrite).
//
// Each recovery point is rounded to the second.
func EstimateRPO(p *plan.Plan, s plan.Strategy, m *Model) ([]SourceRPO, error) {
	if !validStrategy(s) {
		return nil, fmt.Errorf("sim: estimate recovery point of %s: unknown strategy %q", p.Name, s)
	}
	var out []SourceRPO
	add := func(r SourceRPO) {
		r.RPO = round(r.RPO)
		out = append(out, r)
	}
	mrw := func(kind SourceKind, name string) SourceRPO {
		return SourceRPO{Kind: kind, Name: name, Mechanism: MultiRegionWrite, RPO: m.MultiRegionWrite.D(),
			Detail: "written in both regions before each write is acknowledged"}
	}
	interval := m.Snapshot.Interval
	snapshots := func(kind SourceKind, name string, changeGBPerDay float64) SourceRPO {
		change := changeGBPerDay * interval.D().Hours() / 24
		copyTime := m.Snapshot.Copy.For(change)
		return SourceRPO{Kind: kind, Name: name, Mechanism: Snapshots, RPO: interval.D() + copyTime,
			Detail: fmt.Sprintf("snapshot every %s, copied across regions in %s", interval, plan.Duration(round(copyTime)))}
	}
	for _, b := range p.Data.Buckets {
		switch s {
		case plan.ActiveActive:
			add(mrw(SourceBucket, b.Name))
		case plan.BackupRestore:
			add(SourceRPO{Kind: SourceBucket, Name: b.Name, Mechanism: BatchCopy, RPO: interval.D() + m.ObjectReplication.Batch.D(),
				Detail: fmt.Sprintf("changes batch-copied every %s, in %s", interval, m.ObjectReplication.Batch)})
		default:
			engine, lag := "pilotlight continuous replication", m.ObjectReplication.Continuous
			if b.Native != nil {
				engine, lag = "S3 Cross-Region Replication", m.ObjectReplication.Native
			}
			add(SourceRPO{Kind: SourceBucket, Name: b.Name, Mechanism: Continuous, RPO: lag.D(),
				Detail: fmt.Sprintf("%s, lag %s", engine, lag)})
		}
	}
	for _, v := range p.Data.Volumes {
		if s == plan.ActiveActive {
			add(mrw(SourceVolume, v.ID))
			continue
		}
		add(snapshots(SourceVolume, v.ID, v.ChangeRateGBPerDay))
	}
	for _, db := range p.Data.Databases {
		switch s {
		case plan.ActiveActive:
			add(mrw(SourceDatabase, db.ID))
		case plan.BackupRestore:
			add(snapshots(SourceDatabase, db.ID, db.ChangeRateGBPerDay))
		default:
			what := "cross-region read replica"
			if db.Cluster {
				what = "global database secondary cluster"
			}
			lag := m.Database.ReplicaLag.Of(db.Cluster)
			add(SourceRPO{Kind: SourceDatabase, Name: db.ID, Mechanism: Continuous, RPO: lag,
				Detail: fmt.Sprintf("%s, lag %s", what, plan.Duration(lag))})
		}
	}
	return out, nil
}

// WorstRPO returns the largest recovery point of sources and its index, or
// 0 and -1 when there are none.
func WorstRPO(sources []SourceRPO) (time.Duration, int) {
	worst, at := time.Duration(0), -1
	for i, s := range sources {
		if at < 0 || s.RPO > worst {
			worst, at = s.RPO, i
		}
	}
	return worst, at
}

package sim

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/pilotlight/pilotlight/plan"
	"github.com/pilotlight/pilotlight/recovery"
	"github.com/pilotlight/pilotlight/runbook"
)

// RestoreDatabase starts the restore of db in region (idempotent for key).
func (pr *Provider) RestoreDatabase(ctx context.Context, regionName string, db plan.Database, key string) error {
	if err := pr.turn(ctx, "restore/"+db.ID); err != nil {
		return err
	}
	if err := pr.wait(ctx, ActRestoreDB, "", 0); err != nil {
		return err
	}
	if err := pr.cloud.RestoreDB(ctx, regionName, db, key); err != nil {
		return fmt.Errorf("sim: restore database %s: %w", db.ID, err)
	}
	due := pr.cloud.clock.Now().Add(pr.upper(pr.cloud.o.Model.Database.Restore.For(db.SizeGB)))
	pr.mu.Lock()
	pr.dbs[regionName+"/"+db.ID] = due
	pr.mu.Unlock()
	return nil
}

// Database returns the state of db's restore in region: "creating"
// without a call until every restore in flight is due, then every one of
// them described at once.
func (pr *Provider) Database(ctx context.Context, regionName, id string) (recovery.DatabaseState, error) {
	if err := pr.turn(ctx, "database/"+id); err != nil {
		return recovery.DatabaseState{}, err
	}
	pr.mu.Lock()
	_, ok := pr.dbs[regionName+"/"+id]
	var horizon time.Time
	var inflight []string
	for k, d := range pr.dbs {
		if r, dbID, _ := strings.Cut(k, "/"); r == regionName && !d.IsZero() {
			inflight = append(inflight, dbID)
			horizon = maxTime(horizon, d)
		}
	}
	pr.mu.Unlock()
	if !ok {
		// Not restored by this process (a resumed run): describe it.
		inflight, horizon = []string{id}, time.Time{}
	}
	if pr.cloud.clock.Now().Before(horizon) {
		return recovery.DatabaseState{Status: "creating"}, nil
	}
	sort.Strings(inflight)
	var got map[string]DBInstance
	var err error
	pr.serial(ctx, "database/"+id, "databases/"+regionName, func() { got, err = pr.dbCacheOf(regionName).GetMany(ctx, inflight) })
	d, found := got[id]
	if !found {
		if err == nil {
			err = runbook.NotFound(fmt.Errorf("sim: database %s in %s: not found", id, regionName))
		}
		return recovery.DatabaseState{}, err
	}
	if d.Status == "available" {
		pr.mu.Lock()
		pr.dbs[regionName+"/"+id] = time.Time{}
		pr.mu.Unlock()
	}
	return recovery.DatabaseState{Available: d.Status == "available", Status: d.Status}, nil
}

func (pr *Provider) dbCacheOf(regionName string) *runbook.Cache[DBInstance] {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	c, ok := pr.dbCache[regionName]
	if !ok {
		c = runbook.NewCache(func(ctx context.Context, ids []string) (map[string]DBInstance, error) {
			if err := pr.wait(ctx, ActDescribeDBInstances, "", 0); err != nil {
				return nil, err
			}
			list, err := pr.cloud.DescribeDBInstances(ctx, regionName, ids)
			out := make(map[string]DBInstance, len(list))
			for _, d := range list {
				out[d.ID] = d
			}
			return out, err
		}, runbook.CacheOptions{TTL: pr.o.Poll, MaxBatch: MaxDBFilter, Window: time.Microsecond, Clock: pr.cloud.clock})
		pr.dbCache[regionName] = c
	}
	return c
}

// MaxRecords is the most records of one SetActiveMany: a Route 53 change
// counts 1,000 records and an UPSERT counts twice.
func (pr *Provider) MaxRecords() int { return MaxChangeRecords / 2 }

// SetActive pins one record (see SetActiveMany).
func (pr *Provider) SetActive(ctx context.Context, record, role string) error {
	return pr.SetActiveMany(ctx, []string{record}, role)
}

// SetActiveMany pins records to role in one change and waits until the
// change is INSYNC: a GetChange once the propagation is due, then every
// poll interval.
func (pr *Provider) SetActiveMany(ctx context.Context, records []string, role string) error {
	if err := pr.turn(ctx, "dns/"+first(records)); err != nil {
		return err
	}
	changes := make([]RecordChange, len(records))
	for i, r := range records {
		changes[i] = RecordChange{Record: r, Role: role}
	}
	if err := pr.wait(ctx, ActChangeRecordSets, "", 0); err != nil {
		return err
	}
	id, err := pr.cloud.ChangeRecordSets(ctx, changes)
	if err != nil {
		return fmt.Errorf("sim: pin %d records to %q: %w", len(records), role, err)
	}
	wait := pr.upper(pr.cloud.o.Model.DNS.Propagation.D())
	for {
		if err := pr.cloud.clock.Sleep(ctx, "", wait); err != nil {
			return err
		}
		if err := pr.wait(ctx, ActGetChange, "", 0); err != nil {
			return err
		}
		st, err := pr.cloud.GetChange(ctx, id)
		if err != nil {
			return fmt.Errorf("sim: change %s: %w", id, err)
		}
		if st == "INSYNC" {
			return nil
		}
		wait = pr.o.Poll
	}
}

// Reachable answers for both regions of the plan (a probe, not an API
// call): the simulated disaster takes the primary's service, not its
// control plane.
func (pr *Provider) Reachable(ctx context.Context, regionName string) error {
	pr.mu.Lock()
	pr.probes++
	pr.mu.Unlock()
	if _, err := pr.cloud.region(regionName); err != nil {
		return err
	}
	return ctx.Err()
}

// Verify answers with the region record points at for a client that
// resolves it now: the recovery region once its change is INSYNC and the
// record's TTL has passed since (cached answers expired).
func (pr *Provider) Verify(ctx context.Context, rec string) (recovery.Answer, error) {
	pr.mu.Lock()
	pr.probes++
	pr.mu.Unlock()
	now := pr.cloud.clock.Now()
	c := pr.cloud
	c.mu.Lock()
	r, ok := c.records[rec]
	var a recovery.Answer
	if ok {
		a = recovery.Answer{Region: pr.p.Regions.Primary.Name, Status: 200, Addr: rec}
		if r.Role == recovery.RoleRecovery && !now.Before(r.insync.Add(r.ttl)) {
			a.Region = pr.p.Regions.Recovery.Name
		}
	}
	c.mu.Unlock()
	if !ok {
		return recovery.Answer{}, runbook.NotFound(fmt.Errorf("sim: verify %s: no such record", rec))
	}
	return a, ctx.Err()
}

// Fence puts (or lifts) a deny-writes policy on every bucket of the plan
// in region.
func (pr *Provider) Fence(ctx context.Context, regionName string, on bool) error {
	for _, b := range pr.p.Data.Buckets {
		if err := pr.cloud.PutBucketPolicy(ctx, regionName, b.Name, on); err != nil {
			return fmt.Errorf("sim: fence %s in %s: %w", b.Name, regionName, err)
		}
	}
	return nil
}

// Sync runs an S3 Batch Replication job per bucket for the backlog and
// waits for them (one DescribeJob each when due).
func (pr *Provider) Sync(ctx context.Context, from, to string) (recovery.SyncReport, error) {
	start := pr.cloud.clock.Now()
	var last time.Time
	for _, b := range pr.p.Data.Buckets {
		end, err := pr.cloud.CreateJob(ctx, b.Name)
		if err != nil {
			return recovery.SyncReport{}, fmt.Errorf("sim: sync %s: %w", b.Name, err)
		}
		last = maxTime(last, end)
	}
	if d := last.Sub(pr.cloud.clock.Now()); d > 0 {
		if err := pr.cloud.clock.Sleep(ctx, "", pr.upper(d)); err != nil {
			return recovery.SyncReport{}, err
		}
	}
	for _, b := range pr.p.Data.Buckets {
		if err := pr.cloud.replicationCall(ctx, ActDescribeJob, b.Name); err != nil {
			return recovery.SyncReport{}, fmt.Errorf("sim: sync %s: %w", b.Name, err)
		}
	}
	return recovery.SyncReport{Seconds: pr.cloud.clock.Now().Sub(start).Seconds()}, nil
}

// SetReplication sets (or, with empty names, pauses) the replication of
// every bucket.
func (pr *Provider) SetReplication(ctx context.Context, from, to string) error {
	for _, b := range pr.p.Data.Buckets {
		if err := pr.cloud.replicationCall(ctx, ActPutBucketReplication, b.Name); err != nil {
			return fmt.Errorf("sim: set replication of %s: %w", b.Name, err)
		}
	}
	return nil
}

// Replication reports each bucket's replica as converged, lagging by the
// model's native replication lag.
func (pr *Provider) Replication(ctx context.Context) (recovery.ReplicationReport, error) {
	rep := recovery.ReplicationReport{From: pr.p.Regions.Primary.Name, To: pr.p.Regions.Recovery.Name}
	lag := pr.cloud.o.Model.ObjectReplication.Native.D()
	for _, b := range pr.p.Data.Buckets {
		if err := pr.cloud.replicationCall(ctx, ActGetBucketReplication, b.Name); err != nil {
			return rep, fmt.Errorf("sim: replication of %s: %w", b.Name, err)
		}
		rep.Buckets = append(rep.Buckets, recovery.BucketReplica{Bucket: b.Name, Converged: pr.cloud.clock.Now().Add(-lag), Lag: lag})
	}
	return rep, nil
}

package aws

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/pilotlight/pilotlight/plan"
	"github.com/pilotlight/pilotlight/runbook"
)

// errWaitTimeout is wrapped when a wait for a resource runs out of time.
var errWaitTimeout = errors.New("timed out")

// DatabaseSteps returns one step per database of the plan: restore it in
// the recovery region from its newest available snapshot there (an
// instance with RestoreDBInstanceFromDBSnapshot, a cluster with
// RestoreDBClusterFromSnapshot), then wait until it is available. The
// restored identifier derives from the plan, the database and the run
// (DatabaseIdentifier), so a retried or resumed step finds its own restore
// instead of starting another. Steps run in tier, after deps, with API
// LimitRDS. Their outputs are the identifier, the snapshot and the
// endpoint.
func (r *Recovery) DatabaseSteps(tier int, deps []string) []runbook.Step {
	var steps []runbook.Step
	for _, db := range r.Plan.Data.Databases {
		kind := "instance"
		if db.Cluster {
			kind = "cluster"
		}
		steps = append(steps, runbook.Step{
			ID: "restore-db-" + db.ID, Tier: tier, DependsOn: deps, Mutating: true, API: LimitRDS,
			Describe: fmt.Sprintf("restore database %s %s in %s from its newest snapshot and wait until available", kind, db.ID, r.Plan.Regions.Recovery.Name),
			Run: func(ctx context.Context, sc *runbook.StepContext) (runbook.Output, error) {
				return r.restoreDatabase(ctx, sc, db)
			},
		})
	}
	return steps
}

// DatabaseIdentifier is the identifier of database id restored by run of
// plan: "pl-<plan>-<id>-<hash of run>", within RDS's 63 characters of
// letters, digits and single hyphens.
func DatabaseIdentifier(planName, id, run string) string {
	h := sha256.Sum256([]byte(run))
	suffix := "-" + hex.EncodeToString(h[:4])
	base := rdsSafe("pl-" + planName + "-" + id)
	if len(base) > 63-len(suffix) {
		base = strings.TrimRight(base[:63-len(suffix)], "-")
	}
	return base + suffix
}

// rdsSafe lower-cases s, turns anything but letters and digits into single
// hyphens and trims them from the end.
func rdsSafe(s string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(s) {
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !ok {
			c = '-'
		}
		if c == '-' && (b.Len() == 0 || strings.HasSuffix(b.String(), "-")) {
			continue
		}
		b.WriteRune(c)
	}
	return strings.TrimRight(b.String(), "-")
}

func (r *Recovery) restoreDatabase(ctx context.Context, sc *runbook.StepContext, db plan.Database) (runbook.Output, error) {
	region := r.Plan.Regions.Recovery.Name
	rc, err := r.region(region)
	if err != nil {
		return nil, err
	}
	if rc.RDS == nil {
		return nil, runbook.Fatal(fmt.Errorf("aws: restore database %s: %w: no RDS client for %s", db.ID, ErrConfig, region))
	}
	id := DatabaseIdentifier(r.Plan.Name, db.ID, sc.RunID())
	tags := []rdstypes.Tag{{Key: sdkaws.String(TagPlan), Value: sdkaws.String(r.Plan.Name)},
		{Key: sdkaws.String(TagRun), Value: sdkaws.String(sc.RunID())}, {Key: sdkaws.String(TagStepKey), Value: sdkaws.String(sc.Key())}}
	for _, t := range r.drillEC2Tags() {
		tags = append(tags, rdstypes.Tag{Key: t.Key, Value: t.Value})
	}
	var snap string
	if db.Cluster {
		snap, err = r.restoreCluster(ctx, rc, db, id, tags)
	} else {
		snap, err = r.restoreInstance(ctx, rc, db, id, tags)
	}
	if err != nil {
		return nil, err
	}
	endpoint := ""
	err = r.waitFor(ctx, sc.Clock(), func() (bool, error) {
		var status string
		var err error
		status, endpoint, err = r.dbStatus(ctx, rc, db.Cluster, id)
		if isNotFound(err) {
			return false, nil // just created, not visible yet
		}
		if err != nil {
			return false, callError("rds describe", id, err)
		}
		switch status {
		case "available":
			return true, nil
		case "failed", "incompatible-restore", "incompatible-parameters", "incompatible-network", "inaccessible-encryption-credentials":
			return false, runbook.Fatal(fmt.Errorf("aws: rds restore %s: status %s", id, status))
		}
		return false, nil
	})
	if err != nil {
		return nil, fmt.Errorf("aws: rds wait for %s: %w", id, err)
	}
	return runbook.Output{"identifier": id, "snapshot": snap, "endpoint": endpoint}, nil
}

// restoreInstance starts the restore of db's newest snapshot as id; a
// restore already started under id is taken as it is.
func (r *Recovery) restoreInstance(ctx context.Context, rc RegionClients, db plan.Database, id string, tags []rdstypes.Tag) (string, error) {
	if snap, ok := r.catalogSource(KindDBInstance, db.ID); ok {
		return snap, r.restoreInstanceFrom(ctx, rc, id, snap, tags)
	}
	var newest *rdstypes.DBSnapshot
	in := &rds.DescribeDBSnapshotsInput{DBInstanceIdentifier: sdkaws.String(db.ID)}
	for {
		out, err := rc.RDS.DescribeDBSnapshots(ctx, in)
		if err != nil {
			return "", callError("rds describe snapshots", db.ID, err)
		}
		for i := range out.DBSnapshots {
			s := &out.DBSnapshots[i]
			if sdkaws.ToString(s.Status) == "available" && (newest == nil || sdkaws.ToTime(s.SnapshotCreateTime).After(sdkaws.ToTime(newest.SnapshotCreateTime))) {
				newest = s
			}
		}
		if sdkaws.ToString(out.Marker) == "" {
			break
		}
		in.Marker = out.Marker
	}
	if newest == nil {
		return "", runbook.NotFound(fmt.Errorf("aws: rds restore %s: no available snapshot of %s in %s", id, db.ID, r.Plan.Regions.Recovery.Name))
	}
	snap := sdkaws.ToString(newest.DBSnapshotIdentifier)
	return snap, r.restoreInstanceFrom(ctx, rc, id, snap, tags)
}

// restoreInstanceFrom starts the restore of snapshot snap as id.
func (r *Recovery) restoreInstanceFrom(ctx context.Context, rc RegionClients, id, snap string, tags []rdstypes.Tag) error {
	_, err := rc.RDS.RestoreDBInstanceFromDBSnapshot(ctx, &rds.RestoreDBInstanceFromDBSnapshotInput{
		DBInstanceIdentifier: sdkaws.String(id), DBSnapshotIdentifier: sdkaws.String(snap), Tags: tags,
	})
	if err != nil && !alreadyExists(err) {
		return callError("rds restore instance", id, err)
	}
	return nil
}

// catalogSource returns the catalog's recovery point of source of kind,
// if there is a catalog and it knows one.
func (r *Recovery) catalogSource(kind, source string) (string, bool) {
	if r.Catalog == nil {
		return "", false
	}
	e, ok := r.Catalog.RecoveryPoint(kind, source)
	return e.Copy, ok
}

// restoreCluster is restoreInstance for a cluster. The cluster comes back
// without instances: adding them (CreateDBInstance) is left to the caller.
func (r *Recovery) restoreCluster(ctx context.Context, rc RegionClients, db plan.Database, id string, tags []rdstypes.Tag) (string, error) {
	var newest *rdstypes.DBClusterSnapshot
	in := &rds.DescribeDBClusterSnapshotsInput{DBClusterIdentifier: sdkaws.String(db.ID)}
	want, fromCatalog := r.catalogSource(KindDBCluster, db.ID)
	for {
		out, err := rc.RDS.DescribeDBClusterSnapshots(ctx, in)
		if err != nil {
			return "", callError("rds describe cluster snapshots", db.ID, err)
		}
		for i := range out.DBClusterSnapshots {
			s := &out.DBClusterSnapshots[i]
			if fromCatalog && sdkaws.ToString(s.DBClusterSnapshotIdentifier) != want {
				continue // the catalog's recovery point, not merely the newest
			}
			if sdkaws.ToString(s.Status) == "available" && (newest == nil || sdkaws.ToTime(s.SnapshotCreateTime).After(sdkaws.ToTime(newest.SnapshotCreateTime))) {
				newest = s
			}
		}
		if sdkaws.ToString(out.Marker) == "" {
			break
		}
		in.Marker = out.Marker
	}
	if newest == nil {
		return "", runbook.NotFound(fmt.Errorf("aws: rds restore cluster %s: no available snapshot of %s in %s", id, db.ID, r.Plan.Regions.Recovery.Name))
	}
	snap := sdkaws.ToString(newest.DBClusterSnapshotIdentifier)
	engine := db.Engine
	if engine == "" {
		engine = sdkaws.ToString(newest.Engine)
	}
	_, err := rc.RDS.RestoreDBClusterFromSnapshot(ctx, &rds.RestoreDBClusterFromSnapshotInput{
		DBClusterIdentifier: sdkaws.String(id), SnapshotIdentifier: sdkaws.String(snap), Engine: sdkaws.String(engine), Tags: tags,
	})
	if err != nil && !alreadyExists(err) {
		return "", callError("rds restore cluster", id, err)
	}
	return snap, nil
}

// dbStatus returns the status and endpoint of instance or cluster id.
func (r *Recovery) dbStatus(ctx context.Context, rc RegionClients, cluster bool, id string) (status, endpoint string, err error) {
	if cluster {
		out, err := rc.RDS.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: sdkaws.String(id)})
		if err != nil {
			return "", "", err
		}
		if len(out.DBClusters) == 0 {
			return "", "", nil
		}
		c := out.DBClusters[0]
		return sdkaws.ToString(c.Status), sdkaws.ToString(c.Endpoint), nil
	}
	out, err := rc.RDS.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: sdkaws.String(id)})
	if err != nil {
		return "", "", err
	}
	if len(out.DBInstances) == 0 {
		return "", "", nil
	}
	d := out.DBInstances[0]
	if d.Endpoint != nil {
		endpoint = sdkaws.ToString(d.Endpoint.Address)
	}
	return sdkaws.ToString(d.DBInstanceStatus), endpoint, nil
}

func alreadyExists(err error) bool {
	switch errorCode(err) {
	case "DBInstanceAlreadyExists", "DBInstanceAlreadyExistsFault", "DBClusterAlreadyExistsFault":
		return true
	}
	return false
}

// waitFor calls done every Poll on clock until it returns true or an
// error, or WaitTimeout passes (a transient error).
func (r *Recovery) waitFor(ctx context.Context, clock runbook.Clock, done func() (bool, error)) error {
	if clock == nil {
		clock = r.clock()
	}
	poll, timeout := r.Poll, r.WaitTimeout
	if poll <= 0 {
		poll = 10 * time.Second
	}
	if timeout <= 0 {
		timeout = 30 * time.Minute
	}
	deadline := clock.Now().Add(timeout)
	for {
		ok, err := done()
		if err != nil || ok {
			return err
		}
		if !clock.Now().Before(deadline) {
			return runbook.Transient(fmt.Errorf("after %s: %w", timeout, errWaitTimeout))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-clock.After(poll):
		}
	}
}

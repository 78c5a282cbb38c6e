package aws

import (
	"context"
	"fmt"
	"strings"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/pilotlight/pilotlight/plan"
)

// rdsSnap is a DB or DB cluster snapshot, whichever the database is.
type rdsSnap struct {
	id, arn, status string
	created         time.Time
	tags            map[string]string
}

func fromDBSnapshot(s rdstypes.DBSnapshot) rdsSnap {
	return rdsSnap{id: sdkaws.ToString(s.DBSnapshotIdentifier), arn: sdkaws.ToString(s.DBSnapshotArn), status: sdkaws.ToString(s.Status),
		created: sdkaws.ToTime(s.SnapshotCreateTime), tags: rdsTagMap(s.TagList)}
}

func fromClusterSnapshot(s rdstypes.DBClusterSnapshot) rdsSnap {
	return rdsSnap{id: sdkaws.ToString(s.DBClusterSnapshotIdentifier), arn: sdkaws.ToString(s.DBClusterSnapshotArn), status: sdkaws.ToString(s.Status),
		created: sdkaws.ToTime(s.SnapshotCreateTime), tags: rdsTagMap(s.TagList)}
}

func rdsTagMap(tags []rdstypes.Tag) map[string]string {
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[sdkaws.ToString(t.Key)] = sdkaws.ToString(t.Value)
	}
	return m
}

func rdsT(k, v string) rdstypes.Tag {
	return rdstypes.Tag{Key: sdkaws.String(k), Value: sdkaws.String(v)}
}

// rdsKind holds the calls of one kind of database: instance or cluster.
type rdsKind struct {
	kind string
	// list returns the snapshots of db in the region of api (manual only
	// when manual is set).
	list func(ctx context.Context, api SnapshotRDSAPI, db string, manual bool) ([]rdsSnap, error)
	// get polls one snapshot by identifier in the primary or the recovery
	// region.
	get func(ctx context.Context, recovery bool, id string) (rdsSnap, bool, error)
	// create takes a snapshot of db named id; copy copies the snapshot at
	// srcARN as target; del deletes a snapshot.
	create func(ctx context.Context, db, id string, tags []rdstypes.Tag) error
	copy   func(ctx context.Context, srcARN, target string, tags []rdstypes.Tag) error
	del    func(ctx context.Context, id string) error
}

func (p *Protector) rdsKind(cluster bool) rdsKind {
	kms := p.kmsKey()
	var kmsKey *string
	if kms != "" {
		kmsKey = sdkaws.String(kms)
	}
	srcRegion := sdkaws.String(p.Plan.Regions.Primary.Name)
	if cluster {
		return rdsKind{
			kind: KindDBCluster,
			list: func(ctx context.Context, api SnapshotRDSAPI, db string, manual bool) ([]rdsSnap, error) {
				in := &rds.DescribeDBClusterSnapshotsInput{DBClusterIdentifier: sdkaws.String(db)}
				if manual {
					in.SnapshotType = sdkaws.String("manual")
				}
				var out []rdsSnap
				for {
					page, err := api.DescribeDBClusterSnapshots(ctx, in)
					if err != nil {
						return nil, err
					}
					for _, s := range page.DBClusterSnapshots {
						out = append(out, fromClusterSnapshot(s))
					}
					if sdkaws.ToString(page.Marker) == "" {
						return out, nil
					}
					in.Marker = page.Marker
				}
			},
			get: func(ctx context.Context, recovery bool, id string) (rdsSnap, bool, error) {
				c := p.caches.srcCluster
				if recovery {
					c = p.caches.dstCluster
				}
				s, found, err := cached(ctx, c, id)
				return fromClusterSnapshot(s), found, err
			},
			create: func(ctx context.Context, db, id string, tags []rdstypes.Tag) error {
				_, err := p.Primary.RDS.CreateDBClusterSnapshot(ctx, &rds.CreateDBClusterSnapshotInput{DBClusterIdentifier: sdkaws.String(db),
					DBClusterSnapshotIdentifier: sdkaws.String(id), Tags: tags})
				return err
			},
			copy: func(ctx context.Context, srcARN, target string, tags []rdstypes.Tag) error {
				_, err := p.Recovery.RDS.CopyDBClusterSnapshot(ctx, &rds.CopyDBClusterSnapshotInput{SourceDBClusterSnapshotIdentifier: sdkaws.String(srcARN),
					TargetDBClusterSnapshotIdentifier: sdkaws.String(target), KmsKeyId: kmsKey, SourceRegion: srcRegion, Tags: tags})
				return err
			},
			del: func(ctx context.Context, id string) error {
				_, err := p.Recovery.RDS.DeleteDBClusterSnapshot(ctx, &rds.DeleteDBClusterSnapshotInput{DBClusterSnapshotIdentifier: sdkaws.String(id)})
				return err
			},
		}
	}
	return rdsKind{
		kind: KindDBInstance,
		list: func(ctx context.Context, api SnapshotRDSAPI, db string, manual bool) ([]rdsSnap, error) {
			in := &rds.DescribeDBSnapshotsInput{DBInstanceIdentifier: sdkaws.String(db)}
			if manual {
				in.SnapshotType = sdkaws.String("manual")
			}
			var out []rdsSnap
			for {
				page, err := api.DescribeDBSnapshots(ctx, in)
				if err != nil {
					return nil, err
				}
				for _, s := range page.DBSnapshots {
					out = append(out, fromDBSnapshot(s))
				}
				if sdkaws.ToString(page.Marker) == "" {
					return out, nil
				}
				in.Marker = page.Marker
			}
		},
		get: func(ctx context.Context, recovery bool, id string) (rdsSnap, bool, error) {
			c := p.caches.srcDB
			if recovery {
				c = p.caches.dstDB
			}
			s, found, err := cached(ctx, c, id)
			return fromDBSnapshot(s), found, err
		},
		create: func(ctx context.Context, db, id string, tags []rdstypes.Tag) error {
			_, err := p.Primary.RDS.CreateDBSnapshot(ctx, &rds.CreateDBSnapshotInput{DBInstanceIdentifier: sdkaws.String(db),
				DBSnapshotIdentifier: sdkaws.String(id), Tags: tags})
			return err
		},
		copy: func(ctx context.Context, srcARN, target string, tags []rdstypes.Tag) error {
			_, err := p.Recovery.RDS.CopyDBSnapshot(ctx, &rds.CopyDBSnapshotInput{SourceDBSnapshotIdentifier: sdkaws.String(srcARN),
				TargetDBSnapshotIdentifier: sdkaws.String(target), KmsKeyId: kmsKey, SourceRegion: srcRegion, Tags: tags})
			return err
		},
		del: func(ctx context.Context, id string) error {
			_, err := p.Recovery.RDS.DeleteDBSnapshot(ctx, &rds.DeleteDBSnapshotInput{DBSnapshotIdentifier: sdkaws.String(id)})
			return err
		},
	}
}

// rdsAlreadyExists reports whether a create or copy found its target
// there already (started by an earlier attempt or run).
func rdsAlreadyExists(err error) bool {
	switch errorCode(err) {
	case "DBSnapshotAlreadyExists", "DBSnapshotAlreadyExistsFault", "DBClusterSnapshotAlreadyExistsFault":
		return true
	}
	return false
}

// rdsSnapshotName is the identifier of a snapshot pilotlight takes or
// copies: "pl-" and name made RDS-safe, within 255 characters.
func rdsSnapshotName(parts ...string) string {
	s := rdsSafe("pl-" + strings.Join(parts, "-"))
	if len(s) > 255 {
		s = strings.TrimRight(s[:255], "-")
	}
	return s
}

// protectDatabase copies the newest snapshot of db (taking one when the
// newest is older than the RPO) to the recovery region. Copies of one
// database go one after another.
func (p *Protector) protectDatabase(ctx context.Context, db plan.Database) Result {
	k := p.rdsKind(db.Cluster)
	var r Result
	dl := p.deadline()
	src, created, err := p.rdsSource(ctx, dl, k, db.ID)
	if err != nil {
		return p.fail(r, k.kind, db.ID, err)
	}
	r.SourceSnapshot, r.Created, r.DataTime = src.id, created, src.created
	copyID, err := p.rdsCopy(ctx, dl, k, db.ID, src)
	r.Copy = copyID
	if err != nil {
		return p.fail(r, k.kind, db.ID, err)
	}
	r.State = StateCompleted
	p.log().Info("copy completed", "kind", k.kind, "source", db.ID, "snapshot", src.id, "copy", copyID)
	r = p.record(r, k.kind, db.ID)
	deleted, err := p.rdsRetention(ctx, dl, k, db.ID, copyID)
	r.Deleted = deleted
	if err != nil {
		r.Error = err.Error()
	}
	return r
}

// rdsSource returns the newest available snapshot of db in the primary
// region, or takes one named for the current RPO window and waits for it.
func (p *Protector) rdsSource(ctx context.Context, dl time.Time, k rdsKind, db string) (rdsSnap, bool, error) {
	var snaps []rdsSnap
	err := p.retry(ctx, dl, "rds describe snapshots", func() (err error) {
		snaps, err = k.list(ctx, p.Primary.RDS, db, false)
		return err
	})
	if err != nil {
		return rdsSnap{}, false, fmt.Errorf("aws: rds describe snapshots of %s: %w", db, err)
	}
	var newest *rdsSnap
	for i := range snaps {
		if snaps[i].status == "available" && (newest == nil || snaps[i].created.After(newest.created)) {
			newest = &snaps[i]
		}
	}
	if newest != nil && !p.stale(newest.created) {
		return *newest, false, nil
	}
	window := p.window()
	id := rdsSnapshotName(p.Plan.Name, db, window.Format("20060102-1504"))
	err = p.retry(ctx, dl, "rds create snapshot", func() error {
		err := k.create(ctx, db, id, []rdstypes.Tag{rdsT(TagPlan, p.Plan.Name), rdsT(TagWindow, formatTime(window))})
		if rdsAlreadyExists(err) {
			return nil
		}
		return err
	})
	if err != nil {
		return rdsSnap{}, false, fmt.Errorf("aws: rds create snapshot %s of %s: %w", id, db, err)
	}
	p.log().Info("snapshot started", "kind", k.kind, "source", db, "snapshot", id)
	snap, err := p.rdsWait(ctx, dl, k, false, id)
	if err != nil {
		return rdsSnap{}, false, fmt.Errorf("aws: rds wait for snapshot %s of %s: %w", id, db, err)
	}
	return snap, true, nil
}

// rdsWait polls snapshot id until it is available.
func (p *Protector) rdsWait(ctx context.Context, dl time.Time, k rdsKind, recovery bool, id string) (rdsSnap, error) {
	var snap rdsSnap
	err := p.waitUntil(ctx, dl, "rds snapshot "+id, func() (bool, error) {
		s, found, err := k.get(ctx, recovery, id)
		switch {
		case err != nil && retryable(err):
			return false, nil
		case err != nil:
			return false, err
		case !found:
			return false, nil
		}
		snap = s
		switch s.status {
		case "available":
			return true, nil
		case "failed", "error", "incompatible-restore", "inaccessible-encryption-credentials":
			return false, fmt.Errorf("snapshot %s is %s", id, s.status)
		}
		return false, nil
	})
	return snap, err
}

// rdsCopy copies src to the recovery region as "pl-<source snapshot>",
// unless that copy is there already, and waits until it is available. It
// holds db's copy queue and an RDS copy slot meanwhile.
func (p *Protector) rdsCopy(ctx context.Context, dl time.Time, k rdsKind, db string, src rdsSnap) (string, error) {
	target := rdsSnapshotName(src.id)
	var existing rdsSnap
	var found bool
	err := p.retry(ctx, dl, "rds describe snapshot", func() (err error) {
		existing, found, err = k.get(ctx, true, target)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("aws: rds describe snapshot %s: %w", target, err)
	}
	if found && existing.status == "available" {
		return target, nil
	}
	q := p.queue(k.kind + "/" + db)
	q.Lock()
	defer q.Unlock()
	release, err := p.slot(ctx, "rds")
	if err != nil {
		return "", err
	}
	defer release()
	if found && (existing.status == "failed" || existing.status == "error") {
		// A failed copy holds the name: delete it and copy again.
		if err := p.retry(ctx, dl, "rds delete snapshot", func() error { return k.del(ctx, target) }); err != nil && !isNotFound(err) {
			return "", fmt.Errorf("aws: rds delete failed copy %s: %w", target, err)
		}
		found = false
		p.caches.dstDB.Invalidate(target)
		p.caches.dstCluster.Invalidate(target)
	}
	if !found {
		tags := []rdstypes.Tag{rdsT(TagPlan, p.Plan.Name), rdsT(TagSourceSnapshot, src.id), rdsT(TagDataTime, formatTime(src.created))}
		err := p.retry(ctx, dl, "rds copy snapshot", func() error {
			err := k.copy(ctx, src.arn, target, tags)
			if rdsAlreadyExists(err) {
				return nil
			}
			return err
		})
		if err != nil {
			return "", fmt.Errorf("aws: rds copy snapshot %s of %s: %w", src.id, db, err)
		}
		p.log().Info("copy started", "kind", k.kind, "source", db, "snapshot", src.id, "copy", target)
	}
	if _, err := p.rdsWait(ctx, dl, k, true, target); err != nil {
		return target, fmt.Errorf("aws: rds copy snapshot %s of %s: %w", src.id, db, err)
	}
	return target, nil
}

// rdsRetention deletes the copies of db in the recovery region that the
// retention policy no longer keeps (only manual snapshots tagged for the
// plan; current is never deleted).
func (p *Protector) rdsRetention(ctx context.Context, dl time.Time, k rdsKind, db, current string) ([]string, error) {
	var snaps []rdsSnap
	err := p.retry(ctx, dl, "rds describe snapshots", func() (err error) {
		snaps, err = k.list(ctx, p.Recovery.RDS, db, true)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("aws: rds describe snapshot copies of %s: %w", db, err)
	}
	var points []point
	for _, s := range snaps {
		if s.tags[TagPlan] != p.Plan.Name || s.tags[TagSourceSnapshot] == "" {
			continue
		}
		pt := point{id: s.id, state: pointPending, data: parseTime(s.tags[TagDataTime])}
		if pt.data.IsZero() {
			pt.data = s.created
		}
		switch s.status {
		case "available":
			pt.state = pointGood
		case "failed", "error":
			pt.state = pointBad
		}
		points = append(points, pt)
	}
	var deleted []string
	for _, del := range p.expired(points, current) {
		err := p.retry(ctx, dl, "rds delete snapshot", func() error { return k.del(ctx, del) })
		switch {
		case isNotFound(err) || errorCode(err) == "DBClusterSnapshotNotFoundFault" || errorCode(err) == "DBSnapshotNotFoundFault":
			continue
		case err != nil:
			return deleted, fmt.Errorf("aws: rds delete snapshot %s of %s: %w", del, db, err)
		}
		deleted = append(deleted, del)
	}
	if len(deleted) > 0 {
		p.log().Info("retention deleted copies", "kind", k.kind, "source", db, "deleted", deleted)
	}
	return deleted, nil
}

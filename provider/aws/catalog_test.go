package aws

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/pilotlight/pilotlight/plan"
)

func TestCatalogRecord(t *testing.T) {
	at := time.Date(2026, 1, 1, 6, 0, 0, 0, time.UTC)
	good := CatalogEntry{Kind: KindVolume, Source: "vol-1", Copy: "snap-b", DataTime: at, State: StateCompleted}
	tests := []struct {
		name  string
		steps []CatalogEntry
		want  CatalogEntry
	}{
		{"first failure is recorded", []CatalogEntry{{Kind: KindVolume, Source: "vol-1", State: StateFailed, Error: "boom"}},
			CatalogEntry{Kind: KindVolume, Source: "vol-1", State: StateFailed, Error: "boom"}},
		{"a failure keeps the good copy", []CatalogEntry{good, {Kind: KindVolume, Source: "vol-1", Copy: "snap-c", State: StateFailed, Error: "boom"}},
			CatalogEntry{Kind: KindVolume, Source: "vol-1", Copy: "snap-b", DataTime: at, State: StateCompleted, Error: "boom"}},
		{"older data does not replace newer", []CatalogEntry{good, {Kind: KindVolume, Source: "vol-1", Copy: "snap-a", DataTime: at.Add(-time.Hour), State: StateCompleted}},
			good},
		{"newer data replaces", []CatalogEntry{good, {Kind: KindVolume, Source: "vol-1", Copy: "snap-d", DataTime: at.Add(time.Hour), State: StateCompleted}},
			CatalogEntry{Kind: KindVolume, Source: "vol-1", Copy: "snap-d", DataTime: at.Add(time.Hour), State: StateCompleted}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := OpenCatalog(context.Background(), CatalogOptions{Plan: "p"})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range tt.steps {
				if err := c.Record(e); err != nil {
					t.Fatal(err)
				}
			}
			if got, _ := c.Get(KindVolume, "vol-1"); got != tt.want {
				t.Fatalf("entry %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestCatalogSurvivesRestart writes a catalog locally and to S3, then
// opens it again from each place alone, and from both (the newer data of
// each entry wins).
func TestCatalogSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	f := newFake(t)
	var stored string
	f.on("PutObject", func(s sent) reply {
		if !strings.HasSuffix(s.Path, "/pilotlight/ticketing/catalog.json") || !strings.Contains(s.Host+s.Path, "dr-catalog") {
			t.Errorf("PutObject %s %s", s.Host, s.Path)
		}
		stored = s.Body
		return reply{}
	})
	f.on("GetObject", func(s sent) reply {
		if stored == "" {
			return s3Error(404, "NoSuchKey", "The specified key does not exist.")
		}
		return reply{body: stored}
	})
	path := filepath.Join(t.TempDir(), "state", "catalog.json")
	open := func(path string, withS3 bool) *Catalog {
		t.Helper()
		o := CatalogOptions{Plan: "ticketing", Path: path, Clock: newStepClock()}
		if withS3 {
			o.S3, o.Bucket = f.s3(recoveryRegion), "dr-catalog"
		}
		c, err := OpenCatalog(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := open(path, true)
	if len(c.Entries()) != 0 {
		t.Fatalf("new catalog %+v", c.Entries())
	}
	vol := CatalogEntry{Kind: KindVolume, Source: "vol-0abc", SourceSnapshot: "snap-src", Copy: "snap-copy", Region: recoveryRegion,
		DataTime: t0, State: StateCompleted, CopiedAt: t0.Add(time.Hour)}
	db := CatalogEntry{Kind: KindDBInstance, Source: "orders", Copy: "pl-orders", Region: recoveryRegion, DataTime: t0, State: StateCompleted}
	for _, e := range []CatalogEntry{vol, db} {
		if err := c.Record(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	var doc catalogDoc
	if err := json.Unmarshal([]byte(stored), &doc); err != nil || doc.Plan != "ticketing" || len(doc.Entries) != 2 {
		t.Fatalf("stored %s: %v", stored, err)
	}

	if e, ok := open(path, false).RecoveryPoint(KindVolume, "vol-0abc"); !ok || e != vol {
		t.Fatalf("from the local file: %+v", e)
	}
	if e, ok := open("", true).RecoveryPoint(KindDBInstance, "orders"); !ok || e != db {
		t.Fatalf("from S3: %+v", e)
	}

	// The local file has newer data for the volume than S3.
	newer := vol
	newer.Copy, newer.DataTime = "snap-newer", t0.Add(time.Hour)
	local := open(path, false)
	if err := local.Record(newer); err != nil {
		t.Fatal(err)
	}
	if e, _ := open(path, true).RecoveryPoint(KindVolume, "vol-0abc"); e.Copy != "snap-newer" {
		t.Fatalf("merged %+v", e)
	}

	if err := os.WriteFile(path, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenCatalog(ctx, CatalogOptions{Plan: "ticketing", Path: path}); err == nil || !strings.Contains(err.Error(), "catalog read") {
		t.Fatalf("corrupt file: %v", err)
	}
	f.always("GetObject", s3Error(403, "AccessDenied", "Access Denied"))
	if _, err := OpenCatalog(ctx, CatalogOptions{Plan: "ticketing", S3: f.s3(recoveryRegion), Bucket: "dr-catalog"}); err == nil || !strings.Contains(err.Error(), "access denied") {
		t.Fatalf("denied: %v", err)
	}
}

// TestCatalogDrivesRestoreSteps protects a plan, restarts (opens the
// catalog again from its file), and runs the recovery's database and
// volume restore steps with that catalog: they restore from the catalog's
// copies, even though the recovery region holds newer snapshots that
// pilotlight did not make.
func TestCatalogDrivesRestoreSteps(t *testing.T) {
	sc := newSnapCloud(t)
	seedPrimary(sc)
	p := protectPlan(t)
	pr := newTestProtector(t, sc, p)
	if _, err := pr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	cat, err := OpenCatalog(context.Background(), CatalogOptions{Plan: p.Name, Path: pr.Catalog.o.Path})
	if err != nil {
		t.Fatal(err)
	}
	dbPoint, ok1 := cat.RecoveryPoint(KindDBInstance, "orders")
	volPoint, ok2 := cat.RecoveryPoint(KindVolume, "vol-0abc")
	if !ok1 || !ok2 {
		t.Fatalf("catalog %+v", cat.Entries())
	}

	f := newFakeCloud(t)
	seedSnapshots(f) // newer snapshots than the catalog's: orders-0600, snap-new
	r := newTestRecovery(t, f, loadTestPlan(t))
	r.Catalog = cat
	steps, err := r.VolumeSteps(1, nil, map[string]VolumeTarget{"vol-0abc": {Zone: "us-east-1b"}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := runSteps(t, append(r.DatabaseSteps(1, nil), steps...))
	if err != nil {
		t.Fatal(err)
	}
	in := callsOf[*rds.RestoreDBInstanceFromDBSnapshotInput](f, "RestoreDBInstanceFromDBSnapshot")
	if len(in) != 1 || *in[0].DBSnapshotIdentifier != dbPoint.Copy {
		t.Fatalf("restored from %+v, want %s", in, dbPoint.Copy)
	}
	checked := false
	for _, s := range res.Steps {
		if s.ID == "restore-volume-vol-0abc" {
			checked = true
			if v := f.volumes[s.Output["volumeId"]]; v == nil || v.Snapshot != volPoint.Copy {
				t.Fatalf("volume %+v from %s, want %s", v, s.Output["snapshot"], volPoint.Copy)
			}
		}
	}
	if !checked {
		t.Fatalf("no volume step in %+v", res.Steps)
	}
	if f.count("DescribeSnapshots") != 0 || f.count("DescribeDBSnapshots") != 0 {
		t.Fatal("the restore looked for snapshots instead of using the catalog")
	}

	// Without the catalog the same steps pick the newest snapshots there.
	f2 := newFakeCloud(t)
	seedSnapshots(f2)
	r2 := newTestRecovery(t, f2, loadTestPlan(t))
	if _, err := runSteps(t, r2.DatabaseSteps(1, nil)); err != nil {
		t.Fatal(err)
	}
	if in := callsOf[*rds.RestoreDBInstanceFromDBSnapshotInput](f2, "RestoreDBInstanceFromDBSnapshot"); *in[0].DBSnapshotIdentifier != "orders-0600" {
		t.Fatalf("without a catalog: %+v", in)
	}
}

// TestCatalogClusterRestore: a cluster restores from the catalog's copy
// rather than the newest available snapshot.
func TestCatalogClusterRestore(t *testing.T) {
	cat, err := OpenCatalog(context.Background(), CatalogOptions{Plan: "ticketing"})
	if err != nil {
		t.Fatal(err)
	}
	if err := cat.Record(CatalogEntry{Kind: KindDBCluster, Source: "ledger", Copy: "pl-ledger-0", DataTime: t0, State: StateCompleted}); err != nil {
		t.Fatal(err)
	}
	f := newFakeCloud(t)
	f.clSnaps = append(f.clSnaps, clusterSnap("ledger", "pl-ledger-0", t0), clusterSnap("ledger", "ledger-newer", t0.Add(time.Hour)))
	p := loadTestPlan(t)
	p.Data.Databases = []plan.Database{{ID: "ledger", Cluster: true, Engine: "aurora-postgresql"}}
	r := newTestRecovery(t, f, p)
	r.Catalog = cat
	if _, err := runSteps(t, r.DatabaseSteps(1, nil)); err != nil {
		t.Fatal(err)
	}
	if in := callsOf[*rds.RestoreDBClusterFromSnapshotInput](f, "RestoreDBClusterFromSnapshot"); len(in) != 1 || *in[0].SnapshotIdentifier != "pl-ledger-0" {
		t.Fatalf("restore %+v", in)
	}
}

func clusterSnap(cluster, id string, at time.Time) rdstypes.DBClusterSnapshot {
	return rdstypes.DBClusterSnapshot{DBClusterIdentifier: sdkaws.String(cluster), DBClusterSnapshotIdentifier: sdkaws.String(id),
		Status: sdkaws.String("available"), SnapshotCreateTime: sdkaws.Time(at), Engine: sdkaws.String("aurora-postgresql")}
}

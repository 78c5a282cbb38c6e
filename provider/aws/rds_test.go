package aws

import (
	"context"
	"strings"
	"testing"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/pilotlight/pilotlight/plan"
	"github.com/pilotlight/pilotlight/runbook"
)

// runSteps runs steps alone on a fresh engine with a step clock.
func runSteps(t *testing.T, steps []runbook.Step) (runbook.Result, error) {
	t.Helper()
	e, err := runbook.New(runbook.Options{Clock: newStepClock(), Backoff: runbook.Backoff{Initial: time.Millisecond, Max: time.Millisecond, Attempts: 3}})
	if err != nil {
		t.Fatal(err)
	}
	return e.Run(context.Background(), runbook.Runbook{Name: "data", Steps: steps}, "run-7")
}

func TestDatabaseSteps(t *testing.T) {
	at := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		db      plan.Database
		setup   func(f *fakeCloud)
		wantErr string
		check   func(t *testing.T, f *fakeCloud, out runbook.Output)
	}{
		{"cluster from newest snapshot", plan.Database{ID: "ledger", Cluster: true}, func(f *fakeCloud) {
			f.hideNew, f.dbCreating = 2, 3
			f.clSnaps = []rdstypes.DBClusterSnapshot{
				{DBClusterIdentifier: sdkaws.String("ledger"), DBClusterSnapshotIdentifier: sdkaws.String("ledger-1"), Status: sdkaws.String("available"), SnapshotCreateTime: &at, Engine: sdkaws.String("aurora-postgresql")},
				{DBClusterIdentifier: sdkaws.String("ledger"), DBClusterSnapshotIdentifier: sdkaws.String("ledger-0"), Status: sdkaws.String("available"), SnapshotCreateTime: sdkaws.Time(at.Add(-time.Hour)), Engine: sdkaws.String("aurora-postgresql")},
			}
		}, "", func(t *testing.T, f *fakeCloud, out runbook.Output) {
			in := callsOf[*rds.RestoreDBClusterFromSnapshotInput](f, "RestoreDBClusterFromSnapshot")
			if len(in) != 1 || *in[0].SnapshotIdentifier != "ledger-1" || *in[0].Engine != "aurora-postgresql" || len(in[0].Tags) != 3 {
				t.Fatalf("restore %+v", in)
			}
			if out["endpoint"] != out["identifier"]+".cluster.rds.example" {
				t.Fatalf("output %v", out)
			}
		}},
		{"no snapshot", plan.Database{ID: "orders"}, func(f *fakeCloud) {}, "no available snapshot of orders in us-east-1", nil},
		{"restore throttled then retried", plan.Database{ID: "orders"}, func(f *fakeCloud) {
			seedSnapshots(f)
			f.failNext("RestoreDBInstanceFromDBSnapshot", "ThrottlingException")
		}, "", func(t *testing.T, f *fakeCloud, out runbook.Output) {
			if f.count("RestoreDBInstanceFromDBSnapshot") != 2 || f.dbs[out["identifier"]].restores != 1 {
				t.Fatalf("restores: %d calls", f.count("RestoreDBInstanceFromDBSnapshot"))
			}
		}},
		{"already restored by an earlier attempt", plan.Database{ID: "orders"}, func(f *fakeCloud) {
			seedSnapshots(f)
			f.dbs[DatabaseIdentifier("ticketing", "orders", "run-7")] = &fDB{status: "available", snapshot: "orders-0600"}
		}, "", func(t *testing.T, f *fakeCloud, out runbook.Output) {
			if db := f.dbs[out["identifier"]]; db.restores != 1 {
				t.Fatalf("db %+v", db)
			}
		}},
		{"access denied", plan.Database{ID: "orders"}, func(f *fakeCloud) {
			seedSnapshots(f)
			f.failNext("RestoreDBInstanceFromDBSnapshot", "AccessDenied")
		}, "aws: rds restore instance pl-ticketing-orders-", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeCloud(t)
			tt.setup(f)
			p := loadTestPlan(t)
			p.Data.Databases = []plan.Database{tt.db}
			r := newTestRecovery(t, f, p)
			res, err := runSteps(t, r.DatabaseSteps(1, nil))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, f, res.Steps[0].Output)
		})
	}
}

func TestVolumeSteps(t *testing.T) {
	f := newFakeCloud(t)
	f.hideNew = 1
	seedSnapshots(f)
	r := newTestRecovery(t, f, loadTestPlan(t))
	if _, err := r.VolumeSteps(1, nil, map[string]VolumeTarget{"vol-0abc": {Service: "web"}}); err == nil {
		t.Fatal("a service without a device is accepted")
	}
	if _, err := r.VolumeSteps(1, nil, nil); err == nil {
		t.Fatal("a volume without a zone is accepted")
	}
	steps, err := r.VolumeSteps(1, nil, map[string]VolumeTarget{"vol-0abc": {Zone: "us-east-1b"}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := runSteps(t, steps)
	if err != nil {
		t.Fatal(err)
	}
	out := res.Steps[0].Output
	v := f.volumes[out["volumeId"]]
	if v == nil || v.Zone != "us-east-1b" || v.Snapshot != "snap-new" || v.Attached != "" || out["instance"] != "" {
		t.Fatalf("volume %+v, output %v", v, out)
	}
	if f.count("AttachVolume") != 0 || f.count("DescribeVolumes") < 2 {
		t.Fatalf("calls %v", f.calls)
	}
}

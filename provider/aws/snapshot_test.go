package aws

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/pilotlight/pilotlight/plan"
)

// t0 is the step clock's start.
var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// seedPrimary puts a fresh and an older completed snapshot of vol-0abc, an
// automated snapshot of orders and the launch template images in the
// primary region.
func seedPrimary(f *snapCloud) {
	f.add(primaryRegion, &fSnap{id: "snap-old", source: "vol-0abc", state: "completed", start: t0.Add(-3 * time.Minute)})
	f.add(primaryRegion, &fSnap{id: "snap-src", source: "vol-0abc", state: "completed", start: t0.Add(-time.Minute)})
	f.add(primaryRegion, &fSnap{id: "snap-running", source: "vol-0abc", state: "pending", start: t0, pending: 1000})
	f.add(primaryRegion, &fSnap{id: "rds:orders-2025-12-31-23-59", source: "orders", state: "completed", start: t0.Add(-time.Minute)})
	f.add(primaryRegion, &fSnap{id: "ami-web", state: "completed", start: t0.Add(-48 * time.Hour)})
	f.add(primaryRegion, &fSnap{id: "ami-api", state: "completed", start: t0.Add(-24 * time.Hour)})
	f.templates["web"], f.templates["api"] = "ami-web", "ami-api"
}

func newTestProtector(t *testing.T, f *snapCloud, p *plan.Plan) *Protector {
	t.Helper()
	cat, err := OpenCatalog(context.Background(), CatalogOptions{Plan: p.Name, Path: filepath.Join(t.TempDir(), "catalog.json")})
	if err != nil {
		t.Fatal(err)
	}
	return &Protector{Plan: p, Primary: f.clients(primaryRegion), Recovery: f.clients(recoveryRegion), Catalog: cat,
		Clock: newStepClock(), Poll: 10 * time.Second, BackoffInitial: time.Second, BackoffMax: time.Minute, CopyTimeout: 48 * time.Hour}
}

func protectPlan(t *testing.T) *plan.Plan {
	p := loadTestPlan(t)
	p.Data.Snapshots = &plan.SnapshotPolicy{KMSKey: "alias/dr", Keep: 2}
	return p
}

func resultOf(rs []Result, kind, source string) Result {
	for _, r := range rs {
		if r.Kind == kind && r.Source == source {
			return r
		}
	}
	return Result{}
}

func TestProtect(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(f *snapCloud, p *plan.Plan)
		wantErr string
		check   func(t *testing.T, f *snapCloud, pr *Protector, rs []Result)
	}{
		{"copies the newest completed snapshots with the key and links", func(f *snapCloud, p *plan.Plan) {}, "", func(t *testing.T, f *snapCloud, pr *Protector, rs []Result) {
			cs := inputs[*ec2.CopySnapshotInput](f, "CopySnapshot")
			if len(cs) != 1 || *cs[0].SourceSnapshotId != "snap-src" || *cs[0].SourceRegion != primaryRegion || !*cs[0].Encrypted || *cs[0].KmsKeyId != "alias/dr" {
				t.Fatalf("CopySnapshot %+v", cs)
			}
			if u := sdkaws.ToString(cs[0].PresignedUrl); !strings.Contains(u, "ec2."+primaryRegion+".amazonaws.com") || !strings.Contains(u, "SourceSnapshotId=snap-src") {
				t.Fatalf("presigned URL %q", u)
			}
			tags := tagMap(cs[0].TagSpecifications)
			if tags[TagVolume] != "vol-0abc" || tags[TagSourceSnapshot] != "snap-src" || tags[TagDataTime] != "2025-12-31T23:59:00Z" || tags[TagPlan] != "ticketing" {
				t.Fatalf("copy tags %v", tags)
			}
			db := inputs[*rds.CopyDBSnapshotInput](f, "CopyDBSnapshot")
			if len(db) != 1 || *db[0].SourceDBSnapshotIdentifier != rdsARN(primaryRegion, "rds:orders-2025-12-31-23-59") ||
				*db[0].TargetDBSnapshotIdentifier != "pl-rds-orders-2025-12-31-23-59" || *db[0].KmsKeyId != "alias/dr" || *db[0].SourceRegion != primaryRegion {
				t.Fatalf("CopyDBSnapshot %+v", db)
			}
			img := inputs[*ec2.CopyImageInput](f, "CopyImage")
			if len(img) != 2 || *img[0].ClientToken == *img[1].ClientToken || *img[0].KmsKeyId != "alias/dr" {
				t.Fatalf("CopyImage %+v", img)
			}
			if n := f.count("CreateSnapshot") + f.count("CreateDBSnapshot"); n != 0 {
				t.Fatalf("%d snapshots taken of fresh sources", n)
			}
			want := map[string]string{KindVolume + "/vol-0abc": "snap-src", KindDBInstance + "/orders": "rds:orders-2025-12-31-23-59", KindImage + "/ami-api": "ami-api", KindImage + "/ami-web": "ami-web"}
			es := pr.Catalog.Entries()
			if len(es) != len(want) {
				t.Fatalf("catalog %+v", es)
			}
			for _, e := range es {
				if want[e.key()] != e.SourceSnapshot || e.State != StateCompleted || e.Copy == "" || e.Region != recoveryRegion || e.DataTime.IsZero() {
					t.Fatalf("catalog entry %+v", e)
				}
				if c := f.get(recoveryRegion, e.Copy); c == nil || c.state != "completed" {
					t.Fatalf("copy %s of %s: %+v", e.Copy, e.Source, c)
				}
			}
		}},
		{"a source older than the RPO is taken first", func(f *snapCloud, p *plan.Plan) {
			f.snaps[primaryRegion]["snap-src"].start = t0.Add(-time.Hour)
			f.snaps[primaryRegion]["snap-old"].start = t0.Add(-2 * time.Hour)
			f.snaps[primaryRegion]["rds:orders-2025-12-31-23-59"].start = t0.Add(-time.Hour)
		}, "", func(t *testing.T, f *snapCloud, pr *Protector, rs []Result) {
			cs := inputs[*ec2.CreateSnapshotInput](f, "CreateSnapshot")
			if len(cs) != 1 || *cs[0].VolumeId != "vol-0abc" || tagMap(cs[0].TagSpecifications)[TagWindow] != "2026-01-01T00:00:00Z" {
				t.Fatalf("CreateSnapshot %+v", cs)
			}
			db := inputs[*rds.CreateDBSnapshotInput](f, "CreateDBSnapshot")
			if len(db) != 1 || *db[0].DBSnapshotIdentifier != "pl-ticketing-orders-20260101-0000" {
				t.Fatalf("CreateDBSnapshot %+v", db)
			}
			v, d := resultOf(rs, KindVolume, "vol-0abc"), resultOf(rs, KindDBInstance, "orders")
			if !v.Created || v.SourceSnapshot != *inputs[*ec2.CopySnapshotInput](f, "CopySnapshot")[0].SourceSnapshotId || !d.Created ||
				*inputs[*rds.CopyDBSnapshotInput](f, "CopyDBSnapshot")[0].TargetDBSnapshotIdentifier != "pl-pl-ticketing-orders-20260101-0000" {
				t.Fatalf("results %+v", rs)
			}
		}},
		{"throttling and copy limits back off", func(f *snapCloud, p *plan.Plan) {
			f.failNext("CopySnapshot", "RequestLimitExceeded", "ResourceLimitExceeded", "ResourceLimitExceeded", "ResourceLimitExceeded")
			f.failNext("CopyDBSnapshot", "SnapshotQuotaExceeded", "ThrottlingException")
			f.failNext("CopyImage", "ResourceLimitExceeded")
			f.failNext("DescribeSnapshots", "RequestLimitExceeded")
		}, "", func(t *testing.T, f *snapCloud, pr *Protector, rs []Result) {
			if f.count("CopySnapshot") != 5 || f.count("CopyDBSnapshot") != 3 || f.count("CopyImage") != 3 {
				t.Fatalf("copies: %d EBS, %d RDS, %d AMI calls", f.count("CopySnapshot"), f.count("CopyDBSnapshot"), f.count("CopyImage"))
			}
			for _, r := range rs {
				if r.State != StateCompleted {
					t.Fatalf("result %+v", r)
				}
			}
		}},
		{"slow copies are polled until completed, describes batched", func(f *snapCloud, p *plan.Plan) { f.copyPolls = 40 }, "", func(t *testing.T, f *snapCloud, pr *Protector, rs []Result) {
			for _, r := range rs {
				if r.State != StateCompleted {
					t.Fatalf("result %+v", r)
				}
			}
			if n := f.count("DescribeSnapshots"); n < 40 {
				t.Fatalf("%d DescribeSnapshots calls for a copy pending 40 polls", n)
			}
			if n := f.count("DescribeImages"); n > 2*45 {
				t.Fatalf("%d DescribeImages calls: the two image polls were not batched", n)
			}
		}},
		{"a failed copy fails its resource only", func(f *snapCloud, p *plan.Plan) { f.failCopies["snap-src"] = true }, "1 of 4 jobs failed", func(t *testing.T, f *snapCloud, pr *Protector, rs []Result) {
			v := resultOf(rs, KindVolume, "vol-0abc")
			if v.State != StateFailed || !strings.Contains(v.Error, "failed") {
				t.Fatalf("volume %+v", v)
			}
			if e, _ := pr.Catalog.Get(KindVolume, "vol-0abc"); e.State != StateFailed {
				t.Fatalf("catalog %+v", e)
			}
			if _, ok := pr.Catalog.RecoveryPoint(KindVolume, "vol-0abc"); ok {
				t.Fatal("a failed copy is a recovery point")
			}
			if resultOf(rs, KindDBInstance, "orders").State != StateCompleted {
				t.Fatalf("results %+v", rs)
			}
		}},
		{"access denied is not retried", func(f *snapCloud, p *plan.Plan) { f.failNext("CopyDBSnapshot", "AccessDenied") }, "AccessDenied", func(t *testing.T, f *snapCloud, pr *Protector, rs []Result) {
			if f.count("CopyDBSnapshot") != 1 || resultOf(rs, KindDBInstance, "orders").State != StateFailed {
				t.Fatalf("%d calls, results %+v", f.count("CopyDBSnapshot"), rs)
			}
		}},
		{"a cluster is copied with the cluster calls", func(f *snapCloud, p *plan.Plan) {
			p.Data.Databases = []plan.Database{{ID: "ledger", Cluster: true}}
			f.add(primaryRegion, &fSnap{id: "ledger-1", source: "ledger", cluster: true, state: "completed", start: t0.Add(-time.Minute)})
		}, "", func(t *testing.T, f *snapCloud, pr *Protector, rs []Result) {
			in := inputs[*rds.CopyDBClusterSnapshotInput](f, "CopyDBClusterSnapshot")
			if len(in) != 1 || *in[0].TargetDBClusterSnapshotIdentifier != "pl-ledger-1" || *in[0].KmsKeyId != "alias/dr" {
				t.Fatalf("CopyDBClusterSnapshot %+v", in)
			}
			if e, ok := pr.Catalog.RecoveryPoint(KindDBCluster, "ledger"); !ok || e.Copy != "pl-ledger-1" {
				t.Fatalf("catalog %+v", e)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newSnapCloud(t)
			seedPrimary(f)
			p := protectPlan(t)
			tt.setup(f, p)
			pr := newTestProtector(t, f, p)
			rs, err := pr.Run(context.Background())
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err %v, want %q", err, tt.wantErr)
			}
			tt.check(t, f, pr, rs)
		})
	}
}

// TestProtectIsIdempotent runs protection twice: the second run finds the
// completed copies and copies nothing again.
func TestProtectIsIdempotent(t *testing.T) {
	f := newSnapCloud(t)
	seedPrimary(f)
	pr := newTestProtector(t, f, protectPlan(t))
	first, err := pr.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	second, err := pr.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if f.count("CopySnapshot") != 1 || f.count("CopyDBSnapshot") != 1 || f.count("CopyImage") != 2 {
		t.Fatalf("copies %d %d %d", f.count("CopySnapshot"), f.count("CopyDBSnapshot"), f.count("CopyImage"))
	}
	for i := range first {
		if first[i].Copy != second[i].Copy {
			t.Fatalf("run 1 %+v, run 2 %+v", first[i], second[i])
		}
	}
}

// TestProtect60CopiesWithinLimits protects 60 volumes (chosen by tag) and
// 60 databases: copies run at most 20 at a time per kind in the
// destination region, exactly 20 when there is work for more, and all
// finish without AWS refusing one.
func TestProtect60CopiesWithinLimits(t *testing.T) {
	f := newSnapCloud(t)
	f.copyPolls = 5
	p := protectPlan(t)
	p.Services = nil
	p.Data.Volumes = []plan.Volume{{Selector: map[string]string{"app": "ticketing"}}}
	p.Data.Databases = nil
	for i := range 60 {
		vol := fmt.Sprintf("vol-%03d", i)
		f.volumes[vol] = map[string]string{"app": "ticketing"}
		f.add(primaryRegion, &fSnap{id: fmt.Sprintf("snap-s%03d", i), source: vol, state: "completed", start: t0.Add(-time.Minute)})
		db := fmt.Sprintf("db%03d", i)
		p.Data.Databases = append(p.Data.Databases, plan.Database{ID: db})
		f.add(primaryRegion, &fSnap{id: "rds:" + db, source: db, state: "completed", start: t0.Add(-time.Minute)})
	}
	f.volumes["vol-other"] = map[string]string{"app": "other"}
	pr := newTestProtector(t, f, p)
	rs, err := pr.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 120 {
		t.Fatalf("%d results", len(rs))
	}
	for _, r := range rs {
		if r.State != StateCompleted || r.Source == "vol-other" {
			t.Fatalf("result %+v", r)
		}
	}
	if f.maxInflight["ebs"] != 20 || f.maxInflight["rds"] != 20 {
		t.Fatalf("most copies in flight: %v, want 20 of each", f.maxInflight)
	}
	if f.count("CopySnapshot") != 60 || f.count("CopyDBSnapshot") != 60 {
		t.Fatalf("copy calls %d and %d: AWS refused some", f.count("CopySnapshot"), f.count("CopyDBSnapshot"))
	}
	if n := len(pr.Catalog.Entries()); n != 120 {
		t.Fatalf("catalog has %d entries", n)
	}
}

// TestRDSCopiesOfOneSourceQueue starts two copies of one database at once:
// the second starts only when the first has completed.
func TestRDSCopiesOfOneSourceQueue(t *testing.T) {
	f := newSnapCloud(t)
	f.copyPolls = 10
	for _, id := range []string{"orders-a", "orders-b"} {
		f.add(primaryRegion, &fSnap{id: id, source: "orders", state: "completed", start: t0})
	}
	pr := newTestProtector(t, f, protectPlan(t))
	pr.init()
	k := pr.rdsKind(false)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, id := range []string{"orders-a", "orders-b"} {
		wg.Go(func() {
			_, errs[i] = pr.rdsCopy(context.Background(), t0.Add(time.Hour), k, "orders",
				rdsSnap{id: id, arn: rdsARN(primaryRegion, id), created: t0})
		})
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil {
		t.Fatal(errs)
	}
	if f.maxSource != 1 || f.count("CopyDBSnapshot") != 2 {
		t.Fatalf("%d copies of orders in flight at once, %d copies", f.maxSource, f.count("CopyDBSnapshot"))
	}
}

func TestExpired(t *testing.T) {
	day := 24 * time.Hour
	now := newStepClock().Now()
	pts := []point{
		{id: "new", state: pointGood, data: now.Add(-day)},
		{id: "mid", state: pointGood, data: now.Add(-2 * day)},
		{id: "old", state: pointGood, data: now.Add(-3 * day)},
		{id: "bad", state: pointBad, data: now},
		{id: "run", state: pointPending, data: now},
	}
	tests := []struct {
		name    string
		keep    int
		maxAge  time.Duration
		points  []point
		current string
		want    []string
	}{
		{"keep 2", 2, 0, pts, "new", []string{"bad", "old"}},
		{"keep 1 never deletes the current copy", 1, 0, pts, "mid", []string{"bad", "old"}},
		{"max age", 5, 36 * time.Hour, pts, "new", []string{"bad", "mid", "old"}},
		{"max age keeps the newest good copy", 5, time.Hour, pts, "", []string{"bad", "mid", "old"}},
		{"only pending", 1, time.Hour, []point{{id: "run", state: pointPending}}, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := protectPlan(t)
			p.Data.Snapshots.Keep, p.Data.Snapshots.MaxAge = tt.keep, plan.Duration(tt.maxAge)
			pr := &Protector{Plan: p, Clock: newStepClock()}
			got := pr.expired(tt.points, tt.current)
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("expired %v, want %v", got, tt.want)
			}
		})
	}
}

// TestRetentionInRecoveryRegion runs protection with older copies in the
// recovery region: it keeps the newest two completed ones, deletes the
// rest and the failed one, and leaves copies of other plans and copies in
// progress alone.
func TestRetentionInRecoveryRegion(t *testing.T) {
	f := newSnapCloud(t)
	seedPrimary(f)
	mine := func(data time.Time) map[string]string {
		return map[string]string{TagPlan: "ticketing", TagVolume: "vol-0abc", TagSourceSnapshot: "snap-x", TagDataTime: formatTime(data)}
	}
	f.add(recoveryRegion, &fSnap{id: "snap-c1", source: "vol-0abc", state: "completed", tags: mine(t0.Add(-3 * time.Hour))})
	f.add(recoveryRegion, &fSnap{id: "snap-c2", source: "vol-0abc", state: "completed", tags: mine(t0.Add(-2 * time.Hour))})
	f.add(recoveryRegion, &fSnap{id: "snap-c3", source: "vol-0abc", state: "completed", tags: mine(t0.Add(-time.Hour))})
	f.add(recoveryRegion, &fSnap{id: "snap-bad", source: "vol-0abc", state: "error", tags: mine(t0)})
	f.add(recoveryRegion, &fSnap{id: "snap-busy", source: "vol-0abc", state: "pending", pending: 1000, tags: mine(t0)})
	other := mine(t0.Add(-5 * time.Hour))
	other[TagPlan] = "other"
	f.add(recoveryRegion, &fSnap{id: "snap-other", source: "vol-0abc", state: "completed", tags: other})
	f.add(recoveryRegion, &fSnap{id: "pl-old-orders", source: "orders", state: "completed", start: t0.Add(-5 * time.Hour),
		tags: map[string]string{TagPlan: "ticketing", TagSourceSnapshot: "rds:old"}})
	f.add(recoveryRegion, &fSnap{id: "pl-older-orders", source: "orders", state: "completed", start: t0.Add(-6 * time.Hour),
		tags: map[string]string{TagPlan: "ticketing", TagSourceSnapshot: "rds:older"}})
	f.add(recoveryRegion, &fSnap{id: "hand-made", source: "orders", state: "completed", start: t0.Add(-7 * time.Hour)})
	pr := newTestProtector(t, f, protectPlan(t))
	rs, err := pr.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	v := resultOf(rs, KindVolume, "vol-0abc")
	slices.Sort(v.Deleted)
	if !slices.Equal(v.Deleted, []string{"snap-bad", "snap-c1", "snap-c2"}) {
		t.Fatalf("volume deleted %v", v.Deleted)
	}
	for _, id := range []string{v.Copy, "snap-c3", "snap-busy", "snap-other"} {
		if f.get(recoveryRegion, id) == nil {
			t.Fatalf("%s was deleted", id)
		}
	}
	d := resultOf(rs, KindDBInstance, "orders")
	if !slices.Equal(d.Deleted, []string{"pl-older-orders"}) || f.get(recoveryRegion, "hand-made") == nil {
		t.Fatalf("database deleted %v", d.Deleted)
	}
}

// TestProtectImageCopyFailsThenRecopies: a failed AMI copy fails the run;
// the next run copies again with a new client token.
func TestProtectImageCopyFailsThenRecopies(t *testing.T) {
	f := newSnapCloud(t)
	seedPrimary(f)
	f.failCopies["ami-web"] = true
	pr := newTestProtector(t, f, protectPlan(t))
	if _, err := pr.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "image ami-web") {
		t.Fatalf("err %v", err)
	}
	f.mu.Lock()
	f.failCopies["ami-web"] = false
	f.mu.Unlock()
	rs, err := pr.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	in := inputs[*ec2.CopyImageInput](f, "CopyImage")
	var tokens []string
	for _, c := range in {
		if *c.SourceImageId == "ami-web" {
			tokens = append(tokens, *c.ClientToken)
		}
	}
	if len(tokens) != 2 || tokens[0] == tokens[1] {
		t.Fatalf("tokens %v", tokens)
	}
	if r := resultOf(rs, KindImage, "ami-web"); r.State != StateCompleted || sdkaws.ToString(in[len(in)-1].SourceRegion) != primaryRegion {
		t.Fatalf("result %+v", r)
	}
}

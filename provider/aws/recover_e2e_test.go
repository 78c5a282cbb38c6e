package aws

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/pilotlight/pilotlight/recovery"
	"github.com/pilotlight/pilotlight/runbook"
)

// zoneResolver resolves names from the fake Route 53 zone: an alias
// record resolves as its target, and every ELB name to the loopback test
// server's address.
type zoneResolver struct{ r53 *fakeR53 }

func (z zoneResolver) LookupHost(ctx context.Context, host string) ([]string, error) {
	if strings.HasSuffix(host, ".elb.amazonaws.com") {
		return []string{"127.0.0.1"}, nil
	}
	z.r53.mu.Lock()
	defer z.r53.mu.Unlock()
	for _, s := range z.r53.zones["Z1"] {
		if s.Name == host && s.Type == "A" && s.AliasTarget != nil {
			return []string{"127.0.0.1"}, nil
		}
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func seedSnapshots(f *fakeCloud) {
	old, recent := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 1, 6, 0, 0, 0, time.UTC)
	f.dbSnaps = []rdstypes.DBSnapshot{
		{DBInstanceIdentifier: sdkaws.String("orders"), DBSnapshotIdentifier: sdkaws.String("orders-0600"), Status: sdkaws.String("available"), SnapshotCreateTime: &recent},
		{DBInstanceIdentifier: sdkaws.String("orders"), DBSnapshotIdentifier: sdkaws.String("orders-0000"), Status: sdkaws.String("available"), SnapshotCreateTime: &old},
		{DBInstanceIdentifier: sdkaws.String("orders"), DBSnapshotIdentifier: sdkaws.String("orders-copying"), Status: sdkaws.String("creating"), SnapshotCreateTime: sdkaws.Time(recent.Add(time.Hour))},
	}
	tags := []ec2types.Tag{{Key: sdkaws.String(TagVolume), Value: sdkaws.String("vol-0abc")}}
	f.snapshots = []ec2types.Snapshot{
		{SnapshotId: sdkaws.String("snap-old"), StartTime: &old, Tags: tags},
		{SnapshotId: sdkaws.String("snap-new"), StartTime: &recent, Tags: tags},
	}
}

// TestFailoverRunbookEndToEnd runs the failover runbook that
// recovery.Build makes of testdata/recover-aws.yaml, with the database and
// volume steps added, against the AWS provider and SDK-level fakes: the
// first instance type is short, the first launch is throttled, new IDs are
// invisible to the first describe, and the first run crashes (a fatal
// error) after launching; the resumed run completes without launching or
// restoring anything twice.
func TestFailoverRunbookEndToEnd(t *testing.T) {
	p := loadTestPlan(t)
	f := newFakeCloud(t)
	f.noCapacity["m6i.xlarge"] = true
	f.failNext("RunInstances", "RequestLimitExceeded")
	f.hideNew, f.elbLag, f.dbCreating = 1, true, 2
	seedSnapshots(f)
	r53 := newFakeR53(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != "/healthz" || req.Host != "www.example.com" {
			http.NotFound(w, req)
		}
	}))
	defer srv.Close()
	dial := &net.Dialer{Timeout: time.Second}
	clk := newStepClock()
	rec := &Recovery{Plan: p, Regions: map[string]RegionClients{testRegion: f.clients()}, Clock: clk,
		Poll: time.Second, DescribeTTL: time.Second, DNS: r53.driver(), Resolver: zoneResolver{r53},
		Buckets: NewBuckets(DefaultLimits(), clk),
		HTTPClient: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return dial.DialContext(ctx, network, srv.Listener.Addr().String()) // every load balancer is the test server
			}}},
	}
	defer rec.HTTPClient.CloseIdleConnections()

	rb, err := recovery.Build(p, rec, recovery.Options{Mode: recovery.Ungraceful, HealthyTimeout: time.Minute, Poll: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	rb.Steps = append(rb.Steps, rec.DatabaseSteps(recovery.TierData, nil)...)
	vols, err := rec.VolumeSteps(recovery.TierCompute, []string{"scale-web"}, map[string]VolumeTarget{"vol-0abc": {Service: "web", Device: "/dev/xvdf"}})
	if err != nil {
		t.Fatal(err)
	}
	rb.Steps = append(rb.Steps, vols...)
	limits, err := Limits(map[string]runbook.Limit{LimitRDS: {Rate: 1, Burst: 2}})
	if err != nil {
		t.Fatal(err)
	}
	e, err := runbook.New(runbook.Options{Clock: clk, Limits: limits, Journal: filepath.Join(t.TempDir(), "journal"),
		Backoff: runbook.Backoff{Initial: 10 * time.Millisecond, Max: 100 * time.Millisecond, Attempts: 5}})
	if err != nil {
		t.Fatal(err)
	}

	// The first run dies after web's instances are launched.
	f.failNext("CreateListener", "AccessDenied")
	if _, err := e.Run(context.Background(), rb, "run-1"); err == nil || !strings.Contains(err.Error(), "AccessDenied") {
		t.Fatalf("first run: %v", err)
	}
	launched := f.live("web")
	if len(launched) != 4 {
		t.Fatalf("first run launched %v", launched)
	}
	res, err := e.Run(context.Background(), rb, "run-1")
	if err != nil {
		for _, s := range res.Steps {
			t.Logf("%s %s %s", s.ID, s.State, s.Err)
		}
		t.Fatal(err)
	}
	for _, s := range res.Steps {
		if s.State != runbook.StateDone && s.State != runbook.StateResumed {
			t.Errorf("step %s: %s %s", s.ID, s.State, s.Err)
		}
	}
	out := map[string]runbook.Output{}
	for _, s := range res.Steps {
		out[s.ID] = s.Output
	}

	// Compute: web fell back from m6i.xlarge to m5.xlarge (same size, same
	// count); nothing was launched twice.
	if got := f.live("web"); !slices.Equal(got, launched) {
		t.Fatalf("web after resume %v, want %v", got, launched)
	}
	for _, id := range launched {
		if typ := f.instances[id].Type; typ != "m5.xlarge" {
			t.Errorf("web instance %s is %s", id, typ)
		}
	}
	if o := out["scale-web"]; o["instanceType"] != "m5.xlarge" || o["count"] != "4" {
		t.Errorf("scale-web output %v", o)
	}
	if n := len(f.live("api")); n != 2 {
		t.Errorf("api runs %d", n)
	}
	if o := out["healthy-web"]; o["healthy"] != "4" || !strings.HasPrefix(o["loadBalancer"], "ticketing-web-") {
		t.Errorf("healthy-web output %v", o)
	}
	// Data: the newest available snapshot restored once, the volume created
	// once from the newest snapshot and attached to a web instance.
	dbID := DatabaseIdentifier("ticketing", "orders", "run-1")
	if db := f.dbs[dbID]; db == nil || db.restores != 1 || db.snapshot != "orders-0600" || db.status != "available" {
		t.Errorf("database %s: %+v", dbID, db)
	}
	if o := out["restore-db-orders"]; o["endpoint"] != dbID+".rds.example" {
		t.Errorf("restore-db output %v", o)
	}
	if len(f.volumes) != 1 {
		t.Errorf("volumes %v", f.volumes)
	}
	for _, v := range f.volumes {
		if v.Snapshot != "snap-new" || !slices.Contains(launched, v.Attached) || v.Tags["app"] != "ticketing" || v.Tags[TagVolume] != "vol-0abc" {
			t.Errorf("volume %+v", v)
		}
	}
	if n := len(callsOf[*ec2.CreateVolumeInput](f, "CreateVolume")); n != 1 {
		t.Errorf("%d CreateVolume", n)
	}
	// DNS: www is an alias to the recovery load balancer; verify went
	// through it.
	found := false
	for _, s := range r53.zones["Z1"] {
		if s.Name == "www.example.com." && s.AliasTarget != nil && strings.HasPrefix(s.AliasTarget.DNSName, "ticketing-web-") {
			found = true
		}
	}
	if !found {
		t.Errorf("www not switched: %+v", r53.zones["Z1"])
	}
	if o := out["verify-www"]; o["region"] != testRegion || o["status"] != "200" {
		t.Errorf("verify output %v", o)
	}

	// Running the finished run again does nothing.
	before := len(f.calls)
	if _, err := e.Run(context.Background(), rb, "run-1"); err != nil {
		t.Fatal(err)
	}
	if after := len(f.calls); after != before {
		t.Errorf("a finished run made %d more calls", after-before)
	}
}

func TestDatabaseIdentifier(t *testing.T) {
	tests := []struct{ plan, id, run, want string }{
		{"ticketing", "orders", "run-1", "pl-ticketing-orders-"},
		{"Ticketing", "orders__db", "run-1", "pl-ticketing-orders-db-"},
	}
	for _, tt := range tests {
		got := DatabaseIdentifier(tt.plan, tt.id, tt.run)
		if !strings.HasPrefix(got, tt.want) || len(got) != len(tt.want)+8 {
			t.Errorf("DatabaseIdentifier(%q, %q) = %q", tt.plan, tt.id, got)
		}
	}
	long := DatabaseIdentifier(strings.Repeat("p", 60), strings.Repeat("d", 30), "r")
	if len(long) > 63 || strings.Contains(long, "--") || DatabaseIdentifier("a", "b", "r1") == DatabaseIdentifier("a", "b", "r2") {
		t.Errorf("long %q", long)
	}
}

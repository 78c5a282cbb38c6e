package aws

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/smithy-go/middleware"

	"github.com/pilotlight/pilotlight/drill"
	"github.com/pilotlight/pilotlight/recovery"
	"github.com/pilotlight/pilotlight/report"
	"github.com/pilotlight/pilotlight/runbook"
)

const testDrill = "drill-20260101T000000Z-1"

// drillRig is an isolated drill of testdata/recover-aws.yaml against the
// fakes, with every load balancer answering on a loopback test server.
type drillRig struct {
	f     *fakeCloud
	r53   *fakeR53
	rec   *Recovery
	clk   *stepClock
	th    *Throttle
	paths []string // paths the smoke checks asked for
}

func newDrillRig(t *testing.T, share float64) *drillRig {
	g := &drillRig{f: newFakeCloud(t), r53: newFakeR53(t), clk: newStepClock()}
	seedSnapshots(g.f)
	g.f.hideNew, g.f.elbLag, g.f.dbCreating = 1, true, 2
	var extra []func(*middleware.Stack) error
	if share > 0 {
		g.th = &Throttle{Share: share, Seed: 7, Attempts: 1} // the harshest: every injected throttle reaches the engine
		extra = append(extra, g.th.APIOption())
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		g.paths = append(g.paths, req.Host+req.URL.Path)
	}))
	t.Cleanup(srv.Close)
	dial := &net.Dialer{Timeout: time.Second}
	p := loadTestPlan(t)
	g.rec = &Recovery{Plan: p, Regions: map[string]RegionClients{testRegion: g.f.clients(extra...)}, Clock: g.clk,
		Poll: time.Second, DescribeTTL: time.Second, DNS: g.r53.driver(), Resolver: zoneResolver{g.r53},
		Buckets: NewBuckets(DefaultLimits(), g.clk), DrillID: testDrill, DrillStarted: g.clk.Now(),
		HTTPClient: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return dial.DialContext(ctx, network, srv.Listener.Addr().String())
			}}},
	}
	t.Cleanup(g.rec.HTTPClient.CloseIdleConnections)
	return g
}

// run runs the isolated drill; observe, when set, sees the engine's events.
func (g *drillRig) run(t *testing.T, ctx context.Context, observe func(runbook.Event)) (report.Drill, runbook.Result, error) {
	var removed []Leftover
	d, res, err := drill.Isolated(ctx, drill.IsolatedOptions{
		ID: testDrill, Plan: g.rec.Plan, Provider: g.rec, HealthyTimeout: 10 * time.Minute, Poll: time.Second,
		Extend: func(rb *runbook.Runbook) error {
			rb.Steps = append(rb.Steps, g.rec.DatabaseSteps(recovery.TierData, nil)...)
			vols, err := g.rec.VolumeSteps(recovery.TierCompute, []string{"scale-web"}, map[string]VolumeTarget{"vol-0abc": {Service: "web", Device: "/dev/xvdf"}})
			rb.Steps = append(rb.Steps, vols...)
			return err
		},
		Engine: runbook.Options{Clock: g.clk, Journal: filepath.Join(t.TempDir(), "journal"), Observer: observe,
			Backoff: runbook.Backoff{Initial: 10 * time.Millisecond, Max: 100 * time.Millisecond, Attempts: 40}},
		Teardown: func(ctx context.Context) ([]string, error) {
			var err error
			removed, err = g.rec.Teardown(ctx)
			return LeftoverNames(removed), err
		},
	})
	return d, res, err
}

// created lists what the fake holds tagged with the drill, alive or not.
func (g *drillRig) created() []string {
	g.f.mu.Lock()
	defer g.f.mu.Unlock()
	var out []string
	for id, in := range g.f.instances {
		if in.Tags[TagDrill] == testDrill {
			out = append(out, KindInstance+"/"+id)
		}
	}
	for arn, tags := range g.f.drill.elbTags {
		if tags[TagDrill] == testDrill {
			kind := KindLoadBalancer
			if strings.HasPrefix(arn, "arn:tg/") {
				kind = KindTargetGroup
			}
			out = append(out, kind+"/"+arn)
		}
	}
	for id, tags := range g.f.drill.dbTags {
		if tags[TagDrill] == testDrill {
			out = append(out, KindDBRestore+"/"+id)
		}
	}
	for _, v := range g.f.drill.deleted {
		if strings.HasPrefix(v, KindEBSVolume+"/") {
			out = append(out, v)
		}
	}
	for id, v := range g.f.volumes {
		if v.Tags[TagDrill] == testDrill {
			out = append(out, KindEBSVolume+"/"+id)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// TestIsolatedDrillUnderThrottling runs an isolated drill of the AWS
// fixture plan with 30% of the SDK calls throttled: it completes, sends no
// Route 53 change and fences nothing, tags every create with the drill
// ID, smoke-checks the recovered load balancer directly, launches nothing
// twice, and its teardown deletes exactly what it created.
func TestIsolatedDrillUnderThrottling(t *testing.T) {
	g := newDrillRig(t, 0.3)
	d, res, err := g.run(t, context.Background(), nil)
	if err != nil {
		for _, s := range res.Steps {
			t.Logf("%s %s %d %s", s.ID, s.State, s.Attempts, s.Err)
		}
		t.Fatal(err)
	}
	if err := d.Check(); err != nil {
		t.Error(err)
	}
	if !d.Verdict.Pass || d.RTO.Seconds <= 0 || len(d.RTO.Tiers) == 0 {
		t.Errorf("verdict %+v rto %+v", d.Verdict, d.RTO)
	}
	_, injected := g.th.Injected()
	retried := 0
	for _, s := range res.Steps {
		retried += s.Attempts - 1
		for _, bad := range []string{"fence-", "sync-", "promote-", "dns-", "verify-", "check-ap-northeast-2"} {
			if strings.HasPrefix(s.ID, bad) {
				t.Errorf("isolated drill has step %s", s.ID)
			}
		}
	}
	t.Logf("30%% api-throttle: %d calls injected, %d step retries, %d calls in all, RTO %.1fs (virtual)", injected, retried, len(g.f.calls), d.RTO.Seconds)
	if injected == 0 || retried == 0 {
		t.Errorf("injected %d throttles, %d retries", injected, retried)
	}
	if n := len(g.r53.changeReqs(t)); n != 0 {
		t.Errorf("%d Route 53 changes", n)
	}
	if o := res.Steps[slices.IndexFunc(res.Steps, func(s runbook.StepResult) bool { return s.ID == "smoke-web" })].Output; o["status"] != "200" ||
		!strings.HasPrefix(o["addr"], "ticketing-web-") {
		t.Errorf("smoke-web output %v", o)
	}
	if len(g.paths) == 0 || !strings.HasSuffix(g.paths[0], ".elb.amazonaws.com:80/healthz") {
		t.Errorf("smoke requests %v", g.paths)
	}

	// Every create carries the drill tags; names derive from the drill.
	hasDrill := func(keys, values []string) bool {
		i := slices.Index(keys, TagDrill)
		return i >= 0 && values[i] == testDrill && slices.Contains(keys, TagDrillStarted)
	}
	ec2KV := func(ts []ec2types.Tag) (k, v []string) {
		for _, t := range ts {
			k, v = append(k, *t.Key), append(v, *t.Value)
		}
		return k, v
	}
	elbKV := func(ts []elbtypes.Tag) (k, v []string) {
		for _, t := range ts {
			k, v = append(k, *t.Key), append(v, *t.Value)
		}
		return k, v
	}
	for _, in := range callsOf[*ec2.RunInstancesInput](g.f, "RunInstances") {
		for _, ts := range in.TagSpecifications {
			if !hasDrill(ec2KV(ts.Tags)) {
				t.Errorf("RunInstances %s tags %v", ts.ResourceType, ts.Tags)
			}
		}
	}
	for _, in := range callsOf[*ec2.CreateVolumeInput](g.f, "CreateVolume") {
		if !hasDrill(ec2KV(in.TagSpecifications[0].Tags)) {
			t.Errorf("CreateVolume tags %v", in.TagSpecifications)
		}
	}
	for _, in := range callsOf[*elbv2.CreateLoadBalancerInput](g.f, "CreateLoadBalancer") {
		if !hasDrill(elbKV(in.Tags)) || *in.Name == resourceName("ticketing", "web") {
			t.Errorf("CreateLoadBalancer %s tags %v", *in.Name, in.Tags)
		}
	}
	for _, in := range callsOf[*elbv2.CreateTargetGroupInput](g.f, "CreateTargetGroup") {
		if !hasDrill(elbKV(in.Tags)) {
			t.Errorf("CreateTargetGroup tags %v", in.Tags)
		}
	}
	for _, in := range callsOf[*rds.RestoreDBInstanceFromDBSnapshotInput](g.f, "RestoreDBInstanceFromDBSnapshot") {
		var k, v []string
		for _, t := range in.Tags {
			k, v = append(k, *t.Key), append(v, *t.Value)
		}
		if !hasDrill(k, v) {
			t.Errorf("RestoreDBInstanceFromDBSnapshot tags %v", in.Tags)
		}
	}

	// Nothing twice: web's 4 and api's 2 instances, web's load balancer
	// and target group, one DB, one volume.
	created := g.created()
	kinds := map[string]int{}
	for _, c := range created {
		kind, _, _ := strings.Cut(c, "/")
		kinds[kind]++
	}
	want := map[string]int{KindInstance: 6, KindLoadBalancer: 1, KindTargetGroup: 1, KindDBRestore: 1, KindEBSVolume: 1}
	for k, n := range want {
		if kinds[k] != n {
			t.Errorf("created %d %s, want %d: %v", kinds[k], k, n, created)
		}
	}
	// Teardown removed exactly that, and it is gone.
	if !slices.Equal(d.Cleanup.Removed, created) || !d.Cleanup.OK {
		t.Errorf("removed %v\ncreated %v", d.Cleanup.Removed, created)
	}
	if left, err := FindLeftovers(context.Background(), g.f.clients(), testRegion, func(string, time.Time) bool { return true }); err != nil || len(left) != 0 {
		t.Errorf("left after teardown %v, %v", left, err)
	}
}

// TestIsolatedDrillCancelled cancels the drill (Ctrl-C) while api scales:
// the teardown still removes what web's tier created.
func TestIsolatedDrillCancelled(t *testing.T) {
	g := newDrillRig(t, 0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d, _, err := g.run(t, ctx, func(ev runbook.Event) {
		if ev.Kind == runbook.EventStepStarted && ev.Step == "scale-api" {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
	if d.Verdict.Pass || !d.Cleanup.OK || len(d.Cleanup.Removed) < 4 {
		t.Errorf("verdict %+v cleanup %+v", d.Verdict, d.Cleanup)
	}
	if live := g.f.live("web"); len(live) != 0 {
		t.Errorf("web still runs %v", live)
	}
	if err := d.Check(); err != nil {
		t.Error(err)
	}
}

// TestSweepOlderThan is 'drill cleanup --older-than 2h': it finds and
// deletes an old drill's leftovers, and leaves a young drill's and an
// untagged resource alone; a dry run deletes nothing.
func TestSweepOlderThan(t *testing.T) {
	f := newFakeCloud(t)
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	tags := func(id string, age time.Duration) map[string]string {
		return map[string]string{TagPlan: "ticketing", TagService: "web", TagDrill: id, TagDrillStarted: now.Add(-age).Format(time.RFC3339)}
	}
	old := f.addInstance("m5.xlarge", "running", "subnet-a", tags("drill-old", 3*time.Hour))
	young := f.addInstance("m5.xlarge", "running", "subnet-a", tags("drill-young", 30*time.Minute))
	prod := f.addInstance("m5.xlarge", "running", "subnet-a", map[string]string{TagPlan: "ticketing", TagService: "web"})
	f.mu.Lock()
	f.handleDrill(nil) // make the drill state
	f.lbs["old-lb"] = elbtypes.LoadBalancer{LoadBalancerArn: ptr("arn:lb/old-lb")}
	f.drill.elbTags["arn:lb/old-lb"] = tags("drill-old", 3*time.Hour)
	f.lbs["prod-lb"] = elbtypes.LoadBalancer{LoadBalancerArn: ptr("arn:lb/prod-lb")}
	f.mu.Unlock()
	rec := newTestRecovery(t, f, loadTestPlan(t))
	older := func(_ string, started time.Time) bool {
		return !started.IsZero() && started.Before(now.Add(-2*time.Hour))
	}

	want := []string{KindInstance + "/" + old, KindLoadBalancer + "/arn:lb/old-lb"}
	found, err := rec.Sweep(context.Background(), testRegion, older, true)
	if err != nil || !slices.Equal(LeftoverNames(found), want) {
		t.Fatalf("dry run found %v, %v", LeftoverNames(found), err)
	}
	if f.count("TerminateInstances") != 0 || f.count("DeleteLoadBalancer") != 0 {
		t.Fatal("the dry run deleted")
	}
	removed, err := rec.Sweep(context.Background(), testRegion, older, false)
	if err != nil || !slices.Equal(LeftoverNames(removed), want) {
		t.Fatalf("sweep removed %v, %v", LeftoverNames(removed), err)
	}
	for id, st := range map[string]string{old: "terminated", young: "running", prod: "running"} {
		if got := f.instances[id].State; got != st {
			t.Errorf("instance %s is %s, want %s", id, got, st)
		}
	}
	if _, ok := f.lbs["old-lb"]; ok {
		t.Error("old load balancer left")
	}
	if _, ok := f.lbs["prod-lb"]; !ok {
		t.Error("untagged load balancer deleted")
	}
}

func ptr(s string) *string { return &s }

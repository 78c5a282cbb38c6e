package readiness

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/pilotlight/pilotlight/plan"
	"github.com/pilotlight/pilotlight/replicate/rpo"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func result(rs ...Result) func(context.Context) ([]Result, error) {
	return func(context.Context) ([]Result, error) { return rs, nil }
}

func TestRunVerdicts(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	checks := []Check{
		{ID: "a", Subject: "one", Run: result(Result{Status: Pass, Reason: "fine"})},
		{ID: "b", Subject: "two", Run: func(context.Context) ([]Result, error) { return nil, errors.New("aws: ec2 describe: AccessDenied") }},
		{ID: "c", Subject: "three", Run: func(context.Context) ([]Result, error) { panic("boom") }},
		{ID: "d", Subject: "four", Run: result(Warnf("d", "four-a", "only after fallback"))},
		Skipped("e", "five", "not applicable"),
		{ID: "f", Subject: "six"},
	}
	rep := Run(context.Background(), "ticketing", now, checks, 2)
	if rep.Ready {
		t.Error("ready with failures")
	}
	want := []Result{
		{"a", "one", Pass, "fine"},
		{"b", "two", Fail, "aws: ec2 describe: AccessDenied"},
		{"c", "three", Fail, ""},
		{"d", "four-a", Warn, "only after fallback"},
		{"e", "five", Skip, "not applicable"},
		{"f", "six", Skip, "not implemented"},
	}
	if len(rep.Results) != len(want) {
		t.Fatalf("results %+v", rep.Results)
	}
	for i, w := range want {
		g := rep.Results[i]
		if g.Check != w.Check || g.Subject != w.Subject || g.Status != w.Status || !strings.Contains(g.Reason, w.Reason) {
			t.Errorf("result %d = %+v, want %+v", i, g, w)
		}
	}
	if !strings.Contains(rep.Results[2].Reason, "panicked: boom") {
		t.Errorf("panic reason %q", rep.Results[2].Reason)
	}
	if rep.Counts[Fail] != 2 || rep.Counts[Warn] != 1 || rep.Counts[Pass] != 1 || rep.Counts[Skip] != 2 {
		t.Errorf("counts %v", rep.Counts)
	}
}

func TestRunWarningsDoNotFail(t *testing.T) {
	rep := Run(context.Background(), "p", time.Now(), []Check{{ID: "q", Run: result(Result{Status: Warn, Reason: "w"})}}, 0)
	if !rep.Ready {
		t.Error("a warning made the plan not ready")
	}
}

func TestRunBoundsParallelism(t *testing.T) {
	var running, peak atomic.Int32
	var checks []Check
	for range 20 {
		checks = append(checks, Check{ID: "x", Run: func(context.Context) ([]Result, error) {
			n := running.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			time.Sleep(2 * time.Millisecond)
			running.Add(-1)
			return []Result{{Status: Pass}}, nil
		}})
	}
	rep := Run(context.Background(), "p", time.Now(), checks, 3)
	if peak.Load() > 3 || peak.Load() < 2 {
		t.Errorf("peak parallelism %d, want 2..3", peak.Load())
	}
	if len(rep.Results) != 20 || !rep.Ready {
		t.Errorf("results %d ready %v", len(rep.Results), rep.Ready)
	}
}

func TestRunCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rep := Run(ctx, "p", time.Now(), []Check{{ID: "a", Run: result(Result{Status: Pass})}, {ID: "b", Run: result(Result{Status: Pass})}}, 1)
	if rep.Ready {
		t.Errorf("cancelled run is ready: %+v", rep.Results)
	}
}

func TestWriteText(t *testing.T) {
	rep := Run(context.Background(), "p", time.Now(), []Check{
		{ID: CheckImage, Subject: "launch template web", Run: result(Result{Status: Pass, Reason: "AMI ami-1 available"})},
		{ID: CheckRecoveryPoint, Subject: "volume vol-1", Run: result(Result{Status: Fail, Reason: "newest recovery point snap-1 is 3h12m0s old,\nRPO 1h0m0s: run pilotlight protect"})},
	}, 1)
	var b strings.Builder
	if err := WriteText(&b, rep); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[1], "FAIL") || !strings.HasPrefix(lines[2], "PASS") {
		t.Fatalf("table:\n%s", out)
	}
	if !strings.Contains(lines[1], "3h12m0s old, RPO 1h0m0s: run pilotlight protect") {
		t.Errorf("reason not on one line: %q", lines[1])
	}
	if lines[4] != "not ready: 1 failed, 0 warnings, 1 passed, 0 skipped" {
		t.Errorf("verdict %q", lines[4])
	}
}

func TestRouting(t *testing.T) {
	p := &plan.Plan{Objectives: plan.Objectives{RTO: plan.Duration(time.Minute), RPO: plan.Duration(time.Minute)},
		Routing: &plan.Routing{Zone: "example.com.", Records: []plan.Record{
			{Name: "www", Policy: plan.PolicyFailover, TTL: 30, Primary: []string{"192.0.2.1"}, Recovery: []string{"198.51.100.1"}},
			{Name: "api", Policy: plan.PolicyWeighted, TTL: 600, Primary: []string{"192.0.2.2"}, Recovery: []string{"198.51.100.2"}, Weights: &plan.Weights{Primary: 1, Recovery: 1}},
		}}}
	p.Default()
	rep := Run(context.Background(), "p", time.Now(), []Check{Routing(p)}, 1)
	var fail, warn bool
	for _, r := range rep.Results {
		fail = fail || r.Status == Fail && r.Subject == "record www.example.com." && strings.Contains(r.Reason, "no health check")
		warn = warn || r.Status == Warn && strings.Contains(r.Subject, "routing.records[1]")
	}
	if !fail || !warn {
		t.Errorf("routing results:\n%+v", rep.Results)
	}
	if rs := Run(context.Background(), "p", time.Now(), []Check{Routing(&plan.Plan{})}, 1).Results; rs[0].Status != Skip {
		t.Errorf("no routing: %+v", rs)
	}
}

// lags is a BucketLags of canned statuses.
type lags map[string]rpo.Status

func (l lags) BucketStatus(_ context.Context, name string) (rpo.Status, bool, error) {
	if name == "broken" {
		return rpo.Status{}, false, errors.New("tracker unreachable")
	}
	s, ok := l[name]
	return s, ok, nil
}

func TestBuckets(t *testing.T) {
	p := &plan.Plan{Objectives: plan.Objectives{RPO: plan.Duration(time.Minute)}, Data: plan.Data{Buckets: []plan.Bucket{
		{Name: "fresh"}, {Name: "behind"}, {Name: "stuck"}, {Name: "new"}, {Name: "unknown"}, {Name: "broken"}}}}
	l := lags{
		"fresh":  {State: rpo.StateInSync, LagSeconds: 2, RPOBoundSeconds: 30},
		"behind": {State: rpo.StateLagging, LagSeconds: 90, RPOBoundSeconds: 90},
		"stuck":  {State: rpo.StateStalled, Reason: "no progress for 5m"},
		"new":    {State: rpo.StateLagging, LagSeconds: 5, RPOBoundSeconds: -1},
	}
	want := map[string]Status{"bucket fresh": Pass, "bucket behind": Fail, "bucket stuck": Fail, "bucket new": Warn, "bucket unknown": Skip, "bucket broken": Fail}
	rep := Run(context.Background(), "p", time.Now(), Buckets(p, l), 2)
	for _, r := range rep.Results {
		if want[r.Subject] != r.Status {
			t.Errorf("%s: %s (%s), want %s", r.Subject, r.Status, r.Reason, want[r.Subject])
		}
	}
	if rs := Run(context.Background(), "p", time.Now(), Buckets(p, nil), 1).Results; len(rs) != 6 || rs[0].Status != Skip {
		t.Errorf("without lags: %+v", rs)
	}
}

func TestInventory(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	withBucket := &plan.Plan{Name: "p", Data: plan.Data{Inventory: &plan.Inventory{Bucket: "dr-inv", Interval: plan.Duration(time.Hour)}}}
	load := func(taken time.Time, ok bool, err error) InventoryLoader {
		return func(context.Context) (time.Time, bool, error) { return taken, ok, err }
	}
	tests := []struct {
		name   string
		p      *plan.Plan
		load   InventoryLoader
		status Status
		reason string
	}{
		{"fresh", withBucket, load(now.Add(-90*time.Minute), true, nil), Pass, "1h30m0s old (interval 1h0m0s)"},
		{"one export missed is tolerated", withBucket, load(now.Add(-2*time.Hour), true, nil), Pass, "2h0m0s old"},
		{"stale", withBucket, load(now.Add(-3*time.Hour-20*time.Second), true, nil), Fail, "newest export is 3h0m0s old, interval 1h0m0s: is 'pilotlight protect' running?"},
		{"none yet", withBucket, load(time.Time{}, false, nil), Fail, "no inventory export in bucket dr-inv: run 'pilotlight inventory export'"},
		{"unreadable", withBucket, load(time.Time{}, false, errors.New("access denied")), Fail, "access denied"},
		{"no bucket", &plan.Plan{Name: "p"}, load(now, true, nil), Fail, "no inventory bucket: set data.inventory.bucket"},
		{"default interval", &plan.Plan{Name: "p", Data: plan.Data{Snapshots: &plan.SnapshotPolicy{CatalogBucket: "dr-cat"}}},
			load(now.Add(-3*time.Hour), true, nil), Fail, "interval 1h0m0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := Run(context.Background(), "p", now, []Check{Inventory(tt.p, now, tt.load)}, 1).Results
			if len(rs) != 1 || rs[0].Status != tt.status || !strings.Contains(rs[0].Reason, tt.reason) || rs[0].Check != CheckInventory {
				t.Errorf("got %+v, want %s containing %q", rs, tt.status, tt.reason)
			}
		})
	}
}

package sim

import (
	"strings"
	"testing"
	"time"

	"github.com/pilotlight/pilotlight/plan"
)

// testPlan has two tiers, a database, a volume and a bucket, and a
// failover record; its figures below are worked out from model.yaml.
func testPlan() *plan.Plan {
	p := &plan.Plan{
		APIVersion: plan.APIVersion, Kind: plan.KindPlan, Name: "shop",
		Objectives: plan.Objectives{RTO: plan.Duration(time.Hour), RPO: plan.Duration(time.Hour)},
		Regions:    plan.Regions{Primary: plan.Region{Name: "us-east-1", Provider: plan.ProviderAWS}, Recovery: plan.Region{Name: "us-west-2", Provider: plan.ProviderAWS}},
		Data: plan.Data{
			Buckets:   []plan.Bucket{{Name: "assets"}},
			Volumes:   []plan.Volume{{ID: "vol-1", SizeGB: 30, ChangeRateGBPerDay: 24}},
			Databases: []plan.Database{{ID: "orders", SizeGB: 100, ChangeRateGBPerDay: 48}},
		},
		Services: []plan.Service{
			{Name: "web", Compute: plan.Compute{Count: 4, Standby: 1, AWS: &plan.AWSCompute{LaunchTemplate: "web", InstanceTypes: []string{"m6i.large"}}},
				LoadBalancer: &plan.LoadBalancer{Port: 443, HealthCheck: &plan.HealthCheck{Interval: plan.Duration(2 * time.Second), SuccessThreshold: 3}}},
			{Name: "batch", Tier: 2, Compute: plan.Compute{Count: 2, AWS: &plan.AWSCompute{LaunchTemplate: "batch", InstanceTypes: []string{"r5.large"}}}},
		},
		Routing: &plan.Routing{Zone: "shop.test", Records: []plan.Record{
			{Name: "www", Service: "web", Policy: plan.PolicyFailover, TTL: 20, HealthCheck: &plan.HealthCheck{Interval: plan.Duration(30 * time.Second), FailureThreshold: 2}},
			{Name: "api", Service: "web", Policy: plan.PolicySimple, TTL: 45},
		}},
	}
	p.Default()
	return p
}

func TestEstimateRecovery(t *testing.T) {
	s := time.Second
	// detect: 30s × 2. web: scale-out 10 + launch 40 + boot 30, then
	// register 10 + max(2s, 5s) × 3 = 25; batch: 10 + 50 + 30 = 90.
	// dns: 60 + TTL 45.
	tests := []struct {
		s            plan.Strategy
		parts        []time.Duration // detect, data, tier 1, tier 2, dns
		dataDetail   string
		fullCapacity time.Duration
	}{
		// data: restore orders 10m + 100 × 3s = 15m; web: the load balancer
		// (3m) outlasts the launch (80s), then 25s.
		{plan.BackupRestore, []time.Duration{60 * s, 15 * time.Minute, 205 * s, 90 * s, 105 * s}, "restore database orders from its snapshot, 100 GB", 0},
		// data: promote the replica 5m, the volume 1m + 30 × 4s = 3m.
		{plan.PilotLight, []time.Duration{60 * s, 5 * time.Minute, 105 * s, 90 * s, 105 * s}, "promote the read replica of database orders", 0},
		{plan.WarmStandby, []time.Duration{60 * s, 5 * time.Minute, 0, 0, 105 * s}, "promote the read replica of database orders", (60 + 300 + 105 + 90 + 105) * s},
		{plan.ActiveActive, []time.Duration{60 * s, 0, 0, 0, 45 * s}, "written in both regions: nothing to restore", 0},
	}
	for _, tt := range tests {
		t.Run(string(tt.s), func(t *testing.T) {
			e, err := EstimateRecovery(testPlan(), tt.s, DefaultModel())
			if err != nil {
				t.Fatal(err)
			}
			if len(e.Parts) != len(tt.parts) {
				t.Fatalf("parts %+v", e.Parts)
			}
			var total time.Duration
			for i, want := range tt.parts {
				if e.Parts[i].Duration != want {
					t.Errorf("part %s = %s, want %s (%s)", e.Parts[i].Name, e.Parts[i].Duration, want, e.Parts[i].Detail)
				}
				total += want
			}
			if e.Total != total {
				t.Errorf("total %s, want %s", e.Total, total)
			}
			if e.Parts[1].Detail != tt.dataDetail {
				t.Errorf("data detail %q", e.Parts[1].Detail)
			}
			full := tt.fullCapacity
			if full == 0 {
				full = total
			}
			if e.FullCapacity != full {
				t.Errorf("full capacity %s, want %s", e.FullCapacity, full)
			}
		})
	}
	if _, err := EstimateRecovery(testPlan(), "hot-spare", DefaultModel()); err == nil || !strings.Contains(err.Error(), `unknown strategy "hot-spare"`) {
		t.Errorf("unknown strategy: %v", err)
	}
}

func TestEstimateRecoveryThrottle(t *testing.T) {
	p := testPlan()
	p.Services[0].Compute.Count = 1190 // with batch's 2 in another tier
	m := DefaultModel()
	e, err := EstimateRecovery(p, plan.PilotLight, m)
	if err != nil {
		t.Fatal(err)
	}
	// 190 instances beyond the burst of 1,000 at 2 a second: 95s more.
	if got := e.Parts[2].Duration; got != 200*time.Second {
		t.Errorf("tier 1 = %s, want 3m20s (%s)", got, e.Parts[2].Detail)
	}
	if !strings.Contains(e.Parts[2].Detail, "1190 instances in the tier wait 1m35s for RunInstances") {
		t.Errorf("detail %q", e.Parts[2].Detail)
	}
}

func TestEstimateRecoveryBare(t *testing.T) {
	// No data, no routing: compute only.
	p := testPlan()
	p.Data, p.Routing = plan.Data{}, nil
	e, err := EstimateRecovery(p, plan.PilotLight, DefaultModel())
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Parts) != 2 || e.Parts[0].Kind != PartCompute || e.Total != 195*time.Second {
		t.Errorf("estimate %+v", e)
	}
}

func TestEstimateRPO(t *testing.T) {
	// Snapshots: 1h + copy of one hour's change (vol-1 1 GB: 2m10s;
	// orders 2 GB: 2m20s).
	tests := []struct {
		s    plan.Strategy
		want []time.Duration // assets, vol-1, orders
		mech []Mechanism
	}{
		{plan.BackupRestore, []time.Duration{75 * time.Minute, time.Hour + 130*time.Second, time.Hour + 140*time.Second}, []Mechanism{BatchCopy, Snapshots, Snapshots}},
		{plan.PilotLight, []time.Duration{time.Second, time.Hour + 130*time.Second, 5 * time.Second}, []Mechanism{Continuous, Snapshots, Continuous}},
		{plan.WarmStandby, []time.Duration{time.Second, time.Hour + 130*time.Second, 5 * time.Second}, []Mechanism{Continuous, Snapshots, Continuous}},
		{plan.ActiveActive, []time.Duration{0, 0, 0}, []Mechanism{MultiRegionWrite, MultiRegionWrite, MultiRegionWrite}},
	}
	for _, tt := range tests {
		t.Run(string(tt.s), func(t *testing.T) {
			srcs, err := EstimateRPO(testPlan(), tt.s, DefaultModel())
			if err != nil {
				t.Fatal(err)
			}
			if len(srcs) != 3 {
				t.Fatalf("sources %+v", srcs)
			}
			worst, at := WorstRPO(srcs)
			wantWorst, wantAt := time.Duration(0), 0
			for i, want := range tt.want {
				if srcs[i].RPO != want || srcs[i].Mechanism != tt.mech[i] {
					t.Errorf("%s %s = %s by %s, want %s by %s", srcs[i].Kind, srcs[i].Name, srcs[i].RPO, srcs[i].Mechanism, want, tt.mech[i])
				}
				if want > wantWorst {
					wantWorst, wantAt = want, i
				}
			}
			if worst != wantWorst || at != wantAt {
				t.Errorf("WorstRPO = %s at %d, want %s at %d", worst, at, wantWorst, wantAt)
			}
		})
	}
	p := testPlan()
	p.Data.Databases[0].Cluster = true
	srcs, _ := EstimateRPO(p, plan.PilotLight, DefaultModel())
	if srcs[2].RPO != time.Second || !strings.HasPrefix(srcs[2].Detail, "global database") {
		t.Errorf("cluster: %+v", srcs[2])
	}
	if w, at := WorstRPO(nil); w != 0 || at != -1 {
		t.Errorf("WorstRPO(nil) = %s, %d", w, at)
	}
}

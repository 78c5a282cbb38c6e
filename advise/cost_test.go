package advise

import (
	"strings"
	"testing"
	"time"

	"github.com/pilotlight/pilotlight/plan"
)

// testPrices is a small table with round prices, so that expected costs
// can be worked out by hand.
const testPrices = `
date: 2025-01-01
source: test
currency: USD
hoursPerMonth: 720
defaultRegion: r-home
healthCheckMonth: 0.5
equivalents:
  local.small: {type: x.large, factor: 0.5}
regions:
  r-home:
    s3StandardGBMonth: 0.02
    ebsSnapshotGBMonth: 0.05
    rdsSnapshotGBMonth: 0.1
    rdsStorageGBMonth: 0.2
    transferOutGB: 0.01
    loadBalancerHour: 0.02
    instances: {x.large: 0.1}
  r-away:
    s3StandardGBMonth: 0.03
    ebsSnapshotGBMonth: 0.05
    rdsSnapshotGBMonth: 0.1
    rdsStorageGBMonth: 0.2
    transferOutGB: 0.09
    loadBalancerHour: 0.03
    instances: {x.large: 0.2}
`

func costPlan() *plan.Plan {
	p := &plan.Plan{
		APIVersion: plan.APIVersion, Kind: plan.KindPlan, Name: "shop",
		Objectives: plan.Objectives{RTO: plan.Duration(time.Hour), RPO: plan.Duration(time.Hour)},
		Regions:    plan.Regions{Primary: plan.Region{Name: "r-away", Provider: plan.ProviderAWS}, Recovery: plan.Region{Name: "r-home", Provider: plan.ProviderAWS}},
		Data: plan.Data{
			Buckets:   []plan.Bucket{{Name: "assets", SizeGB: 100, ChangeRateGBPerDay: 1}},
			Volumes:   []plan.Volume{{ID: "vol-1", SizeGB: 10, ChangeRateGBPerDay: 0.5}},
			Databases: []plan.Database{{ID: "db", SizeGB: 50, ChangeRateGBPerDay: 0.5}},
		},
		Services: []plan.Service{
			{Name: "web", Compute: plan.Compute{Count: 4, AWS: &plan.AWSCompute{LaunchTemplate: "web", InstanceTypes: []string{"x.large"}}}, LoadBalancer: &plan.LoadBalancer{Port: 80}},
			{Name: "job", Compute: plan.Compute{Count: 2, Standby: 2, AWS: &plan.AWSCompute{LaunchTemplate: "job", InstanceTypes: []string{"x.large"}}}},
		},
		Routing: &plan.Routing{Zone: "shop.test", Records: []plan.Record{{Name: "www", Service: "web", Policy: plan.PolicyFailover, HealthCheck: &plan.HealthCheck{}}}},
	}
	p.Default()
	return p
}

func TestMonthlyCost(t *testing.T) {
	pr, err := ParsePrices("test.yaml", []byte(testPrices))
	if err != nil {
		t.Fatal(err)
	}
	// Failover: 6 instances × 0.1 × 720 = 432; one LB 0.02 × 720 = 14.4;
	// storage 100×0.02 + 10×0.05 + db; 2 health checks × 0.5.
	// Transfer: 2 GB/day × 30 days × 0.09 (the primary's rate) = 5.4.
	failover := func(db float64) Lines {
		return Lines{Compute: 432, LoadBalancers: 14.4, Storage: 2.5 + db, HealthChecks: 1, Total: 432 + 14.4 + 2.5 + db + 1}
	}
	tests := []struct {
		s              plan.Strategy
		normal, failed Lines
	}{
		{plan.BackupRestore, Lines{Storage: 7.5, Transfer: 5.4, HealthChecks: 1, Total: 13.9}, failover(5)},
		{plan.PilotLight, Lines{LoadBalancers: 14.4, Storage: 12.5, Transfer: 5.4, HealthChecks: 1, Total: 33.3}, failover(10)},
		// web: no standby set, a quarter of 4 = 1; job: standby 2.
		{plan.WarmStandby, Lines{Compute: 216, LoadBalancers: 14.4, Storage: 12.5, Transfer: 5.4, HealthChecks: 1, Total: 249.3}, failover(10)},
		{plan.ActiveActive, Lines{Compute: 432, LoadBalancers: 14.4, Storage: 12.5, Transfer: 5.4, HealthChecks: 1, Total: 465.3}, failover(10)},
	}
	for _, tt := range tests {
		t.Run(string(tt.s), func(t *testing.T) {
			c, err := pr.MonthlyCost(costPlan(), tt.s)
			if err != nil {
				t.Fatal(err)
			}
			if c.Normal != tt.normal {
				t.Errorf("normal = %+v\nwant     %+v", c.Normal, tt.normal)
			}
			if c.Failover != tt.failed {
				t.Errorf("failover = %+v\nwant       %+v", c.Failover, tt.failed)
			}
		})
	}
}

func TestMonthlyCostLocal(t *testing.T) {
	pr, err := ParsePrices("test.yaml", []byte(testPrices))
	if err != nil {
		t.Fatal(err)
	}
	p := costPlan()
	p.Regions = plan.Regions{Primary: plan.Region{Name: "seoul", Provider: plan.ProviderLocal}, Recovery: plan.Region{Name: "virginia", Provider: plan.ProviderLocal}}
	p.Services = p.Services[:1]
	p.Services[0].Compute = plan.Compute{Count: 4, Local: &plan.LocalCompute{Command: []string{"web"}, InstanceTypes: []string{"local.small"}}}
	c, err := pr.MonthlyCost(p, plan.ActiveActive)
	if err != nil {
		t.Fatal(err)
	}
	// local.small = half an x.large in the default region: 4 × 0.05 × 720.
	if c.Normal.Compute != 144 || c.Normal.Transfer != 0.6 {
		t.Errorf("local: %+v", c.Normal)
	}
	p.Services[0].Compute.Local.InstanceTypes = []string{"local.xlarge"}
	if _, err := pr.MonthlyCost(p, plan.ActiveActive); err == nil || !strings.Contains(err.Error(), `"local.xlarge"`) {
		t.Errorf("unpriced type: %v", err)
	}
}

func TestStandbyCount(t *testing.T) {
	tests := []struct{ count, standby, want int }{
		{1, 0, 1}, {2, 0, 1}, {4, 0, 1}, {5, 0, 2}, {12, 0, 3}, {12, 2, 2}, {3, 3, 3},
	}
	for _, tt := range tests {
		svc := plan.Service{Compute: plan.Compute{Count: tt.count, Standby: tt.standby}}
		if got := StandbyCount(svc); got != tt.want {
			t.Errorf("StandbyCount(%d, standby %d) = %d, want %d", tt.count, tt.standby, got, tt.want)
		}
	}
}

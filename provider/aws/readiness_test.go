package aws

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/pilotlight/pilotlight/plan"
	"github.com/pilotlight/pilotlight/readiness"
)

// readyFixture is the fixture plan with a fully prepared fake account:
// recovery points, images, network, quotas, permissions and DNS.
type readyFixture struct {
	plan  *plan.Plan
	cloud *readyCloud
	r53   *fakeR53
	dns   *Route53Driver
	clock *stepClock
	// ages are the ages of the catalog's recovery points, by source.
	ages map[string]time.Duration
}

// readySpecs are the Route 53 specs of the fixture plan's routing.
func readySpecs() []RecordSpec {
	return []RecordSpec{{Name: "www.example.com.", Type: "A", TTL: 30, Policy: PolicyFailover,
		Primary: []string{"192.0.2.10"}, Secondary: []string{"198.51.100.10"},
		HealthCheck: &HealthCheckSpec{Type: "HTTPS", Port: 443, Path: "/healthz", Interval: 10, FailureThreshold: 2,
			Primary: Endpoint{IP: "192.0.2.10"}, Secondary: Endpoint{IP: "198.51.100.10"}}}}
}

func newReadyFixture(t *testing.T) *readyFixture {
	t.Helper()
	p, err := plan.Load(filepath.Join("testdata", "readiness-plan.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	fx := &readyFixture{plan: p, cloud: newReadyCloud(t), r53: newFakeR53(t), clock: newStepClock()}
	fx.dns = fx.r53.driver()
	fx.dns.ZoneID = ""
	ctx := context.Background()
	cs, err := fx.dns.Plan(ctx, readySpecs())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fx.dns.Apply(ctx, cs, false); err != nil {
		t.Fatal(err)
	}
	fx.dns = fx.r53.driver() // a driver that has not resolved the zone yet
	fx.dns.ZoneID = ""
	fx.ages = map[string]time.Duration{"vol-1": 10 * time.Minute, "orders": 20 * time.Minute, "ledger": 30 * time.Minute}
	return fx
}

// catalog returns a catalog of the fixture's completed recovery points.
func (fx *readyFixture) catalog(t *testing.T) *Catalog {
	t.Helper()
	cat, err := OpenCatalog(context.Background(), CatalogOptions{Plan: fx.plan.Name, Path: filepath.Join(t.TempDir(), "catalog.json"), Clock: fx.clock})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []CatalogEntry{{Kind: KindVolume, Source: "vol-1", Copy: "snap-r1"}, {Kind: KindDBInstance, Source: "orders", Copy: "pl-orders"},
		{Kind: KindDBCluster, Source: "ledger", Copy: "pl-ledger"}} {
		e.Region, e.State, e.DataTime = "us-east-1", StateCompleted, fx.clock.Now().Add(-fx.ages[e.Source])
		if err := cat.Record(e); err != nil {
			t.Fatal(err)
		}
	}
	return cat
}

func (fx *readyFixture) run(t *testing.T) readiness.Report {
	t.Helper()
	r := &Readiness{Plan: fx.plan, Clients: fx.cloud.clients(), Catalog: fx.catalog(t), DNS: fx.dns, RecordSpecs: readySpecs(),
		Clock: fx.clock, Backoff: Backoff{Initial: time.Millisecond, Max: 4 * time.Millisecond, Attempts: 4}}
	checks := append([]readiness.Check{readiness.Routing(fx.plan)}, readiness.Buckets(fx.plan, nil)...)
	return readiness.Run(context.Background(), fx.plan.Name, fx.clock.Now(), append(checks, r.Checks()...), 4)
}

func TestReadinessPreparedAccountPasses(t *testing.T) {
	fx := newReadyFixture(t)
	rep := fx.run(t)
	for _, r := range rep.Results {
		if r.Status == readiness.Fail || r.Status == readiness.Warn {
			t.Errorf("%s %s %s: %s", r.Status, r.Check, r.Subject, r.Reason)
		}
	}
	if !rep.Ready {
		t.Fatal("prepared account is not ready")
	}
	passed := map[string]bool{}
	for _, r := range rep.Results {
		if r.Status == readiness.Pass {
			passed[r.Check] = true
		}
	}
	for _, id := range []string{readiness.CheckRecoveryPoint, readiness.CheckImage, readiness.CheckContainerImage, readiness.CheckNetwork,
		readiness.CheckQuota, readiness.CheckInstanceType, readiness.CheckIAM, readiness.CheckDNS} {
		if !passed[id] {
			t.Errorf("no passing %s result: %+v", id, rep.Results)
		}
	}
	// The simulation is of the role behind the session, with the plan's
	// resources.
	sims := readyRequests[*iam.SimulatePrincipalPolicyInput](fx.cloud, "recovery", "SimulatePrincipalPolicy")
	var zone bool
	for _, s := range sims {
		for _, a := range s.ResourceArns {
			zone = zone || a == "arn:aws:route53:::hostedzone/Z1"
		}
	}
	if len(sims) < 5 || !zone {
		t.Errorf("simulations %d, hosted zone scoped %v", len(sims), zone)
	}
}

func TestReadinessReportsEachDefect(t *testing.T) {
	type want struct {
		status         readiness.Status
		check, subject string
		reason         string
	}
	tests := []struct {
		name   string
		break_ func(fx *readyFixture)
		want   want
		ready  bool
	}{
		{"stale recovery point", func(fx *readyFixture) { fx.ages["vol-1"] = 3*time.Hour + 12*time.Minute },
			want{readiness.Fail, readiness.CheckRecoveryPoint, "volume vol-1", "3h12m0s old, RPO 1h0m0s: run pilotlight protect"}, false},
		{"no recovery point", func(fx *readyFixture) { fx.plan.Data.Volumes = append(fx.plan.Data.Volumes, plan.Volume{ID: "vol-2"}) },
			want{readiness.Fail, readiness.CheckRecoveryPoint, "volume vol-2", "no recovery point in us-east-1: run pilotlight protect"}, false},
		{"copied snapshot deleted", func(fx *readyFixture) { delete(fx.cloud.snapshots, "snap-r1") },
			want{readiness.Fail, readiness.CheckRecoveryPoint, "volume vol-1", "snap-r1 is in the catalog but not found in us-east-1"}, false},
		{"db snapshot not available", func(fx *readyFixture) { fx.cloud.dbSnaps["pl-orders"] = "creating" },
			want{readiness.Fail, readiness.CheckRecoveryPoint, "db-instance orders", "pl-orders is in the catalog but creating"}, false},
		{"cluster snapshot gone", func(fx *readyFixture) { delete(fx.cloud.clSnaps, "pl-ledger") },
			want{readiness.Fail, readiness.CheckRecoveryPoint, "db-cluster ledger", "not found"}, false},
		{"missing AMI", func(fx *readyFixture) { delete(fx.cloud.images, "ami-r1") },
			want{readiness.Fail, readiness.CheckImage, "launch template web", "AMI ami-r1 not found in us-east-1: run pilotlight protect"}, false},
		{"missing launch template", func(fx *readyFixture) { delete(fx.cloud.templates, "web") },
			want{readiness.Fail, readiness.CheckImage, "launch template web", "not found in us-east-1: create the launch template there"}, false},
		{"missing image tag", func(fx *readyFixture) { fx.cloud.repos["web"] = []string{"v0"} },
			want{readiness.Fail, readiness.CheckContainerImage, "repository web", "tags v1 missing in us-east-1"}, false},
		{"missing repository", func(fx *readyFixture) { delete(fx.cloud.repos, "web") },
			want{readiness.Fail, readiness.CheckContainerImage, "repository web", "repository not found in us-east-1"}, false},
		{"missing network subnet", func(fx *readyFixture) { fx.cloud.retag("subnet-r2", "subnet-gone") },
			want{readiness.Fail, readiness.CheckNetwork, "subnet subnet-p2", "no subnet tagged pilotlight:source=subnet-p2 (10.0.2.0/24) in mirror vpc-r1: run pilotlight network sync"}, false},
		{"no recovery VPC", func(fx *readyFixture) { fx.cloud.vpcs["recovery"] = nil },
			want{readiness.Fail, readiness.CheckNetwork, "vpc vpc-p1", "no VPC tagged pilotlight:source=vpc-p1 in us-east-1: run pilotlight network sync"}, false},
		{"VPC CIDR differs", func(fx *readyFixture) { fx.cloud.vpcs["recovery"][0].CidrBlock = sdkaws.String("10.9.0.0/16") },
			want{readiness.Fail, readiness.CheckNetwork, "vpc vpc-p1", "mirror vpc-r1 has CIDR 10.9.0.0/16, the primary 10.0.0.0/16"}, false},
		{"quota too low", func(fx *readyFixture) { fx.cloud.quotas["L-1216C47A"] = 8 },
			want{readiness.Fail, readiness.CheckQuota, "L-1216C47A", "quota 8 vCPUs cannot hold web 16 vCPUs (4 × m6i.xlarge)"}, false},
		{"quota only after fallback", func(fx *readyFixture) { fx.cloud.quotas["L-1216C47A"] = 16 },
			want{readiness.Warn, readiness.CheckQuota, "L-1216C47A", "fits only after fallback (worker → 1 × g5.xlarge)"}, true},
		{"type not offered", func(fx *readyFixture) {
			delete(fx.cloud.offerings, "m6i.xlarge")
			delete(fx.cloud.offerings, "m5.xlarge")
		}, want{readiness.Fail, readiness.CheckInstanceType, "service web", "none of m6i.xlarge, m5.xlarge is offered in zones us-east-1a, us-east-1b"}, false},
		{"preferred type not offered everywhere", func(fx *readyFixture) { fx.cloud.offerings["m6i.xlarge"] = []string{"us-east-1a"} },
			want{readiness.Warn, readiness.CheckInstanceType, "service web", "preferred m6i.xlarge is not offered in us-east-1b"}, true},
		{"IAM denied action", func(fx *readyFixture) { fx.cloud.denyActions("ec2:RunInstances", "rds:RestoreDBClusterFromSnapshot") },
			want{readiness.Fail, readiness.CheckIAM, "arn:aws:iam::123456789012:role/pilotlight-dr",
				"denied ec2:RunInstances, rds:RestoreDBClusterFromSnapshot: attach the policy printed by pilotlight iam-policy"}, false},
		{"failover record without health check", func(fx *readyFixture) {
			for k, s := range fx.r53.zones["Z1"] {
				if s.Failover == "PRIMARY" {
					s.HealthCheckId = ""
					fx.r53.zones["Z1"][k] = s
				}
			}
		}, want{readiness.Fail, readiness.CheckDNS, "record www.example.com. A PRIMARY", "failover record set has no health check"}, false},
		{"hosted zone missing", func(fx *readyFixture) { fx.r53.zoneNames["Z1"] = "other.com." },
			want{readiness.Fail, readiness.CheckDNS, "hosted zone example.com.", "not found in Route 53"}, false},
		{"quota API denied", func(fx *readyFixture) { fx.cloud.failNext("GetServiceQuota", "AccessDeniedException") },
			want{readiness.Fail, readiness.CheckQuota, "ec2 on-demand vCPUs", "AccessDeniedException"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newReadyFixture(t)
			tt.break_(fx)
			rep := fx.run(t)
			found := false
			for _, r := range rep.Results {
				match := r.Check == tt.want.check && strings.Contains(r.Subject, tt.want.subject) && strings.Contains(r.Reason, tt.want.reason)
				switch {
				case match && r.Status == tt.want.status:
					found = true
				case r.Status != readiness.Pass && r.Status != readiness.Skip && r.Check != tt.want.check:
					t.Errorf("unrelated %s %s %s: %s", r.Status, r.Check, r.Subject, r.Reason)
				}
			}
			if !found {
				t.Errorf("no %s %s %q with %q in:\n%s", tt.want.status, tt.want.check, tt.want.subject, tt.want.reason, dump(rep))
			}
			if rep.Ready != tt.ready {
				t.Errorf("ready = %v, want %v", rep.Ready, tt.ready)
			}
		})
	}
}

func dump(rep readiness.Report) string {
	var b strings.Builder
	_ = readiness.WriteText(&b, rep)
	return b.String()
}

func TestReadinessRetriesThrottledDescribes(t *testing.T) {
	fx := newReadyFixture(t)
	fx.cloud.failNext("DescribeSnapshots", "RequestLimitExceeded", "Throttling")
	fx.cloud.failNext("DescribeSubnets", "RequestLimitExceeded")
	fx.cloud.failNext("SimulatePrincipalPolicy", "Throttling")
	fx.r53.failNext("ListResourceRecordSets", "Throttling")
	rep := fx.run(t)
	if !rep.Ready {
		t.Fatalf("throttling was not retried:\n%s", dump(rep))
	}
	if n := len(readyRequests[any](fx.cloud, "recovery", "DescribeSnapshots")); n != 3 {
		t.Errorf("DescribeSnapshots called %d times, want 3", n)
	}
	// A describe throttled past its attempts fails its check with the cause.
	fx = newReadyFixture(t)
	fx.cloud.failNext("DescribeImages", "Throttling", "Throttling", "Throttling", "Throttling")
	rep = fx.run(t)
	found := false
	for _, r := range rep.Results {
		if r.Check == readiness.CheckImage && r.Status == readiness.Fail && strings.Contains(r.Reason, "gave up after 4 attempts") {
			found = true
		}
	}
	if !found || rep.Ready {
		t.Errorf("exhausted retries not reported:\n%s", dump(rep))
	}
}

func TestReadinessRequests(t *testing.T) {
	fx := newReadyFixture(t)
	fx.run(t)
	vpcs := readyRequests[any](fx.cloud, "recovery", "DescribeVpcs")
	if len(vpcs) != 1 {
		t.Fatalf("recovery DescribeVpcs %d calls", len(vpcs))
	}
	lts := readyRequests[any](fx.cloud, "primary", "DescribeLaunchTemplateVersions")
	if len(lts) != 0 {
		t.Errorf("launch templates read in the primary region: %d", len(lts))
	}
	// Subnets of the mirror are paged one per page: two pages.
	if n := len(readyRequests[any](fx.cloud, "recovery", "DescribeSubnets")); n != 3 {
		t.Errorf("recovery DescribeSubnets %d calls, want 3 (2 pages for the mirror, 1 for web's subnets)", n)
	}
	// g5.xlarge is not in the capacity catalogue: EC2 is asked.
	if n := len(readyRequests[any](fx.cloud, "recovery", "DescribeInstanceTypes")); n != 1 {
		t.Errorf("DescribeInstanceTypes %d calls", n)
	}
}

func TestPrincipalARN(t *testing.T) {
	tests := []struct{ in, want string }{
		{"arn:aws:sts::123456789012:assumed-role/dr/session", "arn:aws:iam::123456789012:role/dr"},
		{"arn:aws-cn:sts::123456789012:assumed-role/dr/s", "arn:aws-cn:iam::123456789012:role/dr"},
		{"arn:aws:iam::123456789012:user/ops/alice", "arn:aws:iam::123456789012:user/ops/alice"},
		{"arn:aws:iam::123456789012:root", ""},
		{"arn:aws:sts::123456789012:federated-user/bob", ""},
	}
	for _, tt := range tests {
		got, ok := principalARN(tt.in)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("principalARN(%q) = %q, %v; want %q", tt.in, got, ok, tt.want)
		}
	}
}

func TestQuotaOf(t *testing.T) {
	for typ, code := range map[string]string{"m6i.xlarge": "L-1216C47A", "c7gn.large": "L-1216C47A", "g5.xlarge": "L-DB2E81BA",
		"p4d.24xlarge": "L-417A185B", "inf2.xlarge": "L-1945791B", "trn1.2xlarge": "L-2C3B7624", "x2idn.16xlarge": "L-7295265B",
		"u-6tb1.metal": "L-43DA4232", "hpc6a.48xlarge": "L-F7808C92", "mac1.metal": ""} {
		q, _ := quotaOf(typ)
		if q.Code != code {
			t.Errorf("quotaOf(%s) = %q, want %q", typ, q.Code, code)
		}
	}
}

package aws

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/pilotlight/pilotlight/plan"
)

var updateIAM = flag.Bool("update-iam", false, "rewrite testdata/iam-policy.golden.json")

func TestIAMPolicyGolden(t *testing.T) {
	p, err := plan.Load(filepath.Join("testdata", "readiness-plan.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.MarshalIndent(Policy(p, PolicyOptions{}), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	golden := filepath.Join("testdata", "iam-policy.golden.json")
	if *updateIAM {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("policy differs from %s (go test -run TestIAMPolicyGolden -update-iam):\n%s", golden, got)
	}
}

// iamActionOf maps an SDK operation name to its IAM action where the two
// differ (S3's are named after the resource, not the call).
var iamActionOf = map[string]string{
	"s3:GetBucketReplication": "s3:GetReplicationConfiguration",
	"s3:PutBucketReplication": "s3:PutReplicationConfiguration",
	"s3:ListObjectsV2":        "s3:ListBucket",
	"s3:HeadObject":           "s3:GetObject",
}

// TestIAMPolicyCoversAPIs checks that every call of the clients that
// protection, readiness and recovery use appears in the policy of a plan
// that uses everything: the API interfaces are the list of calls.
func TestIAMPolicyCoversAPIs(t *testing.T) {
	p, err := plan.Load(filepath.Join("testdata", "readiness-plan.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	actions := Policy(p, PolicyOptions{Account: "123456789012", ZoneID: "Z1"}).Actions()
	apis := map[string][]reflect.Type{
		"ec2":                  {reflect.TypeFor[EC2API](), reflect.TypeFor[SnapshotEC2API](), reflect.TypeFor[ReadinessEC2API]()},
		"autoscaling":          {reflect.TypeFor[AutoScalingAPI]()},
		"elasticloadbalancing": {reflect.TypeFor[ELBv2API]()},
		"rds":                  {reflect.TypeFor[RDSAPI](), reflect.TypeFor[SnapshotRDSAPI](), reflect.TypeFor[ReadinessRDSAPI]()},
		"route53":              {reflect.TypeFor[Route53API]()},
		"s3":                   {reflect.TypeFor[S3API](), reflect.TypeFor[S3ControlAPI](), reflect.TypeFor[CatalogS3API]()},
		"servicequotas":        {reflect.TypeFor[QuotasAPI]()},
		"iam":                  {reflect.TypeFor[IAMSimulatorAPI]()},
		"ecr":                  {reflect.TypeFor[ReadinessECRAPI]()},
	}
	n := 0
	for prefix, types := range apis {
		for _, typ := range types {
			for i := range typ.NumMethod() {
				a := prefix + ":" + typ.Method(i).Name
				if m, ok := iamActionOf[a]; ok {
					a = m
				}
				n++
				if !slices.Contains(actions, a) {
					t.Errorf("%s calls %s, which the policy lacks", typ, a)
				}
			}
		}
	}
	if n < 60 {
		t.Errorf("only %d calls checked", n)
	}
}

func TestIAMPolicyFollowsPlan(t *testing.T) {
	p := &plan.Plan{Name: "small", Regions: plan.Regions{Recovery: plan.Region{Name: "cn-north-1", Provider: plan.ProviderAWS}},
		Services: []plan.Service{{Name: "web", Compute: plan.Compute{Count: 1, AWS: &plan.AWSCompute{LaunchTemplate: "web", InstanceTypes: []string{"m5.large"}}}}},
		Data:     plan.Data{Snapshots: &plan.SnapshotPolicy{KMSKey: "alias/dr"}, Buckets: []plan.Bucket{{Name: "assets"}}}}
	doc := Policy(p, PolicyOptions{Account: "123456789012"})
	var sids []string
	res := map[string][]string{}
	for _, s := range doc.Statement {
		sids = append(sids, s.Sid)
		res[s.Sid] = s.Resource
	}
	for _, unwanted := range []string{"PilotlightAutoScaling", "PilotlightLoadBalancing", "PilotlightDatabases", "PilotlightVolumes",
		"PilotlightHostedZone", "PilotlightPassReplicationRole", "PilotlightRegistry"} {
		if slices.Contains(sids, unwanted) {
			t.Errorf("statement %s for a plan that does not need it", unwanted)
		}
	}
	if got := strings.Join(res["PilotlightSnapshotKey"], ","); got != "arn:aws-cn:kms:cn-north-1:123456789012:key/*" {
		t.Errorf("alias key resource %s", got)
	}
	if got := strings.Join(res["PilotlightObjects"], ","); got != "arn:aws-cn:s3:::assets/*" {
		t.Errorf("object resources %s", got)
	}
	if doc.Version != "2012-10-17" {
		t.Errorf("version %s", doc.Version)
	}
}

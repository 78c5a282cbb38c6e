package plan

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// validPlan builds a small valid plan in Go, with defaults filled in.
func validPlan() *Plan {
	p := &Plan{
		APIVersion: APIVersion, Kind: KindPlan, Name: "shop",
		Objectives: Objectives{RTO: Duration(2 * time.Minute), RPO: Duration(5 * time.Second)},
		Regions:    Regions{Primary: Region{Name: "seoul"}, Recovery: Region{Name: "virginia"}},
		Data:       Data{Buckets: []Bucket{{Name: "assets"}}},
		Services: []Service{{
			Name:         "web",
			Compute:      Compute{Count: 2, Local: &LocalCompute{Command: []string{"{{.Bin}}/web", "--addr", "{{.Addr}}"}}},
			LoadBalancer: &LoadBalancer{Port: 80},
		}},
		Routing: &Routing{Zone: "shop.test", Records: []Record{{Name: "www", Service: "web", Policy: PolicyFailover, HealthCheck: &HealthCheck{}}}},
	}
	p.Default()
	return p
}

func TestValidateProgrammatic(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(p *Plan)
		want   string // Errors.Error(), "" for valid
	}{
		{"valid", func(*Plan) {}, ""},
		{"zero plan", func(p *Plan) { *p = Plan{} }, strings.Join([]string{
			"apiVersion: required", "kind: required", "name: required", "objectives.rto: required", "objectives.rpo: required",
			`strategy: must be one of backup-restore, pilot-light, warm-standby, active-active; got ""`,
			`regions.primary.provider: must be one of local, aws, sim; got ""`, "regions.primary.name: required",
			`regions.recovery.provider: must be one of local, aws, sim; got ""`, "regions.recovery.name: required"}, "\n")},
		{"count zero is required", func(p *Plan) { p.Services[0].Compute.Count = 0 }, "services[0].compute.count: required"},
		{"negative count", func(p *Plan) { p.Services[0].Compute.Count = -1 }, "services[0].compute.count: must be >= 1, got -1"},
		{"network not masked", func(p *Plan) { p.Regions.Recovery.Network = "127.0.2.7/24" },
			`regions.recovery.network: must be a network address like 127.0.2.0/24, got "127.0.2.7/24"`},
		{"network not a CIDR", func(p *Plan) { p.Regions.Recovery.Network = "localhost" },
			`regions.recovery.network: must be a CIDR like 127.0.2.0/24, got "localhost"`},
		{"same network", func(p *Plan) { p.Regions.Recovery.Network = DefaultPrimaryNetwork },
			"regions.recovery.network: must differ from the primary region's network (127.0.1.0/24)"},
		{"network on sim", func(p *Plan) {
			p.Regions.Recovery.Provider = ProviderSim
		}, "regions.recovery.network: only valid for provider local"},
		{"aws region without compute.aws", func(p *Plan) {
			p.Regions.Recovery = Region{Name: "us-east-1", Provider: ProviderAWS, RoleARN: "role"}
		}, "regions.recovery.roleArn: must be an IAM role ARN like arn:aws:iam::123456789012:role/name, got \"role\"\n" +
			"services[0].compute.aws: required because the recovery region uses provider aws"},
		{"aws endpoint", func(p *Plan) {
			p.Regions.Recovery = Region{Name: "us-east-1", Provider: ProviderAWS, Endpoint: "s3.local"}
			p.Services[0].Compute.AWS = &AWSCompute{LaunchTemplate: "web", InstanceTypes: []string{"m5.large"}}
		}, `regions.recovery.endpoint: must be an http or https URL, got "s3.local"`},
		{"bucket names", func(p *Plan) {
			p.Data.Buckets = []Bucket{{Name: "ab", Deletes: DeletesKeep, Archived: ArchivedSkip}, {Name: "10.0.0.1", Replica: "a..b", Deletes: DeletesKeep, Archived: ArchivedSkip}}
		}, `data.buckets[0].name: must be 3 to 63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit; got "ab"` + "\n" +
			`data.buckets[1].name: must not be an IP address, got "10.0.0.1"` + "\n" +
			`data.buckets[1].replica: must be 3 to 63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit; got "a..b"`},
		{"duplicate bucket", func(p *Plan) { p.Data.Buckets = append(p.Data.Buckets, p.Data.Buckets[0]) },
			`data.buckets[1].name: duplicate bucket "assets" (also data.buckets[0])`},
		{"light data checks", func(p *Plan) {
			p.Data.Volumes, p.Data.Databases = []Volume{{}}, []Database{{Engine: "postgres"}}
			p.Data.Images, p.Data.Repositories = []Image{{}}, []Repository{{}}
		}, "data.volumes[0].id: required\ndata.databases[0].id: required\ndata.images[0].repository: required\ndata.repositories[0].url: required"},
		{"health check rules", func(p *Plan) {
			hc := p.Routing.Records[0].HealthCheck
			hc.Timeout, hc.ExpectStatus, hc.InsecureSkipVerify, hc.Path = Duration(3*time.Second), "399-200", true, "healthz"
		}, "routing.records[0].healthCheck.path: must start with /, got \"healthz\"\n" +
			"routing.records[0].healthCheck.expectStatus: must be a status code or a range like 200-399, got \"399-200\"\n" +
			"routing.records[0].healthCheck.insecureSkipVerify: only valid for type https\n" +
			"routing.records[0].healthCheck.timeout: must not exceed the interval (2s), got 3s"},
		{"weighted needs weights", func(p *Plan) { p.Routing.Records[0].Policy = PolicyWeighted },
			"routing.records[0].weights: required for policy weighted"},
		{"weights range", func(p *Plan) {
			p.Routing.Records[0].Policy, p.Routing.Records[0].Weights = PolicyWeighted, &Weights{Primary: 256, Recovery: -1}
		}, "routing.records[0].weights.primary: must be between 0 and 255, got 256\nrouting.records[0].weights.recovery: must be between 0 and 255, got -1"},
		{"record names", func(p *Plan) {
			p.Routing.Zone = "bad zone"
			p.Routing.Records = append(p.Routing.Records, Record{Name: "www.shop.test.", Service: "web", Policy: PolicySimple},
				Record{Name: "w w", Service: "web", Policy: PolicySimple}, Record{Name: "WWW", Service: "web", Policy: PolicySimple})
		}, "routing.zone: must be a domain name like example.com., got \"bad zone\"\n" +
			"routing.records[1].name: must be relative to the zone, without a trailing dot; got \"www.shop.test.\"\n" +
			"routing.records[2].name: must be a DNS name relative to the zone, such as www, or @; got \"w w\"\n" +
			"routing.records[3].name: duplicate record \"WWW\" (also routing.records[0])"},
		{"lb port missing", func(p *Plan) { p.Services[0].LoadBalancer.Port = 0 }, "services[0].loadBalancer.port: required"},
		{"command template", func(p *Plan) { p.Services[0].Compute.Local.Command = []string{"{{.Bin}}/x", "{{end}}"} },
			"services[0].compute.local.command[1]: invalid template: unexpected {{end}}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := validPlan()
			tt.mutate(p)
			err := p.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Validate = %v, want Errors", err)
			}
			for _, e := range errs {
				if e.Line != 0 || e.Col != 0 || e.File != "" {
					t.Errorf("programmatic error has a position: %#v", e)
				}
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("Validate:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestValidateNilWhenValid(t *testing.T) {
	// A typed nil Errors in an error interface would not compare equal to nil.
	if err := validPlan().Validate(); err != nil {
		t.Fatalf("Validate = %#v", err)
	}
}

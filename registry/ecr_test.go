package registry

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/pilotlight/pilotlight/plan"
)

// fakeECR is an ECR registry with a replication configuration; it records
// every PutReplicationConfiguration input.
type fakeECR struct {
	registryID  string
	current     *types.ReplicationConfiguration
	describeErr error
	puts        []*ecr.PutReplicationConfigurationInput
}

func (f *fakeECR) DescribeRegistry(_ context.Context, _ *ecr.DescribeRegistryInput, _ ...func(*ecr.Options)) (*ecr.DescribeRegistryOutput, error) {
	if f.describeErr != nil {
		return nil, f.describeErr
	}
	return &ecr.DescribeRegistryOutput{RegistryId: aws.String(f.registryID), ReplicationConfiguration: f.current}, nil
}

func (f *fakeECR) PutReplicationConfiguration(_ context.Context, in *ecr.PutReplicationConfigurationInput, _ ...func(*ecr.Options)) (*ecr.PutReplicationConfigurationOutput, error) {
	f.puts = append(f.puts, in)
	f.current = in.ReplicationConfiguration
	return &ecr.PutReplicationConfigurationOutput{ReplicationConfiguration: in.ReplicationConfiguration}, nil
}

func awsPlan(repos ...string) *plan.Plan {
	p := &plan.Plan{Regions: plan.Regions{
		Primary:  plan.Region{Name: "ap-northeast-2", Provider: plan.ProviderAWS},
		Recovery: plan.Region{Name: "us-east-1", Provider: plan.ProviderAWS},
	}}
	for _, r := range repos {
		p.Data.Images = append(p.Data.Images, plan.Image{Repository: r})
	}
	return p
}

func rule(region string, filters ...string) types.ReplicationRule {
	r := types.ReplicationRule{Destinations: []types.ReplicationDestination{{Region: aws.String(region), RegistryId: aws.String("123456789012")}}}
	for _, f := range filters {
		r.RepositoryFilters = append(r.RepositoryFilters, types.RepositoryFilter{Filter: aws.String(f), FilterType: types.RepositoryFilterTypePrefixMatch})
	}
	return r
}

// describe renders rules as "region:filter,filter" strings.
func describe(rules []types.ReplicationRule) []string {
	var out []string
	for _, r := range rules {
		var ds, fs []string
		for _, d := range r.Destinations {
			ds = append(ds, aws.ToString(d.Region)+"/"+aws.ToString(d.RegistryId))
		}
		for _, f := range r.RepositoryFilters {
			fs = append(fs, string(f.FilterType)+"="+aws.ToString(f.Filter))
		}
		out = append(out, strings.Join(ds, "+")+":"+strings.Join(fs, ","))
	}
	return out
}

func TestConfigureECR(t *testing.T) {
	const id = "123456789012"
	full := &types.ReplicationConfiguration{}
	for i := range MaxReplicationRules {
		full.Rules = append(full.Rules, rule(fmt.Sprintf("eu-west-%d", i+1), "x"))
	}
	tests := []struct {
		name    string
		plan    *plan.Plan
		current *types.ReplicationConfiguration
		want    []string // rules put; nil means no put
		wantErr string
	}{
		{"new configuration", awsPlan("web", "team/api"), nil,
			[]string{"us-east-1/" + id + ":PREFIX_MATCH=web,PREFIX_MATCH=team/api"}, ""},
		{"other rules kept", awsPlan("web"), &types.ReplicationConfiguration{Rules: []types.ReplicationRule{rule("eu-west-1", "billing")}},
			[]string{"eu-west-1/" + id + ":PREFIX_MATCH=billing", "us-east-1/" + id + ":PREFIX_MATCH=web"}, ""},
		{"filters merged into our rule", awsPlan("web", "team/api"), &types.ReplicationConfiguration{Rules: []types.ReplicationRule{rule("us-east-1", "legacy", "web")}},
			[]string{"us-east-1/" + id + ":PREFIX_MATCH=legacy,PREFIX_MATCH=web,PREFIX_MATCH=team/api"}, ""},
		{"already configured", awsPlan("web"), &types.ReplicationConfiguration{Rules: []types.ReplicationRule{rule("us-east-1", "web")}},
			nil, ""},
		{"unfiltered rule replicates everything", awsPlan("web"), &types.ReplicationConfiguration{Rules: []types.ReplicationRule{rule("us-east-1")}},
			nil, ""},
		{"rule quota", awsPlan("web"), full, nil, "11 rules, the quota is 10"},
		{"no images", awsPlan(), nil, nil, "no data.images"},
		{"local recovery", func() *plan.Plan {
			p := awsPlan("web")
			p.Regions.Recovery.Provider = plan.ProviderLocal
			return p
		}(), nil, nil, "needs an aws recovery region"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeECR{registryID: id, current: tt.current}
			changed, err := ConfigureECR(t.Context(), f, tt.plan)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ConfigureECR = %v, want error containing %q", err, tt.wantErr)
				}
				if len(f.puts) != 0 {
					t.Errorf("ConfigureECR put %d configurations after an error", len(f.puts))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == nil {
				if changed || len(f.puts) != 0 {
					t.Fatalf("ConfigureECR changed=%v with %d puts, want no change", changed, len(f.puts))
				}
				return
			}
			if !changed || len(f.puts) != 1 {
				t.Fatalf("ConfigureECR changed=%v with %d puts, want one put", changed, len(f.puts))
			}
			got := describe(f.puts[0].ReplicationConfiguration.Rules)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("rules put:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			// Applying the plan again changes nothing.
			if changed, err := ConfigureECR(t.Context(), f, tt.plan); err != nil || changed {
				t.Errorf("second ConfigureECR = %v, %v; want no change", changed, err)
			}
		})
	}
}

func TestConfigureECRDescribeError(t *testing.T) {
	boom := errors.New("AccessDenied")
	f := &fakeECR{describeErr: boom}
	if _, err := ConfigureECR(t.Context(), f, awsPlan("web")); !errors.Is(err, boom) {
		t.Errorf("ConfigureECR = %v, want the describe error", err)
	}
}

func TestECRReplicationRegistryID(t *testing.T) {
	for _, id := range []string{"", "12345", "12345678901x"} {
		if _, err := ECRReplication(awsPlan("web"), id, nil); err == nil {
			t.Errorf("ECRReplication(registry %q) succeeded", id)
		}
	}
}

func TestECRReplicationDoesNotAlias(t *testing.T) {
	current := &types.ReplicationConfiguration{Rules: []types.ReplicationRule{rule("us-east-1", "old")}}
	if _, err := ECRReplication(awsPlan("web"), "123456789012", current); err != nil {
		t.Fatal(err)
	}
	if got := describe(current.Rules); len(got) != 1 || got[0] != "us-east-1/123456789012:PREFIX_MATCH=old" {
		t.Errorf("current configuration modified: %v", got)
	}
}

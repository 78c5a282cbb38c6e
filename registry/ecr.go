package registry

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/pilotlight/pilotlight/plan"
)

// ECR replication quotas: rules per registry and repository filters per
// rule.
const (
	MaxReplicationRules  = 10
	MaxRepositoryFilters = 100
)

// ErrNoImages means the plan has no data.images to replicate.
var ErrNoImages = errors.New("registry: the plan has no data.images")

// ecrAPI is the part of the ECR client ConfigureECR uses. Both calls act on
// the registry of the client's account and region (the primary).
type ecrAPI interface {
	DescribeRegistry(ctx context.Context, in *ecr.DescribeRegistryInput, opts ...func(*ecr.Options)) (*ecr.DescribeRegistryOutput, error)
	PutReplicationConfiguration(ctx context.Context, in *ecr.PutReplicationConfigurationInput, opts ...func(*ecr.Options)) (*ecr.PutReplicationConfigurationOutput, error)
}

var _ ecrAPI = (*ecr.Client)(nil)

// ECRReplication returns the PutReplicationConfiguration input that makes
// the primary registry (registryID, a 12-digit account ID) replicate the
// plan's image repositories to the plan's recovery region, in the same
// account. current is the registry's replication configuration (nil if it
// has none): PutReplicationConfiguration replaces the whole configuration,
// so its rules are kept, and the plan's repositories are added as
// PREFIX_MATCH filters to the rule whose only destination is the recovery
// region (a new rule if there is none). Repositories are never removed
// from a rule. It fails when the recovery region is not on aws or the
// result exceeds the ECR quotas.
//
// A prefix filter matches every repository whose name starts with it: web
// also replicates web-canary.
func ECRReplication(p *plan.Plan, registryID string, current *types.ReplicationConfiguration) (*ecr.PutReplicationConfigurationInput, error) {
	if len(p.Data.Images) == 0 {
		return nil, ErrNoImages
	}
	if p.Regions.Recovery.Provider != plan.ProviderAWS {
		return nil, fmt.Errorf("registry: ECR replication needs an aws recovery region, not %q", p.Regions.Recovery.Provider)
	}
	if len(registryID) != 12 || !isDigits(registryID) {
		return nil, fmt.Errorf("registry: ECR registry ID must be a 12-digit account ID, got %q", registryID)
	}
	dest := types.ReplicationDestination{Region: aws.String(p.Regions.Recovery.Name), RegistryId: aws.String(registryID)}
	var rules []types.ReplicationRule
	if current != nil {
		rules = slices.Clone(current.Rules)
	}
	i := slices.IndexFunc(rules, func(r types.ReplicationRule) bool {
		return len(r.Destinations) == 1 && sameDestination(r.Destinations[0], dest)
	})
	isNew := i < 0
	if isNew {
		rules = append(rules, types.ReplicationRule{Destinations: []types.ReplicationDestination{dest}})
		i = len(rules) - 1
	}
	rule := rules[i]
	rule.RepositoryFilters = slices.Clone(rule.RepositoryFilters)
	if isNew || len(rule.RepositoryFilters) > 0 {
		// A rule without filters already replicates every repository;
		// only a rule with filters (or a new one) needs the plan's.
		for _, img := range p.Data.Images {
			if len(img.Repository) < 2 {
				return nil, fmt.Errorf("registry: ECR repository filter %q: must be at least 2 characters", img.Repository)
			}
			if !slices.ContainsFunc(rule.RepositoryFilters, func(f types.RepositoryFilter) bool {
				return aws.ToString(f.Filter) == img.Repository && f.FilterType == types.RepositoryFilterTypePrefixMatch
			}) {
				rule.RepositoryFilters = append(rule.RepositoryFilters, types.RepositoryFilter{
					Filter: aws.String(img.Repository), FilterType: types.RepositoryFilterTypePrefixMatch,
				})
			}
		}
	}
	rules[i] = rule
	if len(rules) > MaxReplicationRules {
		return nil, fmt.Errorf("registry: ECR replication: %d rules, the quota is %d", len(rules), MaxReplicationRules)
	}
	if n := len(rule.RepositoryFilters); n > MaxRepositoryFilters {
		return nil, fmt.Errorf("registry: ECR replication to %s: %d repository filters, the quota is %d", p.Regions.Recovery.Name, n, MaxRepositoryFilters)
	}
	return &ecr.PutReplicationConfigurationInput{ReplicationConfiguration: &types.ReplicationConfiguration{Rules: rules}}, nil
}

// ConfigureECR makes the primary registry replicate the plan's image
// repositories to the recovery region: it reads the registry's current
// configuration, builds the input with ECRReplication and applies it
// unless nothing changes. It reports whether it called
// PutReplicationConfiguration.
func ConfigureECR(ctx context.Context, api ecrAPI, p *plan.Plan) (bool, error) {
	out, err := api.DescribeRegistry(ctx, &ecr.DescribeRegistryInput{})
	if err != nil {
		return false, fmt.Errorf("registry: describe ECR registry: %w", err)
	}
	in, err := ECRReplication(p, aws.ToString(out.RegistryId), out.ReplicationConfiguration)
	if err != nil {
		return false, err
	}
	if out.ReplicationConfiguration != nil && sameRules(out.ReplicationConfiguration.Rules, in.ReplicationConfiguration.Rules) {
		return false, nil
	}
	if _, err := api.PutReplicationConfiguration(ctx, in); err != nil {
		return false, fmt.Errorf("registry: put ECR replication configuration of %s: %w", aws.ToString(out.RegistryId), err)
	}
	return true, nil
}

func sameDestination(a, b types.ReplicationDestination) bool {
	return aws.ToString(a.Region) == aws.ToString(b.Region) && aws.ToString(a.RegistryId) == aws.ToString(b.RegistryId)
}

func sameRules(a, b []types.ReplicationRule) bool {
	return slices.EqualFunc(a, b, func(x, y types.ReplicationRule) bool {
		return slices.EqualFunc(x.Destinations, y.Destinations, sameDestination) &&
			slices.EqualFunc(x.RepositoryFilters, y.RepositoryFilters, func(f, g types.RepositoryFilter) bool {
				return aws.ToString(f.Filter) == aws.ToString(g.Filter) && f.FilterType == g.FilterType
			})
	})
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

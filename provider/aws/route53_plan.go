package aws

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"
)

// Change actions.
const (
	ActionCreate = "CREATE"
	ActionUpsert = "UPSERT"
	ActionDelete = "DELETE"
	ActionUpdate = "UPDATE" // health checks only
)

// ChangeSet is what Apply will do to a hosted zone: health checks first,
// then record changes.
type ChangeSet struct {
	ZoneID       string              `json:"zoneId"`
	Zone         string              `json:"zone,omitempty"`
	HealthChecks []HealthCheckChange `json:"healthChecks,omitempty"`
	Records      []RecordChange      `json:"records,omitempty"`
}

// Empty reports whether the zone is already in line with the specs.
func (cs ChangeSet) Empty() bool { return len(cs.HealthChecks) == 0 && len(cs.Records) == 0 }

// HealthCheckChange creates or updates one health check.
type HealthCheckChange struct {
	// Action is CREATE or UPDATE.
	Action string `json:"action"`
	// Key is "<fqdn>/<role>", such as www.example.com./primary.
	Key string `json:"key"`
	// ID and Version of the check an UPDATE changes; UpdateHealthCheck
	// fails if someone changed it since Plan read Version.
	ID      string `json:"id,omitempty"`
	Version int64  `json:"version,omitempty"`
	// CallerReference of a CREATE: "pilotlight/<hash of plan and key>/<hash
	// of settings>".
	CallerReference string              `json:"callerReference,omitempty"`
	Settings        HealthCheckSettings `json:"settings"`
}

// RecordChange is one change of a ChangeResourceRecordSets batch.
type RecordChange struct {
	// Action is CREATE, UPSERT or DELETE.
	Action string `json:"action"`
	RecordSet
}

// Plan reads the zone's record sets and health checks and returns the
// smallest change set that makes them match specs. Only the names the
// specs declare are touched: a set there of a declared type (or one that
// conflicts with a declared CNAME) but not wanted is deleted; other names
// are left alone. Health checks are found by their CallerReference prefix;
// one whose settings changed is updated in place when Route 53 allows it
// (port, path, endpoint, threshold, search string), and replaced by a new
// one otherwise (type or interval); replaced checks are not deleted.
func (d *Route53Driver) Plan(ctx context.Context, specs []RecordSpec) (ChangeSet, error) {
	sets, checks, err := desired(specs)
	if err != nil {
		return ChangeSet{}, err
	}
	if len(checks) > 0 && d.PlanName == "" {
		return ChangeSet{}, fmt.Errorf("route53: plan: %w: PlanName is required for health checks", ErrConfig)
	}
	zoneID, err := d.resolveZone(ctx)
	if err != nil {
		return ChangeSet{}, err
	}
	cs := ChangeSet{ZoneID: zoneID, Zone: d.Zone}
	names := make(map[string]bool)
	for _, s := range sets {
		names[s.Name] = true
	}
	existing, err := d.listRecords(ctx, zoneID, names)
	if err != nil {
		return ChangeSet{}, err
	}
	ids := make(map[string]string) // health check key → ID
	if len(checks) > 0 {
		have, err := d.listHealthChecks(ctx)
		if err != nil {
			return ChangeSet{}, err
		}
		for _, c := range checks {
			ch, id := d.planCheck(c, have)
			if ch != nil {
				cs.HealthChecks = append(cs.HealthChecks, *ch)
			}
			ids[c.key] = id
		}
	}
	for i := range sets {
		if id := ids[sets[i].HealthCheckKey]; id != "" {
			sets[i].HealthCheckID, sets[i].HealthCheckKey = id, ""
		}
	}
	cs.Records = diffRecords(sets, existing)
	return cs, nil
}

// checkPrefix is the CallerReference prefix of the health check of key.
func (d *Route53Driver) checkPrefix(key string) string {
	return "pilotlight/" + shortHash(d.PlanName+"\x00"+key) + "/"
}

// planCheck compares a wanted check with the existing ones; it returns the
// change (nil if none) and the ID to bind ("" until created).
func (d *Route53Driver) planCheck(c desiredCheck, have []types.HealthCheck) (*HealthCheckChange, string) {
	prefix := d.checkPrefix(c.key)
	var updatable *types.HealthCheck
	for i, h := range have {
		if !strings.HasPrefix(sdkaws.ToString(h.CallerReference), prefix) {
			continue
		}
		got := settingsOf(h.HealthCheckConfig)
		if got == c.settings {
			return nil, sdkaws.ToString(h.Id)
		}
		if updatable == nil && got.Type == c.settings.Type && got.Interval == c.settings.Interval {
			updatable = &have[i]
		}
	}
	if updatable != nil {
		id := sdkaws.ToString(updatable.Id)
		return &HealthCheckChange{Action: ActionUpdate, Key: c.key, ID: id, Version: sdkaws.ToInt64(updatable.HealthCheckVersion),
			Settings: c.settings}, id
	}
	return &HealthCheckChange{Action: ActionCreate, Key: c.key, CallerReference: prefix + c.settings.hash(), Settings: c.settings}, ""
}

// diffRecords returns the changes that turn existing into want, ordered by
// name, with a name's deletes first.
func diffRecords(want, existing []RecordSet) []RecordChange {
	have := make(map[string]RecordSet, len(existing))
	for _, r := range existing {
		have[r.key()] = r
	}
	wantKeys := make(map[string]bool, len(want))
	wantTypes := make(map[string]bool) // "name type" and "name CNAME" / "name ADDR"
	for _, r := range want {
		wantKeys[r.key()] = true
		wantTypes[r.Name+" "+r.Type] = true
		if r.Type == "A" || r.Type == "AAAA" {
			wantTypes[r.Name+" ADDR"] = true
		}
	}
	var out []RecordChange
	for _, r := range existing {
		if wantKeys[r.key()] {
			continue
		}
		// A name holds either a CNAME or addresses, never both.
		conflict := (r.Type == "CNAME" && wantTypes[r.Name+" ADDR"]) ||
			((r.Type == "A" || r.Type == "AAAA") && wantTypes[r.Name+" CNAME"])
		if wantTypes[r.Name+" "+r.Type] || conflict {
			out = append(out, RecordChange{Action: ActionDelete, RecordSet: r})
		}
	}
	for _, r := range want {
		old, ok := have[r.key()]
		switch {
		case !ok:
			out = append(out, RecordChange{Action: ActionCreate, RecordSet: r})
		case old.policy() != r.policy():
			out = append(out, RecordChange{Action: ActionDelete, RecordSet: old}, RecordChange{Action: ActionCreate, RecordSet: r})
		case !sameSet(old, r):
			out = append(out, RecordChange{Action: ActionUpsert, RecordSet: r})
		}
	}
	rank := map[string]int{ActionDelete: 0, ActionCreate: 1, ActionUpsert: 2}
	slices.SortStableFunc(out, func(a, b RecordChange) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		if c := rank[a.Action] - rank[b.Action]; c != 0 {
			return c
		}
		return strings.Compare(a.key(), b.key())
	})
	return out
}

// sameSet reports whether a and b hold the same data (values unordered).
func sameSet(a, b RecordSet) bool {
	if a.TTL != b.TTL || a.Failover != b.Failover || a.HealthCheckID != b.HealthCheckID || b.HealthCheckKey != "" ||
		sdkaws.ToInt64(a.Weight) != sdkaws.ToInt64(b.Weight) || (a.Alias == nil) != (b.Alias == nil) {
		return false
	}
	if a.Alias != nil && (fqdn(a.Alias.DNSName) != fqdn(b.Alias.DNSName) || bareID(a.Alias.HostedZoneID) != bareID(b.Alias.HostedZoneID) ||
		a.Alias.EvaluateTargetHealth != b.Alias.EvaluateTargetHealth) {
		return false
	}
	av, bv := slices.Clone(a.Values), slices.Clone(b.Values)
	slices.Sort(av)
	slices.Sort(bv)
	return slices.Equal(av, bv)
}

// listRecords reads every record set of the zone whose name is in names.
func (d *Route53Driver) listRecords(ctx context.Context, zoneID string, names map[string]bool) ([]RecordSet, error) {
	var out []RecordSet
	in := &route53.ListResourceRecordSetsInput{HostedZoneId: sdkaws.String(zoneID), MaxItems: sdkaws.Int32(300)}
	for {
		var page *route53.ListResourceRecordSetsOutput
		err := d.retry(ctx, "list record sets", zoneID, func() error {
			var err error
			page, err = d.Client.ListResourceRecordSets(ctx, in)
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, s := range page.ResourceRecordSets {
			if r := fromSDK(s); names[r.Name] {
				out = append(out, r)
			}
		}
		if !page.IsTruncated {
			return out, nil
		}
		if page.NextRecordName == nil {
			return nil, fmt.Errorf("route53: list record sets %s: %w", zoneID, errors.New("truncated page without a next record name"))
		}
		in.StartRecordName, in.StartRecordType, in.StartRecordIdentifier = page.NextRecordName, page.NextRecordType, page.NextRecordIdentifier
	}
}

// listHealthChecks reads every health check of the account whose
// CallerReference starts with pilotlight/.
func (d *Route53Driver) listHealthChecks(ctx context.Context) ([]types.HealthCheck, error) {
	var out []types.HealthCheck
	in := &route53.ListHealthChecksInput{}
	for {
		var page *route53.ListHealthChecksOutput
		err := d.retry(ctx, "list health checks", "account", func() error {
			var err error
			page, err = d.Client.ListHealthChecks(ctx, in)
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, h := range page.HealthChecks {
			if strings.HasPrefix(sdkaws.ToString(h.CallerReference), "pilotlight/") {
				out = append(out, h)
			}
		}
		if !page.IsTruncated || page.NextMarker == nil {
			return out, nil
		}
		in.Marker = page.NextMarker
	}
}

// fromSDK converts a Route 53 record set to the normalized form.
func fromSDK(s types.ResourceRecordSet) RecordSet {
	r := RecordSet{Name: fqdn(sdkaws.ToString(s.Name)), Type: string(s.Type), SetID: sdkaws.ToString(s.SetIdentifier),
		TTL: sdkaws.ToInt64(s.TTL), Failover: string(s.Failover), Weight: s.Weight, HealthCheckID: sdkaws.ToString(s.HealthCheckId)}
	for _, v := range s.ResourceRecords {
		r.Values = append(r.Values, sdkaws.ToString(v.Value))
	}
	if a := s.AliasTarget; a != nil {
		r.Alias = &AliasTarget{DNSName: sdkaws.ToString(a.DNSName), HostedZoneID: sdkaws.ToString(a.HostedZoneId),
			EvaluateTargetHealth: a.EvaluateTargetHealth}
	}
	return r
}

// sdk converts the record set to Route 53's form.
func (r RecordSet) sdk() *types.ResourceRecordSet {
	s := &types.ResourceRecordSet{Name: sdkaws.String(r.Name), Type: types.RRType(r.Type), Weight: r.Weight,
		Failover: types.ResourceRecordSetFailover(r.Failover)}
	if r.SetID != "" {
		s.SetIdentifier = sdkaws.String(r.SetID)
	}
	if r.HealthCheckID != "" {
		s.HealthCheckId = sdkaws.String(r.HealthCheckID)
	}
	if r.Alias != nil {
		s.AliasTarget = &types.AliasTarget{DNSName: sdkaws.String(r.Alias.DNSName), HostedZoneId: sdkaws.String(r.Alias.HostedZoneID),
			EvaluateTargetHealth: r.Alias.EvaluateTargetHealth}
		return s
	}
	s.TTL = sdkaws.Int64(r.TTL)
	for _, v := range r.Values {
		s.ResourceRecords = append(s.ResourceRecords, types.ResourceRecord{Value: sdkaws.String(v)})
	}
	return s
}

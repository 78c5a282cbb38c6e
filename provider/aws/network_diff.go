package aws

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// Actions of a network change.
const (
	// NetCreate: the resource does not exist in the recovery region yet.
	NetCreate = "create"
	// NetUpdate: it exists and lacks something (an attribute, a route, a
	// rule, an association, a tag).
	NetUpdate = "update"
	// NetOK: it exists as it should.
	NetOK = "ok"
	// NetSkip: it is not mirrored (peering, transit gateway, prefix list,
	// NAT gateway with natGateways false ...); Detail says why.
	NetSkip = "skip"
	// NetConflict: it exists but cannot be made to match (a different
	// CIDR or zone); Apply refuses to run while there is one.
	NetConflict = "conflict"
	// NetStale: it carries the plan's tag but its source is gone from the
	// primary; deleted only with Prune (then the action is NetDelete).
	NetStale = "stale"
	// NetDelete: a stale resource that Apply deletes (Prune).
	NetDelete = "delete"
)

// ErrNetworkConflict is returned by Apply when the diff has conflicts.
var ErrNetworkConflict = errors.New("the recovery region has resources that conflict with the primary")

// NetworkChange is one line of a network diff: what happens to one
// resource of the recovery region.
type NetworkChange struct {
	// Action is one of the Net* actions.
	Action string `json:"action"`
	// Kind is vpc, internet-gateway, subnet, security-group,
	// security-group-rules, nat-gateway, route-table, route or
	// association.
	Kind string `json:"kind"`
	// Source is the ID of the primary resource ("" for a stale one).
	Source string `json:"source,omitempty"`
	// Target is the ID of the recovery resource, or its Name for one to
	// create (the ID once Apply created it).
	Target string `json:"target,omitempty"`
	// Detail says what differs or why it is skipped.
	Detail string `json:"detail,omitempty"`
	// Done is set by Apply once the change is made.
	Done bool `json:"done,omitempty"`

	apply func(ctx context.Context, a *netApply) (string, error)
}

// NetworkDiff is the difference between the primary's network and its
// mirror in the recovery region, in the order Apply makes the changes.
type NetworkDiff struct {
	Plan     string `json:"plan"`
	Primary  string `json:"primary"`
	Recovery string `json:"recovery"`
	// Zones maps each primary zone with a subnet to its recovery zone.
	Zones   map[string]string `json:"zones"`
	Changes []NetworkChange   `json:"changes"`

	ids map[string]string // primary ID → recovery ID, of what exists
}

// Pending is the number of changes Apply would make: creates, updates
// and deletes not done yet.
func (d *NetworkDiff) Pending() int {
	n := 0
	for _, c := range d.Changes {
		if (c.Action == NetCreate || c.Action == NetUpdate || c.Action == NetDelete) && !c.Done {
			n++
		}
	}
	return n
}

// Count returns the number of changes with action.
func (d *NetworkDiff) Count(action string) int {
	n := 0
	for _, c := range d.Changes {
		if c.Action == action {
			n++
		}
	}
	return n
}

// Diff reads the plan's VPCs in the primary region and their mirror in the
// recovery region and returns the changes that make the mirror match. It
// changes nothing.
func (s *NetworkSync) Diff(ctx context.Context) (*NetworkDiff, error) {
	n := s.Plan.Network
	if n == nil || len(n.VPCs) == 0 {
		return nil, fmt.Errorf("network: diff plan %s: no network.vpcs in the plan", s.Plan.Name)
	}
	var prim []*netVPC
	for _, id := range n.VPCs {
		v, err := s.readPrimary(ctx, id)
		if err != nil {
			return nil, err
		}
		prim = append(prim, v)
	}
	rec, err := s.readRecovery(ctx)
	if err != nil {
		return nil, err
	}
	var used []string
	for _, v := range prim {
		for _, sn := range v.Subnets {
			if !slices.Contains(used, sn.Zone) {
				used = append(used, sn.Zone)
			}
		}
	}
	zones, err := zoneMap(used, n.Zones, rec.zones)
	if err != nil {
		return nil, fmt.Errorf("network: map zones %s → %s: %w", s.Plan.Regions.Primary.Name, s.Plan.Regions.Recovery.Name, err)
	}
	b := newNetBuilder(s, rec, zones)
	for _, v := range prim {
		b.vpc(v)
	}
	b.stale()
	return &NetworkDiff{Plan: s.Plan.Name, Primary: s.Plan.Regions.Primary.Name, Recovery: s.Plan.Regions.Recovery.Name,
		Zones: zones, Changes: b.changes, ids: b.ids}, nil
}

// zoneMap maps each primary zone of used onto a recovery zone: explicit's
// entry when it has one, else the remaining primary zones in name order
// onto the remaining recovery zones (available, in name order). It fails
// when an explicit zone is not available in the recovery region or there
// are too few zones.
func zoneMap(used []string, explicit map[string]string, available []string) (map[string]string, error) {
	out := map[string]string{}
	taken := map[string]bool{}
	var rest []string
	for _, z := range used {
		to, ok := explicit[z]
		if !ok {
			rest = append(rest, z)
			continue
		}
		if !slices.Contains(available, to) {
			return nil, fmt.Errorf("network.zones maps %s to %s, which is not an available zone of the recovery region (available: %v)", z, to, available)
		}
		out[z], taken[to] = to, true
	}
	slices.Sort(rest)
	var free []string
	for _, z := range available {
		if !taken[z] {
			free = append(free, z)
		}
	}
	if len(rest) > len(free) {
		return nil, fmt.Errorf("the primary's subnets use %d zones %v but the recovery region has only %d more available %v: map them in network.zones",
			len(rest), rest, len(free), free)
	}
	for i, z := range rest {
		out[z] = free[i]
	}
	return out, nil
}

package aws

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// netBuilder turns the primary's VPCs and what exists in the recovery
// region into the ordered changes of a NetworkDiff.
type netBuilder struct {
	s     *NetworkSync
	rec   *netRecovery
	zones map[string]string
	nat   bool // plan.Network.NATGateways

	vpcBy, subnetBy, tableBy, igwBy, natBy, groupBy, eipBy map[string]string  // source → recovery ID
	vpcs                                                   map[string]*netVPC // recovery ID → VPC
	subnets                                                map[string]netSubnet
	tables                                                 map[string]netTable
	igws                                                   map[string]netIGW
	groups                                                 map[string]netGroup
	mainOf, defaultOf                                      map[string]string    // recovery VPC → main table, default group
	assocOf                                                map[string][2]string // recovery subnet → table, association

	ids     map[string]string // primary ID → recovery ID, of what exists
	src     map[string]string // recovery ID → primary ID
	wantNAT map[string]bool   // primary NAT gateways mirrored
	changes []NetworkChange
}

// newNetBuilder indexes what exists in the recovery region.
func newNetBuilder(s *NetworkSync, rec *netRecovery, zones map[string]string) *netBuilder {
	b := &netBuilder{s: s, rec: rec, zones: zones, nat: s.Plan.Network.NATGateways, ids: map[string]string{}, src: map[string]string{}, wantNAT: map[string]bool{},
		vpcBy: map[string]string{}, subnetBy: map[string]string{}, tableBy: map[string]string{}, igwBy: map[string]string{},
		natBy: map[string]string{}, groupBy: map[string]string{}, eipBy: map[string]string{},
		vpcs: map[string]*netVPC{}, subnets: map[string]netSubnet{}, tables: map[string]netTable{}, igws: map[string]netIGW{},
		groups: map[string]netGroup{}, mainOf: map[string]string{}, defaultOf: map[string]string{}, assocOf: map[string][2]string{}}
	for _, v := range rec.vpcs {
		b.vpcs[v.ID] = v
		index(b.vpcBy, v.Source, v.ID)
	}
	for _, x := range rec.subnets {
		b.subnets[x.ID] = x
		index(b.subnetBy, x.Source, x.ID)
	}
	for _, t := range rec.tables {
		b.tables[t.ID] = t
		if t.Main && b.vpcs[t.VPC] != nil {
			b.mainOf[t.VPC] = t.ID
		} else {
			index(b.tableBy, t.Source, t.ID)
		}
		for sn, assoc := range t.Assoc {
			b.assocOf[sn] = [2]string{t.ID, assoc}
		}
	}
	for _, g := range rec.igws {
		b.igws[g.ID] = g
		index(b.igwBy, g.Source, g.ID)
	}
	for _, n := range rec.nats {
		index(b.natBy, n.Source, n.ID)
	}
	for _, g := range rec.groups {
		b.groups[g.ID] = g
		if g.Default && b.vpcs[g.VPC] != nil {
			b.defaultOf[g.VPC] = g.ID
		} else {
			index(b.groupBy, g.Source, g.ID)
		}
	}
	for _, e := range rec.eips {
		index(b.eipBy, e.Source, e.ID)
	}
	return b
}

// index records id under source (the first one wins).
func index(m map[string]string, source, id string) {
	if _, ok := m[source]; source != "" && !ok {
		m[source] = id
	}
}

// match records that recovery resource id mirrors primary resource source.
func (b *netBuilder) match(source, id string) {
	if source != "" && id != "" {
		b.ids[source], b.src[id] = id, source
	}
}

func (b *netBuilder) add(c NetworkChange) { b.changes = append(b.changes, c) }

// skip reports a primary resource that is not mirrored.
func (b *netBuilder) skip(kind, source, why string) {
	b.add(NetworkChange{Action: NetSkip, Kind: kind, Source: source, Detail: why})
}

// vpc adds the changes of primary VPC v, in dependency order.
func (b *netBuilder) vpc(v *netVPC) {
	recID := b.vpcBy[v.ID]
	r := b.vpcs[recID]
	switch {
	case r == nil:
		b.add(NetworkChange{Action: NetCreate, Kind: "vpc", Source: v.ID, Target: v.Name, Detail: vpcDetail(v, v.CIDRs[1:]),
			apply: func(ctx context.Context, a *netApply) (string, error) { return a.createVPC(ctx, v) }})
	case r.CIDRs[0] != v.CIDRs[0]:
		b.match(v.ID, r.ID) // a conflict, not a stale VPC
		b.add(NetworkChange{Action: NetConflict, Kind: "vpc", Source: v.ID, Target: r.ID,
			Detail: fmt.Sprintf("CIDR %s in the recovery region, %s in the primary", r.CIDRs[0], v.CIDRs[0])})
		return
	default:
		b.match(v.ID, r.ID)
		var missing []string
		for _, c := range v.CIDRs[1:] {
			if !slices.Contains(r.CIDRs, c) {
				missing = append(missing, c)
			}
		}
		var what []string
		if len(missing) > 0 {
			what = append(what, "add CIDR "+strings.Join(missing, ", "))
		}
		if r.DNSSupport != v.DNSSupport {
			what = append(what, fmt.Sprintf("dns support %v", v.DNSSupport))
		}
		if r.DNSHostnames != v.DNSHostnames {
			what = append(what, fmt.Sprintf("dns hostnames %v", v.DNSHostnames))
		}
		if r.Name != v.Name {
			what = append(what, fmt.Sprintf("name %q", v.Name))
		}
		b.update("vpc", v.ID, r.ID, what, func(ctx context.Context, a *netApply) (string, error) {
			return r.ID, a.updateVPC(ctx, v, r, missing)
		})
		if t, ok := b.mainOf[r.ID]; ok {
			b.match(primaryMain(v), t)
		}
		if g, ok := b.defaultOf[r.ID]; ok {
			b.match(primaryDefault(v), g)
		}
	}
	b.igw(v)
	for _, sn := range v.Subnets {
		b.subnet(v, sn)
	}
	for _, g := range v.Groups {
		b.group(v, g)
	}
	for _, g := range v.Groups {
		b.rules(v, g)
	}
	for _, n := range v.NATs {
		b.natGateway(n)
	}
	for _, t := range v.Tables {
		b.table(v, t)
	}
}

// update adds an update change when what is not empty, else an ok one.
func (b *netBuilder) update(kind, source, target string, what []string, fn func(context.Context, *netApply) (string, error)) {
	if len(what) == 0 {
		b.add(NetworkChange{Action: NetOK, Kind: kind, Source: source, Target: target})
		return
	}
	b.add(NetworkChange{Action: NetUpdate, Kind: kind, Source: source, Target: target, Detail: strings.Join(what, "; "), apply: fn})
}

// vpcDetail describes the VPC to create.
func vpcDetail(v *netVPC, extra []string) string {
	d := "CIDR " + v.CIDRs[0]
	if len(extra) > 0 {
		d += " + " + strings.Join(extra, ", ")
	}
	return fmt.Sprintf("%s, dns support %v, dns hostnames %v", d, v.DNSSupport, v.DNSHostnames)
}

// primaryMain returns the ID of v's main route table.
func primaryMain(v *netVPC) string {
	for _, t := range v.Tables {
		if t.Main {
			return t.ID
		}
	}
	return ""
}

// primaryDefault returns the ID of v's default security group.
func primaryDefault(v *netVPC) string {
	for _, g := range v.Groups {
		if g.Default {
			return g.ID
		}
	}
	return ""
}

// igw adds the change of v's internet gateway.
func (b *netBuilder) igw(v *netVPC) {
	if v.IGW == nil {
		return
	}
	g := *v.IGW
	id := b.igwBy[g.ID]
	if id == "" {
		b.add(NetworkChange{Action: NetCreate, Kind: "internet-gateway", Source: g.ID, Target: g.Name, Detail: "attach to the VPC",
			apply: func(ctx context.Context, a *netApply) (string, error) { return a.createIGW(ctx, g, v.ID) }})
		return
	}
	b.match(g.ID, id)
	r := b.igws[id]
	var what []string
	if r.VPC != b.ids[v.ID] {
		what = append(what, "attach to the VPC")
	}
	if r.Name != g.Name {
		what = append(what, fmt.Sprintf("name %q", g.Name))
	}
	b.update("internet-gateway", g.ID, id, what, func(ctx context.Context, a *netApply) (string, error) {
		return id, a.updateIGW(ctx, g, id, v.ID, r.VPC == "")
	})
}

// subnet adds the change of subnet sn of v.
func (b *netBuilder) subnet(v *netVPC, sn netSubnet) {
	zone := b.zones[sn.Zone]
	id := b.subnetBy[sn.ID]
	if id == "" {
		b.add(NetworkChange{Action: NetCreate, Kind: "subnet", Source: sn.ID, Target: sn.Name,
			Detail: fmt.Sprintf("%s in %s (primary %s), public IP %v", sn.CIDR, zone, sn.Zone, sn.PublicIP),
			apply:  func(ctx context.Context, a *netApply) (string, error) { return a.createSubnet(ctx, sn, zone, v.ID) }})
		return
	}
	b.match(sn.ID, id)
	r := b.subnets[id]
	if r.CIDR != sn.CIDR || r.Zone != zone {
		b.add(NetworkChange{Action: NetConflict, Kind: "subnet", Source: sn.ID, Target: id,
			Detail: fmt.Sprintf("%s in %s in the recovery region, want %s in %s", r.CIDR, r.Zone, sn.CIDR, zone)})
		return
	}
	var what []string
	if r.PublicIP != sn.PublicIP {
		what = append(what, fmt.Sprintf("public IP %v", sn.PublicIP))
	}
	if r.Name != sn.Name {
		what = append(what, fmt.Sprintf("name %q", sn.Name))
	}
	b.update("subnet", sn.ID, id, what, func(ctx context.Context, a *netApply) (string, error) {
		return id, a.updateSubnet(ctx, sn, id, r.PublicIP != sn.PublicIP)
	})
}

// group adds the change of security group g of v (not its rules); the
// default group is the recovery VPC's own.
func (b *netBuilder) group(v *netVPC, g netGroup) {
	if g.Default {
		id := b.ids[g.ID]
		if id == "" {
			return // made with the VPC
		}
		r := b.groups[id]
		var what []string
		if r.Source != g.ID || r.Name != g.Name {
			what = append(what, "tag")
		}
		b.update("security-group", g.ID, id, what, func(ctx context.Context, a *netApply) (string, error) {
			return id, a.tag(ctx, "security group", id, g.ID, g.Name)
		})
		return
	}
	id := b.groupBy[g.ID]
	if id == "" {
		b.add(NetworkChange{Action: NetCreate, Kind: "security-group", Source: g.ID, Target: g.Name,
			Detail: fmt.Sprintf("group %s (%s)", g.GroupName, g.Desc),
			apply:  func(ctx context.Context, a *netApply) (string, error) { return a.createGroup(ctx, g, v.ID) }})
		return
	}
	b.match(g.ID, id)
	var what []string
	if r := b.groups[id]; r.Name != g.Name {
		what = append(what, fmt.Sprintf("name %q", g.Name))
	}
	b.update("security-group", g.ID, id, what, func(ctx context.Context, a *netApply) (string, error) {
		return id, a.tag(ctx, "security group", id, g.ID, g.Name)
	})
}

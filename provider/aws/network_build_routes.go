package aws

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// ruleSync is what syncRules does to one mirrored security group.
type ruleSync struct {
	group             string // primary group ID
	want              [2][]netRule
	add, extra        [2][]netRule // [0] ingress, [1] egress
	reread, revokeAll bool         // the group did not exist when diffed; revoke extra rules
}

// rules adds the change of the rules of primary group g: rules naming
// another group of the VPC name its mirror; other groups and prefix lists
// are regional or foreign and are not mirrored.
func (b *netBuilder) rules(v *netVPC, g netGroup) {
	rs := ruleSync{group: g.ID}
	for i, rules := range [2][]netRule{g.Ingress, g.Egress} {
		for _, r := range rules {
			switch {
			case strings.HasPrefix(r.Peer, "pl:"):
				b.skip("security-group-rule", g.ID, fmt.Sprintf("%s: prefix lists are regional, not mirrored", r.key()))
			case strings.HasPrefix(r.Peer, "sg:") && !slices.ContainsFunc(v.Groups, func(o netGroup) bool { return "sg:"+o.ID == r.Peer }):
				b.skip("security-group-rule", g.ID, fmt.Sprintf("%s: the group is outside the VPC, not mirrored", r.key()))
			default:
				rs.want[i] = append(rs.want[i], r)
			}
		}
	}
	id := b.ids[g.ID]
	if id == "" {
		rs.reread, rs.revokeAll, rs.add = true, true, rs.want
		b.add(NetworkChange{Action: NetCreate, Kind: "security-group-rules", Source: g.ID, Target: g.GroupName,
			Detail: fmt.Sprintf("%d ingress, %d egress", len(rs.want[0]), len(rs.want[1])),
			apply:  func(ctx context.Context, a *netApply) (string, error) { return a.syncRules(ctx, rs) }})
		return
	}
	r := b.groups[id]
	for i, have := range [2][]netRule{r.Ingress, r.Egress} {
		rs.add[i], rs.extra[i] = ruleDiff(rs.want[i], normRules(have, b.src))
	}
	rs.revokeAll = b.s.Prune
	var what []string
	for i, dir := range []string{"ingress", "egress"} {
		if n := len(rs.add[i]); n > 0 {
			what = append(what, fmt.Sprintf("+%d %s", n, dir))
		}
		if n := len(rs.extra[i]); n > 0 && b.s.Prune {
			what = append(what, fmt.Sprintf("-%d %s", n, dir))
		}
	}
	if extra := len(rs.extra[0]) + len(rs.extra[1]); len(what) == 0 && extra > 0 {
		b.add(NetworkChange{Action: NetStale, Kind: "security-group-rules", Source: g.ID, Target: id,
			Detail: fmt.Sprintf("%d rules not in the primary (kept; --prune revokes them)", extra)})
		return
	}
	b.update("security-group-rules", g.ID, id, what, func(ctx context.Context, a *netApply) (string, error) {
		return a.syncRules(ctx, rs)
	})
}

// normRules rewrites the group peers of recovery rules to the primary
// groups they mirror (src: recovery ID → primary ID).
func normRules(rules []netRule, src map[string]string) []netRule {
	out := slices.Clone(rules)
	for i, r := range out {
		if p, ok := src[strings.TrimPrefix(r.Peer, "sg:")]; ok && strings.HasPrefix(r.Peer, "sg:") {
			out[i].Peer = "sg:" + p
		}
	}
	return out
}

// ruleDiff returns the rules of want missing from have, and those of have
// not in want.
func ruleDiff(want, have []netRule) (add, extra []netRule) {
	keys := func(rs []netRule) map[string]bool {
		m := map[string]bool{}
		for _, r := range rs {
			m[r.key()] = true
		}
		return m
	}
	hk, wk := keys(have), keys(want)
	for _, r := range want {
		if !hk[r.key()] {
			add = append(add, r)
		}
	}
	for _, r := range have {
		if !wk[r.key()] {
			extra = append(extra, r)
		}
	}
	return add, extra
}

// natGateway adds the change of NAT gateway n (a skip unless the plan
// mirrors NAT gateways).
func (b *netBuilder) natGateway(n netNAT) {
	if !b.nat {
		b.skip("nat-gateway", n.ID, "network.natGateways is false: not mirrored, and routes through it are dropped")
		return
	}
	b.wantNAT[n.ID] = true
	if id := b.natBy[n.ID]; id != "" {
		b.match(n.ID, id)
		b.add(NetworkChange{Action: NetOK, Kind: "nat-gateway", Source: n.ID, Target: id})
		return
	}
	detail := "private"
	if !n.Private {
		detail = "public, new Elastic IP"
		if eip := b.eipBy[n.ID]; eip != "" {
			detail = "public, Elastic IP " + eip
		}
	}
	b.add(NetworkChange{Action: NetCreate, Kind: "nat-gateway", Source: n.ID, Target: n.Name, Detail: detail + "; waits until available",
		apply: func(ctx context.Context, a *netApply) (string, error) { return a.createNAT(ctx, n) }})
}

// tableSync is what syncTable does to one mirrored route table.
type tableSync struct {
	table               netTable
	vpc                 string // primary VPC
	create, tag         bool
	add, replace, extra []netRoute
	assoc               []assocOp
}

// assocOp associates the mirror of primary subnet with the table,
// replacing association replace when set.
type assocOp struct {
	subnet, replace string
}

// table adds the change of route table t of v: routes through the
// mirrored gateways (local routes are implicit; others are skipped) and
// subnet associations.
func (b *netBuilder) table(v *netVPC, t netTable) {
	id := b.ids[t.ID]
	if !t.Main {
		id = b.tableBy[t.ID]
		b.match(t.ID, id)
	}
	ts := tableSync{table: t, vpc: v.ID, create: id == "" && !t.Main}
	want := map[string]netRoute{}
	for _, r := range t.Routes {
		switch {
		case r.Kind == "local":
		case strings.HasPrefix(r.Dest, "pl-"):
			b.skip("route", t.ID, fmt.Sprintf("%s → %s: prefix lists are regional, not mirrored", r.Dest, r.Target))
		case r.Kind == "nat" && !b.nat:
			b.skip("route", t.ID, fmt.Sprintf("%s → %s: dropped (network.natGateways is false)", r.Dest, r.Target))
		case r.Kind == "other":
			b.skip("route", t.ID, fmt.Sprintf("%s → %s: not mirrored", r.Dest, r.Target))
		default:
			want[r.Dest] = r
		}
	}
	have := map[string]netRoute{}
	if r, ok := b.tables[id]; ok {
		ts.tag = r.Source != t.ID || r.Name != t.Name
		for _, h := range r.Routes {
			if h.Kind == "igw" || h.Kind == "nat" {
				h.Target = b.src[h.Target]
			}
			if h.Kind != "local" {
				have[h.Dest] = h
			}
		}
	}
	for _, dest := range sortedKeys(want) {
		w := want[dest]
		if h, ok := have[dest]; !ok {
			ts.add = append(ts.add, w)
		} else if h.Kind != w.Kind || h.Target != w.Target {
			ts.replace = append(ts.replace, w)
		}
	}
	for _, dest := range sortedKeys(have) {
		if _, ok := want[dest]; !ok {
			ts.extra = append(ts.extra, have[dest])
		}
	}
	for _, sn := range sortedKeys(t.Assoc) {
		cur := b.assocOf[b.ids[sn]]
		if id == "" || b.ids[sn] == "" || cur[0] != id {
			ts.assoc = append(ts.assoc, assocOp{subnet: sn, replace: cur[1]})
		}
	}
	b.tableChange(t, id, ts)
}

// tableChange adds the change that ts makes to table t (recovery id, ""
// when it does not exist yet).
func (b *netBuilder) tableChange(t netTable, id string, ts tableSync) {
	what := []string{}
	if ts.tag {
		what = append(what, "tag")
	}
	for _, p := range []struct {
		format string
		n      int
	}{{"+%d routes", len(ts.add)}, {"%d routes replaced", len(ts.replace)}, {"+%d subnets", len(ts.assoc)}} {
		if p.n > 0 {
			what = append(what, fmt.Sprintf(p.format, p.n))
		}
	}
	if len(ts.extra) > 0 && b.s.Prune {
		what = append(what, fmt.Sprintf("-%d routes", len(ts.extra)))
	}
	extra := len(ts.extra)
	if !b.s.Prune {
		ts.extra = nil
	}
	apply := func(ctx context.Context, a *netApply) (string, error) { return a.syncTable(ctx, ts) }
	main := ""
	if t.Main {
		main = "main; "
	}
	switch {
	case ts.create:
		b.add(NetworkChange{Action: NetCreate, Kind: "route-table", Source: t.ID, Target: t.Name,
			Detail: fmt.Sprintf("%d routes, %d subnets", len(ts.add), len(ts.assoc)), apply: apply})
	case len(what) > 0:
		b.add(NetworkChange{Action: NetUpdate, Kind: "route-table", Source: t.ID, Target: id,
			Detail: main + strings.Join(what, "; "), apply: apply})
	case id == "":
		b.add(NetworkChange{Action: NetOK, Kind: "route-table", Source: t.ID, Detail: "main; made with the VPC"})
	case extra > 0:
		b.add(NetworkChange{Action: NetStale, Kind: "route-table", Source: t.ID, Target: id,
			Detail: fmt.Sprintf("%d routes not in the primary (kept; --prune deletes them)", extra)})
	default:
		b.update("route-table", t.ID, id, nil, nil)
	}
}

// stale adds the plan's recovery resources whose source is not mirrored
// any more: reported, or deleted (in dependency order) with Prune.
func (b *netBuilder) stale() {
	add := func(kind, id, source string) {
		if _, ok := b.src[id]; ok || source == "" {
			return
		}
		c := NetworkChange{Action: NetStale, Kind: kind, Target: id, Detail: "its source " + source + " is not mirrored (kept; --prune deletes it)"}
		if b.s.Prune {
			c.Action, c.Detail = NetDelete, "its source "+source+" is not mirrored"
			c.apply = func(ctx context.Context, a *netApply) (string, error) { return id, a.delete(ctx, kind, id) }
		}
		b.add(c)
	}
	for _, n := range b.rec.nats {
		add("nat-gateway", n.ID, n.Source)
	}
	for _, t := range b.rec.tables {
		if !t.Main {
			add("route-table", t.ID, t.Source)
		}
	}
	for _, g := range b.rec.groups {
		if !g.Default {
			add("security-group", g.ID, g.Source)
		}
	}
	for _, s := range b.rec.subnets {
		add("subnet", s.ID, s.Source)
	}
	for _, g := range b.rec.igws {
		add("internet-gateway", g.ID, g.Source)
	}
	for _, e := range b.rec.eips {
		if !b.wantNAT[e.Source] {
			add("elastic-ip", e.ID, e.Source)
		}
	}
	for _, v := range b.rec.vpcs {
		add("vpc", v.ID, v.Source)
	}
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

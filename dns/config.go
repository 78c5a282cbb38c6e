package dns

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	mdns "github.com/miekg/dns"
)

// Routing policies of a Record.
const (
	PolicySimple   = "simple"
	PolicyFailover = "failover"
	PolicyWeighted = "weighted"
)

// SOA defaults, in seconds.
const (
	DefaultRefresh = 3600
	DefaultRetry   = 600
	DefaultExpire  = 604800
	DefaultMinTTL  = 30
	DefaultZoneTTL = 3600
)

// maxTXTString is the longest character string of a TXT record; longer
// values are split.
const maxTXTString = 255

// Config is what the server answers for: one or more zones.
type Config struct {
	Zones []Zone
}

// Zone is one zone the server is authoritative for.
type Zone struct {
	// Origin is the zone apex, such as ticketing.test. (a trailing dot is
	// added when missing). Required.
	Origin string
	// MName is the primary name server in the SOA (default ns1.<origin>).
	MName string
	// RName is the mailbox of the zone's administrator, in domain-name form
	// (default hostmaster.<origin>).
	RName string
	// Serial of the SOA (default: the Unix time when the configuration is
	// loaded, so every reload bumps it).
	Serial uint32
	// Refresh, Retry and Expire of the SOA in seconds (default 3600, 600
	// and 604800).
	Refresh, Retry, Expire uint32
	// MinTTL is the SOA minimum: the TTL of negative answers, in seconds
	// (default 30).
	MinTTL uint32
	// TTL of the SOA and NS records in seconds (default 3600).
	TTL uint32
	// NS are the zone's name servers (default: MName).
	NS []string
	// Records are the zone's records, at most one per name and type; a
	// CNAME owns its name.
	Records []Record
}

// Record is one record set with its routing policy.
type Record struct {
	// Name is the absolute owner name, inside the zone. "*" as the first
	// label makes a wildcard.
	Name string
	// Type is A, AAAA, CNAME or TXT (mdns.TypeA and so on).
	Type uint16
	// TTL in seconds.
	TTL uint32
	// Policy is simple, failover or weighted (default simple).
	Policy string
	// Values are the answers of a simple record: addresses for A and AAAA,
	// one name for CNAME, strings for TXT.
	Values []string
	// Primary and Secondary are the answers of a failover record.
	Primary, Secondary []string
	// PrimaryHealth and SecondaryHealth are the health target IDs of the
	// failover targets; "" means always healthy.
	PrimaryHealth, SecondaryHealth string
	// Weighted are the members of a weighted record.
	Weighted []WeightedTarget
}

// WeightedTarget is one member of a weighted record.
type WeightedTarget struct {
	// Values answered when this member is chosen.
	Values []string
	// Weight relative to the other members, >= 0; 0 is never chosen.
	Weight int
	// Health is the member's health target ID; "" means always healthy.
	Health string
}

// table is a compiled Config, read-only once built.
type table struct {
	zones []*zone // longest origin first
}

type zone struct {
	origin string // lower case
	soa    *mdns.SOA
	ns     []mdns.RR
	names  map[string]*node // lower-case owner name → node; includes empty non-terminals
}

// node holds the record sets of one name; none for an empty non-terminal.
type node struct {
	sets  map[uint16]*rrset
	cname *rrset
}

type rrset struct {
	typ      uint16
	ttl      uint32
	policy   string
	simple   []rdata
	primary  target
	second   target
	weighted []weighted
}

type target struct {
	data   []rdata
	health string
}

type weighted struct {
	target
	weight int
}

// rdata is one parsed value.
type rdata struct {
	ip   net.IP
	name string   // CNAME target, absolute
	txt  []string // TXT character strings
}

// compile checks cfg and builds its lookup table; now stamps default serials.
func compile(cfg Config, now time.Time) (*table, error) {
	t := &table{}
	seen := make(map[string]bool)
	for i := range cfg.Zones {
		z, err := compileZone(&cfg.Zones[i], now)
		if err != nil {
			return nil, err
		}
		if seen[z.origin] {
			return nil, fmt.Errorf("dns: config zone %s: duplicate zone", z.origin)
		}
		seen[z.origin] = true
		t.zones = append(t.zones, z)
	}
	slices.SortFunc(t.zones, func(a, b *zone) int { return len(b.origin) - len(a.origin) })
	return t, nil
}

func compileZone(zc *Zone, now time.Time) (*zone, error) {
	origin := strings.ToLower(mdns.Fqdn(zc.Origin))
	if _, ok := mdns.IsDomainName(origin); !ok || zc.Origin == "" {
		return nil, fmt.Errorf("dns: config zone %q: invalid origin", zc.Origin)
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("dns: config zone %s: %s", origin, fmt.Sprintf(format, args...))
	}
	or := func(v, d uint32) uint32 {
		if v == 0 {
			return d
		}
		return v
	}
	mname := mdns.Fqdn(cmpOr(zc.MName, "ns1."+origin))
	rname := mdns.Fqdn(cmpOr(zc.RName, "hostmaster."+origin))
	ttl := or(zc.TTL, DefaultZoneTTL)
	z := &zone{origin: origin, names: map[string]*node{origin: {}}}
	z.soa = &mdns.SOA{
		Hdr:     mdns.RR_Header{Name: origin, Rrtype: mdns.TypeSOA, Class: mdns.ClassINET, Ttl: ttl},
		Ns:      mname,
		Mbox:    rname,
		Serial:  or(zc.Serial, uint32(now.Unix())),
		Refresh: or(zc.Refresh, DefaultRefresh),
		Retry:   or(zc.Retry, DefaultRetry),
		Expire:  or(zc.Expire, DefaultExpire),
		Minttl:  or(zc.MinTTL, DefaultMinTTL),
	}
	ns := zc.NS
	if len(ns) == 0 {
		ns = []string{mname}
	}
	for _, n := range ns {
		if _, ok := mdns.IsDomainName(n); !ok {
			return nil, fail("invalid NS %q", n)
		}
		z.ns = append(z.ns, &mdns.NS{Hdr: mdns.RR_Header{Name: origin, Rrtype: mdns.TypeNS, Class: mdns.ClassINET, Ttl: ttl}, Ns: mdns.Fqdn(n)})
	}
	for i := range zc.Records {
		r := &zc.Records[i]
		if err := z.add(r); err != nil {
			return nil, fail("record %s %s: %v", r.Name, mdns.TypeToString[r.Type], err)
		}
	}
	return z, nil
}

func cmpOr(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// add compiles r into the zone.
func (z *zone) add(r *Record) error {
	name := strings.ToLower(mdns.Fqdn(r.Name))
	if _, ok := mdns.IsDomainName(name); !ok || r.Name == "" {
		return errors.New("invalid name")
	}
	if !mdns.IsSubDomain(z.origin, name) {
		return errors.New("name outside the zone")
	}
	switch r.Type {
	case mdns.TypeA, mdns.TypeAAAA, mdns.TypeTXT:
	case mdns.TypeCNAME:
		if name == z.origin {
			return errors.New("a CNAME cannot be at the zone apex")
		}
	default:
		return errors.New("unsupported type")
	}
	set := &rrset{typ: r.Type, ttl: r.TTL, policy: cmpOr(r.Policy, PolicySimple)}
	var err error
	switch set.policy {
	case PolicySimple:
		set.simple, err = parseValues(r.Type, r.Values)
	case PolicyFailover:
		if set.primary.data, err = parseValues(r.Type, r.Primary); err != nil {
			return fmt.Errorf("primary: %w", err)
		}
		if set.second.data, err = parseValues(r.Type, r.Secondary); err != nil {
			return fmt.Errorf("secondary: %w", err)
		}
		set.primary.health, set.second.health = r.PrimaryHealth, r.SecondaryHealth
	case PolicyWeighted:
		err = set.addWeighted(r)
	default:
		return fmt.Errorf("unknown policy %q", r.Policy)
	}
	if err != nil {
		return err
	}
	n := z.names[name]
	if n == nil {
		n = &node{}
		z.names[name] = n
	}
	switch {
	case n.cname != nil || (r.Type == mdns.TypeCNAME && len(n.sets) > 0):
		return errors.New("a CNAME cannot share its name with other records")
	case r.Type == mdns.TypeCNAME:
		n.cname = set
	case n.sets[r.Type] != nil:
		return errors.New("duplicate record")
	default:
		if n.sets == nil {
			n.sets = make(map[uint16]*rrset)
		}
		n.sets[r.Type] = set
	}
	// Every name between the record and the apex exists (empty
	// non-terminals answer NODATA, not NXDOMAIN).
	for off, end := mdns.NextLabel(name, 0); !end; off, end = mdns.NextLabel(name, off) {
		parent := name[off:]
		if _, ok := z.names[parent]; ok || parent == z.origin {
			break
		}
		z.names[parent] = &node{}
	}
	return nil
}

func (s *rrset) addWeighted(r *Record) error {
	if len(r.Weighted) == 0 {
		return errors.New("no weighted members")
	}
	total := 0
	for i, w := range r.Weighted {
		if w.Weight < 0 {
			return fmt.Errorf("member %d: negative weight %d", i, w.Weight)
		}
		data, err := parseValues(r.Type, w.Values)
		if err != nil {
			return fmt.Errorf("member %d: %w", i, err)
		}
		total += w.Weight
		s.weighted = append(s.weighted, weighted{target: target{data: data, health: w.Health}, weight: w.Weight})
	}
	if total == 0 {
		return errors.New("all weights are 0")
	}
	return nil
}

// parseValues parses the values of one target for type t.
func parseValues(t uint16, vals []string) ([]rdata, error) {
	if len(vals) == 0 {
		return nil, errors.New("no values")
	}
	if t == mdns.TypeCNAME && len(vals) != 1 {
		return nil, fmt.Errorf("a CNAME has one value, got %d", len(vals))
	}
	out := make([]rdata, 0, len(vals))
	for _, v := range vals {
		var d rdata
		switch t {
		case mdns.TypeA, mdns.TypeAAAA:
			a, err := netip.ParseAddr(v)
			if err != nil || a.Zone() != "" || (t == mdns.TypeA) != a.Is4() || a.Is4In6() {
				return nil, fmt.Errorf("invalid %s address %q", mdns.TypeToString[t], v)
			}
			d.ip = net.IP(a.AsSlice())
		case mdns.TypeCNAME:
			if _, ok := mdns.IsDomainName(v); !ok || v == "" {
				return nil, fmt.Errorf("invalid CNAME target %q", v)
			}
			d.name = mdns.Fqdn(v)
		case mdns.TypeTXT:
			for len(v) > maxTXTString {
				d.txt = append(d.txt, v[:maxTXTString])
				v = v[maxTXTString:]
			}
			d.txt = append(d.txt, v)
		}
		out = append(out, d)
	}
	return out, nil
}

// rr builds the resource record of d owned by name.
func (s *rrset) rr(name string, d rdata) mdns.RR {
	h := mdns.RR_Header{Name: name, Rrtype: s.typ, Class: mdns.ClassINET, Ttl: s.ttl}
	switch s.typ {
	case mdns.TypeA:
		return &mdns.A{Hdr: h, A: d.ip}
	case mdns.TypeAAAA:
		return &mdns.AAAA{Hdr: h, AAAA: d.ip}
	case mdns.TypeCNAME:
		return &mdns.CNAME{Hdr: h, Target: d.name}
	default:
		return &mdns.TXT{Hdr: h, Txt: d.txt}
	}
}

// healthIDs returns every health target ID the table refers to.
func (t *table) healthIDs() map[string]bool {
	ids := make(map[string]bool)
	for _, z := range t.zones {
		for _, n := range z.names {
			for _, s := range n.all() {
				for _, id := range []string{s.primary.health, s.second.health} {
					if id != "" {
						ids[id] = true
					}
				}
				for _, w := range s.weighted {
					if w.health != "" {
						ids[w.health] = true
					}
				}
			}
		}
	}
	return ids
}

// all returns the node's record sets in a stable order.
func (n *node) all() []*rrset {
	var out []*rrset
	if n.cname != nil {
		out = append(out, n.cname)
	}
	for _, t := range []uint16{mdns.TypeA, mdns.TypeAAAA, mdns.TypeTXT} {
		if s := n.sets[t]; s != nil {
			out = append(out, s)
		}
	}
	return out
}

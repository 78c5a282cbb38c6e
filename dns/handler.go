package dns

import (
	"net"
	"strings"

	mdns "github.com/miekg/dns"

	"github.com/pilotlight/pilotlight/health"
)

// maxUDPSize is the largest UDP answer the server sends and advertises.
const maxUDPSize = 4096

// maxChain bounds the CNAMEs followed in one answer.
const maxChain = 8

// ServeDNS answers one query; it implements mdns.Handler.
func (s *Server) ServeDNS(w mdns.ResponseWriter, r *mdns.Msg) {
	_, udp := w.LocalAddr().(*net.UDPAddr)
	if m := s.answer(r, udp); m != nil {
		_ = w.WriteMsg(m) // the client is gone; nothing to do
	}
}

// answer builds the reply to r, or nil when r must not be answered. udp
// limits the size of the reply.
func (s *Server) answer(r *mdns.Msg, udp bool) *mdns.Msg {
	m, _ := s.reply(r, udp)
	return m
}

// reply is answer, and also says whether the reply is the same for every
// copy of the query while the configuration and the health states do not
// change (false when a weighted record chose at random).
func (s *Server) reply(r *mdns.Msg, udp bool) (*mdns.Msg, bool) {
	if r == nil || r.Response {
		return nil, false
	}
	m := &mdns.Msg{MsgHdr: mdns.MsgHdr{Id: r.Id, Response: true, Opcode: r.Opcode, RecursionDesired: r.RecursionDesired}}
	if r.Opcode != mdns.OpcodeQuery {
		m.Rcode = mdns.RcodeNotImplemented
		return m, true
	}
	if len(r.Question) != 1 {
		m.Rcode = mdns.RcodeFormatError
		return m, true
	}
	q := r.Question[0]
	m.Question = []mdns.Question{q}
	size := mdns.MinMsgSize
	if opt := r.IsEdns0(); opt != nil {
		m.SetEdns0(maxUDPSize, opt.Do())
		if opt.Version() != 0 {
			m.Rcode = mdns.RcodeBadVers
			return m, true
		}
		size = min(max(int(opt.UDPSize()), mdns.MinMsgSize), maxUDPSize)
	}
	switch {
	case q.Qclass != mdns.ClassINET && q.Qclass != mdns.ClassANY,
		q.Qtype == mdns.TypeAXFR || q.Qtype == mdns.TypeIXFR:
		m.Rcode = mdns.RcodeRefused
		return m, true
	}
	z := s.table.Load().find(strings.ToLower(q.Name))
	if z == nil {
		m.Rcode = mdns.RcodeRefused
		return m, true
	}
	m.Authoritative = true
	random := s.resolve(m, z, q)
	if udp {
		m.Truncate(size)
	} else {
		m.Compress = true
	}
	return m, !random
}

// find returns the zone that holds name (lower case), the deepest first.
func (t *table) find(name string) *zone {
	for _, z := range t.zones {
		if mdns.IsSubDomain(z.origin, name) {
			return z
		}
	}
	return nil
}

// resolve fills the answer to q from z, following CNAMEs in the zone. It
// reports whether a weighted record was chosen at random.
func (s *Server) resolve(m *mdns.Msg, z *zone, q mdns.Question) (random bool) {
	name := q.Name
	for range maxChain {
		n := z.lookup(strings.ToLower(name))
		if n == nil {
			m.Rcode = mdns.RcodeNameError
			m.Ns = append(m.Ns, z.negative())
			return
		}
		if n.cname != nil && q.Qtype != mdns.TypeCNAME {
			random = random || n.cname.policy == PolicyWeighted
			rr := n.cname.rr(name, s.pick(n.cname)[0]).(*mdns.CNAME)
			m.Answer = append(m.Answer, rr)
			if !mdns.IsSubDomain(z.origin, strings.ToLower(rr.Target)) {
				return // out of zone: the client resolves the rest
			}
			name = rr.Target
			continue
		}
		before := len(m.Answer)
		apex := strings.EqualFold(name, z.origin)
		if apex && (q.Qtype == mdns.TypeSOA || q.Qtype == mdns.TypeANY) {
			soa := *z.soa
			soa.Hdr.Name = name
			m.Answer = append(m.Answer, &soa)
		}
		if apex && (q.Qtype == mdns.TypeNS || q.Qtype == mdns.TypeANY) {
			for _, rr := range z.ns {
				ns := *rr.(*mdns.NS)
				ns.Hdr.Name = name
				m.Answer = append(m.Answer, &ns)
			}
		}
		for _, set := range n.all() {
			if q.Qtype == set.typ || q.Qtype == mdns.TypeANY {
				random = random || set.policy == PolicyWeighted
				for _, d := range s.pick(set) {
					m.Answer = append(m.Answer, set.rr(name, d))
				}
			}
		}
		if len(m.Answer) == before { // NODATA
			m.Ns = append(m.Ns, z.negative())
		}
		return
	}
	// A CNAME chain longer than maxChain (or a loop): answer what we have.
	return random
}

// lookup returns the node of name (lower case) or the wildcard that
// covers it, or nil when the name does not exist.
func (z *zone) lookup(name string) *node {
	if n, ok := z.names[name]; ok {
		return n
	}
	// The closest encloser is the deepest existing ancestor; a wildcard
	// directly below it covers the name (RFC 4592).
	for off, end := mdns.NextLabel(name, 0); !end; off, end = mdns.NextLabel(name, off) {
		parent := name[off:]
		if _, ok := z.names[parent]; ok {
			return z.names["*."+parent]
		}
		if len(parent) <= len(z.origin) {
			break
		}
	}
	return nil
}

// negative returns the SOA of a negative answer, whose TTL is the SOA
// minimum (RFC 2308).
func (z *zone) negative() mdns.RR {
	soa := *z.soa
	soa.Hdr.Ttl = min(soa.Hdr.Ttl, soa.Minttl)
	return &soa
}

// pick returns the values to answer for set under its policy.
func (s *Server) pick(set *rrset) []rdata {
	switch set.policy {
	case PolicyFailover:
		if s.healthOf(set.primary.health) == health.Unhealthy && s.healthOf(set.second.health) != health.Unhealthy {
			return set.second.data
		}
		return set.primary.data
	case PolicyWeighted:
		return s.pickWeighted(set.weighted)
	}
	return set.simple
}

// pickWeighted chooses a member by weight among those not Unhealthy, or
// among all when every member is Unhealthy (fail open).
func (s *Server) pickWeighted(ws []weighted) []rdata {
	var up [8]int // indexes of eligible members; records have few
	eligible, total := up[:0], 0
	for i, w := range ws {
		if w.weight > 0 && s.healthOf(w.health) != health.Unhealthy {
			eligible = append(eligible, i)
			total += w.weight
		}
	}
	if total == 0 {
		for i, w := range ws {
			if w.weight > 0 {
				eligible = append(eligible, i)
				total += w.weight
			}
		}
	}
	n := s.intN(total)
	for _, i := range eligible {
		if n < ws[i].weight {
			return ws[i].data
		}
		n -= ws[i].weight
	}
	return ws[eligible[len(eligible)-1]].data
}

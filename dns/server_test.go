package dns

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/pilotlight/pilotlight/health"
)

var fixedClock = func() time.Time { return time.Unix(1700000000, 0) }

// testConfig is a zone with every record type and policy.
func testConfig() Config {
	big := make([]string, 12) // ~1,200 bytes of TXT: too big for 512-byte UDP
	for i := range big {
		big[i] = fmt.Sprintf("%02d-%s", i, strings.Repeat("x", 97))
	}
	return Config{Zones: []Zone{{
		Origin: "Shop.Test",
		NS:     []string{"ns1.shop.test.", "ns2.elsewhere.example."},
		MinTTL: 15,
		Records: []Record{
			{Name: "www.shop.test.", Type: mdns.TypeA, TTL: 5, Policy: PolicyFailover,
				Primary: []string{"127.0.1.2"}, Secondary: []string{"127.0.2.2"},
				PrimaryHealth: "www/primary", SecondaryHealth: "www/recovery"},
			{Name: "www.shop.test.", Type: mdns.TypeTXT, TTL: 60, Values: []string{"hello", strings.Repeat("y", 300)}},
			{Name: "v6.shop.test.", Type: mdns.TypeAAAA, TTL: 60, Values: []string{"2001:db8::1", "2001:db8::2"}},
			{Name: "shop.test.", Type: mdns.TypeA, TTL: 60, Values: []string{"192.0.2.1"}},
			{Name: "docs.shop.test.", Type: mdns.TypeCNAME, TTL: 60, Values: []string{"WWW.shop.test."}},
			{Name: "ext.shop.test.", Type: mdns.TypeCNAME, TTL: 60, Values: []string{"cdn.example.net"}},
			{Name: "loop1.shop.test.", Type: mdns.TypeCNAME, TTL: 60, Values: []string{"loop2.shop.test."}},
			{Name: "loop2.shop.test.", Type: mdns.TypeCNAME, TTL: 60, Values: []string{"loop1.shop.test."}},
			{Name: "deep.a.b.shop.test.", Type: mdns.TypeA, TTL: 60, Values: []string{"192.0.2.9"}},
			{Name: "*.wild.shop.test.", Type: mdns.TypeA, TTL: 60, Values: []string{"192.0.2.7"}},
			{Name: "big.shop.test.", Type: mdns.TypeTXT, TTL: 60, Values: big},
			{Name: "cdn.shop.test.", Type: mdns.TypeA, TTL: 30, Policy: PolicyWeighted, Weighted: []WeightedTarget{
				{Values: []string{"127.0.1.3"}, Weight: 3, Health: "cdn/primary"},
				{Values: []string{"127.0.2.3"}, Weight: 1, Health: "cdn/recovery"},
				{Values: []string{"127.0.3.3"}, Weight: 0},
			}},
		},
	}, {
		Origin:  "sub.shop.test.", // a delegated-looking child zone served here too
		Records: []Record{{Name: "x.sub.shop.test.", Type: mdns.TypeA, TTL: 1, Values: []string{"192.0.2.44"}}},
	}}}
}

func TestRecordsOverUDPAndTCP(t *testing.T) {
	_, udp, tcp := testServer(t, testConfig(), nil, Options{Clock: fixedClock})
	soa := "shop.test.\t15\tIN\tSOA\tns1.shop.test. hostmaster.shop.test. 1700000000 3600 600 604800 15"
	tests := []struct {
		name     string
		qname    string
		qtype    uint16
		rcode    int
		aa       bool
		answer   []string
		negative bool // SOA in the authority section
	}{
		{"A failover", "www.shop.test.", mdns.TypeA, mdns.RcodeSuccess, true, []string{"www.shop.test.\t5\tIN\tA\t127.0.1.2"}, false},
		{"TXT split", "www.shop.test.", mdns.TypeTXT, mdns.RcodeSuccess, true,
			[]string{"www.shop.test.\t60\tIN\tTXT\t\"hello\"", "www.shop.test.\t60\tIN\tTXT\t\"" + strings.Repeat("y", 255) + "\" \"" + strings.Repeat("y", 45) + "\""}, false},
		{"AAAA", "v6.shop.test.", mdns.TypeAAAA, mdns.RcodeSuccess, true,
			[]string{"v6.shop.test.\t60\tIN\tAAAA\t2001:db8::1", "v6.shop.test.\t60\tIN\tAAAA\t2001:db8::2"}, false},
		{"apex A", "shop.test.", mdns.TypeA, mdns.RcodeSuccess, true, []string{"shop.test.\t60\tIN\tA\t192.0.2.1"}, false},
		{"apex SOA", "shop.test.", mdns.TypeSOA, mdns.RcodeSuccess, true, []string{strings.Replace(soa, "\t15\t", "\t3600\t", 1)}, false},
		{"apex NS", "shop.test.", mdns.TypeNS, mdns.RcodeSuccess, true,
			[]string{"shop.test.\t3600\tIN\tNS\tns1.shop.test.", "shop.test.\t3600\tIN\tNS\tns2.elsewhere.example."}, false},
		{"CNAME followed in zone", "docs.shop.test.", mdns.TypeA, mdns.RcodeSuccess, true,
			[]string{"docs.shop.test.\t60\tIN\tCNAME\tWWW.shop.test.", "WWW.shop.test.\t5\tIN\tA\t127.0.1.2"}, false},
		{"CNAME asked", "docs.shop.test.", mdns.TypeCNAME, mdns.RcodeSuccess, true, []string{"docs.shop.test.\t60\tIN\tCNAME\tWWW.shop.test."}, false},
		{"CNAME to NODATA", "docs.shop.test.", mdns.TypeAAAA, mdns.RcodeSuccess, true, []string{"docs.shop.test.\t60\tIN\tCNAME\tWWW.shop.test."}, true},
		{"CNAME out of zone", "ext.shop.test.", mdns.TypeA, mdns.RcodeSuccess, true, []string{"ext.shop.test.\t60\tIN\tCNAME\tcdn.example.net."}, false},
		{"CNAME loop bounded", "loop1.shop.test.", mdns.TypeA, mdns.RcodeSuccess, true, nil, false},
		{"NODATA", "v6.shop.test.", mdns.TypeA, mdns.RcodeSuccess, true, nil, true},
		{"NXDOMAIN", "nope.shop.test.", mdns.TypeA, mdns.RcodeNameError, true, nil, true},
		{"empty non-terminal is NODATA", "a.b.shop.test.", mdns.TypeA, mdns.RcodeSuccess, true, nil, true},
		{"below a leaf is NXDOMAIN", "x.www.shop.test.", mdns.TypeA, mdns.RcodeNameError, true, nil, true},
		{"wildcard", "Any.Wild.shop.test.", mdns.TypeA, mdns.RcodeSuccess, true, []string{"Any.Wild.shop.test.\t60\tIN\tA\t192.0.2.7"}, false},
		{"wildcard deeper", "a.b.wild.shop.test.", mdns.TypeA, mdns.RcodeSuccess, true, []string{"a.b.wild.shop.test.\t60\tIN\tA\t192.0.2.7"}, false},
		{"wildcard NODATA", "x.wild.shop.test.", mdns.TypeTXT, mdns.RcodeSuccess, true, nil, true},
		{"case preserved", "WwW.ShOp.TeSt.", mdns.TypeA, mdns.RcodeSuccess, true, []string{"WwW.ShOp.TeSt.\t5\tIN\tA\t127.0.1.2"}, false},
		{"child zone wins", "x.sub.shop.test.", mdns.TypeA, mdns.RcodeSuccess, true, []string{"x.sub.shop.test.\t1\tIN\tA\t192.0.2.44"}, false},
		{"outside zones", "example.com.", mdns.TypeA, mdns.RcodeRefused, false, nil, false},
		{"parent of zone", "test.", mdns.TypeSOA, mdns.RcodeRefused, false, nil, false},
		{"zone transfer refused", "shop.test.", mdns.TypeAXFR, mdns.RcodeRefused, false, nil, false},
	}
	for _, network := range []string{"udp", "tcp"} {
		addr := udp
		if network == "tcp" {
			addr = tcp
		}
		for _, tt := range tests {
			if tt.qtype == mdns.TypeAXFR && network == "udp" {
				continue
			}
			t.Run(network+"/"+tt.name, func(t *testing.T) {
				r := query(t, network, addr, tt.qname, tt.qtype, 0)
				if r.Rcode != tt.rcode || r.Authoritative != tt.aa || r.RecursionAvailable || r.Truncated {
					t.Fatalf("rcode %s aa %v ra %v tc %v, want %s aa %v", mdns.RcodeToString[r.Rcode], r.Authoritative,
						r.RecursionAvailable, r.Truncated, mdns.RcodeToString[tt.rcode], tt.aa)
				}
				if tt.name == "CNAME loop bounded" {
					if len(r.Answer) != maxChain {
						t.Errorf("loop answered %d records, want %d", len(r.Answer), maxChain)
					}
					return
				}
				if got := answers(r.Answer); !slices.Equal(got, tt.answer) {
					t.Errorf("answer:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.answer, "\n"))
				}
				wantNs := []string(nil)
				if tt.negative {
					wantNs = []string{soa}
				}
				if got := answers(r.Ns); !slices.Equal(got, wantNs) {
					t.Errorf("authority: %v, want %v", got, wantNs)
				}
				if len(r.Question) != 1 || r.Question[0].Name != tt.qname {
					t.Errorf("question not echoed: %v", r.Question)
				}
			})
		}
	}
}

func TestHeaderHandling(t *testing.T) {
	s, err := NewServer(testConfig(), nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	q := func(mut func(m *mdns.Msg)) *mdns.Msg {
		m := new(mdns.Msg)
		m.SetQuestion("www.shop.test.", mdns.TypeA)
		mut(m)
		w := &fakeWriter{udp: true}
		s.ServeDNS(w, m)
		return w.msg
	}
	if r := q(func(m *mdns.Msg) { m.Opcode = mdns.OpcodeNotify }); r.Rcode != mdns.RcodeNotImplemented {
		t.Errorf("NOTIFY: rcode %s", mdns.RcodeToString[r.Rcode])
	}
	if r := q(func(m *mdns.Msg) { m.Question = nil }); r.Rcode != mdns.RcodeFormatError {
		t.Errorf("no question: rcode %s", mdns.RcodeToString[r.Rcode])
	}
	if r := q(func(m *mdns.Msg) { m.Question = append(m.Question, m.Question[0]) }); r.Rcode != mdns.RcodeFormatError {
		t.Errorf("two questions: rcode %s", mdns.RcodeToString[r.Rcode])
	}
	if r := q(func(m *mdns.Msg) { m.Response = true }); r != nil {
		t.Errorf("answered a response: %v", r)
	}
	if r := q(func(m *mdns.Msg) { m.Question[0].Qclass = mdns.ClassCHAOS }); r.Rcode != mdns.RcodeRefused {
		t.Errorf("CHAOS: rcode %s", mdns.RcodeToString[r.Rcode])
	}
	r := q(func(m *mdns.Msg) { m.RecursionDesired = true })
	if !r.RecursionDesired || r.RecursionAvailable || !r.Authoritative || len(r.Answer) != 1 {
		t.Errorf("RD query: %v", r)
	}
	r = q(func(m *mdns.Msg) { m.SetEdns0(1232, true); m.IsEdns0().SetVersion(1) })
	if r.Rcode != mdns.RcodeBadVers || r.IsEdns0() == nil {
		t.Errorf("EDNS version 1: rcode %s, opt %v", mdns.RcodeToString[r.Rcode], r.IsEdns0())
	}
}

func TestEDNSAndTruncation(t *testing.T) {
	_, udp, tcp := testServer(t, testConfig(), nil, Options{})
	// Without EDNS0 the 1.2 KB TXT set does not fit in 512 bytes.
	r := query(t, "udp", udp, "big.shop.test.", mdns.TypeTXT, 0)
	if !r.Truncated || len(r.Answer) == 12 {
		t.Fatalf("no truncation: tc %v, %d answers", r.Truncated, len(r.Answer))
	}
	if r.IsEdns0() != nil {
		t.Error("OPT in a reply to a query without EDNS0")
	}
	// The client retries over TCP and gets all of it.
	r = query(t, "tcp", tcp, "big.shop.test.", mdns.TypeTXT, 0)
	if r.Truncated || len(r.Answer) != 12 {
		t.Fatalf("tcp: tc %v, %d answers", r.Truncated, len(r.Answer))
	}
	// EDNS0 with a large buffer: it fits in UDP; OPT echoed.
	r = query(t, "udp", udp, "big.shop.test.", mdns.TypeTXT, 4096)
	if r.Truncated || len(r.Answer) != 12 {
		t.Fatalf("edns 4096: tc %v, %d answers", r.Truncated, len(r.Answer))
	}
	opt := r.IsEdns0()
	if opt == nil || opt.UDPSize() != maxUDPSize {
		t.Fatalf("OPT not echoed: %v", opt)
	}
	// EDNS0 with a small buffer is honoured.
	r = query(t, "udp", udp, "big.shop.test.", mdns.TypeTXT, 600)
	if !r.Truncated || r.IsEdns0() == nil || r.Len() > 600 {
		t.Fatalf("edns 600: tc %v, %d bytes", r.Truncated, r.Len())
	}
	// A stub client sees TC over UDP and retries the same message over TCP.
	c := &mdns.Client{Net: "udp", Timeout: 2 * time.Second}
	m := new(mdns.Msg)
	m.SetQuestion("big.shop.test.", mdns.TypeTXT)
	r, _, err := c.Exchange(m, udp)
	if err != nil || !r.Truncated {
		t.Fatalf("udp: %v, %v", r, err)
	}
	c.Net = "tcp"
	if r, _, err = c.Exchange(m, tcp); err != nil || r.Truncated || len(r.Answer) != 12 {
		t.Fatalf("tcp retry: %v, %v", r, err)
	}
}

func TestFailoverFollowsHealth(t *testing.T) {
	src := newFakeSource()
	_, udp, tcp := testServer(t, testConfig(), src, Options{})
	steps := []struct {
		primary, recovery health.State
		want              string
	}{
		{health.Unknown, health.Unknown, "127.0.1.2"},
		{health.Healthy, health.Healthy, "127.0.1.2"},
		{health.Unhealthy, health.Healthy, "127.0.2.2"},
		{health.Unhealthy, health.Unknown, "127.0.2.2"},
		{health.Unhealthy, health.Unhealthy, "127.0.1.2"}, // fail open
		{health.Healthy, health.Unhealthy, "127.0.1.2"},
		{health.Unknown, health.Unhealthy, "127.0.1.2"},
	}
	for _, st := range steps {
		src.set("www/primary", st.primary)
		src.set("www/recovery", st.recovery)
		// The answer changes at once: no poll, no cache.
		r := query(t, "udp", udp, "www.shop.test.", mdns.TypeA, 0)
		if len(r.Answer) != 1 || r.Answer[0].(*mdns.A).A.String() != st.want {
			t.Errorf("primary %s recovery %s: %v, want %s", st.primary, st.recovery, answers(r.Answer), st.want)
		}
	}
	// Through a CNAME too.
	src.set("www/primary", health.Unhealthy)
	src.set("www/recovery", health.Healthy)
	r := query(t, "tcp", tcp, "docs.shop.test.", mdns.TypeA, 0)
	if len(r.Answer) != 2 || r.Answer[1].(*mdns.A).A.String() != "127.0.2.2" {
		t.Errorf("CNAME to failover: %v", answers(r.Answer))
	}
}

func TestStartErrors(t *testing.T) {
	s, udp, _ := testServer(t, testConfig(), nil, Options{})
	if _, _, err := s.Start(context.Background(), "127.0.0.1:0"); err == nil {
		t.Error("second Start succeeded")
	}
	s2, err := NewServer(testConfig(), nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s2.Start(context.Background(), udp); err == nil || !strings.Contains(err.Error(), "dns: listen") {
		t.Errorf("Start on a bound address: %v", err)
	}
	if _, _, err := s2.Start(context.Background(), "nonsense"); err == nil {
		t.Error("Start on a bad address succeeded")
	}
}

func TestListenAndServeStops(t *testing.T) {
	s, err := NewServer(testConfig(), newFakeSource(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := s.ListenAndServe(ctx, "127.0.0.1:0"); err != nil {
		t.Fatalf("ListenAndServe: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("stop took %s", d)
	}
}

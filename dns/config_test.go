package dns

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	mdns "github.com/miekg/dns"

	"github.com/pilotlight/pilotlight/plan"
)

func TestConfigErrors(t *testing.T) {
	a := func(name string, vals ...string) Record {
		return Record{Name: name, Type: mdns.TypeA, TTL: 1, Values: vals}
	}
	tests := []struct {
		name string
		zone Zone
		want string
	}{
		{"bad origin", Zone{Origin: "a..b"}, `dns: config zone "a..b": invalid origin`},
		{"empty origin", Zone{}, `dns: config zone "": invalid origin`},
		{"outside", Zone{Origin: "z.", Records: []Record{a("www.other.", "192.0.2.1")}}, "dns: config zone z.: record www.other. A: name outside the zone"},
		{"bad A", Zone{Origin: "z.", Records: []Record{a("www.z.", "2001:db8::1")}}, `record www.z. A: invalid A address "2001:db8::1"`},
		{"bad AAAA", Zone{Origin: "z.", Records: []Record{{Name: "v.z.", Type: mdns.TypeAAAA, Values: []string{"192.0.2.1"}}}}, `invalid AAAA address "192.0.2.1"`},
		{"no values", Zone{Origin: "z.", Records: []Record{a("www.z.")}}, "record www.z. A: no values"},
		{"duplicate", Zone{Origin: "z.", Records: []Record{a("www.z.", "192.0.2.1"), a("WWW.z.", "192.0.2.2")}}, "record WWW.z. A: duplicate record"},
		{"cname beside", Zone{Origin: "z.", Records: []Record{a("www.z.", "192.0.2.1"), {Name: "www.z.", Type: mdns.TypeCNAME, Values: []string{"x."}}}},
			"a CNAME cannot share its name"},
		{"cname apex", Zone{Origin: "z.", Records: []Record{{Name: "z.", Type: mdns.TypeCNAME, Values: []string{"x."}}}}, "a CNAME cannot be at the zone apex"},
		{"two cname values", Zone{Origin: "z.", Records: []Record{{Name: "c.z.", Type: mdns.TypeCNAME, Values: []string{"x.", "y."}}}}, "a CNAME has one value, got 2"},
		{"MX", Zone{Origin: "z.", Records: []Record{{Name: "m.z.", Type: mdns.TypeMX, Values: []string{"x."}}}}, "unsupported type"},
		{"policy", Zone{Origin: "z.", Records: []Record{{Name: "p.z.", Type: mdns.TypeA, Policy: "geo", Values: []string{"192.0.2.1"}}}}, `unknown policy "geo"`},
		{"failover secondary", Zone{Origin: "z.", Records: []Record{{Name: "f.z.", Type: mdns.TypeA, Policy: PolicyFailover, Primary: []string{"192.0.2.1"}}}}, "secondary: no values"},
		{"weights zero", Zone{Origin: "z.", Records: []Record{{Name: "w.z.", Type: mdns.TypeA, Policy: PolicyWeighted,
			Weighted: []WeightedTarget{{Values: []string{"192.0.2.1"}}}}}}, "all weights are 0"},
		{"weight negative", Zone{Origin: "z.", Records: []Record{{Name: "w.z.", Type: mdns.TypeA, Policy: PolicyWeighted,
			Weighted: []WeightedTarget{{Values: []string{"192.0.2.1"}, Weight: -1}}}}}, "member 0: negative weight -1"},
		{"no members", Zone{Origin: "z.", Records: []Record{{Name: "w.z.", Type: mdns.TypeA, Policy: PolicyWeighted}}}, "no weighted members"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewServer(Config{Zones: []Zone{tt.zone}}, nil, Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewServer = %v, want %q", err, tt.want)
			}
		})
	}
	_, err := NewServer(Config{Zones: []Zone{{Origin: "z."}, {Origin: "Z"}}}, nil, Options{})
	if err == nil || !strings.Contains(err.Error(), "duplicate zone") {
		t.Errorf("duplicate zone: %v", err)
	}
}

func TestConfigFromPlan(t *testing.T) {
	p, err := plan.Load("../plan/testdata/good/records.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ConfigFromPlan(p, testLBAddr(p))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Zones) != 1 || cfg.Zones[0].Origin != "records.test." {
		t.Fatalf("zones: %+v", cfg.Zones)
	}
	byName := make(map[string]Record)
	for _, r := range cfg.Zones[0].Records {
		byName[r.Name+" "+mdns.TypeToString[r.Type]] = r
	}
	www := byName["www.records.test. A"]
	if www.Policy != PolicyFailover || !slices.Equal(www.Primary, []string{"127.0.1.2"}) || !slices.Equal(www.Secondary, []string{"127.0.2.2"}) ||
		www.PrimaryHealth != "www/primary" || www.SecondaryHealth != "www/recovery" || www.TTL != 5 {
		t.Errorf("www: %+v", www)
	}
	if txt := byName["www.records.test. TXT"]; txt.Policy != PolicySimple || len(txt.Values) != 2 || txt.PrimaryHealth != "" {
		t.Errorf("txt: %+v", txt)
	}
	if api := byName["api.records.test. A"]; len(api.Primary) != 2 || api.Secondary[0] != "198.51.100.10" || api.SecondaryHealth != "api/recovery" {
		t.Errorf("api: %+v", api)
	}
	cdn := byName["cdn.records.test. CNAME"]
	if len(cdn.Weighted) != 2 || cdn.Weighted[0].Weight != 3 || cdn.Weighted[1].Values[0] != "cdn-b.example.net." || cdn.Weighted[0].Health != "" {
		t.Errorf("cdn: %+v", cdn)
	}
	if slow := byName["slow.records.test. A"]; !slices.Equal(slow.Values, []string{"127.0.1.2"}) {
		t.Errorf("simple service record answers the primary region: %+v", slow)
	}
	// The configuration is served as is.
	_, udp, _ := testServer(t, cfg, nil, Options{})
	r := query(t, "udp", udp, "docs.records.test.", mdns.TypeA, 0)
	if got := answers(r.Answer); len(got) != 2 || !strings.HasSuffix(got[1], "127.0.1.2") {
		t.Errorf("docs: %v", got)
	}
	r = query(t, "udp", udp, "RECORDS.test.", mdns.TypeA, 0)
	if got := answers(r.Answer); len(got) != 1 || got[0] != "RECORDS.test.\t60\tIN\tA\t192.0.2.1" {
		t.Errorf("apex: %v", got)
	}
}

func TestConfigFromPlanErrors(t *testing.T) {
	p, err := plan.Load("../plan/testdata/good/records.yaml")
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	_, err = ConfigFromPlan(p, func(string, *plan.Service) (netip.Addr, error) { return netip.Addr{}, boom })
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "dns: config from plan record www: load balancer of web in the primary region") {
		t.Errorf("lbAddr error: %v", err)
	}
	_, err = ConfigFromPlan(p, func(string, *plan.Service) (netip.Addr, error) { return netip.MustParseAddr("2001:db8::1"), nil })
	if err == nil || !strings.Contains(err.Error(), "does not fit type A") {
		t.Errorf("v6 load balancer for an A record: %v", err)
	}
	if cfg, err := ConfigFromPlan(&plan.Plan{}, nil); err != nil || len(cfg.Zones) != 0 {
		t.Errorf("no routing: %+v, %v", cfg, err)
	}
}

// testLBAddr places service i's load balancer at host .(2+i) of the
// region's network, as the local provider does (provider/local owns the
// real rule: local.LBAddrFunc).
func testLBAddr(p *plan.Plan) LBAddr {
	return func(role string, svc *plan.Service) (netip.Addr, error) {
		reg := p.Regions.Primary
		if role == RoleRecovery {
			reg = p.Regions.Recovery
		}
		for i := range p.Services {
			if p.Services[i].Name == svc.Name {
				a := netip.MustParsePrefix(reg.Network).Masked().Addr().As4()
				a[3] = byte(2 + i)
				return netip.AddrFrom4(a), nil
			}
		}
		return netip.Addr{}, fmt.Errorf("service %q not in the plan", svc.Name)
	}
}

package plan

import (
	"strings"
	"testing"
	"time"
)

func TestWarningsFromFile(t *testing.T) {
	p, err := Load("testdata/good/records.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ws := p.Warnings()
	if len(ws) != 1 {
		t.Fatalf("Warnings = %v, want one", ws)
	}
	want := "testdata/good/records.yaml:34:34: warning: routing.records[7].ttl: 60s is above the RTO objective (30s): " +
		"resolvers may keep the old answer longer than the objective allows"
	if got := ws[0].Error(); got != want {
		t.Errorf("warning:\n%s\nwant:\n%s", got, want)
	}
	if !ws[0].Warning {
		t.Error("Warning flag not set")
	}
	r := p.Routing.Records
	if r[1].Type != TypeTXT || r[0].Type != TypeA || r[5].HealthCheck.Vantages != 5 || r[5].HealthCheck.Rule != "all" ||
		r[0].HealthCheck.Rule != ">60%" || r[6].HealthCheck != nil {
		t.Errorf("records decoded wrongly: %+v", r)
	}
}

func TestWarningsProgrammatic(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(p *Plan)
		want   string
	}{
		{"none", func(*Plan) {}, ""},
		{"ttl above rto", func(p *Plan) { p.Objectives.RTO = Duration(30 * time.Second) },
			"routing.records[0].ttl: 60s is above the RTO objective (30s): resolvers may keep the old answer longer than the objective allows"},
		{"failover detection above rto", func(p *Plan) {
			p.Objectives.RTO = Duration(10 * time.Second)
			p.Routing.Records[0].TTL = 5
		}, "routing.records[0].healthCheck: failover can take 11s (3 failures x 2s + ttl 5s), above the RTO objective (10s)"},
		{"ttl equal to rto", func(p *Plan) {
			p.Objectives.RTO = Duration(time.Hour)
			p.Routing.Records[0].TTL = 3600
		}, "routing.records[0].healthCheck: failover can take 1h0m6s (3 failures x 2s + ttl 3600s), above the RTO objective (1h)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := validPlan()
			tt.mutate(p)
			if err := p.Validate(); err != nil {
				t.Fatalf("a warning made the plan invalid: %v", err)
			}
			want := tt.want
			if want != "" {
				want = "warning: " + want
			}
			if got := p.Warnings().Error(); got != want {
				t.Errorf("Warnings:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestValidateRecordTargets(t *testing.T) {
	tests := []struct {
		name   string
		record Record
		want   string
	}{
		{"fixed A", Record{Name: "a", Values: []string{"192.0.2.1", "192.0.2.2"}}, ""},
		{"fixed failover", Record{Name: "a", Policy: PolicyFailover, Primary: []string{"192.0.2.1"}, Recovery: []string{"192.0.2.2"},
			HealthCheck: &HealthCheck{Port: 80}}, ""},
		{"txt long", Record{Name: "t", Type: TypeTXT, Values: []string{strings.Repeat("x", MaxTXTLength+1)}},
			"routing.records[1].values[0]: must be at most 4000 bytes for type TXT, got 4001"},
		{"empty values", Record{Name: "a", Values: []string{}}, "routing.records[1].values: must list at least one value"},
		{"aaaa with zone", Record{Name: "a", Type: TypeAAAA, Values: []string{"fe80::1%eth0"}},
			`routing.records[1].values[0]: must be an IPv6 address for type AAAA, got "fe80::1%eth0"`},
		{"cname wildcard", Record{Name: "c", Type: TypeCNAME, Values: []string{"*.example."}},
			`routing.records[1].values[0]: must be a domain name for type CNAME, got "*.example."`},
		{"cname beside A", Record{Name: "www", Type: TypeCNAME, Values: []string{"x.example."}},
			`routing.records[1].name: a CNAME cannot share its name: "www" (also routing.records[0])`},
		{"A beside cname", Record{Name: "c", Type: TypeCNAME, Values: []string{"x.example."}}, ""},
		{"AAAA beside A", Record{Name: "www", Type: TypeAAAA, Values: []string{"2001:db8::1"}}, ""},
		{"weighted to recovery only names it", Record{Name: "w", Policy: PolicyWeighted, Service: "api", Weights: &Weights{Recovery: 1}},
			`routing.records[1].service: service "api" has no loadBalancer, so the record has no target in region virginia (recovery)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := validPlan()
			p.Services = append(p.Services, Service{Name: "api", Tier: 1, Compute: p.Services[0].Compute})
			p.Routing.Records = append(p.Routing.Records, tt.record)
			p.Default()
			err := p.Validate()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("Validate:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

package plan

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Summary is what `pilotlight plan` shows: the objectives, the regions,
// what is protected and how a recovery would proceed. It marshals to JSON
// for `-o json`.
type Summary struct {
	Name          string                `json:"name"`
	File          string                `json:"file,omitempty"`
	Strategy      Strategy              `json:"strategy"`
	RTO           Duration              `json:"rto"`
	RPO           Duration              `json:"rpo"`
	Primary       RegionSummary         `json:"primary"`
	Recovery      RegionSummary         `json:"recovery"`
	Protected     []ProtectedSummary    `json:"protected"`
	Tiers         []TierSummary         `json:"tiers"`
	Order         []string              `json:"order"`
	LoadBalancers []LoadBalancerSummary `json:"loadBalancers"`
	Zone          string                `json:"zone,omitempty"`
	Records       []RecordSummary       `json:"records"`
}

// RegionSummary is one region: its name, provider and where it is (the
// network of a local region, the profile and role of an AWS region).
type RegionSummary struct {
	Name     string   `json:"name"`
	Provider Provider `json:"provider"`
	Where    string   `json:"where,omitempty"`
}

// ProtectedSummary is one protected resource and its policy.
type ProtectedSummary struct {
	Kind   string `json:"kind"` // bucket, volume, database, image or repository
	Name   string `json:"name"`
	Target string `json:"target,omitempty"` // the name in the recovery region
	Policy string `json:"policy,omitempty"`
}

// TierSummary is the services of one tier.
type TierSummary struct {
	Tier     int              `json:"tier"`
	Services []ServiceSummary `json:"services"`
}

// ServiceSummary says what runs of a service in the recovery region before
// a disaster (Running) and what the recovery starts (Starts) to reach Count.
type ServiceSummary struct {
	Name      string   `json:"name"`
	DependsOn []string `json:"dependsOn,omitempty"`
	Count     int      `json:"count"`
	Running   int      `json:"running"`
	Starts    int      `json:"starts"`
}

// LoadBalancerSummary is the load balancer of a service.
type LoadBalancerSummary struct {
	Service     string    `json:"service"`
	Port        int       `json:"port"`
	Algorithm   Algorithm `json:"algorithm"`
	HealthCheck string    `json:"healthCheck,omitempty"`
}

// RecordSummary is a DNS record and how it moves traffic.
type RecordSummary struct {
	Name        string `json:"name"`
	Service     string `json:"service"`
	Policy      Policy `json:"policy"`
	TTL         int    `json:"ttl"`
	Moves       string `json:"moves"`
	HealthCheck string `json:"healthCheck,omitempty"`
}

// Describe summarises a valid plan.
func Describe(p *Plan) Summary {
	s := Summary{
		Name: p.Name, File: p.file, Strategy: p.Strategy,
		RTO: p.Objectives.RTO, RPO: p.Objectives.RPO,
		Primary: describeRegion(&p.Regions.Primary), Recovery: describeRegion(&p.Regions.Recovery),
		Protected: []ProtectedSummary{}, Tiers: []TierSummary{}, Order: []string{},
		LoadBalancers: []LoadBalancerSummary{}, Records: []RecordSummary{},
	}
	for _, b := range p.Data.Buckets {
		s.Protected = append(s.Protected, ProtectedSummary{Kind: "bucket", Name: b.Name, Target: b.RecoveryName(),
			Policy: fmt.Sprintf("deletes %s, archived %s", b.Deletes, b.Archived)})
	}
	for _, v := range p.Data.Volumes {
		s.Protected = append(s.Protected, ProtectedSummary{Kind: "volume", Name: v.ID, Policy: "snapshots copied"})
	}
	for _, d := range p.Data.Databases {
		policy := "snapshots copied"
		if d.Engine != "" {
			policy = d.Engine + " " + policy
		}
		s.Protected = append(s.Protected, ProtectedSummary{Kind: "database", Name: d.ID, Policy: policy})
	}
	for _, i := range p.Data.Images {
		s.Protected = append(s.Protected, ProtectedSummary{Kind: "image", Name: i.Repository, Policy: "replicated"})
	}
	for _, r := range p.Data.Repositories {
		s.Protected = append(s.Protected, ProtectedSummary{Kind: "repository", Name: r.URL, Policy: "mirrored"})
	}
	for _, tier := range p.Tiers() {
		ts := TierSummary{Tier: tier[0].Tier}
		for _, svc := range tier {
			running := 0
			switch p.Strategy {
			case WarmStandby:
				running = svc.Compute.Standby
			case ActiveActive:
				running = svc.Compute.Count
			}
			ts.Services = append(ts.Services, ServiceSummary{Name: svc.Name, DependsOn: svc.DependsOn,
				Count: svc.Compute.Count, Running: running, Starts: max(svc.Compute.Count-running, 0)})
		}
		s.Tiers = append(s.Tiers, ts)
	}
	if order, err := p.TopoOrder(); err == nil {
		for _, svc := range order {
			s.Order = append(s.Order, svc.Name)
		}
	}
	for _, svc := range p.Services {
		if lb := svc.LoadBalancer; lb != nil {
			s.LoadBalancers = append(s.LoadBalancers, LoadBalancerSummary{Service: svc.Name, Port: lb.Port,
				Algorithm: lb.Algorithm, HealthCheck: describeCheck(lb.HealthCheck)})
		}
	}
	if rt := p.Routing; rt != nil {
		s.Zone = rt.Zone
		for _, r := range rt.Records {
			s.Records = append(s.Records, RecordSummary{Name: r.FQDN(rt.Zone), Service: r.Service, Policy: r.Policy,
				TTL: r.TTL, Moves: describeMove(p, &r), HealthCheck: describeCheck(r.HealthCheck)})
		}
	}
	return s
}

func describeRegion(r *Region) RegionSummary {
	rs := RegionSummary{Name: r.Name, Provider: r.Provider}
	var where []string
	switch r.Provider {
	case ProviderLocal:
		where = append(where, r.Network)
	case ProviderAWS:
		if r.Profile != "" {
			where = append(where, "profile "+r.Profile)
		}
		if r.RoleARN != "" {
			where = append(where, "role "+r.RoleARN)
		}
		if r.Endpoint != "" {
			where = append(where, "endpoint "+r.Endpoint)
		}
	}
	rs.Where = strings.Join(where, ", ")
	return rs
}

// describeMove says how a record moves traffic to the recovery region.
func describeMove(p *Plan, r *Record) string {
	pri, rec := p.Regions.Primary.Name, p.Regions.Recovery.Name
	if r.Values != nil {
		return "fixed " + string(r.Type) + " values, not moved"
	}
	switch r.Policy {
	case PolicyFailover:
		return fmt.Sprintf("to %s when %s fails its check", rec, pri)
	case PolicyWeighted:
		if r.Weights != nil {
			return fmt.Sprintf("%s %d / %s %d; recovery sends all to %s", pri, r.Weights.Primary, rec, r.Weights.Recovery, rec)
		}
	}
	return "switched to " + rec + " by the recovery"
}

// describeCheck formats a health check on one line.
func describeCheck(hc *HealthCheck) string {
	if hc == nil {
		return ""
	}
	parts := []string{string(hc.Type)}
	if hc.Port != 0 {
		parts = append(parts, ":"+strconv.Itoa(hc.Port))
	}
	if hc.Path != "" {
		parts = append(parts, hc.Path)
	}
	return fmt.Sprintf("%s every %s, timeout %s, down after %d, up after %d",
		strings.Join(parts, " "), hc.Interval, hc.Timeout, hc.FailureThreshold, hc.SuccessThreshold)
}

// WriteText writes the summary for a person to read.
func (s Summary) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	p := func(format string, args ...any) { fmt.Fprintf(tw, format, args...) }
	p("Plan %s", s.Name)
	if s.File != "" {
		p(" (%s)", s.File)
	}
	p("\n  strategy\t%s\n  objectives\tRTO %s, RPO %s\n\n", s.Strategy, s.RTO, s.RPO)
	p("Regions\n")
	for _, r := range []struct {
		role string
		r    RegionSummary
	}{{"primary", s.Primary}, {"recovery", s.Recovery}} {
		p("  %s\t%s\t%s", r.role, r.r.Name, r.r.Provider)
		if r.r.Where != "" {
			p("\t%s", r.r.Where)
		}
		p("\n")
	}
	p("\nProtected data, copied to %s\n", s.Recovery.Name)
	if len(s.Protected) == 0 {
		p("  nothing\n")
	}
	for _, d := range s.Protected {
		name := d.Name
		if d.Target != "" {
			name += " -> " + d.Target
		}
		p("  %s\t%s\t%s\n", d.Kind, name, d.Policy)
	}
	p("\nRecovery in %s, by tier\n", s.Recovery.Name)
	if len(s.Tiers) == 0 {
		p("  no services\n")
	} else {
		p("  TIER\tSERVICE\tDEPENDS ON\tRUNNING NOW\tRECOVERY STARTS\tTOTAL\n")
	}
	for _, t := range s.Tiers {
		for _, svc := range t.Services {
			deps := strings.Join(svc.DependsOn, ", ")
			if deps == "" {
				deps = "-"
			}
			p("  %d\t%s\t%s\t%d\t%d\t%d\n", t.Tier, svc.Name, deps, svc.Running, svc.Starts, svc.Count)
		}
	}
	if len(s.Order) > 0 {
		p("  start order: %s\n", strings.Join(s.Order, ", "))
	}
	if len(s.LoadBalancers) > 0 {
		p("\nLoad balancers\n  SERVICE\tPORT\tALGORITHM\tHEALTH CHECK\n")
		for _, lb := range s.LoadBalancers {
			p("  %s\t%d\t%s\t%s\n", lb.Service, lb.Port, lb.Algorithm, lb.HealthCheck)
		}
	}
	if s.Zone != "" {
		p("\nDNS records in %s\n", s.Zone)
		if len(s.Records) > 0 {
			p("  NAME\tPOLICY\tTTL\tSERVICE\tMOVES\tHEALTH CHECK\n")
		}
		for _, r := range s.Records {
			hc := r.HealthCheck
			if hc == "" {
				hc = "-"
			}
			p("  %s\t%s\t%ds\t%s\t%s\t%s\n", r.Name, r.Policy, r.TTL, r.Service, r.Moves, hc)
		}
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("plan: write summary: %w", err)
	}
	return nil
}

package plan

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"time"
)

// MaxTXTLength is the longest TXT value accepted, in bytes; values longer
// than 255 bytes are served as several character strings.
const MaxTXTLength = 4000

// ruleRE matches a vantage-point rule.
var ruleRE = regexp.MustCompile(`^(any|all|majority|>[0-9]{1,2}%)$`)

func (v *validator) routing(p *Plan) {
	rt := p.Routing
	if v.requiredString("routing.zone", rt.Zone) {
		zone := strings.TrimSuffix(rt.Zone, ".")
		if len(zone) > 253 || !dnsName.MatchString(zone) || strings.HasPrefix(zone, "*") {
			v.add("routing.zone", "must be a domain name like example.com., got %q", rt.Zone)
		}
	}
	seen := make(map[string]int)
	for i := range rt.Records {
		r := rt.Records[i] // a copy: an empty type means the default, A
		if r.Type == "" {
			r.Type = TypeA
		}
		path := fmt.Sprintf("routing.records[%d]", i)
		if v.requiredString(path+".name", r.Name) {
			name := strings.ToLower(r.Name)
			switch {
			case strings.HasSuffix(name, "."):
				v.add(path+".name", "must be relative to the zone, without a trailing dot; got %q", r.Name)
			case name != "@" && (len(name) > 253 || !dnsName.MatchString(name)):
				v.add(path+".name", "must be a DNS name relative to the zone, such as www, or @; got %q", r.Name)
			}
			// One record per name and type; a CNAME owns its name.
			key, other := name+" "+string(r.Type), name+" CNAME"
			if r.Type == TypeCNAME {
				other = name
			}
			if j, dup := seen[key]; dup {
				v.add(path+".name", "duplicate record %q (also routing.records[%d])", r.Name, j)
			} else if j, dup := seen[other]; dup {
				v.add(path+".name", "a CNAME cannot share its name: %q (also routing.records[%d])", r.Name, j)
			}
			seen[key] = i
			if _, ok := seen[name]; !ok {
				seen[name] = i
			}
			if r.Type == TypeCNAME {
				if name == "@" {
					v.add(path+".type", "a CNAME cannot be at the zone apex")
				}
			}
		}
		oneOf(v, path+".type", r.Type, RecordTypes)
		oneOf(v, path+".policy", r.Policy, Policies)
		v.between(path+".ttl", r.TTL, 0, 86400)
		v.recordTargets(p, path, &r)
		v.recordWeights(path, &r)
		switch {
		case r.HealthCheck != nil:
			hp := path + ".healthCheck"
			v.healthCheck(hp, r.HealthCheck)
			v.between(hp+".vantages", r.HealthCheck.Vantages, 1, 9)
			if !ruleRE.MatchString(r.HealthCheck.Rule) {
				v.add(hp+".rule", "must be any, all, majority or >N%% with N from 0 to 99, got %q", r.HealthCheck.Rule)
			}
			if r.Service == "" && r.HealthCheck.Port == 0 && r.HealthCheck.Type != "" {
				v.add(hp+".port", "required when the record has no service to take the port from")
			}
		case r.Policy == PolicyFailover:
			v.add(path+".healthCheck", "required for policy failover")
		}
		v.recordObjective(p, path, &r)
	}
}

// recordTargets checks that a record has exactly one kind of target and
// that every fixed target has the form its type needs.
func (v *validator) recordTargets(p *Plan, path string, r *Record) {
	fixed := r.Primary != nil || r.Recovery != nil
	kinds := 0
	for _, set := range []bool{r.Service != "", r.Values != nil, fixed} {
		if set {
			kinds++
		}
	}
	switch {
	case kinds == 0:
		v.add(path, "needs one of service, values, or primary and recovery")
		return
	case kinds > 1:
		v.add(path, "must have only one of service, values, or primary and recovery")
		return
	}
	switch {
	case r.Service != "":
		v.recordService(p, path, r)
	case r.Values != nil:
		if r.Policy != PolicySimple {
			v.add(path+".values", "only valid for policy simple; failover and weighted records use primary and recovery")
			return
		}
		v.recordValues(path+".values", r.Type, r.Values)
	default:
		if r.Policy == PolicySimple {
			v.add(path+".primary", "only valid for policy failover or weighted; simple records use values")
			return
		}
		for _, f := range []struct {
			name string
			vals []string
		}{{"primary", r.Primary}, {"recovery", r.Recovery}} {
			if f.vals == nil {
				v.add(path+"."+f.name, "required with %s", map[string]string{"primary": "recovery", "recovery": "primary"}[f.name])
				continue
			}
			v.recordValues(path+"."+f.name, r.Type, f.vals)
		}
	}
}

// recordService checks a record bound to a service's load balancers.
func (v *validator) recordService(p *Plan, path string, r *Record) {
	if r.Type != TypeA && r.Type != TypeAAAA {
		v.add(path+".service", "only valid for type A or AAAA, got %s", r.Type)
		return
	}
	s := p.Service(r.Service)
	switch {
	case s == nil:
		v.add(path+".service", "unknown service %q", r.Service)
	case s.LoadBalancer == nil:
		var regions []string
		for _, role := range recordRoles(r) {
			reg := p.Regions.Primary
			if role == "recovery" {
				reg = p.Regions.Recovery
			}
			regions = append(regions, fmt.Sprintf("%s (%s)", reg.Name, role))
		}
		v.add(path+".service", "service %q has no loadBalancer, so the record has no target in region %s",
			r.Service, strings.Join(regions, " or "))
	}
}

// recordRoles returns the region roles a record answers with.
func recordRoles(r *Record) []string {
	switch {
	case r.Policy == PolicySimple:
		return []string{"primary"}
	case r.Policy == PolicyWeighted && r.Weights != nil && r.Weights.Primary == 0 && r.Weights.Recovery > 0:
		return []string{"recovery"}
	case r.Policy == PolicyWeighted && r.Weights != nil && r.Weights.Recovery == 0 && r.Weights.Primary > 0:
		return []string{"primary"}
	}
	return []string{"primary", "recovery"}
}

// recordValues checks fixed targets against the record type.
func (v *validator) recordValues(path string, t RecordType, vals []string) {
	if len(vals) == 0 {
		v.add(path, "must list at least one value")
		return
	}
	if t == TypeCNAME && len(vals) > 1 {
		v.add(path, "a CNAME has exactly one value, got %d", len(vals))
	}
	for i, s := range vals {
		ip := fmt.Sprintf("%s[%d]", path, i)
		switch t {
		case TypeA:
			if a, err := netip.ParseAddr(s); err != nil || !a.Is4() {
				v.add(ip, "must be an IPv4 address for type A, got %q", s)
			}
		case TypeAAAA:
			if a, err := netip.ParseAddr(s); err != nil || !a.Is6() || a.Is4In6() || a.Zone() != "" {
				v.add(ip, "must be an IPv6 address for type AAAA, got %q", s)
			}
		case TypeCNAME:
			name := strings.TrimSuffix(strings.ToLower(s), ".")
			if name == "" || len(name) > 253 || !dnsName.MatchString(name) || strings.Contains(name, "*") {
				v.add(ip, "must be a domain name for type CNAME, got %q", s)
			}
		case TypeTXT:
			if len(s) > MaxTXTLength {
				v.add(ip, "must be at most %d bytes for type TXT, got %d", MaxTXTLength, len(s))
			}
		}
	}
}

// recordWeights checks the weights of a weighted record.
func (v *validator) recordWeights(path string, r *Record) {
	switch {
	case r.Weights != nil && r.Policy != PolicyWeighted:
		v.add(path+".weights", "only valid for policy weighted")
	case r.Weights == nil && r.Policy == PolicyWeighted:
		v.add(path+".weights", "required for policy weighted")
	case r.Weights != nil:
		v.between(path+".weights.primary", r.Weights.Primary, 0, 255)
		v.between(path+".weights.recovery", r.Weights.Recovery, 0, 255)
		if r.Weights.Primary == 0 && r.Weights.Recovery == 0 {
			v.add(path+".weights", "primary and recovery must not both be 0")
		}
	}
}

// recordObjective warns when a record cannot move traffic within the RTO:
// resolvers keep an answer for its TTL, and a failover waits for the
// health check to decide first.
func (v *validator) recordObjective(p *Plan, path string, r *Record) {
	rto := p.Objectives.RTO.D()
	if rto <= 0 || r.Values != nil { // fixed values never move
		return
	}
	ttl := time.Duration(r.TTL) * time.Second
	if ttl > rto {
		v.warn(path+".ttl", "%ds is above the RTO objective (%s): resolvers may keep the old answer longer than the objective allows", r.TTL, p.Objectives.RTO)
		return
	}
	if hc := r.HealthCheck; hc != nil && r.Policy == PolicyFailover && hc.Interval > 0 {
		detect := time.Duration(hc.FailureThreshold) * hc.Interval.D()
		if detect+ttl > rto {
			v.warn(path+".healthCheck", "failover can take %s (%d failures x %s + ttl %ds), above the RTO objective (%s)",
				detect+ttl, hc.FailureThreshold, hc.Interval, r.TTL, p.Objectives.RTO)
		}
	}
}

package dns

import (
	"errors"
	"fmt"
	"net/netip"

	mdns "github.com/miekg/dns"

	"github.com/pilotlight/pilotlight/plan"
)

// Region roles, as used in health target IDs and by ConfigFromPlan's lbAddr.
const (
	RolePrimary  = "primary"
	RoleRecovery = "recovery"
)

// HealthID is the health target ID of a record's target in the region of
// role: "<record name>/<role>", such as www/primary.
func HealthID(r plan.Record, role string) string { return r.Name + "/" + role }

// LBAddr returns the address of svc's load balancer in the region of role.
type LBAddr func(role string, svc *plan.Service) (netip.Addr, error)

// ConfigFromPlan builds the configuration of the plan's routing zone. A
// record bound to a service answers the address lbAddr gives for the
// service's load balancer: a simple record the primary region's, failover
// and weighted records one per region. Records with a health check carry
// the health IDs of HealthID; without one their targets are always
// healthy. A plan without routing gives an empty Config.
func ConfigFromPlan(p *plan.Plan, lbAddr LBAddr) (Config, error) {
	rt := p.Routing
	if rt == nil {
		return Config{}, nil
	}
	z := Zone{Origin: mdns.Fqdn(rt.Zone)}
	for i := range rt.Records {
		r, err := recordFromPlan(p, &rt.Records[i], lbAddr)
		if err != nil {
			return Config{}, fmt.Errorf("dns: config from plan record %s: %w", rt.Records[i].Name, err)
		}
		z.Records = append(z.Records, r)
	}
	return Config{Zones: []Zone{z}}, nil
}

func recordFromPlan(p *plan.Plan, pr *plan.Record, lbAddr LBAddr) (Record, error) {
	typ, ok := mdns.StringToType[string(pr.Type)]
	if pr.Type == "" {
		typ, ok = mdns.TypeA, true
	}
	if !ok {
		return Record{}, fmt.Errorf("unknown type %q", pr.Type)
	}
	r := Record{Name: pr.FQDN(p.Routing.Zone), Type: typ, TTL: uint32(max(pr.TTL, 0)), Policy: string(pr.Policy)}
	if r.Policy == "" {
		r.Policy = PolicySimple
	}
	// targets returns the values of the region of role.
	targets := func(role string) ([]string, error) {
		switch {
		case pr.Service != "":
			svc := p.Service(pr.Service)
			if svc == nil || svc.LoadBalancer == nil {
				return nil, fmt.Errorf("service %q has no load balancer", pr.Service)
			}
			if lbAddr == nil {
				return nil, errors.New("no load-balancer address source")
			}
			a, err := lbAddr(role, svc)
			if err != nil {
				return nil, fmt.Errorf("load balancer of %s in the %s region: %w", pr.Service, role, err)
			}
			if a.Is4() != (typ == mdns.TypeA) {
				return nil, fmt.Errorf("load balancer address %s does not fit type %s", a, pr.Type)
			}
			return []string{a.String()}, nil
		case role == RolePrimary:
			return pr.Primary, nil
		default:
			return pr.Recovery, nil
		}
	}
	health := func(role string) string {
		if pr.HealthCheck == nil {
			return ""
		}
		return HealthID(*pr, role)
	}
	var err error
	switch r.Policy {
	case PolicySimple:
		r.Values = pr.Values
		if pr.Values == nil {
			r.Values, err = targets(RolePrimary)
		}
	case PolicyFailover:
		if r.Primary, err = targets(RolePrimary); err == nil {
			r.Secondary, err = targets(RoleRecovery)
		}
		r.PrimaryHealth, r.SecondaryHealth = health(RolePrimary), health(RoleRecovery)
	case PolicyWeighted:
		if pr.Weights == nil {
			return Record{}, errors.New("weighted record without weights")
		}
		for _, m := range []struct {
			role   string
			weight int
		}{{RolePrimary, pr.Weights.Primary}, {RoleRecovery, pr.Weights.Recovery}} {
			if m.weight == 0 {
				continue // never answered; its region needs no target
			}
			vals, terr := targets(m.role)
			if terr != nil {
				return Record{}, terr
			}
			r.Weighted = append(r.Weighted, WeightedTarget{Values: vals, Weight: m.weight, Health: health(m.role)})
		}
	default:
		return Record{}, fmt.Errorf("unknown policy %q", r.Policy)
	}
	return r, err
}

package health

import (
	"fmt"
	"log/slog"
	"net"
	"strconv"

	"github.com/pilotlight/pilotlight/plan"
)

// Region roles of health-checked DNS targets.
const (
	RolePrimary  = "primary"
	RoleRecovery = "recovery"
)

// TargetID returns the ID of the health-checked target of a record in a
// region role, "<record-name>/<role>", e.g. www/primary.
func TargetID(record, role string) string { return record + "/" + role }

// Resolver returns the address of a service's load balancer in the region
// with the given role (RolePrimary or RoleRecovery).
type Resolver func(role string, svc *plan.Service) (host string, port int, err error)

// BindingOptions are settings of FromPlan that the plan does not carry.
type BindingOptions struct {
	// Vantages is the number of local vantage points per target (default 1).
	Vantages int
	// Rule combines the vantage points' votes (default majority).
	Rule Rule
	// Clock is the targets' time source (default SystemClock).
	Clock Clock
	// Logger is the targets' logger (nil discards).
	Logger *slog.Logger
}

// FromPlan creates, for every routing record of p with a health check, one
// target per region role (TargetID(record, RolePrimary) and
// TargetID(record, RoleRecovery), in record order) probing the load
// balancer of the record's service in that region, at the address resolve
// returns (the check's port, when set, replaces the resolved port), with
// the record's check settings. At most one BindingOptions is used.
func FromPlan(p *plan.Plan, resolve Resolver, opts ...BindingOptions) ([]*Target, error) {
	var o BindingOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	if p == nil || p.Routing == nil {
		return nil, nil
	}
	if resolve == nil {
		return nil, fmt.Errorf("health: bind plan %s: nil resolver", p.Name)
	}
	var targets []*Target
	for _, rec := range p.Routing.Records {
		hc := rec.HealthCheck
		if hc == nil {
			continue
		}
		var svc *plan.Service
		if rec.Service != "" {
			if svc = findService(p, rec.Service); svc == nil {
				return nil, fmt.Errorf("health: bind record %s: service %q not in plan", rec.Name, rec.Service)
			}
			if svc.LoadBalancer == nil {
				return nil, fmt.Errorf("health: bind record %s: service %s has no load balancer", rec.Name, svc.Name)
			}
		}
		vantages, rule := o.Vantages, o.Rule
		if hc.Vantages > 0 {
			vantages = hc.Vantages
		}
		if hc.Rule != "" {
			r, err := ParseRule(hc.Rule)
			if err != nil {
				return nil, fmt.Errorf("health: bind record %s: %w", rec.Name, err)
			}
			rule = r
		}
		for _, role := range []string{RolePrimary, RoleRecovery} {
			id := TargetID(rec.Name, role)
			if rec.Weights != nil && (role == RolePrimary && rec.Weights.Primary == 0 || role == RoleRecovery && rec.Weights.Recovery == 0) {
				continue // a member that never answers needs no check
			}
			var host string
			var port int
			if svc != nil {
				var err error
				if host, port, err = resolve(role, svc); err != nil {
					return nil, fmt.Errorf("health: bind target %s: resolve %s: %w", id, svc.Name, err)
				}
			} else {
				// Fixed targets: probe the role's first address at the
				// check's port (validation requires one).
				addrs := rec.Primary
				if role == RoleRecovery {
					addrs = rec.Recovery
				}
				if len(addrs) == 0 {
					continue
				}
				host = addrs[0]
			}
			if hc.Port != 0 {
				port = hc.Port
			}
			t, err := NewTarget(id, CheckFromPlan(hc, net.JoinHostPort(host, strconv.Itoa(port))), TargetOptions{
				Vantages:         LocalVantages(vantages),
				Rule:             rule,
				Interval:         hc.Interval.D(),
				FailureThreshold: hc.FailureThreshold,
				SuccessThreshold: hc.SuccessThreshold,
				Clock:            o.Clock,
				Logger:           o.Logger,
			})
			if err != nil {
				return nil, fmt.Errorf("health: bind record %s: %w", rec.Name, err)
			}
			if err := t.Check().Validate(); err != nil {
				return nil, fmt.Errorf("health: bind target %s: %w", id, err)
			}
			targets = append(targets, t)
		}
	}
	return targets, nil
}

// CheckFromPlan converts a plan health check into a probe definition for
// target (host:port). Interval and thresholds are monitor settings, not
// part of the Check.
func CheckFromPlan(hc *plan.HealthCheck, target string) Check {
	lo, hi := hc.ExpectRange()
	return Check{
		Type:               string(hc.Type),
		Target:             target,
		Path:               hc.Path,
		ExpectMin:          lo,
		ExpectMax:          hi,
		Body:               hc.Body,
		Timeout:            hc.Timeout.D(),
		InsecureSkipVerify: hc.InsecureSkipVerify,
	}
}

func findService(p *plan.Plan, name string) *plan.Service {
	for i := range p.Services {
		if p.Services[i].Name == name {
			return &p.Services[i]
		}
	}
	return nil
}

package aws

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/pilotlight/pilotlight/readiness"
)

// dnsCheck reads the plan's hosted zone through the Route 53 driver: the
// zone exists, every failover record set there has a health check (or is
// an alias evaluating its target's health), and the zone holds the
// records and health checks the plan declares (`dns sync` has nothing to
// do).
func (r *Readiness) dnsCheck() readiness.Check {
	if r.Plan.Routing == nil {
		return readiness.Skipped(readiness.CheckDNS, "route53", "the plan has no routing block")
	}
	subject := "hosted zone " + fqdn(r.Plan.Routing.Zone)
	switch {
	case r.DNS == nil:
		return readiness.Skipped(readiness.CheckDNS, subject, "Route 53 is not read: only the plan's routing is checked")
	case r.SpecsErr != nil:
		return readiness.Skipped(readiness.CheckDNS, subject, "Route 53 not checked: "+r.SpecsErr.Error())
	}
	return readiness.Check{ID: readiness.CheckDNS, Subject: subject, Run: func(ctx context.Context) ([]readiness.Result, error) {
		return r.zone(ctx, subject)
	}}
}

func (r *Readiness) zone(ctx context.Context, subject string) ([]readiness.Result, error) {
	zoneID, err := r.DNS.resolveZone(ctx)
	if errors.Is(err, ErrNoSuchZone) {
		return []readiness.Result{readiness.Failf(readiness.CheckDNS, subject, "not found in Route 53: create the hosted zone, then run pilotlight dns sync")}, nil
	}
	if err != nil {
		return nil, err
	}
	names := map[string]bool{}
	for _, s := range r.RecordSpecs {
		names[fqdn(s.Name)] = true
	}
	existing, err := r.DNS.listRecords(ctx, zoneID, names)
	if err != nil {
		return nil, err
	}
	var out []readiness.Result
	for _, s := range existing {
		if s.Failover != "" && s.HealthCheckID == "" && (s.Alias == nil || !s.Alias.EvaluateTargetHealth) {
			out = append(out, readiness.Failf(readiness.CheckDNS, fmt.Sprintf("record %s %s %s", s.Name, s.Type, s.Failover),
				"failover record set has no health check: Route 53 cannot fail over; run pilotlight dns sync"))
		}
	}
	cs, err := r.DNS.Plan(ctx, r.RecordSpecs)
	if err != nil {
		return nil, err
	}
	if !cs.Empty() {
		var pending []string
		for _, c := range cs.Records {
			if n := c.Action + " " + c.Name + " " + c.Type; !slices.Contains(pending, n) {
				pending = append(pending, n)
			}
		}
		for _, h := range cs.HealthChecks {
			pending = append(pending, h.Action+" health check "+h.Key)
		}
		out = append(out, readiness.Failf(readiness.CheckDNS, subject, "differs from the plan (%s): run pilotlight dns sync", strings.Join(pending, "; ")))
	}
	if len(out) == 0 {
		out = append(out, readiness.Passf(readiness.CheckDNS, subject, "zone %s holds the plan's %d records and their health checks", zoneID, len(r.RecordSpecs)))
	}
	return out, nil
}

package sim

import (
	"fmt"
	"strings"

	"github.com/pilotlight/pilotlight/capacity"
	"github.com/pilotlight/pilotlight/plan"
)

// GenerateOptions size a synthetic plan.
type GenerateOptions struct {
	// Name of the plan (default synthetic).
	Name string
	// Instances, over all services (at least Services).
	Instances int
	// Services, spread over 3 tiers (at least 1).
	Services int
	// LoadBalancers: the first LoadBalancers services have one (at most
	// Services).
	LoadBalancers int
	// Records: failover records, spread over the services with a load
	// balancer.
	Records int
	// Databases, with sizes from 20 to 500 GB.
	Databases int
	// Popular is the first instance type of most services (default
	// m6i.xlarge): declare it short to exercise the fallback.
	Popular string
}

// Generate writes a valid synthetic plan of the given size, with sim
// regions: services in 3 tiers (each service of tiers 2 and 3 depends on
// one of the tier before), three instance types per service (the popular
// type for two services in three, falling back to its sibling family then
// to twice the size), spread over three subnets (zones), HTTP load
// balancers, failover records with health checks, databases with sizes
// and two buckets. The output is checked with plan.Parse.
func Generate(o GenerateOptions) ([]byte, error) {
	if o.Name == "" {
		o.Name = "synthetic"
	}
	if o.Popular == "" {
		o.Popular = "m6i.xlarge"
	}
	pop, ok := capacity.Lookup(o.Popular)
	switch {
	case !ok:
		return nil, fmt.Errorf("sim: generate: unknown instance type %q (known: %s)", o.Popular, strings.Join(capacity.Names(), ", "))
	case o.Services < 1:
		return nil, fmt.Errorf("sim: generate: --services %d: want at least 1", o.Services)
	case o.Instances < o.Services:
		return nil, fmt.Errorf("sim: generate: --instances %d: want at least one per service (%d)", o.Instances, o.Services)
	case o.LoadBalancers < 0 || o.LoadBalancers > o.Services:
		return nil, fmt.Errorf("sim: generate: --lbs %d: want 0 to --services (%d): a load balancer belongs to one service", o.LoadBalancers, o.Services)
	case o.Records < 0 || (o.Records > 0 && o.LoadBalancers == 0):
		return nil, fmt.Errorf("sim: generate: --records %d: records point at load balancers, so --lbs must be > 0", o.Records)
	case o.Databases < 0:
		return nil, fmt.Errorf("sim: generate: --databases %d: want >= 0", o.Databases)
	}
	// Fallbacks of the popular type: its sibling family, same size, then
	// the next size up of its family.
	prefs := []string{o.Popular}
	for _, name := range capacity.Names() {
		t, _ := capacity.Lookup(name)
		if t.Family != pop.Family && t.VCPU == pop.VCPU && t.MemoryMiB == pop.MemoryMiB && t.Family != "local" && len(prefs) < 2 {
			prefs = append(prefs, name)
		}
	}
	for _, name := range capacity.Names() {
		t, _ := capacity.Lookup(name)
		if t.Family == pop.Family && t.VCPU == 2*pop.VCPU && len(prefs) < 3 {
			prefs = append(prefs, name)
		}
	}
	others := [][]string{{"c6i.xlarge", "c5.xlarge", "c6i.2xlarge"}, {"r6i.large", "r5.large", "r6i.xlarge"}}

	var sb strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&sb, format, a...) }
	w("# Synthetic plan written by `pilotlight plan generate`: %d instances, %d services\n", o.Instances, o.Services)
	w("# in 3 tiers, %d load balancers, %d records, %d databases. Most services prefer\n", o.LoadBalancers, o.Records, o.Databases)
	w("# %s: `pilotlight simulate -f FILE --short %s` declares it out of capacity.\n", o.Popular, o.Popular)
	w("apiVersion: pilotlight/v1\nkind: Plan\nname: %s\n", o.Name)
	w("objectives: {rto: 1h, rpo: 15m}\nstrategy: pilot-light\n")
	w("regions:\n  primary: {name: seoul, provider: sim}\n  recovery: {name: tokyo, provider: sim}\n")
	w("data:\n  buckets:\n    - {name: %s-assets, sizeGB: 500}\n    - {name: %s-uploads, sizeGB: 2000}\n", o.Name, o.Name)
	if o.Databases > 0 {
		w("  databases:\n")
		for i := range o.Databases {
			w("    - {id: db-%03d, engine: postgres, sizeGB: %d}\n", i+1, 20+(i*97)%481)
		}
	}
	w("services:\n")
	names := make([]string, o.Services)
	tierOf := make([]int, o.Services)
	for i := range o.Services {
		names[i] = fmt.Sprintf("svc-%03d", i+1)
		tierOf[i] = 1 + i*3/o.Services
	}
	firstOfTier := func(t int) int {
		for i := range tierOf {
			if tierOf[i] == t {
				return i
			}
		}
		return -1
	}
	for i := range o.Services {
		count := o.Instances / o.Services
		if i < o.Instances%o.Services {
			count++
		}
		types := prefs
		if i%3 == 2 {
			types = others[(i/3)%2]
		}
		w("  - name: %s\n    tier: %d\n", names[i], tierOf[i])
		if t := tierOf[i]; t > 1 {
			lo := firstOfTier(t - 1)
			n := firstOfTier(t) - lo
			w("    dependsOn: [%s]\n", names[lo+i%n])
		}
		w("    compute:\n      count: %d\n      aws:\n        launchTemplate: %s\n        instanceTypes: [%s]\n        subnets: [subnet-a, subnet-b, subnet-c]\n",
			count, names[i], strings.Join(types, ", "))
		if i < o.LoadBalancers {
			w("    loadBalancer: {port: 80, healthCheck: {path: /healthz, interval: 5s}}\n")
		}
	}
	if o.Records > 0 {
		w("routing:\n  zone: %s.test.\n  records:\n", o.Name)
		for i := range o.Records {
			w("    - {name: r%04d, service: %s, policy: failover, ttl: 30, healthCheck: {type: http, path: /healthz, interval: 10s, failureThreshold: 3}}\n",
				i+1, names[i%o.LoadBalancers])
		}
	}
	out := []byte(sb.String())
	if _, err := plan.Parse(o.Name+".yaml", out); err != nil {
		return nil, fmt.Errorf("sim: generate: the plan is not valid: %w", err)
	}
	return out, nil
}

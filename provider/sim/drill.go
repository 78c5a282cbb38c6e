package sim

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	awsp "github.com/pilotlight/pilotlight/provider/aws"
	"github.com/pilotlight/pilotlight/recovery"
	"github.com/pilotlight/pilotlight/runbook"
)

var _ recovery.Smoke = (*Provider)(nil)

// APIThrottle is the api-throttle fault on the simulated cloud, as
// provider/aws's Throttle is on AWS: a share of the API calls (of Actions,
// when set: "RunInstances" or "ec2:RunInstances") is answered with the
// service's throttling error, drawn from Seed and the call's sequence
// number (aws.Draw). Injected throttles are counted apart from the token
// buckets' (ActionStats.Injected).
type APIThrottle struct {
	Share   float64  `json:"share"`
	Seed    int64    `json:"seed"`
	Actions []string `json:"actions,omitempty"`
}

// inject draws whether the fault throttles this call of action; c.mu is
// held.
func (c *Cloud) inject(action string) bool {
	t := c.o.Throttle
	if t.Share <= 0 {
		return false
	}
	_, op, _ := strings.Cut(action, ":")
	if len(t.Actions) > 0 && !slices.Contains(t.Actions, op) && !slices.Contains(t.Actions, action) {
		return false
	}
	c.injectN++
	return awsp.Draw(t.Seed, c.injectN, t.Share)
}

// throttleCode is the code the service of action answers when it
// throttles.
func throttleCode(action string) string {
	if strings.HasPrefix(action, "ec2:") {
		return "RequestLimitExceeded"
	}
	return "Throttling"
}

// resourceName is the name of a service's load balancer and target group
// created through the API: in a drill, derived from the drill ID too, so
// that it never collides with production's.
func (c *Cloud) resourceName(service string) string {
	if c.o.DrillID == "" {
		return lbName(c.o.Plan.Name, service)
	}
	return lbName(c.o.Plan.Name, service+"-"+c.o.DrillID)
}

// Teardown removes everything in region tagged with the cloud's drill ID:
// it terminates the drill's instances through the API (retrying throttled
// calls on the clock, as the drill's teardown does against AWS), and
// deletes its load balancers, target groups and restored databases. It
// returns what it removed (kind/ID, sorted).
func (c *Cloud) Teardown(ctx context.Context, regionName string) ([]string, error) {
	if c.o.DrillID == "" {
		return nil, fmt.Errorf("sim: teardown %s: not a drill's cloud", regionName)
	}
	c.clock.Enter() // drives the cloud outside the runbook's steps
	defer c.clock.Leave()
	c.mu.Lock()
	rg, err := c.region(regionName)
	if err != nil {
		c.mu.Unlock()
		return nil, err
	}
	var ids, removed []string
	for _, id := range sortedKeys(rg.instances) {
		if in := rg.instances[id]; in.drill == c.o.DrillID && !in.terminated {
			ids = append(ids, id)
		}
	}
	c.mu.Unlock()
	for _, batch := range chunk(ids, MaxDescribeIDs) {
		for attempt := 1; ; attempt++ {
			err := c.TerminateInstances(ctx, regionName, batch)
			if err == nil {
				break
			}
			if runbook.Classify(err) != runbook.ClassThrottled || attempt == 20 {
				return removed, fmt.Errorf("sim: teardown %s: %w", c.o.DrillID, err)
			}
			if err := c.clock.Sleep(ctx, "teardown", c.o.CallLatency*10); err != nil {
				return removed, err
			}
		}
		for _, id := range batch {
			removed = append(removed, awsp.KindInstance+"/"+id)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for name, lb := range rg.lbs {
		if lb.drill == c.o.DrillID {
			delete(rg.lbs, name)
			removed = append(removed, awsp.KindLoadBalancer+"/"+lb.ARN)
		}
	}
	for arn, tg := range rg.tgs {
		if tg.drill == c.o.DrillID {
			delete(rg.tgs, arn)
			removed = append(removed, awsp.KindTargetGroup+"/"+arn)
		}
	}
	for id, db := range rg.dbs {
		if db.drill == c.o.DrillID {
			delete(rg.dbs, id)
			removed = append(removed, awsp.KindDBRestore+"/"+id)
		}
	}
	sort.Strings(removed)
	return removed, nil
}

// Smoke is a request to service's load balancer in region by its own
// address (a probe, not an API call): it answers 200 once the load
// balancer the provider made for the service is active with a healthy
// target, and 503 before.
func (pr *Provider) Smoke(ctx context.Context, regionName, service string) (recovery.Answer, error) {
	pr.mu.Lock()
	pr.probes++
	sl := pr.launched[regionName+"/"+service]
	pr.mu.Unlock()
	if sl == nil || sl.tg == "" {
		return recovery.Answer{}, runbook.Transient(fmt.Errorf("sim: smoke %s in %s: no load balancer yet", service, regionName))
	}
	c := pr.cloud
	now := c.clock.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	rg, err := c.region(regionName)
	if err != nil {
		return recovery.Answer{}, err
	}
	a := recovery.Answer{Region: regionName, Addr: sl.lbDNS, Status: 503}
	tg := rg.tgs[sl.tg]
	for _, lb := range rg.lbs {
		if lb.listener != sl.tg || tg == nil {
			continue
		}
		for id, at := range tg.targets {
			if in := rg.instances[id]; in != nil && !in.terminated && !now.Before(c.healthy(lb, tg, in, at)) {
				a.Status = 200
			}
		}
	}
	if a.Status != 200 {
		return a, runbook.Transient(fmt.Errorf("sim: smoke %s: %s answered %d", service, a.Addr, a.Status))
	}
	return a, ctx.Err()
}

package recovery

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/pilotlight/pilotlight/runbook"
)

// Smoke checks recovered services directly, without DNS: the end-to-end
// check of an isolated drill, which must not move the traffic of the names
// clients use.
type Smoke interface {
	// Smoke makes one request to service's load balancer in region by its
	// own address (not a name clients resolve), for the path of the
	// service's health check, and returns the answer. A service that does
	// not answer yet is a transient error.
	Smoke(ctx context.Context, region, service string) (Answer, error)
}

// checkIsolated validates the options of an isolated (drill) runbook.
func checkIsolated(prov Provider, o Options) error {
	if !o.Isolated {
		return nil
	}
	switch {
	case o.Direction != Failover:
		return fmt.Errorf("recovery: build: an isolated drill is a failover, not a %s", o.Direction)
	case o.DrillID == "":
		return errors.New("recovery: build: an isolated drill needs a drill ID")
	}
	if _, ok := prov.(Smoke); !ok {
		return fmt.Errorf("recovery: build: isolated drill %s: the provider (%T) has no smoke check of recovered endpoints", o.DrillID, prov)
	}
	return nil
}

// addSmoke ends an isolated runbook: one smoke check per service with a
// load balancer, after its healthy wait and the data restores, in the
// verify tier. The drill ends when every one passes.
func (b *builder) addSmoke(healthy map[string]string, dataDone []string) {
	sm := b.prov.(Smoke)
	for _, svc := range b.services() {
		if svc.LoadBalancer == nil {
			continue
		}
		deps := append([]string(nil), dataDone...)
		if id, ok := healthy[svc.Name]; ok {
			deps = append(deps, id)
		}
		name := svc.Name
		b.add(runbook.Step{
			ID: "smoke-" + name, Tier: TierVerify, API: "probe", DependsOn: deps,
			Describe: "request " + name + "'s recovered load balancer in " + b.to + " directly until it answers (drill " + b.o.DrillID + ": DNS is not switched)",
			Run: func(ctx context.Context, sc *runbook.StepContext) (runbook.Output, error) {
				var last Answer
				var lastErr error
				err := b.poll(ctx, sc, func() (bool, error) {
					last, lastErr = sm.Smoke(ctx, b.to, name)
					return lastErr == nil && last.Status > 0 && last.Status < 400, nil
				})
				if err != nil {
					return nil, fmt.Errorf("recovery: smoke %s in %s: last answer %+v, %v: %w", name, b.to, last, lastErr, err)
				}
				return runbook.Output{"region": b.to, "addr": last.Addr, "status": strconv.Itoa(last.Status)}, nil
			},
		})
	}
}

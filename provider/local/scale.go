package local

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/pilotlight/pilotlight/health"
	"github.com/pilotlight/pilotlight/provider/local/compute"
)

// ErrNoCapacity is wrapped by ScaleService when the region has no capacity
// for the requested instance type (the plan's regions.*.noCapacity, or
// SetCapacity).
var ErrNoCapacity = errors.New("insufficient instance capacity")

// capacityState is a region's instance-type capacity and what each service
// was last scaled to.
type capacityState struct {
	unavailable map[string]bool   // instance types with no capacity, set at run time
	types       map[string]string // service → instance type it runs
}

// ServiceScale is what a service was last scaled to.
type ServiceScale struct {
	Service      string `json:"service"`
	InstanceType string `json:"instanceType"`
	Desired      int    `json:"desired"`
	Running      int    `json:"running"`
	Healthy      int    `json:"healthy"` // healthy load-balancer targets (running instances without one)
	LoadBalancer string `json:"loadBalancer,omitempty"`
	Fenced       bool   `json:"fenced,omitempty"`
}

// hasCapacity reports whether instanceType can be launched in the region.
// Call with r.mu held.
func (r *Region) hasCapacity(instanceType string) bool {
	if r.capacity.unavailable != nil {
		if down, ok := r.capacity.unavailable[instanceType]; ok {
			return !down
		}
	}
	return !slices.Contains(r.spec.NoCapacity, instanceType)
}

// SetCapacity declares whether the region has capacity for instanceType,
// overriding the plan's noCapacity list, so that drills and tests can
// exercise a recovery's capacity fallback.
func (r *Region) SetCapacity(instanceType string, available bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.capacity.unavailable == nil {
		r.capacity.unavailable = map[string]bool{}
	}
	r.capacity.unavailable[instanceType] = !available
}

// ScaleService runs count instances of instanceType for service name,
// starting the service (instances and load balancer) when it is not
// running. It is declarative, and so idempotent: scaling twice to the same
// figures changes nothing. A type without capacity fails with ErrNoCapacity
// and leaves the service as it was. An empty instanceType keeps the
// service's current type (or the plan's first).
func (r *Region) ScaleService(ctx context.Context, name, instanceType string, count int) error {
	spec := r.plan.Service(name)
	if spec == nil || spec.Compute.Local == nil {
		return fmt.Errorf("local: region %s: scale service %s: no local service of that name in the plan", r.spec.Name, name)
	}
	if count < 0 {
		return fmt.Errorf("local: region %s: scale service %s: count %d < 0", r.spec.Name, name, count)
	}
	r.mu.Lock()
	if instanceType == "" {
		instanceType = r.capacity.types[name]
	}
	if instanceType == "" && len(spec.Compute.Local.InstanceTypes) > 0 {
		instanceType = spec.Compute.Local.InstanceTypes[0]
	}
	if count > 0 && !r.hasCapacity(instanceType) {
		r.mu.Unlock()
		return fmt.Errorf("local: region %s: scale service %s to %d × %s: %w", r.spec.Name, name, count, instanceType, ErrNoCapacity)
	}
	if r.capacity.types == nil {
		r.capacity.types = map[string]string{}
	}
	r.capacity.types[name] = instanceType
	r.mu.Unlock()
	return r.StartService(ctx, name, count)
}

// Scale returns what service name runs in the region; ok is false when it
// is not running.
func (r *Region) Scale(name string) (ServiceScale, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.services[name]
	if !ok {
		return ServiceScale{Service: name}, false
	}
	sc := ServiceScale{Service: name, InstanceType: r.capacity.types[name], Desired: s.group.Desired()}
	if sc.InstanceType == "" && s.spec.Compute.Local != nil && len(s.spec.Compute.Local.InstanceTypes) > 0 {
		sc.InstanceType = s.spec.Compute.Local.InstanceTypes[0]
	}
	for _, in := range s.group.Instances() {
		if in.State == compute.StateRunning {
			sc.Running++
		}
	}
	if s.lb != nil {
		sc.LoadBalancer = s.lbPublicAddr()
		sc.Fenced = s.lb.Fenced()
		for _, t := range s.lb.Targets() {
			if t.State == health.Healthy {
				sc.Healthy++
			}
		}
	} else {
		sc.Healthy = sc.Running
	}
	return sc, true
}

// Fence makes every load balancer of the region refuse writes (on) or
// accept them again (off). See lb.LB.Fence.
func (r *Region) Fence(on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.services {
		if s.lb != nil {
			s.lb.Fence(on)
		}
	}
}

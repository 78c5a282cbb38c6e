package local

import (
	"sort"
	"time"

	"github.com/pilotlight/pilotlight/health"
	"github.com/pilotlight/pilotlight/provider/local/compute"
	"github.com/pilotlight/pilotlight/provider/local/lb"
)

// RegionStatus is a snapshot of a running region, for `pilotlight status`.
type RegionStatus struct {
	Name     string          `json:"name"`
	Role     Role            `json:"role"`
	Provider string          `json:"provider"`
	Network  string          `json:"network"`
	Zones    []string        `json:"zones"`
	Store    StoreStatus     `json:"store"`
	Services []ServiceStatus `json:"services"`
}

// StoreStatus describes the region's object store.
type StoreStatus struct {
	Endpoint string   `json:"endpoint"`
	PID      int      `json:"pid,omitempty"`
	Buckets  []string `json:"buckets"`
}

// ServiceStatus describes one service in a region.
type ServiceStatus struct {
	Name         string                   `json:"name"`
	Tier         int                      `json:"tier"`
	Group        compute.GroupStatus      `json:"group"`
	Instances    []compute.InstanceStatus `json:"instances"`
	LoadBalancer *LBStatus                `json:"loadBalancer,omitempty"`
}

// LBStatus describes a service's load balancer in a region.
type LBStatus struct {
	Addr      string            `json:"addr"`
	Algorithm string            `json:"algorithm"`
	Healthy   int               `json:"healthy"`
	Targets   []lb.TargetStatus `json:"targets"`
}

// Status returns a snapshot of the region.
func (r *Region) Status() RegionStatus {
	st := RegionStatus{
		Name:     r.spec.Name,
		Role:     r.role,
		Provider: string(r.spec.Provider),
		Network:  r.net.String(),
		Zones:    r.Zones(),
		Store:    StoreStatus{Endpoint: r.StoreEndpoint(), Buckets: r.Buckets()},
		Services: []ServiceStatus{},
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.store != nil {
		st.Store.PID = r.store.Pid()
	}
	for _, s := range r.services {
		ss := ServiceStatus{
			Name:      s.spec.Name,
			Tier:      s.spec.Tier,
			Group:     s.group.Status(),
			Instances: s.group.Instances(),
		}
		if s.lb != nil {
			ls := &LBStatus{Addr: s.lbPublicAddr(), Algorithm: string(s.spec.LoadBalancer.Algorithm), Targets: s.lb.Targets()}
			for _, t := range ls.Targets {
				if t.State == health.Healthy {
					ls.Healthy++
				}
			}
			ss.LoadBalancer = ls
		}
		st.Services = append(st.Services, ss)
	}
	sort.Slice(st.Services, func(i, j int) bool {
		if st.Services[i].Tier != st.Services[j].Tier {
			return st.Services[i].Tier < st.Services[j].Tier
		}
		return st.Services[i].Name < st.Services[j].Name
	})
	return st
}

// DeploymentStatus is the status of every region of a plan, as published by
// a running `pilotlight up`.
type DeploymentStatus struct {
	Plan     string         `json:"plan"`
	Strategy string         `json:"strategy"`
	PID      int            `json:"pid"`
	Started  time.Time      `json:"started"`
	Regions  []RegionStatus `json:"regions"`
}

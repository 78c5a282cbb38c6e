// Package plan defines the pilotlight plan file: the types that declare a
// disaster-recovery posture, their defaults, strict YAML loading with
// positioned errors, validation, a JSON Schema for editors and a readable
// summary of what a recovery would do.
//
// A plan is loaded with Load or Parse, which apply defaults, decode strictly
// (unknown fields, wrong types and duplicate keys are errors) and validate.
// Every problem is reported, as FILE:LINE:COL: field.path: message.
package plan

import "path/filepath"

// APIVersion is the only accepted value of Plan.APIVersion.
const APIVersion = "pilotlight/v1"

// KindPlan is the only accepted value of Plan.Kind.
const KindPlan = "Plan"

// Plan is a disaster-recovery plan: what to protect, where, and how to
// recover it.
type Plan struct {
	// APIVersion of the plan format; must be "pilotlight/v1".
	APIVersion string `yaml:"apiVersion" json:"apiVersion" jsonschema:"required,enum=pilotlight/v1"`
	// Kind of document; must be "Plan".
	Kind string `yaml:"kind" json:"kind" jsonschema:"required,enum=Plan"`
	// Name of the plan: lowercase letters, digits and hyphens, at most 63
	// characters. It names the resources pilotlight creates.
	Name string `yaml:"name" json:"name" jsonschema:"required,pattern=^[a-z0-9-]+$,maxLength=63"`
	// Objectives are the recovery time and recovery point objectives.
	Objectives Objectives `yaml:"objectives" json:"objectives" jsonschema:"required"`
	// Strategy decides what runs in the recovery region before a disaster
	// (default pilot-light).
	Strategy Strategy `yaml:"strategy,omitempty" json:"strategy,omitempty"`
	// Regions are the primary region and the recovery region.
	Regions Regions `yaml:"regions" json:"regions" jsonschema:"required"`
	// Data lists what is copied to the recovery region.
	Data Data `yaml:"data,omitempty" json:"data,omitzero"`
	// Services are the workloads started in the recovery region.
	Services []Service `yaml:"services,omitempty" json:"services,omitempty"`
	// Routing moves traffic between regions by DNS (optional).
	Routing *Routing `yaml:"routing,omitempty" json:"routing,omitempty"`
	// Hooks are commands and webhooks that failover and failback runbooks
	// run at the end of a stage (optional).
	Hooks []Hook `yaml:"hooks,omitempty" json:"hooks,omitempty"`
	// Network is the primary region's network that the recovery region
	// keeps pre-built (optional; AWS regions only).
	Network *Network `yaml:"network,omitempty" json:"network,omitempty"`

	file     string
	parsed   bool   // loaded by Parse: warnings holds its positioned warnings
	warnings Errors // warnings found by Parse
}

// File returns the file name the plan was loaded from, as given to Load or
// Parse; empty for a plan built in Go.
func (p *Plan) File() string { return p.file }

// Dir returns the directory of the plan file, against which relative paths
// in the plan (such as Bucket.Seed) are resolved; "." for a plan built in Go.
func (p *Plan) Dir() string { return filepath.Dir(p.file) }

// Objectives are the targets a recovery must meet.
type Objectives struct {
	// RTO is the recovery time objective: the longest acceptable time from
	// a disaster to service restored in the recovery region. Required.
	RTO Duration `yaml:"rto" json:"rto" jsonschema:"required"`
	// RPO is the recovery point objective: the most recent data that may be
	// lost, as an age. Required.
	RPO Duration `yaml:"rpo" json:"rpo" jsonschema:"required"`
}

// Strategy is a disaster-recovery strategy: how much of the workload runs in
// the recovery region before a disaster.
type Strategy string

// Strategies, from cheapest and slowest to dearest and fastest.
const (
	// BackupRestore keeps only data in the recovery region; compute is
	// created at recovery time.
	BackupRestore Strategy = "backup-restore"
	// PilotLight keeps data replicated and the infrastructure defined, with
	// no instances running; recovery starts them.
	PilotLight Strategy = "pilot-light"
	// WarmStandby keeps a scaled-down copy running (compute.standby
	// instances per service); recovery scales it up.
	WarmStandby Strategy = "warm-standby"
	// ActiveActive runs the full workload in both regions; recovery only
	// moves traffic.
	ActiveActive Strategy = "active-active"
)

// Strategies lists every valid strategy.
var Strategies = []Strategy{BackupRestore, PilotLight, WarmStandby, ActiveActive}

// Regions are the two regions of a plan.
type Regions struct {
	// Primary is the region that serves traffic in normal times. Required.
	Primary Region `yaml:"primary" json:"primary" jsonschema:"required"`
	// Recovery is the region that takes over after a disaster. Required.
	Recovery Region `yaml:"recovery" json:"recovery" jsonschema:"required"`
}

// Provider is where a region lives.
type Provider string

// Providers.
const (
	// ProviderLocal runs the region on this machine, on a loopback /24.
	ProviderLocal Provider = "local"
	// ProviderAWS is an Amazon Web Services region.
	ProviderAWS Provider = "aws"
	// ProviderSim is a simulated cloud with a virtual clock, for planning.
	ProviderSim Provider = "sim"
)

// Providers lists every valid provider.
var Providers = []Provider{ProviderLocal, ProviderAWS, ProviderSim}

// Region is one region of a plan.
type Region struct {
	// Name of the region. For aws it is the AWS region code, such as
	// ap-northeast-2; otherwise a lowercase label such as seoul. Required.
	Name string `yaml:"name" json:"name" jsonschema:"required"`
	// Provider of the region: local, aws or sim (default local).
	Provider Provider `yaml:"provider,omitempty" json:"provider,omitempty"`
	// Network is the loopback range of a local region: a /24 inside
	// 127.0.0.0/8 (default 127.0.1.0/24 for the primary region and
	// 127.0.2.0/24 for the recovery region). Local regions only.
	Network string `yaml:"network,omitempty" json:"network,omitempty"`
	// Profile is the AWS shared-configuration profile (default: the
	// standard AWS configuration chain). AWS regions only.
	Profile string `yaml:"profile,omitempty" json:"profile,omitempty"`
	// RoleARN is an IAM role assumed in this region (optional). AWS regions
	// only.
	RoleARN string `yaml:"roleArn,omitempty" json:"roleArn,omitempty"`
	// Endpoint overrides the AWS endpoint URL, for S3-compatible or test
	// endpoints (optional). AWS regions only.
	Endpoint string `yaml:"endpoint,omitempty" json:"endpoint,omitempty"`
	// NoCapacity lists instance types that have no capacity in this region,
	// so that a recovery exercises its capacity fallback: it launches the
	// next of a service's instance types instead, with the count
	// recomputed. Local regions only.
	NoCapacity []string `yaml:"noCapacity,omitempty" json:"noCapacity,omitempty"`
}

// Default local networks of the primary and recovery regions.
const (
	DefaultPrimaryNetwork  = "127.0.1.0/24"
	DefaultRecoveryNetwork = "127.0.2.0/24"
)

// Default fills every unset (zero) field of a plan built in Go with its
// default, as documented on each field. Parse applies the same defaults
// before decoding, so an explicit zero in a file is kept.
func (p *Plan) Default() {
	p.setDefaults()
	for i := range p.Services {
		s := &p.Services[i]
		s.setDefaults()
		if s.Compute.Local != nil {
			s.Compute.Local.setDefaults()
		}
		if lb := s.LoadBalancer; lb != nil {
			lb.setDefaults()
			if lb.HealthCheck != nil {
				lb.HealthCheck.setDefaults()
			}
		}
	}
	for i := range p.Data.Buckets {
		p.Data.Buckets[i].setDefaults()
	}
	for i := range p.Hooks {
		p.Hooks[i].setDefaults()
	}
	if p.Data.Snapshots != nil {
		p.Data.Snapshots.setDefaults()
	}
	if p.Data.Inventory != nil {
		p.Data.Inventory.setDefaults()
	}
	if p.Routing != nil {
		for i := range p.Routing.Records {
			r := &p.Routing.Records[i]
			r.setDefaults()
			if r.HealthCheck != nil {
				r.HealthCheck.setDefaults()
			}
		}
	}
	p.resolve()
}

func (p *Plan) setDefaults() {
	if p.Strategy == "" {
		p.Strategy = PilotLight
	}
	p.Regions.Primary.setDefaults()
	p.Regions.Recovery.setDefaults()
}

func (r *Region) setDefaults() {
	if r.Provider == "" {
		r.Provider = ProviderLocal
	}
}

// resolve fills the defaults that depend on other fields. Each is a string
// whose empty value means "unset", so it is safe to run after decoding.
func (p *Plan) resolve() {
	if r := &p.Regions.Primary; r.Provider == ProviderLocal && r.Network == "" {
		r.Network = DefaultPrimaryNetwork
	}
	if r := &p.Regions.Recovery; r.Provider == ProviderLocal && r.Network == "" {
		r.Network = DefaultRecoveryNetwork
	}
	for i := range p.Data.Buckets {
		if b := &p.Data.Buckets[i]; b.Replica == "" {
			b.Replica = b.Name
		}
	}
	for i := range p.Services {
		lb := p.Services[i].LoadBalancer
		if lb == nil {
			continue
		}
		if lb.HealthCheck == nil {
			lb.HealthCheck = &HealthCheck{}
			lb.HealthCheck.setDefaults()
		}
		lb.HealthCheck.resolve()
	}
	if rt := p.Routing; rt != nil {
		if rt.Zone != "" && rt.Zone[len(rt.Zone)-1] != '.' {
			rt.Zone += "."
		}
		for i := range rt.Records {
			if hc := rt.Records[i].HealthCheck; hc != nil {
				hc.resolve()
				if hc.Vantages == 0 {
					hc.Vantages = DefaultVantages
				}
				if hc.Rule == "" {
					hc.Rule = DefaultRule
				}
			}
		}
	}
}

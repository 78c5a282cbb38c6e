package plan

import "strings"

// Routing moves traffic between regions with DNS records.
type Routing struct {
	// Zone is the DNS zone of the records, such as ticketing.test.; a
	// trailing dot is added when missing. Required.
	Zone string `yaml:"zone" json:"zone" jsonschema:"required"`
	// Records are the DNS records that point at services.
	Records []Record `yaml:"records,omitempty" json:"records,omitempty"`
}

// Policy is a DNS routing policy.
type Policy string

// Routing policies.
const (
	// PolicySimple answers with the region that currently serves.
	PolicySimple Policy = "simple"
	// PolicyFailover answers with the primary region while its health
	// check passes and with the recovery region otherwise.
	PolicyFailover Policy = "failover"
	// PolicyWeighted splits answers between regions by weight.
	PolicyWeighted Policy = "weighted"
)

// Policies lists every valid routing policy.
var Policies = []Policy{PolicySimple, PolicyFailover, PolicyWeighted}

// DefaultTTL is the default TTL of a record, in seconds.
const DefaultTTL = 60

// Record is a DNS record that points at the load balancer of a service.
type Record struct {
	// Name relative to the zone, such as www, or @ for the zone apex.
	// Unique. Required.
	Name string `yaml:"name" json:"name" jsonschema:"required"`
	// Service whose load balancer the record points at. Required.
	Service string `yaml:"service" json:"service" jsonschema:"required"`
	// Policy: simple, failover or weighted (default simple).
	Policy Policy `yaml:"policy,omitempty" json:"policy,omitempty"`
	// TTL in seconds, 0 to 86400 (default 60).
	TTL int `yaml:"ttl" json:"ttl" jsonschema:"minimum=0,maximum=86400"`
	// Weights of the regions; required for, and only valid with, the
	// weighted policy.
	Weights *Weights `yaml:"weights,omitempty" json:"weights,omitempty"`
	// HealthCheck of the regions' endpoints; required for failover.
	HealthCheck *HealthCheck `yaml:"healthCheck,omitempty" json:"healthCheck,omitempty"`
}

func (r *Record) setDefaults() {
	if r.Policy == "" {
		r.Policy = PolicySimple
	}
	if r.TTL == 0 {
		r.TTL = DefaultTTL
	}
}

// FQDN returns the absolute name of the record in zone.
func (r Record) FQDN(zone string) string {
	if !strings.HasSuffix(zone, ".") {
		zone += "."
	}
	if r.Name == "@" || r.Name == "" {
		return zone
	}
	return r.Name + "." + zone
}

// Weights are the relative weights of the regions in a weighted record,
// each 0 to 255, not both 0.
type Weights struct {
	// Primary is the weight of the primary region.
	Primary int `yaml:"primary" json:"primary" jsonschema:"minimum=0,maximum=255"`
	// Recovery is the weight of the recovery region.
	Recovery int `yaml:"recovery" json:"recovery" jsonschema:"minimum=0,maximum=255"`
}

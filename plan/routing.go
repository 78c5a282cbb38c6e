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

// RecordType is the DNS type of a record.
type RecordType string

// Record types.
const (
	TypeA     RecordType = "A"
	TypeAAAA  RecordType = "AAAA"
	TypeCNAME RecordType = "CNAME"
	TypeTXT   RecordType = "TXT"
)

// RecordTypes lists every valid record type.
var RecordTypes = []RecordType{TypeA, TypeAAAA, TypeCNAME, TypeTXT}

// Record is a DNS record. Its targets are exactly one of: the load balancer
// of a service in each region (service), fixed values (values, simple
// policy), or fixed targets per region (primary and recovery, failover and
// weighted policies).
type Record struct {
	// Name relative to the zone, such as www, or @ for the zone apex.
	// Unique. Required.
	Name string `yaml:"name" json:"name" jsonschema:"required"`
	// Type: A, AAAA, CNAME or TXT (default A).
	Type RecordType `yaml:"type,omitempty" json:"type,omitempty"`
	// Service whose load balancer the record points at, in each region
	// (types A and AAAA).
	Service string `yaml:"service,omitempty" json:"service,omitempty"`
	// Values are the fixed targets of a simple record: addresses for A and
	// AAAA, one domain name for CNAME, strings for TXT.
	Values []string `yaml:"values,omitempty" json:"values,omitempty"`
	// Primary are the fixed targets in the primary region of a failover or
	// weighted record, in the form of values (default: the service's load
	// balancer).
	Primary []string `yaml:"primary,omitempty" json:"primary,omitempty"`
	// Recovery are the fixed targets in the recovery region of a failover
	// or weighted record, in the form of values (default: the service's
	// load balancer).
	Recovery []string `yaml:"recovery,omitempty" json:"recovery,omitempty"`
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
	if r.Type == "" {
		r.Type = TypeA
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

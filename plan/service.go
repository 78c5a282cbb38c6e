package plan

import (
	"strconv"
	"time"
)

// Service is a workload started in the recovery region.
type Service struct {
	// Name of the service: unique, lowercase letters, digits and hyphens.
	// Required.
	Name string `yaml:"name" json:"name" jsonschema:"required,pattern=^[a-z0-9-]+$,maxLength=63"`
	// Tier is the recovery priority, 1 (first) to 3 (default 1).
	Tier int `yaml:"tier,omitempty" json:"tier,omitempty" jsonschema:"minimum=1,maximum=3"`
	// DependsOn names services that must be running before this one starts.
	DependsOn []string `yaml:"dependsOn,omitempty" json:"dependsOn,omitempty"`
	// Compute describes the instances of the service. Required.
	Compute Compute `yaml:"compute" json:"compute" jsonschema:"required"`
	// LoadBalancer spreads traffic over the instances (optional).
	LoadBalancer *LoadBalancer `yaml:"loadBalancer,omitempty" json:"loadBalancer,omitempty"`
}

func (s *Service) setDefaults() {
	if s.Tier == 0 {
		s.Tier = 1
	}
}

// Compute describes the instances of a service on each provider.
type Compute struct {
	// Count is the number of instances serving in the primary region and
	// after a recovery; at least 1. Required.
	Count int `yaml:"count" json:"count" jsonschema:"required,minimum=1"`
	// Standby is the number of instances kept running in the recovery
	// region in normal times, 0 to count (default 0). The warm-standby
	// strategy needs it above 0.
	Standby int `yaml:"standby,omitempty" json:"standby,omitempty" jsonschema:"minimum=0"`
	// Local is how to run the service in a local region. Required when a
	// region uses the local provider.
	Local *LocalCompute `yaml:"local,omitempty" json:"local,omitempty"`
	// AWS is how to run the service in an AWS region. Required when a
	// region uses the aws provider.
	AWS *AWSCompute `yaml:"aws,omitempty" json:"aws,omitempty"`
}

// DefaultLocalPort is the default port of a local instance.
const DefaultLocalPort = 8080

// LocalCompute runs a service as supervised child processes.
type LocalCompute struct {
	// Command is the program and its arguments, each a Go template with
	// {{.Bin}}, {{.Addr}}, {{.Region}} and {{.Endpoint}}. Required.
	Command []string `yaml:"command" json:"command" jsonschema:"required,minItems=1"`
	// Port each instance listens on, on its own loopback address
	// (default 8080).
	Port int `yaml:"port,omitempty" json:"port,omitempty" jsonschema:"minimum=1,maximum=65535"`
	// Env is added to the environment of each instance.
	Env map[string]string `yaml:"env,omitempty" json:"env,omitempty"`
	// InstanceTypes in order of preference (default [local.medium]); later
	// types are fallbacks when a region has no capacity for the first, and
	// the count is recomputed by vCPU and memory: local.small, local.medium,
	// local.large, local.xlarge (1, 2, 4, 8 vCPU; 2 GiB per vCPU).
	InstanceTypes []string `yaml:"instanceTypes,omitempty" json:"instanceTypes,omitempty"`
}

// DefaultLocalInstanceType is the instance type of a local service that
// names none.
const DefaultLocalInstanceType = "local.medium"

func (c *LocalCompute) setDefaults() {
	if c.Port == 0 {
		c.Port = DefaultLocalPort
	}
	if len(c.InstanceTypes) == 0 {
		c.InstanceTypes = []string{DefaultLocalInstanceType}
	}
}

// AWSCompute runs a service as an EC2 Auto Scaling group.
type AWSCompute struct {
	// LaunchTemplate is the name of the EC2 launch template. Required.
	LaunchTemplate string `yaml:"launchTemplate" json:"launchTemplate" jsonschema:"required"`
	// InstanceTypes in order of preference; later types are fallbacks when
	// capacity is short. At least one. Required.
	InstanceTypes []string `yaml:"instanceTypes" json:"instanceTypes" jsonschema:"required,minItems=1"`
	// Subnets to launch into (default: the launch template's).
	Subnets []string `yaml:"subnets,omitempty" json:"subnets,omitempty"`
}

// Algorithm is a load-balancing algorithm.
type Algorithm string

// Load-balancing algorithms.
const (
	RoundRobin       Algorithm = "round-robin"
	LeastConnections Algorithm = "least-connections"
)

// Algorithms lists every valid load-balancing algorithm.
var Algorithms = []Algorithm{RoundRobin, LeastConnections}

// LoadBalancer spreads traffic over the healthy instances of a service.
type LoadBalancer struct {
	// Port the load balancer listens on, 1 to 65535. Required.
	Port int `yaml:"port" json:"port" jsonschema:"required,minimum=1,maximum=65535"`
	// Algorithm: round-robin or least-connections (default round-robin).
	Algorithm Algorithm `yaml:"algorithm,omitempty" json:"algorithm,omitempty"`
	// HealthCheck of the instances (default: an http check of /healthz).
	HealthCheck *HealthCheck `yaml:"healthCheck,omitempty" json:"healthCheck,omitempty"`
}

func (lb *LoadBalancer) setDefaults() {
	if lb.Algorithm == "" {
		lb.Algorithm = RoundRobin
	}
}

// CheckType is the protocol of a health check.
type CheckType string

// Health-check types.
const (
	CheckHTTP  CheckType = "http"
	CheckHTTPS CheckType = "https"
	CheckTCP   CheckType = "tcp"
)

// CheckTypes lists every valid health-check type.
var CheckTypes = []CheckType{CheckHTTP, CheckHTTPS, CheckTCP}

// Health-check defaults.
const (
	DefaultCheckPath         = "/healthz"
	DefaultCheckInterval     = 2 * time.Second
	DefaultCheckTimeout      = time.Second
	DefaultFailureThreshold  = 3
	DefaultSuccessThreshold  = 2
	DefaultCheckExpectStatus = "200-399"
)

// HealthCheck probes a target; it is used by load balancers (per instance)
// and DNS records (per region).
type HealthCheck struct {
	// Type: http, https or tcp (default http).
	Type CheckType `yaml:"type,omitempty" json:"type,omitempty"`
	// Path requested by http and https checks (default /healthz).
	Path string `yaml:"path,omitempty" json:"path,omitempty" jsonschema:"pattern=^/"`
	// Port probed (default: the target's port).
	Port int `yaml:"port,omitempty" json:"port,omitempty" jsonschema:"minimum=1,maximum=65535"`
	// Interval between probes (default 2s).
	Interval Duration `yaml:"interval,omitempty" json:"interval,omitempty"`
	// Timeout of one probe, at most the interval (default 1s).
	Timeout Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	// FailureThreshold is the number of consecutive failures that make a
	// healthy target unhealthy, 1 to 10 (default 3).
	FailureThreshold int `yaml:"failureThreshold,omitempty" json:"failureThreshold,omitempty" jsonschema:"minimum=1,maximum=10"`
	// SuccessThreshold is the number of consecutive successes that make an
	// unhealthy target healthy, 1 to 10 (default 2).
	SuccessThreshold int `yaml:"successThreshold,omitempty" json:"successThreshold,omitempty" jsonschema:"minimum=1,maximum=10"`
	// ExpectStatus is the accepted HTTP status, a code or a range such as
	// 200-399 (default 200-399). http and https only.
	ExpectStatus string `yaml:"expectStatus,omitempty" json:"expectStatus,omitempty" jsonschema:"pattern=^[1-5][0-9][0-9](-[1-5][0-9][0-9])?$"`
	// Body, when set, must occur in the response body. http and https only.
	Body string `yaml:"body,omitempty" json:"body,omitempty"`
	// InsecureSkipVerify skips TLS certificate verification (default
	// false). https only.
	InsecureSkipVerify bool `yaml:"insecureSkipVerify,omitempty" json:"insecureSkipVerify,omitempty"`
	// Vantages is the number of vantage points that probe each target, 1
	// to 9 (default 1). Routing records only.
	Vantages int `yaml:"vantages,omitempty" json:"vantages,omitempty" jsonschema:"minimum=1,maximum=9"`
	// Rule decides a target's health from its vantage points' verdicts:
	// any, all, majority or >N% such as >60% (default majority). Routing
	// records only.
	Rule string `yaml:"rule,omitempty" json:"rule,omitempty" jsonschema:"pattern=^(any|all|majority|>[0-9]{1,2}%)$"`
}

// Vantage-point rule defaults.
const (
	DefaultVantages = 1
	DefaultRule     = "majority"
)

func (hc *HealthCheck) setDefaults() {
	if hc.Type == "" {
		hc.Type = CheckHTTP
	}
	if hc.Interval == 0 {
		hc.Interval = Duration(DefaultCheckInterval)
	}
	if hc.Timeout == 0 {
		hc.Timeout = Duration(DefaultCheckTimeout)
	}
	if hc.FailureThreshold == 0 {
		hc.FailureThreshold = DefaultFailureThreshold
	}
	if hc.SuccessThreshold == 0 {
		hc.SuccessThreshold = DefaultSuccessThreshold
	}
}

// resolve fills the defaults that depend on the check type.
func (hc *HealthCheck) resolve() {
	if hc.Type != CheckHTTP && hc.Type != CheckHTTPS {
		return
	}
	if hc.Path == "" {
		hc.Path = DefaultCheckPath
	}
	if hc.ExpectStatus == "" {
		hc.ExpectStatus = DefaultCheckExpectStatus
	}
}

// ExpectRange returns the accepted HTTP status range of ExpectStatus
// (default 200–399). A single code gives a range of one.
func (hc HealthCheck) ExpectRange() (lo, hi int) {
	m := statusRE.FindStringSubmatch(hc.ExpectStatus)
	if m == nil {
		return 200, 399
	}
	lo, _ = strconv.Atoi(m[1])
	hi = lo
	if m[3] != "" {
		hi, _ = strconv.Atoi(m[3])
	}
	return lo, hi
}

// Package sim is the simulated cloud of pilotlight. For now it holds the
// step-duration model: how long provisioning and replication take in a
// cloud region (an instance launch, a load balancer, a restore from a
// snapshot, a DNS change, replication lag), and estimates of a plan's
// recovery time and recovery point per strategy built from it. The model
// is data (model.yaml, embedded), overridable with LoadModel, and is the
// single source of truth for the simulator and for `pilotlight advise`.
package sim

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/pilotlight/pilotlight/plan"
)

//go:embed model.yaml
var defaultModel []byte

// Model is the step-duration model. Every field is documented, with its
// source or the assumption behind it, in model.yaml.
type Model struct {
	Instance          InstanceModel          `yaml:"instance" json:"instance"`
	AutoScaling       AutoScalingModel       `yaml:"autoScaling" json:"autoScaling"`
	LoadBalancer      LoadBalancerModel      `yaml:"loadBalancer" json:"loadBalancer"`
	Database          DatabaseModel          `yaml:"database" json:"database"`
	Volume            VolumeModel            `yaml:"volume" json:"volume"`
	Snapshot          SnapshotModel          `yaml:"snapshot" json:"snapshot"`
	DNS               DNSModel               `yaml:"dns" json:"dns"`
	ObjectReplication ObjectReplicationModel `yaml:"objectReplication" json:"objectReplication"`
	// MultiRegionWrite is the recovery point of data written in both
	// regions before a write is acknowledged (active-active).
	MultiRegionWrite plan.Duration `yaml:"multiRegionWrite" json:"multiRegionWrite"`
}

// InstanceModel times instances.
type InstanceModel struct {
	// Launch is the launch from zero until running, by instance family.
	Launch LaunchModel `yaml:"launch" json:"launch"`
	// Boot is from running until the application answers its health check.
	Boot plan.Duration `yaml:"boot" json:"boot"`
	// Start is the start of a stopped instance until running.
	Start plan.Duration `yaml:"start" json:"start"`
	// RunInstances is the EC2 RunInstances resource bucket.
	RunInstances Bucket `yaml:"runInstances" json:"runInstances"`
}

// LaunchModel is the launch time of an instance by family.
type LaunchModel struct {
	// Default applies to families not listed.
	Default plan.Duration `yaml:"default" json:"default"`
	// Families maps an instance family (m6i, local) to its launch time.
	Families map[string]plan.Duration `yaml:"families" json:"families"`
}

// Bucket is a token bucket: Burst requests at once, then PerSecond.
type Bucket struct {
	Burst     int     `yaml:"burst" json:"burst"`
	PerSecond float64 `yaml:"perSecond" json:"perSecond"`
}

// AutoScalingModel times Auto Scaling groups.
type AutoScalingModel struct {
	// ScaleOut is from a desired-capacity change to the launch requests.
	ScaleOut plan.Duration `yaml:"scaleOut" json:"scaleOut"`
}

// LoadBalancerModel times load balancers and their targets.
type LoadBalancerModel struct {
	// Create is the creation of a load balancer until active.
	Create plan.Duration `yaml:"create" json:"create"`
	// Register is from target registration to its first health check.
	Register plan.Duration `yaml:"register" json:"register"`
	// MinInterval is the shortest target health check interval.
	MinInterval plan.Duration `yaml:"minInterval" json:"minInterval"`
}

// DatabaseModel times databases.
type DatabaseModel struct {
	// Restore is the restore from a snapshot, by size.
	Restore Rate `yaml:"restore" json:"restore"`
	// Promote is the promotion of a cross-region replica.
	Promote ByKind `yaml:"promote" json:"promote"`
	// ReplicaLag is the replication lag of a cross-region replica.
	ReplicaLag ByKind `yaml:"replicaLag" json:"replicaLag"`
}

// ByKind holds one duration for database instances and one for clusters.
type ByKind struct {
	Instance plan.Duration `yaml:"instance" json:"instance"`
	Cluster  plan.Duration `yaml:"cluster" json:"cluster"`
}

// Of returns the duration for a cluster or an instance.
func (k ByKind) Of(cluster bool) time.Duration {
	if cluster {
		return k.Cluster.D()
	}
	return k.Instance.D()
}

// VolumeModel times block volumes.
type VolumeModel struct {
	// Restore is the creation of a volume from a snapshot, by size.
	Restore Rate `yaml:"restore" json:"restore"`
}

// SnapshotModel times snapshots.
type SnapshotModel struct {
	// Interval is the backup schedule of snapshots and batch copies.
	Interval plan.Duration `yaml:"interval" json:"interval"`
	// Copy is the cross-region copy of an incremental snapshot, by the
	// size of the change it carries.
	Copy Rate `yaml:"copy" json:"copy"`
}

// DNSModel times DNS changes and health checks.
type DNSModel struct {
	// Propagation is a record change until every authoritative server
	// answers with it.
	Propagation plan.Duration `yaml:"propagation" json:"propagation"`
	// MinCheckInterval is the shortest DNS health check interval.
	MinCheckInterval plan.Duration `yaml:"minCheckInterval" json:"minCheckInterval"`
}

// ObjectReplicationModel is the lag of object replication.
type ObjectReplicationModel struct {
	// Continuous is the lag of pilotlight's continuous (event-driven)
	// replication.
	Continuous plan.Duration `yaml:"continuous" json:"continuous"`
	// Native is the lag of S3 Cross-Region Replication.
	Native plan.Duration `yaml:"native" json:"native"`
	// Batch is a batch copy of one backup interval's changes.
	Batch plan.Duration `yaml:"batch" json:"batch"`
}

// Rate is a duration that grows with a size: Fixed + PerGB × GB.
type Rate struct {
	Fixed plan.Duration `yaml:"fixed" json:"fixed"`
	PerGB plan.Duration `yaml:"perGB" json:"perGB"`
}

// For returns the duration for gb gigabytes.
func (r Rate) For(gb float64) time.Duration {
	return r.Fixed.D() + time.Duration(float64(r.PerGB)*gb)
}

// Launch returns the launch time of an instance type such as m6i.xlarge,
// by its family (the part before the dot).
func (m *Model) Launch(instanceType string) time.Duration {
	family, _, _ := strings.Cut(instanceType, ".")
	if d, ok := m.Instance.Launch.Families[family]; ok {
		return d.D()
	}
	return m.Instance.Launch.Default.D()
}

// DefaultModel returns the embedded model (model.yaml). Each call returns a
// fresh copy, which the caller may change.
func DefaultModel() *Model {
	m, err := ParseModel("model.yaml", defaultModel)
	if err != nil {
		panic(err) // the embedded model is checked by the tests
	}
	return m
}

// LoadModel reads, strictly decodes and validates the model file at path.
func LoadModel(path string) (*Model, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("sim: load model %s: %w", path, err)
	}
	return ParseModel(path, data)
}

// ParseModel decodes and validates a model read from file (used in error
// messages). Unknown fields are errors; every field must be given.
func ParseModel(file string, data []byte) (*Model, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var m Model
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("sim: parsing model %s: %w", file, err)
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("sim: model %s: %w", file, err)
	}
	return &m, nil
}

// FieldError is an invalid field of a model.
type FieldError struct {
	Field string
	Value any
	Msg   string
}

func (e *FieldError) Error() string { return fmt.Sprintf("%s: %s, got %v", e.Field, e.Msg, e.Value) }

// Validate checks that every duration is set and positive (the
// multi-region write point may be zero) and the bucket is usable. It
// returns every problem, joined.
func (m *Model) Validate() error {
	var errs []error
	positive := func(field string, d plan.Duration) {
		if d <= 0 {
			errs = append(errs, &FieldError{Field: field, Value: d, Msg: "must be positive"})
		}
	}
	positive("instance.launch.default", m.Instance.Launch.Default)
	families := make([]string, 0, len(m.Instance.Launch.Families))
	for f := range m.Instance.Launch.Families {
		families = append(families, f)
	}
	sort.Strings(families)
	for _, f := range families {
		positive("instance.launch.families."+f, m.Instance.Launch.Families[f])
	}
	positive("instance.boot", m.Instance.Boot)
	positive("instance.start", m.Instance.Start)
	if m.Instance.RunInstances.Burst < 1 {
		errs = append(errs, &FieldError{Field: "instance.runInstances.burst", Value: m.Instance.RunInstances.Burst, Msg: "must be >= 1"})
	}
	if !(m.Instance.RunInstances.PerSecond > 0) {
		errs = append(errs, &FieldError{Field: "instance.runInstances.perSecond", Value: m.Instance.RunInstances.PerSecond, Msg: "must be positive"})
	}
	positive("autoScaling.scaleOut", m.AutoScaling.ScaleOut)
	positive("loadBalancer.create", m.LoadBalancer.Create)
	positive("loadBalancer.register", m.LoadBalancer.Register)
	positive("loadBalancer.minInterval", m.LoadBalancer.MinInterval)
	rate := func(field string, r Rate) {
		positive(field+".fixed", r.Fixed)
		positive(field+".perGB", r.PerGB)
	}
	rate("database.restore", m.Database.Restore)
	positive("database.promote.instance", m.Database.Promote.Instance)
	positive("database.promote.cluster", m.Database.Promote.Cluster)
	positive("database.replicaLag.instance", m.Database.ReplicaLag.Instance)
	positive("database.replicaLag.cluster", m.Database.ReplicaLag.Cluster)
	rate("volume.restore", m.Volume.Restore)
	positive("snapshot.interval", m.Snapshot.Interval)
	rate("snapshot.copy", m.Snapshot.Copy)
	positive("dns.propagation", m.DNS.Propagation)
	positive("dns.minCheckInterval", m.DNS.MinCheckInterval)
	positive("objectReplication.continuous", m.ObjectReplication.Continuous)
	positive("objectReplication.native", m.ObjectReplication.Native)
	positive("objectReplication.batch", m.ObjectReplication.Batch)
	if m.MultiRegionWrite < 0 {
		errs = append(errs, &FieldError{Field: "multiRegionWrite", Value: m.MultiRegionWrite, Msg: "must not be negative"})
	}
	return errors.Join(errs...)
}

// Package recovery builds the failover and failback runbooks of a plan:
// prerequisites, data, compute by service tier, load balancers, DNS and an
// end-to-end check, for the runbook engine to run against a Provider.
package recovery

import (
	"context"
	"time"

	"github.com/pilotlight/pilotlight/plan"
)

// Region roles, as the plan names them.
const (
	RolePrimary  = "primary"
	RoleRecovery = "recovery"
)

// Compute runs a plan's services in a region.
type Compute interface {
	// Scale runs count instances of instanceType for service in region,
	// creating the service's load balancer when it has none. It is
	// idempotent for a given key. A shortage of the type is an error of
	// class capacity (runbook.Classify).
	Scale(ctx context.Context, region, service, instanceType string, count int, key string) error
	// Service returns the state of service in region.
	Service(ctx context.Context, region, service string) (ServiceState, error)
}

// ServiceState is what runs of a service in a region.
type ServiceState struct {
	InstanceType string `json:"instanceType"`
	Desired      int    `json:"desired"`
	Running      int    `json:"running"`
	// Healthy counts the healthy targets of the service's load balancer.
	Healthy      int    `json:"healthy"`
	LoadBalancer string `json:"loadBalancer,omitempty"`
}

// Data moves and guards the plan's data between regions.
type Data interface {
	// Fence makes region refuse writes (on) or accept them again.
	Fence(ctx context.Context, region string, on bool) error
	// Sync runs one full replication pass of every plan bucket from → to.
	Sync(ctx context.Context, from, to string) (SyncReport, error)
	// SetReplication makes continuous replication run from → to; empty
	// names pause it (a promoted replica is no longer written by it).
	SetReplication(ctx context.Context, from, to string) error
	// Replication reports continuous replication's direction and the age
	// of each bucket's replica.
	Replication(ctx context.Context) (ReplicationReport, error)
}

// SyncReport is the outcome of a Sync.
type SyncReport struct {
	Listed, Copied, Failed int64
	Seconds                float64
}

// ReplicationReport is the state of continuous replication.
type ReplicationReport struct {
	From, To string
	Paused   bool
	Buckets  []BucketReplica
}

// BucketReplica is the freshness of one bucket's replica.
type BucketReplica struct {
	Bucket string
	// Converged is when the replica was last known to hold every object of
	// the source (zero: never).
	Converged time.Time
	// Lag is the replica's current age as replication measures it.
	Lag time.Duration
}

// Routing decides which region a plan's DNS records answer with.
type Routing interface {
	// SetActive pins record to role (RolePrimary or RoleRecovery); ""
	// gives the decision back to the health checks.
	SetActive(ctx context.Context, record, role string) error
}

// Probe checks regions and the service from outside.
type Probe interface {
	// Reachable checks that region answers (its control endpoints and
	// object store).
	Reachable(ctx context.Context, region string) error
	// Verify makes one end-to-end request through record's DNS name and
	// returns the region that answered.
	Verify(ctx context.Context, record string) (Answer, error)
}

// Answer is the outcome of one end-to-end request.
type Answer struct {
	Addr   string `json:"addr"`
	Region string `json:"region"`
	Status int    `json:"status"`
}

// Provider is everything a recovery runbook needs from the regions.
type Provider interface {
	Compute
	Data
	Routing
	Probe
}

// BatchRouting is a Routing that pins many records in one call (Route 53
// change batches, for example). When the provider has it, Build switches
// the records in steps of at most MaxRecords records instead of one step
// per record.
type BatchRouting interface {
	// SetActiveMany pins every record to role ("" releases them).
	SetActiveMany(ctx context.Context, records []string, role string) error
	// MaxRecords is the most records one SetActiveMany call takes.
	MaxRecords() int
}

// Databases restores the plan's databases in a region. When the provider
// has it, Build restores every database of the plan in the data tier of a
// failover (restore, then wait until available).
type Databases interface {
	// RestoreDatabase starts the restore of db in region from its newest
	// copy there; it is idempotent for a given key.
	RestoreDatabase(ctx context.Context, region string, db plan.Database, key string) error
	// Database returns the state of db's restore in region.
	Database(ctx context.Context, region, id string) (DatabaseState, error)
}

// DatabaseState is the state of a restored database.
type DatabaseState struct {
	Available bool   `json:"available"`
	Status    string `json:"status"`
}

package readiness

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/pilotlight/pilotlight/plan"
	"github.com/pilotlight/pilotlight/replicate/rpo"
)

// Check IDs, shared by every provider's checks.
const (
	// CheckRecoveryPoint: each volume and database has a completed copy in
	// the recovery region younger than the RPO, and the copy exists.
	CheckRecoveryPoint = "recovery-point"
	// CheckBucket: each bucket's replication lag is within the RPO.
	CheckBucket = "bucket-replication"
	// CheckImage: the AMIs of the services' launch templates exist in the
	// recovery region.
	CheckImage = "image"
	// CheckContainerImage: the plan's container images are in the
	// recovery registry.
	CheckContainerImage = "container-image"
	// CheckNetwork: the primary network is mirrored in the recovery region.
	CheckNetwork = "network"
	// CheckQuota: service quotas cover the capacity the plan launches.
	CheckQuota = "quota"
	// CheckInstanceType: the services' instance types are offered in the
	// zones of their subnets.
	CheckInstanceType = "instance-type"
	// CheckIAM: the caller holds the permissions the runbook needs.
	CheckIAM = "iam"
	// CheckDNS: routing records and health checks are valid (and, on a
	// DNS service, present as the plan declares them).
	CheckDNS = "dns"
	// CheckInventory: the newest export of the primary's metadata in the
	// recovery region is at most two export intervals old.
	CheckInventory = "inventory"
)

// Routing checks the plan's routing block without a cloud: the plan's
// validation warnings on routing (such as a TTL above the RTO) are
// warnings, and a failover record without a health check fails. A plan
// without routing is skipped.
func Routing(p *plan.Plan) Check {
	return Check{ID: CheckDNS, Subject: "routing", Run: func(context.Context) ([]Result, error) {
		if p.Routing == nil {
			return []Result{Skipf(CheckDNS, "routing", "the plan has no routing block: traffic is not moved by DNS")}, nil
		}
		var out []Result
		failing := false
		for _, r := range p.Routing.Records {
			if r.Policy == plan.PolicyFailover && r.HealthCheck == nil {
				failing = true
				out = append(out, Failf(CheckDNS, "record "+r.FQDN(p.Routing.Zone),
					"failover record has no health check: DNS cannot fail over by itself; add routing.records[].healthCheck"))
			}
		}
		for _, w := range p.Warnings() {
			if strings.HasPrefix(w.Path, "routing") {
				out = append(out, Warnf(CheckDNS, w.Path, "%s", w.Msg))
			}
		}
		if !failing {
			out = append([]Result{Passf(CheckDNS, "routing", "zone %s: %d records valid", p.Routing.Zone, len(p.Routing.Records))}, out...)
		}
		return out, nil
	}}
}

// BucketLags reports the replication status of a plan's buckets, such as
// a running replicator's RPO trackers.
type BucketLags interface {
	// BucketStatus returns the status of the bucket called name, and
	// false when it is not known. It must return when ctx is cancelled.
	BucketStatus(ctx context.Context, name string) (rpo.Status, bool, error)
}

// Buckets checks each bucket of the plan against the RPO with lags (nil:
// every bucket is skipped, its lag being unknown here). A bucket fails
// when its RPO bound (or, before a pass completes, its lag) is above the
// RPO, or its replication is stalled.
func Buckets(p *plan.Plan, lags BucketLags) []Check {
	var out []Check
	rpoD := p.Objectives.RPO.D()
	for _, b := range p.Data.Buckets {
		subject := "bucket " + b.Name
		if lags == nil {
			reason := "replication lag is not known to readiness: check `pilotlight status` (pilotlight's replicator)"
			if b.Native != nil {
				reason = "replication lag is not known to readiness: check `pilotlight replicate --native` status (S3 Replication)"
			}
			out = append(out, Skipped(CheckBucket, subject, reason))
			continue
		}
		out = append(out, Check{ID: CheckBucket, Subject: subject, Run: func(ctx context.Context) ([]Result, error) {
			st, ok, err := lags.BucketStatus(ctx, b.Name)
			if err != nil {
				return nil, fmt.Errorf("readiness: bucket status %s: %w", b.Name, err)
			}
			if !ok {
				return []Result{Skipf(CheckBucket, subject, "no replication status: is `pilotlight replicate` (or `pilotlight up`) running for it?")}, nil
			}
			return []Result{bucketVerdict(subject, st, rpoD)}, nil
		}})
	}
	return out
}

// bucketVerdict judges one bucket's status against rpo.
func bucketVerdict(subject string, st rpo.Status, rpoD time.Duration) Result {
	lag := seconds(st.LagSeconds)
	bound := lag
	if st.RPOBoundSeconds >= 0 {
		bound = max(bound, seconds(st.RPOBoundSeconds))
	}
	switch {
	case st.State == rpo.StateStalled:
		return Failf(CheckBucket, subject, "replication stalled (%s): fix the cause and restart pilotlight replicate", st.Reason)
	case bound > rpoD:
		return Failf(CheckBucket, subject, "replication lag %s, RPO %s: objects newer than that may be missing; let replication catch up",
			bound.Round(time.Second), rpoD)
	case st.RPOBoundSeconds < 0:
		return Warnf(CheckBucket, subject, "lag %s, but no complete pass yet: objects not listed by a pass may be missing", lag.Round(time.Second))
	}
	return Passf(CheckBucket, subject, "replication lag %s, RPO %s", bound.Round(time.Second), rpoD)
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// InventoryLoader returns when the newest inventory export in the
// recovery region was taken, and false if there is none.
type InventoryLoader func(ctx context.Context) (taken time.Time, ok bool, err error)

// Inventory checks that the primary's metadata, which a recovery reads
// instead of the failed region, was exported recently: a missing export
// fails, as does one older than two of data.inventory's intervals (one
// missed export is tolerated). now is the time of the run.
func Inventory(p *plan.Plan, now time.Time, load InventoryLoader) Check {
	bucket := p.Data.InventoryBucket()
	subject := "inventory of plan " + p.Name
	return Check{ID: CheckInventory, Subject: subject, Run: func(ctx context.Context) ([]Result, error) {
		if bucket == "" {
			return []Result{Failf(CheckInventory, subject,
				"no inventory bucket: set data.inventory.bucket (or data.snapshots.catalogBucket) so that a recovery need not read the primary region")}, nil
		}
		taken, ok, err := load(ctx)
		if err != nil {
			return nil, err
		}
		if !ok {
			return []Result{Failf(CheckInventory, subject,
				"no inventory export in bucket %s: run 'pilotlight inventory export' or 'pilotlight protect'", bucket)}, nil
		}
		interval := plan.DefaultInventoryInterval
		if in := p.Data.Inventory; in != nil && in.Interval.D() > 0 {
			interval = in.Interval.D()
		}
		age := now.Sub(taken)
		if age > 2*interval {
			return []Result{Failf(CheckInventory, subject,
				"newest export is %s old, interval %s: is 'pilotlight protect' running?", RoundAge(age), interval)}, nil
		}
		return []Result{Passf(CheckInventory, subject, "newest export in bucket %s is %s old (interval %s)", bucket, RoundAge(age), interval)}, nil
	}}
}

// RoundAge rounds an age for reading: to the minute from an hour on, to
// the second below.
func RoundAge(d time.Duration) time.Duration {
	if d >= time.Hour {
		return d.Round(time.Minute)
	}
	return d.Round(time.Second)
}

package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pilotlight/pilotlight/gitmirror"
	"github.com/pilotlight/pilotlight/plan"
	"github.com/pilotlight/pilotlight/provider/aws"
)

// Row states of protect.
const (
	rowCompleted = aws.StateCompleted
	rowFailed    = aws.StateFailed
)

// planProtectJobs returns the protection jobs of p, in a fixed order, each
// with what it reuses: the replicate --once pass, the snapshot protector,
// images sync, mirror and inventory export.
func planProtectJobs(g *globals, p *plan.Plan, o *protectOptions) []protectJob {
	return []protectJob{
		objectsJob(g, p, o.interval),
		snapshotsJob(p, o.interval, func(ctx context.Context) (protectRunner, error) { return newProtector(ctx, g, p) }),
		imagesJob(g, p, o.interval),
		repositoriesJob(g, p, o.interval),
		inventoryJob(g, p),
	}
}

// objectsJob makes one replication pass per bucket, as `replicate --once`.
func objectsJob(g *globals, p *plan.Plan, interval time.Duration) protectJob {
	j := protectJob{name: "objects", interval: interval}
	if len(p.Data.Buckets) == 0 {
		j.skip = "the plan has no data.buckets"
		return j
	}
	j.run = func(ctx context.Context) ([]protectRow, error) {
		pairs, err := (&replicateFlags{}).pairsFromPlan(ctx, g, p)
		if err != nil {
			return nil, err
		}
		sums, errs, err := replicateOnce(ctx, g, defaultReplicateOptions(), pairs)
		if sums == nil {
			return nil, err
		}
		rows := make([]protectRow, len(pairs))
		failed := 0
		for i, pr := range pairs {
			r := protectRow{Kind: "bucket", Resource: pr.name, Copy: pr.dst.Name, State: rowCompleted, RecoveryPoint: sums[i].Started}
			switch {
			case errs[i] != nil:
				r.State, r.Error, r.RecoveryPoint = rowFailed, errs[i].Error(), time.Time{}
			case sums[i].Failed > 0:
				r.State, r.Error, r.RecoveryPoint = rowFailed, fmt.Sprintf("%d objects failed", sums[i].Failed), time.Time{}
			}
			if r.State == rowFailed {
				failed++
			}
			rows[i] = r
		}
		if err == nil && failed > 0 {
			err = fmt.Errorf("%d of %d buckets failed", failed, len(pairs))
		}
		return rows, err
	}
	return j
}

// protectRunner is what the snapshots job drives (*aws.Protector).
type protectRunner interface {
	Run(ctx context.Context) ([]aws.Result, error)
}

// snapshotsJob copies the plan's volume and database snapshots and launch
// template images (AWS regions only), with one protector built on first use
// and kept, so the copy limits hold across runs.
func snapshotsJob(p *plan.Plan, interval time.Duration, build func(context.Context) (protectRunner, error)) protectJob {
	j := protectJob{name: "snapshots", interval: interval}
	templates := false
	for _, s := range p.Services {
		templates = templates || s.Compute.AWS != nil && s.Compute.AWS.LaunchTemplate != ""
	}
	switch {
	case len(p.Data.Volumes) == 0 && len(p.Data.Databases) == 0 && !templates:
		j.skip = "the plan has no volumes, databases or launch templates"
		return j
	case p.Regions.Primary.Provider != plan.ProviderAWS || p.Regions.Recovery.Provider != plan.ProviderAWS:
		j.skip = "snapshots need aws primary and recovery regions"
		return j
	}
	var pr protectRunner
	j.run = func(ctx context.Context) ([]protectRow, error) {
		if pr == nil {
			var err error
			if pr, err = build(ctx); err != nil {
				return nil, err
			}
		}
		results, err := pr.Run(ctx)
		rows := make([]protectRow, 0, len(results))
		for _, r := range results {
			rows = append(rows, protectRow{Kind: r.Kind, Resource: r.Source, Copy: r.Copy, RecoveryPoint: r.DataTime, State: r.State, Error: r.Error})
		}
		return rows, err
	}
	return j
}

// newProtector builds the snapshot protector of plan p with real AWS
// clients and the catalog in the state directory (and the plan's catalog
// bucket).
func newProtector(ctx context.Context, g *globals, p *plan.Plan) (*aws.Protector, error) {
	primary, _, err := aws.NewProtectClients(ctx, p.Regions.Primary, aws.NewBuckets(aws.DefaultLimits(), nil))
	if err != nil {
		return nil, fmt.Errorf("protect: %w", err)
	}
	recovery, _, err := aws.NewProtectClients(ctx, p.Regions.Recovery, aws.NewBuckets(aws.DefaultLimits(), nil))
	if err != nil {
		return nil, fmt.Errorf("protect: %w", err)
	}
	cat, err := openCatalog(ctx, g, p)
	if err != nil {
		return nil, fmt.Errorf("protect: %w", err)
	}
	return &aws.Protector{Plan: p, Primary: primary, Recovery: recovery, Catalog: cat, Logger: g.logger()}, nil
}

// imagesJob copies and verifies the plan's container images, as `images
// sync --once`.
func imagesJob(g *globals, p *plan.Plan, interval time.Duration) protectJob {
	j := protectJob{name: "images", interval: interval}
	if len(p.Data.Images) == 0 {
		j.skip = "the plan has no data.images"
		return j
	}
	j.run = func(ctx context.Context) ([]protectRow, error) {
		c, imgs, err := newImageSync(g, p, &imagesOptions{jobs: 4}, g.logger())
		if err != nil {
			return nil, err
		}
		start := time.Now()
		rep := syncImages(ctx, c, imgs)
		rows := make([]protectRow, 0, len(rep.Images))
		for _, r := range rep.Images {
			row := protectRow{Kind: "container-image", Resource: r.Source, Copy: r.Recovery, State: rowCompleted, RecoveryPoint: start}
			if !r.Verified {
				row.State, row.Error, row.RecoveryPoint = rowFailed, cmp.Or(r.Error, "not verified"), time.Time{}
			}
			rows = append(rows, row)
		}
		if rep.Failed > 0 {
			return rows, fmt.Errorf("%d of %d tags failed", rep.Failed, len(rep.Images))
		}
		return rows, nil
	}
	return j
}

// repositoriesJob mirrors the plan's git repositories, as `mirror --once`,
// with one mirror (one state file) built on first use.
func repositoriesJob(g *globals, p *plan.Plan, interval time.Duration) protectJob {
	j := protectJob{name: "repositories", interval: interval}
	if len(p.Data.Repositories) == 0 {
		j.skip = "the plan has no data.repositories"
		return j
	}
	var m *gitmirror.Mirror
	j.run = func(ctx context.Context) ([]protectRow, error) {
		if m == nil {
			var err error
			if m, err = newMirror(g, p, &mirrorOptions{timeout: 30 * time.Minute}); err != nil {
				return nil, err
			}
		}
		rs, err := m.Sync(ctx)
		if err != nil {
			return nil, err
		}
		rows := make([]protectRow, 0, len(rs))
		var errs []error
		for _, r := range rs {
			row := protectRow{Kind: "repository", Resource: r.Source, Copy: r.Recovery, RecoveryPoint: r.LastGood, State: rowCompleted}
			if r.Error != "" {
				row.State, row.Error = rowFailed, r.Error
				errs = append(errs, fmt.Errorf("%s: %s", r.Source, r.Error))
			}
			rows = append(rows, row)
		}
		return rows, errors.Join(errs...)
	}
	return j
}

// inventoryJob exports the primary region's metadata, as `inventory
// export`, every data.inventory.interval (default 1h).
func inventoryJob(g *globals, p *plan.Plan) protectJob {
	j := protectJob{name: "inventory", interval: time.Hour}
	if in := p.Data.Inventory; in != nil && in.Interval > 0 {
		j.interval = in.Interval.D()
	}
	switch {
	case p.Data.InventoryBucket() == "":
		j.skip = "the plan has no data.inventory or catalog bucket"
		return j
	case p.Regions.Primary.Provider != plan.ProviderAWS:
		j.skip = "the inventory needs an aws primary region"
		return j
	}
	j.run = func(ctx context.Context) ([]protectRow, error) {
		d, err := exportInventory(ctx, g, p)
		row := protectRow{Kind: "inventory", Resource: p.Regions.Primary.Name, State: rowCompleted}
		if d != nil {
			row.Copy, row.RecoveryPoint = "s3://"+p.Data.InventoryBucket()+"/"+d.Key, d.Taken
		}
		if err != nil {
			row.State, row.Error, row.RecoveryPoint = rowFailed, err.Error(), time.Time{}
		}
		return []protectRow{row}, err
	}
	return j
}

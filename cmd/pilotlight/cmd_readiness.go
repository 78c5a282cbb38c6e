package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/plan"
	"github.com/pilotlight/pilotlight/provider/aws"
	"github.com/pilotlight/pilotlight/provider/local"
	"github.com/pilotlight/pilotlight/readiness"
	"github.com/pilotlight/pilotlight/replicate/rpo"
)

// awsOnlyChecks are the readiness checks that need AWS regions.
var awsOnlyChecks = []string{readiness.CheckRecoveryPoint, readiness.CheckImage, readiness.CheckContainerImage,
	readiness.CheckNetwork, readiness.CheckQuota, readiness.CheckInstanceType, readiness.CheckIAM, readiness.CheckInventory}

// newReadinessCommand returns `pilotlight readiness`: check whether a
// failover would succeed now, and say why not.
func newReadinessCommand(g *globals) *cobra.Command {
	var parallel int
	var zoneID string
	cmd := &cobra.Command{
		Use:   "readiness",
		Short: "Check whether a failover would succeed now, and say why not",
		Long: `readiness checks, without changing anything, what a failover needs: every
volume and database has a recovery point in the recovery region younger than
the RPO and the copy still exists; the launch templates' AMIs and the
container images are there; the network is mirrored (plan.network); EC2 vCPU
quotas and the instance-type offerings of the subnets' zones cover the
services' capacity, after fallbacks; the caller holds every permission the
runbook needs (IAM policy simulation of the policy 'pilotlight iam-policy'
prints); the routing records and health checks are valid and present in
Route 53.

Each result is pass, fail, warn or skip, with the reason and what to do. The
exit code is 1 when any check fails (warnings do not fail). For plans whose
regions are not both aws, only the provider-independent checks run (routing,
buckets) and the AWS checks are reported skipped. See docs/readiness.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := g.loadPlan()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			checks, err := readinessChecks(ctx, g, p, zoneID)
			if err != nil {
				return err
			}
			return printReadiness(g, readiness.Run(ctx, p.Name, time.Now(), checks, parallel))
		},
	}
	cmd.Flags().IntVar(&parallel, "parallel", readiness.DefaultParallel, "checks run at once")
	cmd.Flags().StringVar(&zoneID, "zone-id", "", "Route 53 hosted zone ID (default: looked up by the plan's zone name)")
	return cmd
}

// bothAWS reports whether both regions of p use provider aws.
func bothAWS(p *plan.Plan) bool {
	return p.Regions.Primary.Provider == plan.ProviderAWS && p.Regions.Recovery.Provider == plan.ProviderAWS
}

// readinessChecks returns the checks of plan p: the provider-independent
// ones, and the AWS ones with real clients when both regions use aws
// (skipped otherwise).
func readinessChecks(ctx context.Context, g *globals, p *plan.Plan, zoneID string) ([]readiness.Check, error) {
	checks := append([]readiness.Check{readiness.Routing(p)}, readiness.Buckets(p, replicationLags(ctx, g, p))...)
	if !bothAWS(p) {
		reason := fmt.Sprintf("regions use providers %s and %s: only AWS regions are checked", p.Regions.Primary.Provider, p.Regions.Recovery.Provider)
		for _, id := range awsOnlyChecks {
			checks = append(checks, readiness.Skipped(id, "plan "+p.Name, reason))
		}
		return checks, nil
	}
	clients, err := aws.NewReadinessClients(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("readiness: %w", err)
	}
	r := &aws.Readiness{Plan: p, Clients: clients}
	cat, err := openCatalog(ctx, g, p)
	if err != nil {
		checks = append(checks, readiness.Check{ID: readiness.CheckRecoveryPoint, Subject: "catalog",
			Run: func(context.Context) ([]readiness.Result, error) { return nil, err }})
	}
	r.Catalog = cat
	checks = append(checks, readiness.Inventory(p, time.Now(), inventoryLoader(p)))
	if p.Routing != nil {
		client, err := aws.NewRoute53(ctx, p.Regions.Primary.Profile)
		if err != nil {
			return nil, fmt.Errorf("readiness: %w", err)
		}
		r.DNS = &aws.Route53Driver{Client: client, ZoneID: zoneID, Zone: p.Routing.Zone, PlanName: p.Name, Logger: g.logger()}
		r.RecordSpecs, r.SpecsErr = route53Specs(p)
	}
	return append(checks, r.Checks()...), nil
}

// statusLags are buckets' replication statuses by bucket name.
type statusLags map[string]rpo.Status

func (l statusLags) BucketStatus(_ context.Context, name string) (rpo.Status, bool, error) {
	st, ok := l[name]
	return st, ok, nil
}

// replicationLags returns the buckets' replication status as the running
// replicator measures it: a continuous 'pilotlight replicate' of this
// state directory, else a running 'pilotlight up' of the plan (none when
// neither runs: the buckets are skipped, saying so).
func replicationLags(ctx context.Context, g *globals, p *plan.Plan) readiness.BucketLags {
	var buckets []rpo.Status
	if f, ok := readReplication(g.stateDir); ok {
		buckets = f.Buckets
	} else if c, err := local.DialControl(g.stateDir, p); err == nil {
		if st, err := c.ReplicationState(ctx); err == nil {
			buckets = st.Buckets
		}
	}
	l := statusLags{}
	for _, b := range buckets {
		l[b.Bucket] = b
	}
	return l
}

// inventoryLoader reads when p's newest inventory export in the recovery
// region was taken.
func inventoryLoader(p *plan.Plan) readiness.InventoryLoader {
	return func(ctx context.Context) (time.Time, bool, error) {
		st, err := aws.NewInventoryStore(ctx, p, "")
		if err != nil {
			return time.Time{}, false, err
		}
		d, err := st.Load(ctx, "")
		switch {
		case errors.Is(err, aws.ErrNoInventory):
			return time.Time{}, false, nil
		case err != nil:
			return time.Time{}, false, err
		}
		return d.Taken, true, nil
	}
}

// openCatalog opens the plan's catalog of recovery points, as protect
// writes it: STATE/catalog.json and the plan's catalog bucket. Protect,
// readiness and isolated drills share it.
func openCatalog(ctx context.Context, g *globals, p *plan.Plan) (*aws.Catalog, error) {
	o := aws.CatalogOptions{Plan: p.Name, Path: filepath.Join(g.stateDir, "catalog.json")}
	if s := p.Data.Snapshots; s != nil && s.CatalogBucket != "" {
		_, s3c, err := aws.NewProtectClients(ctx, p.Regions.Recovery, nil)
		if err != nil {
			return nil, fmt.Errorf("catalog: %w", err)
		}
		o.S3, o.Bucket = s3c, s.CatalogBucket
	}
	cat, err := aws.OpenCatalog(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	return cat, nil
}

// printReadiness writes rep as JSON or as a table; a report that is not
// ready is a silent exit 1.
func printReadiness(g *globals, rep readiness.Report) error {
	var err error
	if g.json() {
		err = g.printJSON(rep)
	} else {
		err = readiness.WriteText(g.stdout, rep)
	}
	if err != nil {
		return err
	}
	if !rep.Ready {
		return &exitError{code: 1, err: fmt.Errorf("readiness: %d checks failed", rep.Counts[readiness.Fail]), silent: true}
	}
	return nil
}

// newIAMPolicyCommand returns `pilotlight iam-policy`: print the
// least-privilege IAM policy the plan needs.
func newIAMPolicyCommand(g *globals) *cobra.Command {
	var o aws.PolicyOptions
	cmd := &cobra.Command{
		Use:   "iam-policy",
		Short: "Print the least-privilege IAM policy the plan's protection and recovery need",
		Long: `iam-policy prints, as an IAM policy document (JSON, Version 2012-10-17), the
permissions pilotlight needs for this plan: protection (snapshot and image
copies, replication, the catalog), readiness checks, recovery (instances, Auto
Scaling for warm standby and active-active, load balancers, database and volume
restores, DNS) and drill teardown. Statements are included only for what the
plan uses, and scoped to its buckets, hosted zone (--zone-id), KMS key and
repositories where AWS supports it. 'pilotlight readiness' simulates the same
policy for the caller. The output is JSON whatever -o says.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := g.loadPlan()
			if err != nil {
				return err
			}
			if p.Regions.Primary.Provider != plan.ProviderAWS && p.Regions.Recovery.Provider != plan.ProviderAWS {
				return &usageError{fmt.Errorf("iam-policy: the plan's regions use providers %s and %s; IAM applies to aws regions",
					p.Regions.Primary.Provider, p.Regions.Recovery.Provider)}
			}
			return g.printJSON(aws.Policy(p, o))
		},
	}
	cmd.Flags().StringVar(&o.ZoneID, "zone-id", "", "Route 53 hosted zone ID the DNS statements are scoped to (default: any)")
	cmd.Flags().StringVar(&o.Account, "account", "", "AWS account ID in resource ARNs (default: any)")
	return cmd
}

package main

import (
	"context"
	"fmt"

	"github.com/pilotlight/pilotlight/plan"
	awsprovider "github.com/pilotlight/pilotlight/provider/aws"
	"github.com/pilotlight/pilotlight/replicate"
)

// nativeResult is what `replicate --native` reports per bucket.
type nativeResult struct {
	Bucket   string                     `json:"bucket"`
	Setup    awsprovider.SetupReport    `json:"setup"`
	Backfill awsprovider.BackfillReport `json:"backfill"`
	Copy     *bucketReport              `json:"copy,omitempty"`
	Status   awsprovider.StatusReport   `json:"status"`
}

// runNative sets up S3 Cross-Region Replication for the plan's buckets,
// backfills what existed before the rule (a Batch Replication job, or the
// copy engine), and reports the replication status counts.
func runNative(ctx context.Context, g *globals, o *replicateOptions) error {
	if o.from != "" || o.to != "" {
		return &usageError{fmt.Errorf("--native works from the plan's buckets, not --from/--to")}
	}
	p, err := g.loadPlan()
	if err != nil {
		return err
	}
	pr, rr := p.Regions.Primary, p.Regions.Recovery
	if pr.Provider != plan.ProviderAWS || rr.Provider != plan.ProviderAWS {
		return fmt.Errorf("replicate: --native needs two aws regions; the plan has %s (%s) and %s (%s)", pr.Name, pr.Provider, rr.Name, rr.Provider)
	}
	clients, err := awsprovider.NewS3Clients(ctx, pr.Profile, pr.Name, rr.Name, pr.Endpoint)
	if err != nil {
		return err
	}
	want := map[string]bool{}
	for _, b := range o.buckets {
		want[b] = true
	}
	var results []nativeResult
	for _, b := range p.Data.Buckets {
		if len(want) > 0 && !want[b.Name] {
			continue
		}
		if b.Native == nil {
			return fmt.Errorf("replicate: bucket %s has no native block in %s (data.buckets[].native.roleArn)", b.Name, p.File())
		}
		n, err := awsprovider.FromPlan(b, rr.Name)
		if err != nil {
			return err
		}
		n.Source, n.Destination, n.Control, n.AccountID = clients.Source, clients.Destination, clients.Control, clients.AccountID
		n.Logger = g.logger()
		res := nativeResult{Bucket: b.Name}
		if res.Setup, err = n.Setup(ctx); err != nil {
			return err
		}
		if res.Backfill, err = n.Backfill(ctx); err != nil {
			return err
		}
		if res.Backfill.NeedsCopy {
			pairs, err := o.pairsFromPlan(ctx, g, p)
			if err != nil {
				return err
			}
			for _, pp := range pairs {
				if pp.name != b.Name {
					continue
				}
				ro, err := o.engineOptions(g, pp, g.logger())
				if err != nil {
					return err
				}
				r, err := replicate.New(pp.src, pp.dst, pp.policy, ro)
				if err != nil {
					return err
				}
				s, err := r.Pass(ctx)
				r.Close()
				if err != nil {
					return err
				}
				rep := newPassReport([]replicate.Summary{s}).Buckets[0]
				res.Copy = &rep
			}
		}
		if res.Status, err = n.Status(ctx); err != nil {
			return err
		}
		results = append(results, res)
	}
	if g.json() {
		return g.printJSON(results)
	}
	for _, r := range results {
		fmt.Fprintf(g.stdout, "%s → %s: rule %s (%s), versioning source %s, replica %s\n", r.Setup.SourceBucket, r.Setup.DestinationBucket, r.Setup.RuleID, r.Setup.Rule, r.Setup.SourceVersioning, r.Setup.DestinationVersioning)
		switch {
		case r.Backfill.JobID != "":
			fmt.Fprintf(g.stdout, "  backfill: S3 Batch Replication job %s\n", r.Backfill.JobID)
		case r.Copy != nil:
			fmt.Fprintf(g.stdout, "  backfill: copied %d objects (%d failed)\n", r.Copy.Copied, r.Copy.Failed)
		default:
			fmt.Fprintln(g.stdout, "  backfill: nothing to copy")
		}
		fmt.Fprintf(g.stdout, "  status: %d scanned, %d pending, %d completed, %d failed, %d not covered\n", r.Status.Scanned, r.Status.Pending, r.Status.Completed, r.Status.Failed, r.Status.None)
	}
	return nil
}

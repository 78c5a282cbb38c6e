package main

import (
	"context"
	"fmt"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/plan"
	"github.com/pilotlight/pilotlight/provider/aws"
)

// newInventoryCommand is `pilotlight inventory`, with `export` and `show`.
func newInventoryCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "inventory",
		Short: "Export the primary region's metadata to the recovery region, and show the exports",
		Long: `inventory keeps, in the recovery region, what a recovery needs to know about the
primary region, so that a recovery never calls the failed region: instances,
load balancers (listeners, certificates, target groups with health checks and
targets), the records of the plan's hosted zone, and the VPCs, subnets, route
tables and security groups. See docs/inventory.md.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newInventoryExportCommand(g), newInventoryShowCommand(g))
	return cmd
}

func newInventoryExportCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "export",
		Short: "Export the primary region's metadata once and print the counts",
		Long: `export reads the primary region (every describe paginated, throttling retried)
and writes one JSON document to the plan's inventory bucket in the recovery
region (data.inventory.bucket, else data.snapshots.catalogBucket) under
pilotlight/PLAN/inventory/TIMESTAMP.json, then moves the latest.json pointer
to it, and keeps the same files in STATE/inventory. The oldest exports beyond
data.inventory.keep are deleted.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := loadAWSPlan(g, "inventory export")
			if err != nil {
				return err
			}
			d, err := exportInventory(cmd.Context(), g, p)
			if d == nil && err != nil {
				return err
			}
			if perr := printInventory(g, d); perr != nil {
				return perr
			}
			if err != nil {
				return &exitError{code: 1, err: err, silent: g.json()}
			}
			return nil
		},
	}
}

func newInventoryShowCommand(g *globals) *cobra.Command {
	var local bool
	var version string
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Print the summary of the newest export, read from the recovery region",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := g.loadPlan()
			if err != nil {
				return err
			}
			st := &aws.InventoryStore{Plan: p.Name, Dir: inventoryDir(g)}
			if !local {
				if p.Data.InventoryBucket() == "" {
					return &usageError{fmt.Errorf("inventory show: the plan has no data.inventory.bucket or data.snapshots.catalogBucket; use --local")}
				}
				if st, err = aws.NewInventoryStore(cmd.Context(), p, ""); err != nil {
					return err
				}
			}
			d, err := st.Load(cmd.Context(), version)
			if err != nil {
				return err
			}
			return printInventory(g, d)
		},
	}
	cmd.Flags().BoolVar(&local, "local", false, "read the copy in STATE/inventory instead of the recovery region")
	cmd.Flags().StringVar(&version, "version", "", "an export's timestamp (such as 2026-01-02T03:04:05Z) or key (default the newest)")
	return cmd
}

// loadAWSPlan loads the plan and checks that its primary region is on AWS.
func loadAWSPlan(g *globals, what string) (*plan.Plan, error) {
	p, err := g.loadPlan()
	if err != nil {
		return nil, err
	}
	if p.Regions.Primary.Provider != plan.ProviderAWS {
		return nil, &usageError{fmt.Errorf("%s: the primary region must use provider aws, not %s", what, p.Regions.Primary.Provider)}
	}
	return p, nil
}

func inventoryDir(g *globals) string { return filepath.Join(g.stateDir, "inventory") }

// exportInventory exports p's inventory once with real AWS clients.
func exportInventory(ctx context.Context, g *globals, p *plan.Plan) (*aws.InventoryDoc, error) {
	x, err := aws.NewInventory(ctx, p, inventoryDir(g), g.logger())
	if err != nil {
		return nil, err
	}
	return x.Export(ctx)
}

// inventorySummary is what `inventory export|show -o json` prints.
type inventorySummary struct {
	Plan    string              `json:"plan"`
	Region  string              `json:"region"`
	Taken   time.Time           `json:"taken"`
	Seconds float64             `json:"seconds"`
	Key     string              `json:"key"`
	Zone    string              `json:"zone,omitempty"`
	Counts  aws.InventoryCounts `json:"counts"`
}

func printInventory(g *globals, d *aws.InventoryDoc) error {
	s := inventorySummary{Plan: d.Plan, Region: d.Region, Taken: d.Taken, Seconds: d.Seconds, Key: d.Key, Zone: d.Zone, Counts: d.Counts}
	if g.json() {
		return g.printJSON(s)
	}
	fmt.Fprintf(g.stdout, "inventory of plan %s, region %s, taken %s (%s ago) in %.1fs\n%s\n\n", s.Plan, s.Region,
		s.Taken.UTC().Format(time.RFC3339), time.Since(s.Taken).Round(time.Second), s.Seconds, s.Key)
	tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tCOUNT")
	c := s.Counts
	for _, r := range []struct {
		kind string
		n    int
	}{{"instances", c.Instances}, {"load balancers", c.LoadBalancers}, {"target groups", c.TargetGroups},
		{"dns records", c.Records}, {"vpcs", c.VPCs}, {"subnets", c.Subnets}, {"route tables", c.RouteTables},
		{"security groups", c.SecurityGroups}} {
		fmt.Fprintf(tw, "%s\t%d\n", r.kind, r.n)
	}
	return tw.Flush()
}

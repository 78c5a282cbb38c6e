package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/plan"
	"github.com/pilotlight/pilotlight/provider/aws"
)

// newProtectCommand returns `pilotlight protect`: copy the plan's volume
// and database snapshots and launch template images to the recovery
// region, once or every interval, and report each resource's recovery
// point against the RPO.
func newProtectCommand(g *globals) *cobra.Command {
	var once bool
	var interval time.Duration
	cmd := &cobra.Command{
		Use:   "protect",
		Short: "Copy the plan's snapshots and images to the recovery region and record them in the catalog",
		Long: `protect copies the newest snapshot of every volume and database of the plan
(taking one when the newest is older than the RPO), and the AMIs of its launch
templates, to the recovery region, within AWS's concurrent copy limits; waits
for the copies; applies data.snapshots' retention there; and records each
resource's newest recovery point in the catalog (STATE/catalog.json, and the
plan's catalog bucket), which the recovery runbook restores from.

Without --once it runs again every --interval until interrupted. Progress goes
to stderr; the per-resource table (or -o json) to stdout. The exit code is 1
when a resource could not be protected.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := g.loadPlan()
			if err != nil {
				return err
			}
			if p.Regions.Primary.Provider != plan.ProviderAWS || p.Regions.Recovery.Provider != plan.ProviderAWS {
				return &usageError{fmt.Errorf("protect: both regions must use provider aws (primary %s, recovery %s)",
					p.Regions.Primary.Provider, p.Regions.Recovery.Provider)}
			}
			if interval <= 0 {
				interval = max(p.Objectives.RPO.D()/2, time.Minute)
			}
			pr, err := newProtector(cmd.Context(), g, p)
			if err != nil {
				return err
			}
			return protectLoop(cmd.Context(), g, pr, p, once, interval)
		},
	}
	cmd.Flags().BoolVar(&once, "once", false, "protect once and exit")
	cmd.Flags().DurationVar(&interval, "interval", 0, "time between protection runs without --once (default half the RPO, at least 1m)")
	return cmd
}

// newProtector builds the protector of plan p with real AWS clients and
// the catalog in the state directory (and the plan's catalog bucket).
func newProtector(ctx context.Context, g *globals, p *plan.Plan) (*aws.Protector, error) {
	primary, _, err := aws.NewProtectClients(ctx, p.Regions.Primary, aws.NewBuckets(aws.DefaultLimits(), nil))
	if err != nil {
		return nil, fmt.Errorf("protect: %w", err)
	}
	recovery, s3c, err := aws.NewProtectClients(ctx, p.Regions.Recovery, aws.NewBuckets(aws.DefaultLimits(), nil))
	if err != nil {
		return nil, fmt.Errorf("protect: %w", err)
	}
	o := aws.CatalogOptions{Plan: p.Name, Path: filepath.Join(g.stateDir, "catalog.json")}
	if s := p.Data.Snapshots; s != nil && s.CatalogBucket != "" {
		o.S3, o.Bucket = s3c, s.CatalogBucket
	}
	cat, err := aws.OpenCatalog(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("protect: %w", err)
	}
	return &aws.Protector{Plan: p, Primary: primary, Recovery: recovery, Catalog: cat, Logger: g.logger()}, nil
}

// protectRunner is what protectLoop drives (*aws.Protector).
type protectRunner interface {
	Run(ctx context.Context) ([]aws.Result, error)
}

// protectLoop runs pr once, or every interval until ctx is done, printing
// each run's results.
func protectLoop(ctx context.Context, g *globals, pr protectRunner, p *plan.Plan, once bool, interval time.Duration) error {
	for {
		results, runErr := pr.Run(ctx)
		if ctx.Err() != nil {
			return nil // interrupted: the catalog holds what finished
		}
		if err := printProtect(g, p, results, time.Now()); err != nil {
			return err
		}
		if once {
			if runErr != nil {
				return &exitError{code: 1, err: fmt.Errorf("protect: %w", runErr), silent: g.json()}
			}
			return nil
		}
		if runErr != nil {
			fmt.Fprintf(g.stderr, "protect: %v\n", runErr)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(interval):
		}
	}
}

// protectRow is one resource of the report.
type protectRow struct {
	aws.Result
	// AgeSeconds is how old the recovery point's data is.
	AgeSeconds float64 `json:"ageSeconds,omitempty"`
	// WithinRPO says whether that age is within the plan's RPO.
	WithinRPO bool `json:"withinRPO"`
}

type protectOutput struct {
	Plan      string       `json:"plan"`
	RPO       string       `json:"rpo"`
	Resources []protectRow `json:"resources"`
}

func protectRows(p *plan.Plan, results []aws.Result, now time.Time) []protectRow {
	rows := make([]protectRow, 0, len(results))
	for _, r := range results {
		row := protectRow{Result: r}
		if !r.DataTime.IsZero() {
			age := now.Sub(r.DataTime)
			row.AgeSeconds = age.Seconds()
			row.WithinRPO = r.State == aws.StateCompleted && age <= p.Objectives.RPO.D()
		}
		rows = append(rows, row)
	}
	return rows
}

// printProtect writes the results as JSON or as a table.
func printProtect(g *globals, p *plan.Plan, results []aws.Result, now time.Time) error {
	rows := protectRows(p, results, now)
	if g.json() {
		return g.printJSON(protectOutput{Plan: p.Name, RPO: p.Objectives.RPO.String(), Resources: rows})
	}
	return writeProtectTable(g.stdout, p, rows)
}

func writeProtectTable(w io.Writer, p *plan.Plan, rows []protectRow) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "KIND\tSOURCE\tSNAPSHOT\tCOPY\tDATA TIME\tAGE/RPO %s\tSTATE\n", p.Objectives.RPO)
	for _, r := range rows {
		data, age := "-", "-"
		if !r.DataTime.IsZero() {
			data = r.DataTime.UTC().Format(time.RFC3339)
			verdict := "over"
			if r.WithinRPO {
				verdict = "ok"
			}
			age = fmt.Sprintf("%s %s", (time.Duration(r.AgeSeconds) * time.Second).Round(time.Second), verdict)
		}
		state := r.State
		if r.Error != "" {
			state += ": " + r.Error
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Kind, r.Source, dash(r.SourceSnapshot), dash(r.Copy), data, age, state)
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

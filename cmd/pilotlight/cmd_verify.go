package main

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/replicate"
)

func newVerifyCommand(g *globals) *cobra.Command {
	f := &replicateFlags{}
	var deep bool
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Compare source and replica; exit 1 on drift",
		Long: `Compare each source bucket with its replica: keys, sizes, checksums (the source
ETag recorded on the replica) and metadata. Reports objects missing from the
replica, different in it, extra in it (for example deletes kept by policy) and
skipped (archived). Missing or different objects are drift: exit status 1.
--deep also compares tags and reads both copies to compare SHA-256.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVerify(cmd.Context(), g, f, deep)
		},
	}
	f.register(cmd)
	cmd.Flags().Lookup("deletes").Hidden = true
	cmd.Flags().Lookup("archived").Hidden = true
	cmd.Flags().BoolVar(&deep, "deep", false, "also compare tags and content (reads every object on both sides)")
	return cmd
}

func runVerify(ctx context.Context, g *globals, f *replicateFlags, deep bool) error {
	pairs, _, err := f.pairs(ctx, g)
	if err != nil {
		return err
	}
	var reports []replicate.VerifyReport
	drift := false
	for _, p := range pairs {
		r, err := replicate.Verify(ctx, p.src, p.dst, replicate.VerifyOptions{Deep: deep})
		if err != nil {
			return err
		}
		drift = drift || r.Drift
		reports = append(reports, r)
	}
	if g.json() {
		if err := g.printJSON(map[string]any{"drift": drift, "buckets": reports}); err != nil {
			return err
		}
	} else {
		writeVerify(g, reports)
	}
	if drift {
		return &exitError{code: 1, err: fmt.Errorf("verify: replica differs from source"), silent: true}
	}
	return nil
}

func writeVerify(g *globals, reports []replicate.VerifyReport) {
	tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tREPLICA\tCHECKED\tMISSING\tDIFFERENT\tEXTRA\tSKIPPED\tRESULT")
	for _, r := range reports {
		result := "ok"
		if r.Drift {
			result = "DRIFT"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\n", r.Source, r.Destination, r.Checked, len(r.Missing), len(r.Different), len(r.Extra), len(r.Skipped), result)
	}
	tw.Flush()
	for _, r := range reports {
		for _, d := range r.Missing {
			fmt.Fprintf(g.stdout, "missing    %s %s\n", r.Source, d.Key)
		}
		for _, d := range r.Different {
			fmt.Fprintf(g.stdout, "different  %s %s: %s\n", r.Source, d.Key, d.Reason)
		}
		for _, d := range r.Extra {
			fmt.Fprintf(g.stdout, "extra      %s %s: %s\n", r.Destination, d.Key, d.Reason)
		}
		for _, d := range r.Skipped {
			fmt.Fprintf(g.stdout, "skipped    %s %s: %s\n", r.Source, d.Key, d.Reason)
		}
	}
}

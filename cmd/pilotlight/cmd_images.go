package main

import (
	"context"
	"fmt"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/backoff"
	"github.com/pilotlight/pilotlight/plan"
	"github.com/pilotlight/pilotlight/registry"
)

// newImagesCommand is `pilotlight images`, with `images sync`.
func newImagesCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "images",
		Short: "Copy the plan's container images to the recovery registry",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newImagesSyncCommand(g))
	return cmd
}

type imagesOptions struct {
	once     bool
	interval time.Duration
	jobs     int
	deep     bool
}

func newImagesSyncCommand(g *globals) *cobra.Command {
	o := &imagesOptions{interval: 15 * time.Minute, jobs: 4}
	cmd := &cobra.Command{
		Use:   "sync",
		Short: "Copy images by digest from the source registry to the recovery registry and verify them",
		Long: `Copy every tag of the plan's data.images (or the tags listed) from each image's
source registry to its recovery registry, by digest: manifests, indexes
(multi-architecture images) and blobs, uploading only what the recovery
registry lacks. Every copy is then verified in the recovery registry: the tag
resolves to the source digest and every manifest and blob is there (--deep:
every blob is downloaded and hashed).

Credentials come from the Docker configuration and its credential helpers
(docker-credential-ecr-login for ECR). Registries on loopback addresses are
reached over plain HTTP.

Without --once it copies again every --interval until interrupted, sooner
(with backoff) after a failure. With --once it exits 1 if any tag failed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runImagesSync(cmd.Context(), g, o)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&o.once, "once", false, "copy once and exit (default: keep copying every --interval until interrupted)")
	fl.DurationVar(&o.interval, "interval", o.interval, "continuous mode: time between passes")
	fl.IntVar(&o.jobs, "jobs", o.jobs, "blobs copied at once per tag")
	fl.BoolVar(&o.deep, "deep", false, "verify by downloading and hashing every blob in the recovery registry")
	return cmd
}

func runImagesSync(ctx context.Context, g *globals, o *imagesOptions) error {
	if o.interval <= 0 {
		return &usageError{fmt.Errorf("--interval must be positive, not %s", o.interval)}
	}
	p, err := g.loadPlan()
	if err != nil {
		return err
	}
	if len(p.Data.Images) == 0 {
		return fmt.Errorf("images sync: the plan %s has no data.images", p.File())
	}
	log := g.logger()
	c, imgs, err := newImageSync(g, p, o, log)
	if err != nil {
		return err
	}
	if o.once {
		rep := syncImages(ctx, c, imgs)
		if err := ctx.Err(); err != nil {
			return err
		}
		if g.json() {
			if err := g.printJSON(rep); err != nil {
				return err
			}
		} else {
			writeImagesReport(g, rep)
		}
		if rep.Failed > 0 {
			return &exitError{code: 1, err: fmt.Errorf("images sync: %d of %d tags failed", rep.Failed, len(rep.Images)), silent: g.json()}
		}
		return nil
	}
	failed := 0
	for {
		rep := syncImages(ctx, c, imgs)
		if ctx.Err() != nil {
			return nil
		}
		wait := o.interval
		if rep.Failed > 0 {
			failed++
			wait = min(backoff.Equal(30*time.Second, o.interval, failed), o.interval)
		} else {
			failed = 0
		}
		log.Info("images pass", "tags", len(rep.Images), "failed", rep.Failed,
			"copiedBytes", rep.CopiedBytes, "skippedBytes", rep.SkippedBytes, "next", wait.String())
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// newImageSync returns the copier of p's data.images with o's settings,
// and the images (`images sync`, and the images job of `protect`).
func newImageSync(g *globals, p *plan.Plan, o *imagesOptions, log *slog.Logger) (*registry.Copier, []registry.Image, error) {
	imgs, err := registry.FromPlan(p.Data.Images)
	if err != nil {
		return nil, nil, err
	}
	c, err := registry.New(registry.Options{Jobs: o.jobs, Deep: o.deep, Logger: log, Progress: imageProgress(g)})
	if err != nil {
		return nil, nil, err
	}
	return c, imgs, nil
}

// imagesReport is what `images sync --once` prints: every tag's result and
// the totals.
type imagesReport struct {
	Tags         int               `json:"tags"`
	Verified     int               `json:"verified"`
	Failed       int               `json:"failed"`
	CopiedBytes  int64             `json:"copiedBytes"`
	SkippedBytes int64             `json:"skippedBytes"`
	Images       []registry.Result `json:"images"`
}

// syncImages copies every image; a repository whose tags cannot be listed
// counts as one failed entry.
func syncImages(ctx context.Context, c *registry.Copier, imgs []registry.Image) imagesReport {
	rep := imagesReport{Images: []registry.Result{}}
	for _, img := range imgs {
		rs, err := c.Sync(ctx, img)
		if err != nil && ctx.Err() == nil {
			rs = append(rs, registry.Result{Source: img.Source, Recovery: img.Recovery, Error: err.Error()})
		}
		rep.Images = append(rep.Images, rs...)
	}
	for _, r := range rep.Images {
		rep.Tags++
		rep.CopiedBytes += r.CopiedBytes
		rep.SkippedBytes += r.SkippedBytes
		if r.Verified {
			rep.Verified++
		} else {
			rep.Failed++
		}
	}
	return rep
}

// imageProgress prints a line on stderr when a tag starts and ends.
func imageProgress(g *globals) func(registry.Event) {
	return func(e registry.Event) {
		r := e.Result
		switch {
		case !e.Done:
			fmt.Fprintf(g.stderr, "images: copying %s\n", r.Source)
		case r.Error != "":
			fmt.Fprintf(g.stderr, "images: %s failed: %s\n", r.Source, r.Error)
		default:
			fmt.Fprintf(g.stderr, "images: %s %s: %d blobs copied (%s), %s already there, verified\n",
				r.Source, shortDigest(r.Digest), r.CopiedBlobs, humanBytes(r.CopiedBytes), humanBytes(r.SkippedBytes))
		}
	}
}

func writeImagesReport(g *globals, rep imagesReport) {
	tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tRECOVERY\tDIGEST\tCOPIED\tSKIPPED\tVERIFIED\tSECONDS")
	for _, r := range rep.Images {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%v\t%.1f\n", r.Source, r.Recovery, shortDigest(r.Digest),
			humanBytes(r.CopiedBytes), humanBytes(r.SkippedBytes), r.Verified, r.Seconds)
	}
	tw.Flush()
	for _, r := range rep.Images {
		if r.Error != "" {
			fmt.Fprintf(g.stdout, "%s: %s\n", r.Source, r.Error)
		}
	}
	fmt.Fprintf(g.stdout, "%d of %d tags verified; %s copied, %s already there\n",
		rep.Verified, rep.Tags, humanBytes(rep.CopiedBytes), humanBytes(rep.SkippedBytes))
}

// shortDigest abbreviates sha256:… to 12 hex digits.
func shortDigest(d string) string {
	const prefix = "sha256:"
	if len(d) > len(prefix)+12 && d[:len(prefix)] == prefix {
		return d[:len(prefix)+12]
	}
	if d == "" {
		return "-"
	}
	return d
}

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/pilotlight/pilotlight/progress"
	"github.com/pilotlight/pilotlight/replicate"
	"github.com/pilotlight/pilotlight/replicate/events"
)

type replicateOptions struct {
	replicateFlags
	once          bool
	workers       int
	rate          float64
	threshold     sizeFlag
	partSize      sizeFlag
	memory        sizeFlag
	interval      time.Duration
	metricsListen string
	eventsListen  string
	noCheckpoint  bool
	native        bool
	batch         bool
}

// defaultReplicateOptions are the engine settings used when no flag says
// otherwise (and by `up`).
func defaultReplicateOptions() *replicateOptions {
	return &replicateOptions{workers: 32, threshold: 64 << 20, partSize: 16 << 20, memory: 512 << 20, interval: 30 * time.Second}
}

func newReplicateCommand(g *globals) *cobra.Command {
	o := defaultReplicateOptions()
	cmd := &cobra.Command{
		Use:   "replicate",
		Short: "Copy objects to the recovery region and keep them there, with measured RPO",
		Long: `Replicate the plan's buckets (or --from/--to URLs) to the recovery region.

The first pass copies every existing object (backfill); later passes copy only
what changed, from a checkpoint in the state directory. Without --once it keeps
running: it reacts to bucket events when the source store sends them
(--events-listen) and lists the source every --interval, so a lost event is
never a lost object. Deletes are not propagated unless the plan says
deletes: replicate; archived objects are skipped and reported.

Every copy is verified (MD5 and SHA-256 computed while copying, checked against
the source and replica ETags). Interrupted runs, even kill -9, resume from the
checkpoint without copying verified objects again.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runReplicate(cmd.Context(), g, o)
		},
	}
	o.register(cmd)
	fl := cmd.Flags()
	fl.BoolVar(&o.once, "once", false, "make one pass and exit (default: keep the replica converged until interrupted)")
	fl.IntVar(&o.workers, "workers", o.workers, "objects copied in parallel per bucket")
	fl.Float64Var(&o.rate, "rate", 0, "maximum requests per second per endpoint (0: no limit)")
	fl.Var(&o.threshold, "multipart-threshold", "objects larger than this are copied in parts")
	fl.Var(&o.partSize, "part-size", "part size of multipart copies (at least 5MiB)")
	fl.Var(&o.memory, "memory", "bytes of object data buffered at once, all workers together")
	fl.DurationVar(&o.interval, "interval", o.interval, "continuous mode: full listing pass every interval")
	fl.StringVar(&o.metricsListen, "metrics-listen", "", "continuous mode: serve Prometheus metrics on this address (e.g. 127.0.0.1:9464)")
	fl.StringVar(&o.eventsListen, "events-listen", "", "continuous mode: receive bucket event notifications on this address (webhook URL http://ADDR/events)")
	fl.BoolVar(&o.noCheckpoint, "no-checkpoint", false, "do not keep a checkpoint; compare with the replica's listing instead")
	fl.BoolVar(&o.native, "native", false, "AWS regions: set up S3 Cross-Region Replication instead of copying")
	fl.BoolVar(&o.batch, "batch", false, "with --native: backfill with an S3 Batch Replication job")
	return cmd
}

func runReplicate(ctx context.Context, g *globals, o *replicateOptions) error {
	if o.native {
		return runNative(ctx, g, o)
	}
	pairs, _, err := o.pairs(ctx, g)
	if err != nil {
		return err
	}
	log := g.logger()
	if !o.once {
		c, err := newContinuous(g, pairs, o, log)
		if err != nil {
			return err
		}
		defer c.close()
		if o.eventsListen != "" {
			c.receiver = events.NewReceiver(events.ReceiverOptions{Logger: log})
			url, err := events.Listen(ctx, o.eventsListen, c.receiver)
			if err != nil {
				return fmt.Errorf("replicate: events listener: %w", err)
			}
			log.Info("receiving bucket events", "webhook", url)
		}
		return c.run(ctx)
	}
	summaries, _, err := replicateOnce(ctx, g, o, pairs)
	if err != nil {
		return err
	}
	out := newPassReport(summaries)
	if g.json() {
		if err := g.printJSON(out); err != nil {
			return err
		}
	} else {
		writePassReport(g, out)
	}
	if out.Failed > 0 {
		return &exitError{code: 1, err: fmt.Errorf("replicate: %d objects failed", out.Failed), silent: g.json()}
	}
	return nil
}

// replicateOnce makes one pass over every pair, with a progress bar per
// bucket on stderr, and returns each pair's summary and error (a failed
// pair cancels the others) and the first error (`replicate --once`, and
// the objects job of `protect`).
func replicateOnce(ctx context.Context, g *globals, o *replicateOptions, pairs []pair) ([]replicate.Summary, []error, error) {
	log := g.logger()
	disp := progress.New(g.stderr, progress.Options{Logger: log})
	disp.Start(ctx)
	defer disp.Stop()
	reps := make([]*replicate.Replicator, len(pairs))
	bars := make([]*progress.Bar, len(pairs))
	defer func() {
		for _, r := range reps {
			if r != nil {
				r.Close()
			}
		}
	}()
	for i, p := range pairs {
		ro, err := o.engineOptions(g, p, log)
		if err != nil {
			return nil, nil, err
		}
		bars[i] = disp.NewBar(p.name)
		ro.Progress = barProgress(bars[i])
		if reps[i], err = replicate.New(p.src, p.dst, p.policy, ro); err != nil {
			return nil, nil, err
		}
	}
	summaries := make([]replicate.Summary, len(pairs))
	errs := make([]error, len(pairs))
	eg, ectx := errgroup.WithContext(ctx)
	for i := range pairs {
		eg.Go(func() error {
			s, err := reps[i].Pass(ectx)
			summaries[i], errs[i] = s, err
			if err == nil && s.Failed > 0 {
				bars[i].Done(fmt.Errorf("%d objects failed", s.Failed))
			} else {
				bars[i].Done(err)
			}
			return err
		})
	}
	err := eg.Wait()
	disp.Stop()
	return summaries, errs, err
}

// engineOptions are the engine options of one pair, from the flags.
func (o *replicateOptions) engineOptions(g *globals, p pair, log *slog.Logger) (replicate.Options, error) {
	ro := replicate.Options{
		Workers:            o.workers,
		MultipartThreshold: int64(o.threshold),
		PartSize:           int64(o.partSize),
		MemoryBudget:       int64(o.memory),
		RateLimit:          o.rate,
		Logger:             log.With("bucket", p.name),
	}
	if !o.noCheckpoint {
		ro.Checkpoint = checkpointPath(g, p.id)
		if err := os.MkdirAll(filepath.Dir(ro.Checkpoint), 0o755); err != nil {
			return ro, fmt.Errorf("replicate: create checkpoint dir: %w", err)
		}
	}
	return ro, nil
}

// barProgress feeds engine progress into a progress bar.
func barProgress(b *progress.Bar) func(replicate.Progress) {
	var mu sync.Mutex
	var lastObj, lastBytes int64
	return func(p replicate.Progress) {
		mu.Lock()
		defer mu.Unlock()
		b.SetTotal(p.ObjectsTotal, p.BytesTotal, !p.Listing)
		b.Add(p.ObjectsDone-lastObj, p.BytesDone-lastBytes)
		lastObj, lastBytes = p.ObjectsDone, p.BytesDone
	}
}

// passReport is the summary `replicate --once -o json` prints: totals over
// every bucket and each bucket's summary.
type passReport struct {
	Listed           int            `json:"listed"`
	Copied           int            `json:"copied"`
	Unchanged        int            `json:"unchanged"`
	Failed           int            `json:"failed"`
	Bytes            int64          `json:"bytes"`
	Seconds          float64        `json:"seconds"`
	ObjectsPerSecond float64        `json:"objectsPerSecond"`
	BytesPerSecond   float64        `json:"bytesPerSecond"`
	Buckets          []bucketReport `json:"buckets"`
}

type bucketReport struct {
	Source            string              `json:"source"`
	Destination       string              `json:"destination"`
	Listed            int                 `json:"listed"`
	Copied            int                 `json:"copied"`
	Unchanged         int                 `json:"unchanged"`
	Failed            int                 `json:"failed"`
	Bytes             int64               `json:"bytes"`
	Seconds           float64             `json:"seconds"`
	ObjectsPerSecond  float64             `json:"objectsPerSecond"`
	BytesPerSecond    float64             `json:"bytesPerSecond"`
	ArchivedSkipped   []string            `json:"archivedSkipped"`
	DeletesKept       []string            `json:"deletesKept"`
	DeletesReplicated []string            `json:"deletesReplicated"`
	Failures          []replicate.Failure `json:"failures"`
}

func newPassReport(ss []replicate.Summary) passReport {
	var r passReport
	for _, s := range ss {
		r.Listed += s.Listed
		r.Copied += s.Copied
		r.Unchanged += s.Unchanged
		r.Failed += s.Failed
		r.Bytes += s.Bytes
		r.Seconds = max(r.Seconds, s.Seconds)
		r.Buckets = append(r.Buckets, bucketReport{
			Source: s.Source, Destination: s.Destination,
			Listed: s.Listed, Copied: s.Copied, Unchanged: s.Unchanged, Failed: s.Failed,
			Bytes: s.Bytes, Seconds: s.Seconds, ObjectsPerSecond: s.ObjectsPerSecond, BytesPerSecond: s.BytesPerSecond,
			ArchivedSkipped: nonNil(s.ArchivedSkipped), DeletesKept: nonNil(s.DeletesKept),
			DeletesReplicated: nonNil(s.DeletesReplicated), Failures: nonNil(s.Failures),
		})
	}
	if r.Seconds > 0 {
		r.ObjectsPerSecond = float64(r.Copied) / r.Seconds
		r.BytesPerSecond = float64(r.Bytes) / r.Seconds
	}
	return r
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func writePassReport(g *globals, r passReport) {
	tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tREPLICA\tLISTED\tCOPIED\tUNCHANGED\tFAILED\tBYTES\tSECONDS\tOBJ/S")
	for _, b := range r.Buckets {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%s\t%.1f\t%.0f\n", b.Source, b.Destination, b.Listed, b.Copied, b.Unchanged, b.Failed, humanBytes(b.Bytes), b.Seconds, b.ObjectsPerSecond)
	}
	tw.Flush()
	for _, b := range r.Buckets {
		report := func(what string, keys []string) {
			if len(keys) == 0 {
				return
			}
			fmt.Fprintf(g.stdout, "%s: %d %s:", b.Source, len(keys), what)
			for i, k := range keys {
				if i == 10 {
					fmt.Fprintf(g.stdout, " … (%d more)", len(keys)-10)
					break
				}
				fmt.Fprintf(g.stdout, " %s", k)
			}
			fmt.Fprintln(g.stdout)
		}
		report("deleted in the source, kept in the replica", b.DeletesKept)
		report("deletes replicated", b.DeletesReplicated)
		report("archived objects skipped", b.ArchivedSkipped)
		for _, f := range b.Failures {
			fmt.Fprintf(g.stdout, "%s: failed %s: %s\n", b.Source, f.Key, f.Err)
		}
	}
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

var _ = strings.TrimSpace
var _ = errors.New

package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/plan"
)

// protectOptions are the flags of `pilotlight protect`.
type protectOptions struct {
	once     bool
	interval time.Duration
}

// newProtectCommand returns `pilotlight protect`: run every protection job
// of the plan (objects, snapshots and AMIs, container images, git
// repositories, inventory) once or continuously, and report each
// resource's recovery point against the RPO.
func newProtectCommand(g *globals) *cobra.Command {
	o := &protectOptions{}
	cmd := &cobra.Command{
		Use:   "protect",
		Short: "Run every protection job of the plan: objects, snapshots, images, repositories, inventory",
		Long: `protect runs every protection job the plan has something for, side by side:

  objects       one replication pass per data.buckets bucket (as replicate --once)
  snapshots     AWS: the newest snapshot of every volume and database (taking one
                when the newest is older than the RPO) and the AMIs of the
                services' launch templates, copied to the recovery region within
                AWS's copy limits, with data.snapshots' retention, recorded in the
                catalog (STATE/catalog.json and the catalog bucket)
  images        data.images copied by digest and verified (as images sync --once)
  repositories  data.repositories mirrored and checked (as mirror --once)
  inventory     AWS: the primary region's instances, load balancers, DNS records
                and network exported to the recovery region (as inventory export;
                docs/inventory.md), when data.inventory or a catalog bucket is set

A job the plan has nothing for is skipped. A job that fails does not stop the
others. Every resource's result (kind, resource, recovery point, age against
the RPO) is printed as a table on stdout (or -o json) and recorded in
STATE/protect.json, which 'pilotlight status' shows; progress goes to stderr.

With --once each job runs once and the exit code is 1 if any job failed.
Without it the jobs run again until interrupted: every --interval (default
half the RPO, at least 1m), the inventory every data.inventory.interval
(default 1h).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := g.loadPlan()
			if err != nil {
				return err
			}
			if o.interval < 0 {
				return &usageError{fmt.Errorf("--interval must be positive, not %s", o.interval)}
			}
			if o.interval == 0 {
				o.interval = max(p.Objectives.RPO.D()/2, time.Minute)
			}
			// The jobs run side by side and all report progress on stderr.
			if _, ok := g.stderr.(*syncWriter); !ok {
				g.stderr = &syncWriter{w: g.stderr}
			}
			jobs := planProtectJobs(g, p, o)
			return protectLoop(cmd.Context(), g, p, jobs, o.once)
		},
	}
	cmd.Flags().BoolVar(&o.once, "once", false, "run every job once and exit")
	cmd.Flags().DurationVar(&o.interval, "interval", 0, "time between runs of each job without --once (default half the RPO, at least 1m)")
	return cmd
}

// protectJob is one protection job of the plan.
type protectJob struct {
	// name is objects, snapshots, images, repositories or inventory.
	name string
	// skip says why the plan has nothing for the job ("" runs it).
	skip string
	// interval between runs without --once.
	interval time.Duration
	// run protects the job's resources once: one row per resource, and an
	// error when the job or any resource failed.
	run func(ctx context.Context) ([]protectRow, error)
}

// protectRow is one resource's protection result.
type protectRow struct {
	// Job and Kind say what protected it and what it is (bucket, volume,
	// db-instance, db-cluster, image, container-image, repository,
	// inventory); Resource names it in the primary.
	Job      string `json:"job"`
	Kind     string `json:"kind"`
	Resource string `json:"resource"`
	// Copy is where its recovery point is, in the recovery region.
	Copy string `json:"copy,omitempty"`
	// RecoveryPoint is the time of the newest data that can be recovered.
	RecoveryPoint time.Time `json:"recoveryPoint,omitzero"`
	// AgeSeconds is the recovery point's age when reported; WithinRPO says
	// whether it is within the plan's RPO.
	AgeSeconds float64 `json:"ageSeconds,omitempty"`
	WithinRPO  bool    `json:"withinRPO"`
	// State is completed or failed; Error says why.
	State string `json:"state"`
	Error string `json:"error,omitempty"`
}

// protectJobResult is how one job ended.
type protectJobResult struct {
	Job     string  `json:"job"`
	State   string  `json:"state"` // ok, failed or skipped
	Reason  string  `json:"reason,omitempty"`
	Error   string  `json:"error,omitempty"`
	Seconds float64 `json:"seconds,omitempty"`
}

// protectOutput is what `protect -o json` prints.
type protectOutput struct {
	Plan      string             `json:"plan"`
	RPO       string             `json:"rpo"`
	Jobs      []protectJobResult `json:"jobs"`
	Resources []protectRow       `json:"resources"`
}

// protectLoop runs the jobs once, or each on its interval until ctx is
// done, printing each round and recording it in STATE/protect.json.
func protectLoop(ctx context.Context, g *globals, p *plan.Plan, jobs []protectJob, once bool) error {
	next := map[string]time.Time{}
	for {
		start := time.Now()
		var due []protectJob
		for _, j := range jobs {
			if !start.Before(next[j.name]) {
				due = append(due, j)
			}
		}
		results, rows := runProtectJobs(ctx, g, due)
		if ctx.Err() != nil {
			return nil // interrupted: the catalog and state hold what finished
		}
		now := time.Now()
		st, err := recordProtect(g, p, results, rows, now)
		if err != nil {
			fmt.Fprintf(g.stderr, "protect: %v\n", err)
		}
		if !once {
			rows = st.Resources // the newest result of every resource
		}
		if err := printProtect(g, p, results, rows, now); err != nil {
			return err
		}
		failed := 0
		for _, r := range results {
			if r.State == "failed" {
				failed++
			}
		}
		if once {
			if failed > 0 {
				return &exitError{code: 1, err: fmt.Errorf("protect: %d of %d jobs failed", failed, len(results)), silent: g.json()}
			}
			return nil
		}
		wake := time.Time{}
		for _, j := range due {
			next[j.name] = start.Add(j.interval)
		}
		for _, j := range jobs {
			if j.skip == "" && (wake.IsZero() || next[j.name].Before(wake)) {
				wake = next[j.name]
			}
		}
		if wake.IsZero() {
			return nil // every job is skipped
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Until(wake)):
		}
	}
}

// runProtectJobs runs the jobs side by side; a failing job does not stop
// the others. Skipped jobs are reported, not run.
func runProtectJobs(ctx context.Context, g *globals, jobs []protectJob) ([]protectJobResult, []protectRow) {
	stderr := g.stderr
	if _, ok := stderr.(*syncWriter); !ok {
		stderr = &syncWriter{w: stderr}
	}
	results := make([]protectJobResult, len(jobs))
	rows := make([][]protectRow, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		if j.skip != "" {
			results[i] = protectJobResult{Job: j.name, State: "skipped", Reason: j.skip}
			fmt.Fprintf(stderr, "protect: %s: skipped (%s)\n", j.name, j.skip)
			continue
		}
		wg.Go(func() {
			fmt.Fprintf(stderr, "protect: %s: started\n", j.name)
			start := time.Now()
			rs, err := j.run(ctx)
			r := protectJobResult{Job: j.name, State: "ok", Seconds: time.Since(start).Seconds()}
			if err != nil {
				r.State, r.Error = "failed", err.Error()
				fmt.Fprintf(stderr, "protect: %s: failed: %v\n", j.name, err)
			} else {
				fmt.Fprintf(stderr, "protect: %s: done, %d resources in %.1fs\n", j.name, len(rs), r.Seconds)
			}
			for k := range rs {
				rs[k].Job = j.name
			}
			results[i], rows[i] = r, rs
		})
	}
	wg.Wait()
	return results, slices.Concat(rows...)
}

// withAge fills each row's age and RPO verdict at now: a resource whose
// last run failed is still judged by its previous recovery point.
func withAge(p *plan.Plan, rows []protectRow, now time.Time) []protectRow {
	out := slices.Clone(rows)
	for i := range out {
		r := &out[i]
		r.AgeSeconds, r.WithinRPO = 0, false
		if !r.RecoveryPoint.IsZero() {
			age := now.Sub(r.RecoveryPoint)
			r.AgeSeconds = age.Seconds()
			r.WithinRPO = age <= p.Objectives.RPO.D()
		}
	}
	return out
}

// printProtect writes the rows as JSON or as a table.
func printProtect(g *globals, p *plan.Plan, results []protectJobResult, rows []protectRow, now time.Time) error {
	rows = withAge(p, rows, now)
	if g.json() {
		return g.printJSON(protectOutput{Plan: p.Name, RPO: p.Objectives.RPO.String(), Jobs: nonNil(results), Resources: nonNil(rows)})
	}
	return writeProtectTable(g.stdout, p.Objectives.RPO.String(), rows)
}

// writeProtectTable writes one line per resource.
func writeProtectTable(w io.Writer, rpo string, rows []protectRow) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "KIND\tRESOURCE\tCOPY\tRECOVERY POINT\tAGE/RPO %s\tSTATE\n", rpo)
	for _, r := range rows {
		point, age := "-", "-"
		if !r.RecoveryPoint.IsZero() {
			point = r.RecoveryPoint.UTC().Format(time.RFC3339)
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
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Kind, r.Resource, dash(r.Copy), point, age, state)
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// syncWriter serialises the writes of concurrent jobs to one writer.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}

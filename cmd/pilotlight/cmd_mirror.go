package main

import (
	"context"
	"fmt"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/gitmirror"
	"github.com/pilotlight/pilotlight/plan"
)

type mirrorOptions struct {
	once     bool
	interval time.Duration
	timeout  time.Duration
}

// newMirrorCommand is `pilotlight mirror`.
func newMirrorCommand(g *globals) *cobra.Command {
	o := &mirrorOptions{interval: 15 * time.Minute, timeout: 30 * time.Minute}
	cmd := &cobra.Command{
		Use:   "mirror",
		Short: "Mirror the plan's git repositories to their recovery remotes",
		Long: `Mirror every repository of the plan's data.repositories to its recovery remote:
every branch and tag, force-updated, with branches and tags deleted at the
source deleted in the mirror (git clone --mirror into a cache in the state
directory, git remote update --prune, git push --mirror), then check with
git ls-remote that the recovery remote holds exactly the source's refs.

The last good mirror time and the head of every ref are kept in
<state-dir>/mirror/state.json; a failed pass records its error there without
losing the last good state. git uses its own credentials (ssh agent and
config, credential helpers); it never prompts.

Without --once it mirrors every --interval until interrupted, sooner (with
backoff) after a failure. With --once it exits 1 if any repository failed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runMirror(cmd.Context(), g, o)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&o.once, "once", false, "mirror once and exit (default: keep mirroring every --interval until interrupted)")
	fl.DurationVar(&o.interval, "interval", o.interval, "continuous mode: time between passes")
	fl.DurationVar(&o.timeout, "timeout", o.timeout, "longest pass of one repository (fetch, push and check)")
	return cmd
}

func runMirror(ctx context.Context, g *globals, o *mirrorOptions) error {
	if o.interval <= 0 || o.timeout <= 0 {
		return &usageError{fmt.Errorf("--interval and --timeout must be positive")}
	}
	p, err := g.loadPlan()
	if err != nil {
		return err
	}
	if len(p.Data.Repositories) == 0 {
		return fmt.Errorf("mirror: the plan %s has no data.repositories", p.File())
	}
	m, err := newMirror(g, p, o)
	if err != nil {
		return err
	}
	if !o.once {
		return m.Run(ctx, o.interval)
	}
	rs, err := m.Sync(ctx)
	if err != nil {
		return err
	}
	rep := mirrorReport{Repositories: rs}
	for _, r := range rs {
		if r.Error != "" {
			rep.Failed++
		}
	}
	if g.json() {
		if err := g.printJSON(rep); err != nil {
			return err
		}
	} else {
		writeMirrorReport(g, rep)
	}
	if rep.Failed > 0 {
		return &exitError{code: 1, err: fmt.Errorf("mirror: %d of %d repositories failed", rep.Failed, len(rs)), silent: g.json()}
	}
	return nil
}

// newMirror returns the mirror of p's data.repositories, its cache and
// state under STATE/mirror (`mirror`, and the repositories job of
// `protect`).
func newMirror(g *globals, p *plan.Plan, o *mirrorOptions) (*gitmirror.Mirror, error) {
	repos, err := gitmirror.FromPlan(p.Data.Repositories)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(g.stateDir, "mirror")
	log := g.logger()
	return gitmirror.New(repos, gitmirror.Options{
		CacheDir:  filepath.Join(dir, "cache"),
		StatePath: filepath.Join(dir, "state.json"),
		Timeout:   o.timeout,
		Logger:    log,
		Progress:  mirrorProgress(g),
		OnPass: func(rs []gitmirror.Result) {
			failed := 0
			for _, r := range rs {
				if r.Error != "" {
					failed++
				}
			}
			log.Info("mirror pass", "repositories", len(rs), "failed", failed)
		},
	})
}

// mirrorReport is what `mirror --once` prints.
type mirrorReport struct {
	Failed       int                `json:"failed"`
	Repositories []gitmirror.Result `json:"repositories"`
}

// mirrorProgress prints a line on stderr when a repository starts and ends.
func mirrorProgress(g *globals) func(gitmirror.Event) {
	return func(e gitmirror.Event) {
		r := e.Result
		switch {
		case !e.Done:
			fmt.Fprintf(g.stderr, "mirror: %s -> %s\n", r.Source, r.Recovery)
		case r.Error != "":
			fmt.Fprintf(g.stderr, "mirror: %s failed: %s\n", r.Source, r.Error)
		default:
			fmt.Fprintf(g.stderr, "mirror: %s: %d refs, %d updated, %d deleted\n", r.Source, r.Refs, len(r.Updated), len(r.Deleted))
		}
	}
}

func writeMirrorReport(g *globals, rep mirrorReport) {
	tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tRECOVERY\tREFS\tUPDATED\tDELETED\tLAST GOOD\tSTATUS")
	for _, r := range rep.Repositories {
		status, last := "ok", "never"
		if r.Error != "" {
			status = "failed"
		}
		if !r.LastGood.IsZero() {
			last = r.LastGood.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\t%s\n", r.Source, r.Recovery, r.Refs, len(r.Updated), len(r.Deleted), last, status)
	}
	tw.Flush()
	for _, r := range rep.Repositories {
		if r.Error != "" {
			fmt.Fprintf(g.stdout, "%s: %s\n", r.Source, r.Error)
		}
	}
}

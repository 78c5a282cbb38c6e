package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/pilotlight/pilotlight/plan"
	"github.com/pilotlight/pilotlight/provider/local"
	"github.com/pilotlight/pilotlight/recovery"
	"github.com/pilotlight/pilotlight/runbook"
)

// recoverFlags are the flags of failover and failback.
type recoverFlags struct {
	mode        string
	resume      string
	dryRun      bool
	onFailure   string
	approve     bool
	noCapacity  []string
	concurrency int
	timeout     time.Duration
}

// runMeta is STATE/runs/RUN.json: what a resumed run needs to rebuild the
// same runbook.
type runMeta struct {
	Run       string             `json:"run"`
	Direction recovery.Direction `json:"direction"`
	Mode      recovery.Mode      `json:"mode"`
	Plan      string             `json:"plan"`
	PlanFile  string             `json:"planFile"`
	Created   time.Time          `json:"created"`
}

func runsDir(g *globals) string { return filepath.Join(g.stateDir, "runs") }

func newRunID(dir recovery.Direction) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%s-%s", dir, time.Now().UTC().Format("20060102T150405Z"), hex.EncodeToString(b[:]))
}

func newFailoverCommand(g *globals) *cobra.Command {
	return newRecoverCommand(g, recovery.Failover, `Move the plan's service to the recovery region, with the runbook that
'pilotlight runbook' shows: check the recovery region and the replicas;
graceful mode (the default when the primary answers) fences writes in the
primary and runs a final replication pass; the replicas are promoted; the
services start by tier (falling back to other instance types when capacity is
short); the load balancers are waited on until healthy; DNS answers with the
recovery region; a request through the DNS name checks the result.

Every step is journaled under STATE/runs; after a crash or Ctrl-C,
'--resume RUN' continues where the run stopped without repeating finished
steps. Needs a running 'pilotlight up' for the plan (same --state-dir).`)
}

func newFailbackCommand(g *globals) *cobra.Command {
	return newRecoverCommand(g, recovery.Failback, `Return the plan's service to the primary region after a failover: start the
primary's services, fence writes in the recovery region and copy its data back
to the primary, answer DNS with the primary again, then resume replication
primary → recovery and scale the recovery region back to its standby size.
Journaled and resumable like failover.`)
}

func newRecoverCommand(g *globals, dir recovery.Direction, long string) *cobra.Command {
	f := &recoverFlags{}
	cmd := &cobra.Command{
		Use:   string(dir),
		Short: map[recovery.Direction]string{recovery.Failover: "Fail the service over to the recovery region", recovery.Failback: "Fail the service back to the primary region"}[dir],
		Long:  long,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRecover(cmd.Context(), g, dir, f)
		},
	}
	fl := cmd.Flags()
	if dir == recovery.Failover {
		fl.StringVar(&f.mode, "mode", "auto", "graceful (fence and sync the primary first), ungraceful (primary lost), or auto (graceful when the primary answers)")
	}
	fl.StringVar(&f.resume, "resume", "", "resume run RUN from its journal (see STATE/runs)")
	fl.BoolVar(&f.dryRun, "dry-run", false, "print the runbook and the calls it would make; change nothing")
	fl.StringVar(&f.onFailure, "on-failure", "", "when a step fails after its retries: abort, skip or retry (default: ask on a terminal, else abort)")
	fl.BoolVar(&f.approve, "approve", false, "approve the run without asking (otherwise a terminal asks before anything changes)")
	fl.StringArrayVar(&f.noCapacity, "no-capacity", nil, "declare an instance type out of capacity in the target region (repeatable; exercises the fallback)")
	fl.IntVar(&f.concurrency, "concurrency", 8, "steps run at once, at most")
	fl.DurationVar(&f.timeout, "wait-timeout", 2*time.Minute, "longest wait for load balancers and the end-to-end check")
	return cmd
}

func stdinTerminal() bool { return term.IsTerminal(int(os.Stdin.Fd())) }

func stderrTerminal(g *globals) bool {
	w := g.stderr
	if sw, ok := w.(*syncWriter); ok {
		w = sw.w
	}
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func runRecover(ctx context.Context, g *globals, dir recovery.Direction, f *recoverFlags) error {
	p, err := g.loadPlan()
	if err != nil {
		return err
	}
	switch f.onFailure {
	case "", runbook.OnFailureAbort, runbook.OnFailureSkip, runbook.OnFailureRetry:
	default:
		return &usageError{fmt.Errorf("--on-failure must be abort, skip or retry, not %q", f.onFailure)}
	}
	meta := runMeta{Run: f.resume, Direction: dir, Plan: p.Name, PlanFile: g.file, Created: time.Now().UTC()}
	if f.resume != "" {
		b, err := os.ReadFile(filepath.Join(runsDir(g), f.resume+".json"))
		if err != nil {
			return fmt.Errorf("%s: resume %s: %w (runs are listed in %s)", dir, f.resume, err, runsDir(g))
		}
		if err := json.Unmarshal(b, &meta); err != nil {
			return fmt.Errorf("%s: resume %s: %w", dir, f.resume, err)
		}
		if meta.Direction != dir || meta.Plan != p.Name {
			return fmt.Errorf("%s: run %s is a %s of plan %s", dir, f.resume, meta.Direction, meta.Plan)
		}
	}
	var ctl *local.Control
	if !f.dryRun {
		for _, r := range []plan.Region{p.Regions.Primary, p.Regions.Recovery} {
			if r.Provider != plan.ProviderLocal {
				return fmt.Errorf("%s: region %s uses provider %s; this version recovers local regions (AWS comes with the AWS recovery steps)", dir, r.Name, r.Provider)
			}
		}
		if ctl, err = local.DialControl(g.stateDir, p); err != nil {
			return fmt.Errorf("%s: %w (start it with 'pilotlight up -f %s')", dir, err, g.file)
		}
	}
	if meta.Mode == "" {
		meta.Mode = recovery.Graceful
		switch f.mode {
		case "graceful", "":
		case "ungraceful":
			meta.Mode = recovery.Ungraceful
		case "auto":
			if ctl != nil {
				rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
				if err := ctl.Reachable(rctx, p.Regions.Primary.Name); err != nil {
					meta.Mode = recovery.Ungraceful
				}
				cancel()
			}
		default:
			return &usageError{fmt.Errorf("--mode must be graceful, ungraceful or auto, not %q", f.mode)}
		}
	}
	opts := recovery.Options{Direction: dir, Mode: meta.Mode, HealthyTimeout: f.timeout}
	interactive := stdinTerminal() && stderrTerminal(g) && !g.json()
	if !f.approve && interactive && !f.dryRun {
		opts.Approver = runbook.PromptApprover(os.Stdin, g.stderr)
	}
	var prov recovery.Provider = ctl
	if ctl == nil {
		prov = dryProvider{}
	}
	rb, err := recovery.Build(p, prov, opts)
	if err != nil {
		return err
	}
	if f.dryRun {
		return printRunbook(g, p, rb, opts)
	}
	to := p.Regions.Recovery.Name
	if dir == recovery.Failback {
		to = p.Regions.Primary.Name
	}
	for _, t := range f.noCapacity {
		if err := ctl.SetCapacity(ctx, to, t, false); err != nil {
			return err
		}
	}
	if meta.Run == "" {
		meta.Run = newRunID(dir)
		if err := os.MkdirAll(runsDir(g), 0o755); err != nil {
			return err
		}
		b, _ := json.MarshalIndent(meta, "", "  ")
		if err := os.WriteFile(filepath.Join(runsDir(g), meta.Run+".json"), b, 0o644); err != nil {
			return fmt.Errorf("%s: record run: %w", dir, err)
		}
	}
	log := g.logger()
	view := runbook.NewView(g.stderr, rb, runbook.ViewOptions{Terminal: stderrTerminal(g) && !g.json(), Logger: log, TierName: recovery.TierName})
	eo := runbook.Options{
		Concurrency: f.concurrency,
		OnFailure:   f.onFailure,
		Journal:     filepath.Join(runsDir(g), meta.Run+".journal"),
		Logger:      log,
		Observer:    view.Observe,
	}
	if f.onFailure == "" && interactive {
		eo.Decide = promptDecide(os.Stdin, g.stderr)
	}
	eng, err := runbook.New(eo)
	if err != nil {
		return err
	}
	if !g.json() {
		fmt.Fprintf(g.stderr, "%s %s: %s → %s (%s), run %s\n", dir, p.Name, otherRegion(p, to), to, meta.Mode, meta.Run)
	}
	view.Start(ctx)
	res, runErr := eng.Run(ctx, rb, meta.Run)
	view.Stop()
	out := recoverReport{Run: meta.Run, Direction: dir, Mode: meta.Mode, Plan: p.Name, From: otherRegion(p, to), To: to, Result: res}
	if runErr != nil {
		out.Error = runErr.Error()
	}
	if g.json() {
		if err := g.printJSON(out); err != nil {
			return err
		}
	} else {
		writeRecoverReport(g.stdout, out)
	}
	if runErr != nil {
		if errors.Is(runErr, context.Canceled) {
			return &exitError{code: 1, err: fmt.Errorf("%s: interrupted; resume with: pilotlight %s -f %s --resume %s", dir, dir, g.file, meta.Run), silent: g.json()}
		}
		return &exitError{code: 1, err: fmt.Errorf("%s: %w; resume with: pilotlight %s -f %s --resume %s", dir, runErr, dir, g.file, meta.Run), silent: g.json()}
	}
	return nil
}

func otherRegion(p *plan.Plan, name string) string {
	if name == p.Regions.Primary.Name {
		return p.Regions.Recovery.Name
	}
	return p.Regions.Primary.Name
}

// recoverReport is the result of failover and failback (-o json).
type recoverReport struct {
	Run       string             `json:"run"`
	Direction recovery.Direction `json:"direction"`
	Mode      recovery.Mode      `json:"mode"`
	Plan      string             `json:"plan"`
	From      string             `json:"from"`
	To        string             `json:"to"`
	Error     string             `json:"error,omitempty"`
	Result    runbook.Result     `json:"result"`
}

func writeRecoverReport(w io.Writer, r recoverReport) {
	state := "done"
	if r.Error != "" {
		state = "stopped: " + r.Error
	}
	fmt.Fprintf(w, "%s %s → %s %s in %.2fs (run %s)\n", r.Direction, r.From, r.To, state, r.Result.Seconds, r.Run)
	for _, t := range r.Result.Tiers {
		fmt.Fprintf(w, "  %-16s %6.2fs\n", recovery.TierName(t.Tier), t.Seconds)
	}
	fmt.Fprintf(w, "  %-28s %-10s %8s %8s  %s\n", "STEP", "STATE", "ATTEMPTS", "SECONDS", "OUTPUT")
	for _, s := range r.Result.Steps {
		var kv []string
		for k, v := range s.Output {
			kv = append(kv, k+"="+v)
		}
		slices.Sort(kv)
		detail := strings.Join(kv, " ")
		if s.Err != "" {
			detail = s.Err
		}
		fmt.Fprintf(w, "  %-28s %-10s %8d %8.2f  %s\n", s.ID, s.State, s.Attempts, s.Seconds, detail)
	}
}

// promptDecide asks the operator what to do with a failed step.
func promptDecide(in io.Reader, out io.Writer) func(ctx context.Context, step string, err error) string {
	rd := bufio.NewReader(in)
	return func(ctx context.Context, step string, err error) string {
		for {
			fmt.Fprintf(out, "\nstep %s failed: %v\n[r]etry, [s]kip, [a]bort? ", step, err)
			line, rerr := rd.ReadString('\n')
			if rerr != nil || ctx.Err() != nil {
				return runbook.OnFailureAbort
			}
			switch strings.ToLower(strings.TrimSpace(line)) {
			case "r", "retry":
				return runbook.OnFailureRetry
			case "s", "skip":
				return runbook.OnFailureSkip
			case "a", "abort":
				return runbook.OnFailureAbort
			}
		}
	}
}

// dryProvider backs runbooks that are only printed; calling it is a bug.
type dryProvider struct{}

var errDry = errors.New("dry run: no provider")

func (dryProvider) Scale(context.Context, string, string, string, int, string) error { return errDry }
func (dryProvider) Service(context.Context, string, string) (recovery.ServiceState, error) {
	return recovery.ServiceState{}, errDry
}
func (dryProvider) Fence(context.Context, string, bool) error { return errDry }
func (dryProvider) Sync(context.Context, string, string) (recovery.SyncReport, error) {
	return recovery.SyncReport{}, errDry
}
func (dryProvider) SetReplication(context.Context, string, string) error { return errDry }
func (dryProvider) Replication(context.Context) (recovery.ReplicationReport, error) {
	return recovery.ReplicationReport{}, errDry
}
func (dryProvider) SetActive(context.Context, string, string) error { return errDry }
func (dryProvider) Reachable(context.Context, string) error         { return errDry }
func (dryProvider) Verify(context.Context, string) (recovery.Answer, error) {
	return recovery.Answer{}, errDry
}

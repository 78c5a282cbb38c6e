package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/plan"
	awsp "github.com/pilotlight/pilotlight/provider/aws"
)

// cleanupResult is what 'drill cleanup' found and removed for one drill.
type cleanupResult struct {
	ID        string `json:"id"`
	Running   bool   `json:"running,omitempty"` // the drill's process still runs: left alone
	Processes int    `json:"processesKilled"`
	Listeners int    `json:"listenersLeft"`
	Removed   bool   `json:"stateRemoved"`
}

func newDrillCleanupCommand(g *globals) *cobra.Command {
	var (
		id        string
		olderThan time.Duration
		dryRun    bool
	)
	cmd := &cobra.Command{
		Use:   "cleanup",
		Short: "Remove what crashed drills left behind: processes, listeners, state; on AWS, tagged resources",
		Long: `Find drills whose pilotlight process is gone (crashed or killed) under
STATE/drills, kill every process still marked with their ID
(` + drillEnv + ` in its environment), check that no listener is left on the
plan's region networks, and remove their state. Drills still running are left
alone. --older-than takes only drills whose state is older than that.

For a plan whose recovery region uses provider aws this is the sweeper of
isolated drills: it finds the resources tagged pilotlight:drill in the
recovery region (instances, load balancers and target groups, restored
databases, created volumes) whose pilotlight:drill-started tag is older than
--older-than (default 2h, so that a drill in progress is left alone), or
those of --id, and deletes them and waits until they are gone. --dry-run
lists them only.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if p, err := g.loadPlan(); err == nil && p.Regions.Recovery.Provider == plan.ProviderAWS {
				if !cmd.Flags().Changed("older-than") {
					olderThan = 2 * time.Hour
				}
				return sweepAWSDrills(cmd.Context(), g, p, id, olderThan, dryRun)
			}
			if dryRun {
				return &usageError{errors.New("drill cleanup: --dry-run applies to aws plans (the sweep of tagged resources)")}
			}
			entries, err := os.ReadDir(drillsDir(g.stateDir))
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			results := []cleanupResult{}
			var failed []string
			for _, e := range entries {
				if !e.IsDir() || (id != "" && e.Name() != id) {
					continue
				}
				dir := filepath.Join(drillsDir(g.stateDir), e.Name())
				if olderThan > 0 {
					if fi, err := os.Stat(dir); err == nil && time.Since(fi.ModTime()) < olderThan {
						continue
					}
				}
				res := cleanupResult{ID: e.Name()}
				var rec drillRecord
				if b, err := os.ReadFile(filepath.Join(dir, "drill.json")); err == nil && json.Unmarshal(b, &rec) == nil &&
					rec.PID != os.Getpid() && processAlive(rec.PID) && isDrillProcess(rec.PID, e.Name()) {
					res.Running = true
					results = append(results, res)
					continue
				}
				res.Processes = killMarked(e.Name(), true)
				if p, err := g.loadPlan(); err == nil {
					// Listeners close with their processes; give the kernel a moment.
					deadline := time.Now().Add(5 * time.Second)
					for res.Listeners = openListeners(p); res.Listeners > 0 && time.Now().Before(deadline); res.Listeners = openListeners(p) {
						time.Sleep(100 * time.Millisecond)
					}
				}
				if err := os.RemoveAll(dir); err != nil {
					failed = append(failed, err.Error())
				} else {
					res.Removed = true
				}
				results = append(results, res)
			}
			if id != "" && len(results) == 0 {
				return fmt.Errorf("drill cleanup: no drill %s under %s", id, drillsDir(g.stateDir))
			}
			if g.json() {
				if err := g.printJSON(results); err != nil {
					return err
				}
			} else {
				if len(results) == 0 {
					fmt.Fprintln(g.stdout, "no drill state to clean up")
				}
				for _, r := range results {
					if r.Running {
						fmt.Fprintf(g.stdout, "%s: still running, left alone\n", r.ID)
						continue
					}
					fmt.Fprintf(g.stdout, "%s: %d processes killed, %d listeners left, state removed: %v\n", r.ID, r.Processes, r.Listeners, r.Removed)
				}
			}
			if len(failed) > 0 {
				return fmt.Errorf("drill cleanup: %v", failed)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&id, "id", "", "clean up only this drill")
	cmd.Flags().DurationVar(&olderThan, "older-than", 0, "take only drills started longer ago than this (aws plans: default 2h)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "aws plans: list the leftovers, delete nothing")
	return cmd
}

// sweepAWSDrills is 'drill cleanup' of an aws plan: the leftovers of
// isolated drills in the recovery region, found by tag.
func sweepAWSDrills(ctx context.Context, g *globals, p *plan.Plan, id string, olderThan time.Duration, dryRun bool) error {
	region := p.Regions.Recovery
	rc, err := awsp.NewRegionClients(ctx, region, nil)
	if err != nil {
		return fmt.Errorf("drill cleanup: %w", err)
	}
	rec := &awsp.Recovery{Plan: p, Regions: map[string]awsp.RegionClients{region.Name: rc}, Logger: g.logger(), Poll: 5 * time.Second}
	found, err := rec.Sweep(ctx, region.Name, sweepMatch(id, olderThan, time.Now()), dryRun)
	if found == nil {
		found = []awsp.Leftover{}
	}
	if g.json() {
		if perr := g.printJSON(struct {
			Region    string          `json:"region"`
			DryRun    bool            `json:"dryRun"`
			Leftovers []awsp.Leftover `json:"leftovers"`
			Error     string          `json:"error,omitempty"`
		}{region.Name, dryRun, found, errString(err)}); perr != nil {
			return perr
		}
	} else {
		verb := "removed"
		if dryRun {
			verb = "found (dry run, nothing deleted)"
		}
		fmt.Fprintf(g.stdout, "%s: %d drill leftovers %s\n", region.Name, len(found), verb)
		for _, l := range found {
			fmt.Fprintf(g.stdout, "  %s/%s\tdrill %s\tstarted %s\n", l.Kind, l.ID, l.Drill, l.Started.Format(time.RFC3339))
		}
	}
	if err != nil {
		return fmt.Errorf("drill cleanup: %w", err)
	}
	return nil
}

// sweepMatch takes the drill id when given, else drills started before
// now-olderThan. A resource without a readable start tag is taken only by
// its ID: it might belong to a drill in progress.
func sweepMatch(id string, olderThan time.Duration, now time.Time) awsp.DrillMatch {
	cutoff := now.Add(-olderThan)
	return func(drill string, started time.Time) bool {
		if id != "" {
			return drill == id
		}
		return !started.IsZero() && started.Before(cutoff)
	}
}

func processAlive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	_, rest, _ := bytes.Cut(b, []byte(") "))
	return len(rest) > 0 && rest[0] != 'Z'
}

// isDrillProcess reports whether pid carries the drill's mark, or is the
// drill itself (which sets the mark on itself).
func isDrillProcess(pid int, id string) bool {
	env, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		return false
	}
	mark := []byte(drillEnv + "=" + id)
	for _, kv := range bytes.Split(env, []byte{0}) {
		if bytes.Equal(kv, mark) {
			return true
		}
	}
	// The drill sets the mark after it starts, so its own environ (which
	// is the one it was started with) lacks it: recognise it by its
	// command line instead.
	cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return bytes.Contains(cmdline, []byte("pilotlight")) && bytes.Contains(cmdline, []byte("\x00drill"))
}

// killMarked finds live processes (other than this one) carrying the
// drill's mark, kills them when kill is set, and returns how many it found.
func killMarked(id string, kill bool) int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	mark := []byte(drillEnv + "=" + id)
	n := 0
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() || !processAlive(pid) {
			continue
		}
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil {
			continue
		}
		for _, kv := range bytes.Split(env, []byte{0}) {
			if bytes.Equal(kv, mark) {
				n++
				if kill {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
				break
			}
		}
	}
	return n
}

// errString is err's message, "" for nil.
func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

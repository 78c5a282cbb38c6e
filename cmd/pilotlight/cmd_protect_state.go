package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/pilotlight/pilotlight/plan"
)

// protectState is what STATE/protect.json holds: the newest result of
// every job and every resource `pilotlight protect` has protected.
type protectState struct {
	Plan       string             `json:"plan"`
	RPO        string             `json:"rpo"`
	RPOSeconds float64            `json:"rpoSeconds"`
	Updated    time.Time          `json:"updated"`
	Jobs       []protectJobResult `json:"jobs"`
	Resources  []protectRow       `json:"resources"`
}

func protectStatePath(stateDir string) string { return filepath.Join(stateDir, "protect.json") }

// readProtect reads STATE/protect.json; false when there is none.
func readProtect(stateDir string) (protectState, bool) {
	var st protectState
	b, err := os.ReadFile(protectStatePath(stateDir))
	if err != nil || json.Unmarshal(b, &st) != nil {
		return protectState{}, false
	}
	return st, true
}

func rowKey(r protectRow) string { return r.Job + "\x00" + r.Kind + "\x00" + r.Resource }

// recordProtect merges a round's results into STATE/protect.json and
// returns the merged state. A resource that failed keeps its previous
// recovery point (and copy): that data can still be recovered.
func recordProtect(g *globals, p *plan.Plan, results []protectJobResult, rows []protectRow, now time.Time) (protectState, error) {
	st, ok := readProtect(g.stateDir)
	if !ok || st.Plan != p.Name {
		st = protectState{}
	}
	st.Plan, st.RPO, st.RPOSeconds, st.Updated = p.Name, p.Objectives.RPO.String(), p.Objectives.RPO.D().Seconds(), now.UTC()
	for _, r := range results {
		if i := slices.IndexFunc(st.Jobs, func(j protectJobResult) bool { return j.Job == r.Job }); i >= 0 {
			st.Jobs[i] = r
		} else {
			st.Jobs = append(st.Jobs, r)
		}
	}
	for _, r := range rows {
		i := slices.IndexFunc(st.Resources, func(o protectRow) bool { return rowKey(o) == rowKey(r) })
		if i < 0 {
			st.Resources = append(st.Resources, r)
			continue
		}
		if old := st.Resources[i]; r.State != rowCompleted && r.RecoveryPoint.IsZero() && !old.RecoveryPoint.IsZero() {
			r.RecoveryPoint, r.Copy = old.RecoveryPoint, old.Copy
		}
		st.Resources[i] = r
	}
	slices.SortFunc(st.Jobs, func(a, b protectJobResult) int { return strings.Compare(a.Job, b.Job) })
	slices.SortFunc(st.Resources, func(a, b protectRow) int { return strings.Compare(rowKey(a), rowKey(b)) })
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return st, fmt.Errorf("protect: write %s: %w", protectStatePath(g.stateDir), err)
	}
	if err := os.MkdirAll(g.stateDir, 0o755); err != nil {
		return st, fmt.Errorf("protect: write %s: %w", protectStatePath(g.stateDir), err)
	}
	tmp := protectStatePath(g.stateDir) + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return st, fmt.Errorf("protect: write %s: %w", protectStatePath(g.stateDir), err)
	}
	if err := os.Rename(tmp, protectStatePath(g.stateDir)); err != nil {
		return st, fmt.Errorf("protect: write %s: %w", protectStatePath(g.stateDir), err)
	}
	return st, nil
}

// statusProtection is the protection section of `status -o json`: the
// state file with every resource's age and RPO verdict now.
func statusProtection(st protectState, now time.Time) *protectState {
	p := &plan.Plan{Objectives: plan.Objectives{RPO: plan.Duration(time.Duration(st.RPOSeconds * float64(time.Second)))}}
	st.Resources = withAge(p, st.Resources, now)
	return &st
}

// writeProtection prints the protection section of `status`.
func writeProtection(g *globals, st protectState, now time.Time) error {
	s := statusProtection(st, now)
	fmt.Fprintf(g.stdout, "\nprotection of plan %s, last run %s ago\n", s.Plan, now.Sub(s.Updated).Round(time.Second))
	if err := writeProtectTable(g.stdout, s.RPO, s.Resources); err != nil {
		return err
	}
	for _, j := range s.Jobs {
		if j.State == "failed" {
			fmt.Fprintf(g.stdout, "job %s failed: %s\n", j.Job, j.Error)
		}
	}
	return nil
}

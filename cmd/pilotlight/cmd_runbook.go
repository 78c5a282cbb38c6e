package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/plan"
	"github.com/pilotlight/pilotlight/recovery"
	"github.com/pilotlight/pilotlight/runbook"
)

func newRunbookCommand(g *globals) *cobra.Command {
	var mode string
	cmd := &cobra.Command{
		Use:   "runbook [failover|failback]",
		Short: "Show the recovery runbook of the plan: steps, tiers, dependencies and calls",
		Long: `Render the runbook that 'pilotlight failover' (default) or 'pilotlight failback'
would run for the plan, without touching anything: its steps in tiers and waves
(steps of a wave run in parallel), their dependencies, the provider API each
calls and whether it changes anything. -o json gives the same as data.`,
		Args:      cobra.MaximumNArgs(1),
		ValidArgs: []string{"failover", "failback"},
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := recovery.Failover
			if len(args) == 1 {
				switch args[0] {
				case "failover":
				case "failback":
					dir = recovery.Failback
				default:
					return &usageError{fmt.Errorf("runbook: %q: want failover or failback", args[0])}
				}
			}
			p, err := g.loadPlan()
			if err != nil {
				return err
			}
			m := recovery.Mode(mode)
			if m != recovery.Graceful && m != recovery.Ungraceful {
				return &usageError{fmt.Errorf("--mode must be graceful or ungraceful, not %q", mode)}
			}
			o := recovery.Options{Direction: dir, Mode: m}
			rb, err := recovery.Build(p, dryProvider{}, o)
			if err != nil {
				return err
			}
			return printRunbook(g, p, rb, o)
		},
	}
	cmd.Flags().StringVar(&mode, "mode", "graceful", "graceful or ungraceful (failover)")
	return cmd
}

// runbookView is the JSON form of a runbook.
type runbookView struct {
	Name      string             `json:"name"`
	Direction recovery.Direction `json:"direction"`
	Mode      recovery.Mode      `json:"mode"`
	From      string             `json:"from"`
	To        string             `json:"to"`
	Tiers     []tierView         `json:"tiers"`
}

type tierView struct {
	Tier  int        `json:"tier"`
	Name  string     `json:"name"`
	Waves [][]string `json:"waves"`
	Steps []stepView `json:"steps"`
}

type stepView struct {
	ID        string   `json:"id"`
	DependsOn []string `json:"dependsOn,omitempty"`
	API       string   `json:"api,omitempty"`
	Mutating  bool     `json:"mutating"`
	Describe  string   `json:"describe"`
	Fallback  bool     `json:"capacityFallback,omitempty"`
}

func printRunbook(g *globals, p *plan.Plan, rb runbook.Runbook, o recovery.Options) error {
	waves, err := runbook.Plan(rb)
	if err != nil {
		return err
	}
	from, to := p.Regions.Primary.Name, p.Regions.Recovery.Name
	if o.Direction == recovery.Failback {
		from, to = to, from
	}
	v := runbookView{Name: rb.Name, Direction: o.Direction, Mode: o.Mode, From: from, To: to}
	byID := map[string]runbook.Step{}
	for _, s := range rb.Steps {
		byID[s.ID] = s
	}
	for _, w := range waves {
		if len(v.Tiers) == 0 || v.Tiers[len(v.Tiers)-1].Tier != w.Tier {
			v.Tiers = append(v.Tiers, tierView{Tier: w.Tier, Name: recovery.TierName(w.Tier)})
		}
		t := &v.Tiers[len(v.Tiers)-1]
		t.Waves = append(t.Waves, w.Steps)
		for _, id := range w.Steps {
			s := byID[id]
			t.Steps = append(t.Steps, stepView{ID: s.ID, DependsOn: s.DependsOn, API: s.API, Mutating: s.Mutating, Describe: s.Describe, Fallback: s.Fallback != nil})
		}
	}
	if g.json() {
		return g.printJSON(v)
	}
	fmt.Fprintf(g.stdout, "runbook %s: %s → %s (%s), %d steps in %d tiers\n", v.Name, from, to, o.Mode, len(rb.Steps), len(v.Tiers))
	for _, t := range v.Tiers {
		fmt.Fprintf(g.stdout, "\ntier %d  %s\n", t.Tier, t.Name)
		for wi, w := range t.Waves {
			for _, id := range w {
				s := byID[id]
				flags := "read"
				if s.Mutating {
					flags = "change"
				}
				if s.Fallback != nil {
					flags += "+fallback"
				}
				after := ""
				if len(s.DependsOn) > 0 {
					after = " (after " + strings.Join(s.DependsOn, ", ") + ")"
				}
				fmt.Fprintf(g.stdout, "  %d. %-24s %-9s %-15s %s%s\n", wi+1, s.ID, s.API, flags, s.Describe, after)
			}
		}
	}
	return nil
}

package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/plan"
)

// loadPlan loads the plan named by -f. Validation problems are printed one per
// line and turned into a silent exit code 1.
func (g *globals) loadPlan() (*plan.Plan, error) {
	p, err := plan.Load(g.file)
	if err == nil {
		return p, nil
	}
	var errs plan.Errors
	if errors.As(err, &errs) {
		if g.json() {
			_ = g.printJSON(map[string]any{"ok": false, "errors": errs})
		} else {
			fmt.Fprintln(g.stderr, errs.Error())
		}
		return nil, &exitError{code: 1, err: err, silent: true}
	}
	return nil, err
}

// loadRoutingPlan loads the plan and checks that it has a routing block;
// what names the command in the error.
func (g *globals) loadRoutingPlan(what string) (*plan.Plan, error) {
	p, err := g.loadPlan()
	if err != nil {
		return nil, err
	}
	if p.Routing == nil {
		return nil, fmt.Errorf("%s: the plan %s has no routing block", what, p.File())
	}
	return p, nil
}

func newValidateCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "validate",
		Short: "Check the plan file and print ok or every problem found",
		Long: `Check the plan file strictly: unknown fields, wrong types, invalid values and
cross-field rules. Every problem is reported as FILE:LINE:COL: path: message.
Exit status 0 when the plan is valid, 1 when it is not.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := plan.Load(g.file)
			var errs plan.Errors
			switch {
			case err == nil:
				warnings := p.Warnings()
				if g.json() {
					return g.printJSON(map[string]any{"ok": true, "file": g.file, "name": p.Name, "warnings": nonNil(warnings)})
				}
				for _, w := range warnings {
					fmt.Fprintln(g.stdout, w.Error())
				}
				fmt.Fprintln(g.stdout, "ok")
				return nil
			case errors.As(err, &errs):
				if g.json() {
					_ = g.printJSON(map[string]any{"ok": false, "file": g.file, "errors": errs})
				} else {
					fmt.Fprintln(g.stdout, errs.Error())
				}
				return &exitError{code: 1, err: err, silent: true}
			default:
				return err
			}
		},
	}
}

func newPlanCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Summarise what the plan protects and how it would recover",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := g.loadPlan()
			if err != nil {
				return err
			}
			s := plan.Describe(p)
			if g.json() {
				return g.printJSON(s)
			}
			return s.WriteText(g.stdout)
		},
	}
	cmd.AddCommand(newPlanGenerateCommand(g))
	return cmd
}

func newSchemaCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of the plan file (pilotlight schema > pilotlight.schema.json)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := plan.Schema()
			if err != nil {
				return fmt.Errorf("schema: %w", err)
			}
			_, err = g.stdout.Write(append(b, '\n'))
			return err
		},
	}
}

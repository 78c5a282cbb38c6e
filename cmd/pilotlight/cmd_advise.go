package main

import (
	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/advise"
	"github.com/pilotlight/pilotlight/provider/sim"
)

func newAdviseCommand(g *globals) *cobra.Command {
	var pricesFile, modelFile string
	cmd := &cobra.Command{
		Use:   "advise",
		Short: "Compare the four DR strategies for the plan by RTO, RPO and cost, and recommend one",
		Long: `Estimate, for each strategy (backup-restore, pilot-light, warm-standby,
active-active), the recovery time from the plan's services and the recovery
steps the strategy needs, the recovery point of every data source from the
mechanism it uses, and the monthly cost of the recovery region in normal times
and during a failover. Marks the cheapest strategy that meets both objectives.

Times come from the step-duration model (--model, default: the embedded one of
provider/sim); prices from the price table (--prices, default: the embedded
advise/prices.yaml). Give data sizes and change rates in the plan
(data.*.sizeGB, changeRateGBPerDay) for storage and transfer costs.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := g.loadPlan()
			if err != nil {
				return err
			}
			pr := advise.DefaultPrices()
			if pricesFile != "" {
				if pr, err = advise.LoadPrices(pricesFile); err != nil {
					return err
				}
			}
			m := sim.DefaultModel()
			if modelFile != "" {
				if m, err = sim.LoadModel(modelFile); err != nil {
					return err
				}
			}
			r, err := advise.Advise(p, pr, m)
			if err != nil {
				return err
			}
			if g.json() {
				return g.printJSON(r)
			}
			return r.WriteText(g.stdout)
		},
	}
	cmd.Flags().StringVar(&pricesFile, "prices", "", "price table YAML (default: the embedded one)")
	cmd.Flags().StringVar(&modelFile, "model", "", "step-duration model YAML (default: the embedded one)")
	return cmd
}

package advise

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteText writes the report as a comparison table, the recommendation,
// each strategy's breakdown and the notes.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "advise %s: objectives RTO %s, RPO %s (the plan uses %s)\n", r.Plan, r.Objectives.RTO, r.Objectives.RPO, r.Strategy)
	fmt.Fprintf(&b, "recovery region %s priced as %s, %s of %s\n\n", r.RecoveryRegion, r.PricedAs, r.Prices.Currency, r.Prices.Date)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STRATEGY\tRTO\tRPO\tNORMAL/MONTH\tFAILOVER/MONTH\tMEETS")
	for _, o := range r.Options {
		meets := "yes"
		if !o.Meets {
			meets = "no: " + missedShort(o)
		}
		if o.Strategy == r.Recommendation {
			meets += " (recommended)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", o.Strategy, o.RTO, o.RPO, money(o.Cost.Normal.Total), money(o.Cost.Failover.Total), meets)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if r.Recommendation != "" {
		fmt.Fprintf(&b, "\nRecommendation: %s. %s\n", r.Recommendation, r.Explanation)
	} else {
		fmt.Fprintf(&b, "\nNo recommendation. %s\n", r.Explanation)
	}
	for _, o := range r.Options {
		fmt.Fprintf(&b, "\n%s\n", o.Strategy)
		fmt.Fprintf(&b, "  RTO %s", o.RTO)
		if o.FullCapacity != o.RTO {
			fmt.Fprintf(&b, " (full capacity %s)", o.FullCapacity)
		}
		b.WriteString("\n")
		for _, pt := range o.RTOParts {
			fmt.Fprintf(&b, "    %-24s %7s  %s\n", pt.Name, pt.Duration, pt.Detail)
		}
		fmt.Fprintf(&b, "  RPO %s\n", o.RPO)
		for _, s := range o.RPOSources {
			fmt.Fprintf(&b, "    %-24s %7s  %s\n", string(s.Kind)+" "+s.Name, s.RPO, s.Detail)
		}
		fmt.Fprintf(&b, "  cost a month   normal %s, failover %s\n", lines(o.Cost.Normal), lines(o.Cost.Failover))
		for _, m := range o.Misses {
			fmt.Fprintf(&b, "  misses: %s\n", m)
		}
	}
	if len(r.Notes) > 0 {
		b.WriteString("\nnotes:\n")
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "  - %s\n", n)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// missedShort lists the objectives an option misses: "RTO", "RPO" or both.
func missedShort(o Option) string {
	var m []string
	if !o.MeetsRTO {
		m = append(m, "RTO")
	}
	if !o.MeetsRPO {
		m = append(m, "RPO")
	}
	return strings.Join(m, ", ")
}

// lines formats a cost with its items.
func lines(l Lines) string {
	return fmt.Sprintf("%s (compute %.2f, load balancers %.2f, storage %.2f, transfer %.2f, health checks %.2f)",
		money(l.Total), l.Compute, l.LoadBalancers, l.Storage, l.Transfer, l.HealthChecks)
}

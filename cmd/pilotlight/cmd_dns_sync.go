package main

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/plan"
	awsprovider "github.com/pilotlight/pilotlight/provider/aws"
)

func newDNSSyncCommand(g *globals) *cobra.Command {
	var dryRun, wait bool
	var zoneID string
	cmd := &cobra.Command{
		Use:   "sync",
		Short: "Create or update the plan's records and health checks in Amazon Route 53",
		Long: `Compute the Route 53 changes that make the hosted zone match the plan's routing
records — health checks, PRIMARY/SECONDARY failover record sets, weighted sets,
simple records — and apply them: batched within Route 53's limits (1,000
records and 32,000 characters per change, an UPSERT counting twice), one change
at a time per zone, retrying Throttling and PriorRequestNotComplete. --dry-run
prints the change set without applying it. Route 53 checks run every 10 or 30
seconds: the plan's interval is rounded up to one of them.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := g.loadRoutingPlan("dns sync")
			if err != nil {
				return err
			}
			specs, err := route53Specs(p)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			client, err := awsprovider.NewRoute53(ctx, p.Regions.Primary.Profile)
			if err != nil {
				return err
			}
			d := &awsprovider.Route53Driver{Client: client, ZoneID: zoneID, Zone: p.Routing.Zone, PlanName: p.Name, Logger: g.logger()}
			cs, err := d.Plan(ctx, specs)
			if err != nil {
				return err
			}
			if dryRun || cs.Empty() {
				if g.json() {
					return g.printJSON(cs)
				}
				if cs.Empty() {
					fmt.Fprintf(g.stdout, "Route 53 zone %s is in sync with the plan\n", p.Routing.Zone)
					return nil
				}
				return cs.Render(g.stdout)
			}
			rep, err := d.Apply(ctx, cs, wait)
			if err != nil {
				return err
			}
			if g.json() {
				return g.printJSON(map[string]any{"changes": cs, "report": rep})
			}
			if err := cs.Render(g.stdout); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "applied %d record changes in %d batches, %d health checks created, %d updated, %d retries; in sync: %v\n",
				rep.Changes, rep.Batches, rep.HealthChecksCreated, rep.HealthChecksUpdated, rep.Retries, rep.InSync)
			return nil
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the change set without applying it")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait until Route 53 reports the changes INSYNC")
	cmd.Flags().StringVar(&zoneID, "zone-id", "", "hosted zone ID (default: looked up by the plan's zone name)")
	return cmd
}

// route53Specs maps the plan's records to Route 53 record specs. Records
// must carry fixed values: the plan does not yet name AWS load balancers.
func route53Specs(p *plan.Plan) ([]awsprovider.RecordSpec, error) {
	var specs []awsprovider.RecordSpec
	for i, r := range p.Routing.Records {
		s := awsprovider.RecordSpec{Name: r.FQDN(p.Routing.Zone), Type: string(r.Type), TTL: int64(r.TTL), Policy: string(r.Policy)}
		switch {
		case len(r.Values) > 0:
			s.Primary = r.Values
		case len(r.Primary) > 0:
			s.Primary, s.Secondary = r.Primary, r.Recovery
		default:
			return nil, fmt.Errorf("dns sync: routing.records[%d] (%s) is bound to service %s; Route 53 records need fixed values or primary/recovery addresses in the plan", i, r.Name, r.Service)
		}
		if r.Weights != nil {
			s.Weights = [2]int64{int64(r.Weights.Primary), int64(r.Weights.Recovery)}
		}
		if hc := r.HealthCheck; hc != nil {
			interval := 10
			if hc.Interval.D().Seconds() > 10 {
				interval = 30
			}
			s.HealthCheck = &awsprovider.HealthCheckSpec{
				Type: strings.ToUpper(string(hc.Type)), Port: hc.Port, Path: hc.Path,
				Interval: interval, FailureThreshold: hc.FailureThreshold, Body: hc.Body,
				Primary: endpoint(s.Primary), Secondary: endpoint(s.Secondary),
			}
		}
		specs = append(specs, s)
	}
	return specs, nil
}

// endpoint is the health-check endpoint of a role's values: an IP address,
// or a name.
func endpoint(values []string) awsprovider.Endpoint {
	if len(values) == 0 {
		return awsprovider.Endpoint{}
	}
	if _, err := netip.ParseAddr(values[0]); err == nil {
		return awsprovider.Endpoint{IP: values[0]}
	}
	return awsprovider.Endpoint{FQDN: values[0]}
}

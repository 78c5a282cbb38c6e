package main

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/plan"
	awsprovider "github.com/pilotlight/pilotlight/provider/aws"
	"github.com/pilotlight/pilotlight/runbook"
)

// networkSyncer computes and makes the changes that mirror the primary's
// network into the recovery region (awsprovider.NetworkSync).
type networkSyncer interface {
	// Diff reads both regions and returns the changes; it changes nothing.
	Diff(ctx context.Context) (*awsprovider.NetworkDiff, error)
	// Apply makes the changes of d, marking each one done.
	Apply(ctx context.Context, d *awsprovider.NetworkDiff) error
}

// networkFlags are the flags of network sync.
type networkFlags struct {
	dryRun, approve, prune bool
}

// networkReport is the -o json output of network sync and diff.
type networkReport struct {
	Applied bool                     `json:"applied"`
	Error   string                   `json:"error,omitempty"`
	Diff    *awsprovider.NetworkDiff `json:"diff"`
}

func newNetworkCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "network",
		Short: "Mirror the primary region's VPCs into the recovery region (AWS)",
		Args:  cobra.NoArgs,
	}
	f := &networkFlags{}
	sync := &cobra.Command{
		Use:   "sync",
		Short: "Create or update the recovery region's copy of the plan's VPCs",
		Long: `Read the VPCs of the plan's network block in the primary region — CIDRs, DNS
attributes, subnets, route tables, internet and NAT gateways, security groups —
and create or update their mirror in the recovery region: same CIDRs, subnets
in the mapped zones, routes through the mirrored gateways, security group rules
naming the mirrored groups. Every resource made carries the tags
pilotlight:plan=<plan> and pilotlight:source=<primary ID>, by which a later sync
finds it: a second sync changes nothing, an interrupted one resumes.

The diff is always printed first; --dry-run stops there. On a terminal the
changes are applied after confirmation (--approve skips it). Resources tagged
with the plan whose source is gone are reported, and deleted only with --prune.
Peering connections, transit gateways, VPC endpoints and prefix lists are not
mirrored (see docs/network.md).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runNetwork(cmd.Context(), g, *f)
		},
	}
	fl := sync.Flags()
	fl.BoolVar(&f.dryRun, "dry-run", false, "print the diff; change nothing")
	fl.BoolVar(&f.approve, "approve", false, "apply without asking (otherwise a terminal asks first)")
	fl.BoolVar(&f.prune, "prune", false, "delete the plan's recovery resources whose primary source is gone")
	diff := &cobra.Command{
		Use:   "diff",
		Short: "Print what network sync would change (network sync --dry-run)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runNetwork(cmd.Context(), g, networkFlags{dryRun: true})
		},
	}
	cmd.AddCommand(sync, diff)
	return cmd
}

// loadNetworkPlan loads the plan and checks that it has a network block
// between AWS regions (usage errors otherwise).
func (g *globals) loadNetworkPlan() (*plan.Plan, error) {
	p, err := g.loadPlan()
	if err != nil {
		return nil, err
	}
	if p.Network == nil {
		return nil, &usageError{fmt.Errorf("network sync: the plan %s has no network block", p.File())}
	}
	for _, r := range []plan.Region{p.Regions.Primary, p.Regions.Recovery} {
		if r.Provider != plan.ProviderAWS {
			return nil, &usageError{fmt.Errorf("network sync: region %s uses provider %s; the network is mirrored between aws regions", r.Name, r.Provider)}
		}
	}
	return p, nil
}

func runNetwork(ctx context.Context, g *globals, f networkFlags) error {
	p, err := g.loadNetworkPlan()
	if err != nil {
		return err
	}
	primary, err := awsprovider.NewNetworkEC2(ctx, p.Regions.Primary, awsprovider.NewBuckets(awsprovider.DefaultLimits(), nil))
	if err != nil {
		return err
	}
	recovery, err := awsprovider.NewNetworkEC2(ctx, p.Regions.Recovery, awsprovider.NewBuckets(awsprovider.DefaultLimits(), nil))
	if err != nil {
		return err
	}
	s := &awsprovider.NetworkSync{Plan: p, Primary: primary, Recovery: recovery, Prune: f.prune, Logger: g.logger()}
	var ask runbook.Approver
	if !f.approve && stdinTerminal() && stderrTerminal(g) && !g.json() {
		ask = runbook.PromptApprover(os.Stdin, g.stderr)
	}
	return networkSync(ctx, g, s, f, ask)
}

// networkSync prints the diff of s, then, unless f.dryRun or nothing is
// to change, asks ask (when set) and applies it and prints the result.
func networkSync(ctx context.Context, g *globals, s networkSyncer, f networkFlags, ask runbook.Approver) error {
	d, err := s.Diff(ctx)
	if err != nil {
		return err
	}
	if f.dryRun || d.Pending() == 0 {
		if g.json() {
			return g.printJSON(networkReport{Diff: d})
		}
		if err := d.Render(g.stdout); err != nil {
			return err
		}
		if d.Pending() == 0 && d.Count(awsprovider.NetConflict) == 0 {
			fmt.Fprintf(g.stdout, "\nthe recovery region's network is in sync with the primary\n")
		}
		return nil
	}
	if !g.json() {
		if err := d.Render(g.stdout); err != nil {
			return err
		}
	}
	if ask != nil {
		ok, err := ask(ctx, fmt.Sprintf("apply %d network changes in %s?", d.Pending(), d.Recovery))
		if err != nil {
			return err
		}
		if !ok {
			return &exitError{code: 1, err: fmt.Errorf("network sync: not approved; nothing changed")}
		}
	}
	applyErr := s.Apply(ctx, d)
	rep := networkReport{Applied: applyErr == nil, Diff: d}
	if applyErr != nil {
		rep.Error = applyErr.Error()
	}
	if g.json() {
		if err := g.printJSON(rep); err != nil {
			return err
		}
	} else {
		fmt.Fprintln(g.stdout)
		if err := d.Render(g.stdout); err != nil {
			return err
		}
	}
	if applyErr != nil {
		return &exitError{code: 1, err: fmt.Errorf("network sync: %w; run it again to resume", applyErr), silent: g.json()}
	}
	return nil
}

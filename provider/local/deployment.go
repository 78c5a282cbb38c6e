package local

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/pilotlight/pilotlight/plan"
)

// Deployment is the plan's regions running on this machine.
type Deployment struct {
	Plan     *plan.Plan
	Primary  *Region
	Recovery *Region
	started  time.Time
	log      *slog.Logger
}

// Up starts the primary region fully and the recovery region according to
// the plan's strategy. Both regions must use the local provider. On error
// everything started is stopped again.
func Up(ctx context.Context, p *plan.Plan, opts Options) (*Deployment, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	creds, err := LoadOrCreateCredentials(opts.StateDir)
	if err != nil {
		return nil, err
	}
	d := &Deployment{Plan: p, started: time.Now(), log: opts.Logger.With("component", "local")}
	if d.Primary, err = NewRegion(p, Primary, creds, opts); err != nil {
		return nil, err
	}
	if d.Recovery, err = NewRegion(p, Recovery, creds, opts); err != nil {
		return nil, err
	}
	if err := d.Primary.Start(ctx); err != nil {
		return nil, err
	}
	if err := d.Recovery.Start(ctx); err != nil {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
		defer cancel()
		_ = d.Primary.Stop(stopCtx)
		return nil, err
	}
	return d, nil
}

// Regions returns the primary and the recovery region.
func (d *Deployment) Regions() []*Region { return []*Region{d.Primary, d.Recovery} }

// Stop stops both regions, recovery first.
func (d *Deployment) Stop(ctx context.Context) error {
	return errors.Join(d.Recovery.Stop(ctx), d.Primary.Stop(ctx))
}

// Status returns a snapshot of both regions.
func (d *Deployment) Status() DeploymentStatus {
	return DeploymentStatus{
		Plan:     d.Plan.Name,
		Strategy: string(d.Plan.Strategy),
		PID:      os.Getpid(),
		Started:  d.started,
		Regions:  []RegionStatus{d.Primary.Status(), d.Recovery.Status()},
	}
}

// Region returns the region with the given name, or an error.
func (d *Deployment) Region(name string) (*Region, error) {
	for _, r := range d.Regions() {
		if r.Name() == name {
			return r, nil
		}
	}
	return nil, fmt.Errorf("local: no region %q in plan %s", name, d.Plan.Name)
}

package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pilotlight/pilotlight/plan"
	"github.com/pilotlight/pilotlight/replicate/events"
)

// upReplication is the continuous replication `up` runs for the plan's
// buckets: the primary store sends bucket events to a receiver in this
// process, and every bucket is listed every interval as a safety net.
type upReplication struct {
	receiver *events.Receiver
	webhook  string
}

// listenEvents starts the event receiver; it must run before the stores
// start, because versitygw checks its webhook at start-up.
func listenEvents(ctx context.Context, log *slog.Logger) (*upReplication, error) {
	r := events.NewReceiver(events.ReceiverOptions{Logger: log})
	url, err := events.Listen(ctx, "127.0.0.1:0", r)
	if err != nil {
		return nil, fmt.Errorf("up: bucket events listener: %w", err)
	}
	return &upReplication{receiver: r, webhook: url}, nil
}

// run replicates every plan bucket until ctx ends.
func (u *upReplication) run(ctx context.Context, g *globals, p *plan.Plan, o *replicateOptions) error {
	f := &replicateFlags{}
	pairs, err := f.pairsFromPlan(ctx, g, p)
	if err != nil {
		return err
	}
	c, err := newContinuous(g, pairs, o, g.logger().With("component", "replicate"))
	if err != nil {
		return err
	}
	defer c.close()
	c.receiver = u.receiver
	return c.run(ctx)
}

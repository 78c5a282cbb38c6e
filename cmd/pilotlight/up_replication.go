package main

import (
	"context"
	"fmt"
	"log/slog"

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

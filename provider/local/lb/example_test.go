package lb_test

import (
	"context"
	"log"
	"time"

	"github.com/pilotlight/pilotlight/health"
	"github.com/pilotlight/pilotlight/provider/local/lb"
)

// A region's load balancer for the "web" service, fed by the instance
// supervisor, which also replaces instances the balancer finds unhealthy.
func Example() {
	ctx := context.Background()
	balancer, err := lb.New(lb.Config{
		Name:             "web",
		Listen:           "127.0.1.2:80",
		Algorithm:        lb.LeastConnections,
		Check:            health.Check{Path: "/healthz"},
		Interval:         2 * time.Second,
		FailureThreshold: 3,
		SuccessThreshold: 2,
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := balancer.Start(ctx); err != nil {
		log.Fatal(err) // e.g. the address is in use
	}
	defer balancer.Close(ctx)

	events, unsubscribe := balancer.Subscribe(64)
	defer unsubscribe()
	go func() {
		for ev := range events {
			if ev.To == health.Unhealthy {
				log.Printf("replace instance %s in %s: %s", ev.TargetID, ev.Zone, ev.Reason)
			}
		}
	}()

	// Each call states the full set; removed instances drain.
	_ = balancer.SetTargets([]lb.Target{
		{ID: "web-1", Addr: "127.0.1.10:8080", Zone: "seoul-a"},
		{ID: "web-2", Addr: "127.0.1.11:8080", Zone: "seoul-b"},
	})
	for _, s := range balancer.Targets() {
		log.Printf("%s %s in flight %d served %d", s.ID, s.State, s.InFlight, s.Served)
	}
}

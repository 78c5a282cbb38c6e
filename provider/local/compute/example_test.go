package compute_test

import (
	"context"
	"fmt"
	"net/netip"
	"os/signal"
	"syscall"

	"github.com/pilotlight/pilotlight/provider/local/compute"
)

// A region shares one host pool between its services and runs one group per
// service until it is interrupted.
func Example() {
	pool, err := compute.NewHostPool(netip.MustParsePrefix("127.0.1.0/24"), 10, 250)
	if err != nil {
		panic(err)
	}
	g, err := compute.NewGroup(compute.GroupConfig{
		Service:  "web",
		Region:   "seoul",
		Zones:    []string{"seoul-a", "seoul-b"},
		Template: compute.Template{Command: []string{"{{.Bin}}/ticketing", "--addr", "{{.Addr}}"}, Port: 8080},
		Bin:      "./bin",
		Endpoint: "http://127.0.1.1:9000",
		StateDir: ".pilotlight",
		Addrs:    pool,
		Desired:  2,
	})
	if err != nil {
		panic(err)
	}
	events, stop := g.Subscribe(64)
	defer stop()
	go func() {
		for e := range events { // e.g. add/remove load-balancer targets
			fmt.Println(e.Kind, e.InstanceID, e.Addr)
		}
	}()
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer cancel()
	_ = g.Run(ctx) // returns after every instance has stopped
}

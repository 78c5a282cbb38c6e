package local

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"
)

// With Options.NetworkFaults, clients do not reach a load balancer
// directly: a toxiproxy TCP proxy (run in-process) listens on the public
// address LoadBalancerAddr gives, the one DNS answers and health checks
// use, and forwards every connection to the balancer on an internal
// address. A "network" fault adds a toxic to the proxies of a region, which
// acts on open (keep-alive) connections as well as new ones.
//
// The internal address is the balancer's own host (.2+i, which nothing else
// uses in the layout of docs/decisions/0001) on the next port up: port+1,
// or port-1 for 65535. Instances live on other hosts (.10+), so the port
// cannot collide with theirs even when it equals the instance port.

// internalLBAddr is the address a balancer listens on behind its proxy.
func internalLBAddr(public netip.AddrPort) netip.AddrPort {
	port := public.Port() + 1
	if public.Port() == 65535 {
		port = 65534
	}
	return netip.AddrPortFrom(public.Addr(), port)
}

// lbListenAddr is where the balancer whose public address is public
// listens.
func (r *Region) lbListenAddr(public netip.AddrPort) string {
	if r.opts.NetworkFaults {
		return internalLBAddr(public).String()
	}
	return public.String()
}

// toxic is one toxiproxy toxic, as its JSON API describes it.
type toxic struct {
	Name       string         `json:"name"`
	Type       string         `json:"type"`   // latency | timeout
	Stream     string         `json:"stream"` // upstream (client to balancer) | downstream
	Toxicity   float32        `json:"toxicity"`
	Attributes map[string]any `json:"attributes"`
}

// networkToxics returns the toxics of a network fault: latency on every
// response (downstream), or a blackhole in both directions: a timeout
// toxic with timeout 0 drops all data and keeps the connection open.
func networkToxics(id string, latency time.Duration, blackhole bool) []toxic {
	if blackhole {
		return []toxic{
			{Name: id + "-up", Type: "timeout", Stream: "upstream", Toxicity: 1, Attributes: map[string]any{"timeout": 0}},
			{Name: id + "-down", Type: "timeout", Stream: "downstream", Toxicity: 1, Attributes: map[string]any{"timeout": 0}},
		}
	}
	return []toxic{{Name: id + "-latency", Type: "latency", Stream: "downstream", Toxicity: 1,
		Attributes: map[string]any{"latency": latency.Milliseconds()}}}
}

// netProxy is the proxy in front of one load balancer.
type netProxy struct {
	addr    string // public address
	mu      sync.Mutex
	p       *toxiproxy.Proxy
	running bool
}

// newNetProxy starts a proxy listening on listen and forwarding to upstream,
// with the given toxics.
func newNetProxy(name, listen, upstream string, toxics []toxic) (*netProxy, error) {
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	n := &netProxy{addr: listen, p: toxiproxy.NewProxy(srv, name, listen, upstream)}
	for _, t := range toxics {
		if err := n.addToxic(t); err != nil {
			return nil, err
		}
	}
	if err := n.start(); err != nil {
		return nil, err
	}
	return n, nil
}

// start listens again; it does nothing when the proxy runs.
func (n *netProxy) start() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.running {
		return nil
	}
	if err := n.p.Start(); err != nil {
		return fmt.Errorf("network proxy %s: listen %s: %w", n.p.Name, n.p.Listen, err)
	}
	n.running = true
	return nil
}

// stop closes the listener and every proxied connection.
func (n *netProxy) stop() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.running {
		n.p.Stop()
		n.running = false
	}
}

func (n *netProxy) addToxic(t toxic) error {
	b, err := json.Marshal(t)
	if err != nil {
		return fmt.Errorf("network proxy %s: toxic %s: %w", n.p.Name, t.Name, err)
	}
	if _, err := n.p.Toxics.AddToxicJson(bytes.NewReader(b)); err != nil && !errors.Is(err, toxiproxy.ErrToxicAlreadyExists) {
		return fmt.Errorf("network proxy %s: add toxic %s: %w", n.p.Name, t.Name, err)
	}
	return nil
}

func (n *netProxy) removeToxic(ctx context.Context, name string) error {
	err := n.p.Toxics.RemoveToxic(ctx, name)
	if err != nil && !errors.Is(err, toxiproxy.ErrToxicNotFound) {
		return fmt.Errorf("network proxy %s: remove toxic %s: %w", n.p.Name, name, err)
	}
	return nil
}

// startNetProxy puts a proxy with the region's active network toxics on the
// public address of s's balancer, when Options.NetworkFaults is set. On
// error it closes the balancer. Called with r.mu held.
func (r *Region) startNetProxy(s *service, public netip.AddrPort) error {
	if !r.opts.NetworkFaults {
		return nil
	}
	var toxics []toxic
	for _, ts := range r.chaos.netToxics {
		toxics = append(toxics, ts...)
	}
	n, err := newNetProxy(r.spec.Name+"/"+s.spec.Name, public.String(), s.lb.Addr(), toxics)
	if err != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.lb.Close(ctx)
		return fmt.Errorf("local: region %s: service %s: %w", r.spec.Name, s.spec.Name, err)
	}
	s.net = n
	return nil
}

// lbPublicAddr is the address clients use for s's balancer: its proxy's
// with Options.NetworkFaults, else the balancer's own. Status reports
// should show it rather than lb.Addr().
func (s *service) lbPublicAddr() string {
	if s.net != nil {
		return s.net.addr
	}
	return s.lb.Addr()
}

// stopNetProxy closes s's proxy, if any.
func (s *service) stopNetProxy() {
	if s.net != nil {
		s.net.stop()
	}
}

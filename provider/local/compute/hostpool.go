package compute

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
)

// AddrAllocator hands out instance hosts (IP addresses without port).
// Implementations must be safe for concurrent use.
type AddrAllocator interface {
	// Allocate reserves a free host; it fails when none is left.
	Allocate() (host string, err error)
	// Release returns a host obtained from Allocate.
	Release(host string)
}

// ErrNoHosts is returned by HostPool.Allocate when every host is in use.
var ErrNoHosts = errors.New("no free host")

// HostPool allocates hosts a.b.c.N of an IPv4 network, N from first to last,
// lowest free first. A region shares one pool between its services.
type HostPool struct {
	base  [4]byte
	first int
	mu    sync.Mutex
	used  []bool
}

var _ AddrAllocator = (*HostPool)(nil)

// NewHostPool returns a pool over network's hosts first..last (last octet).
func NewHostPool(network netip.Prefix, first, last int) (*HostPool, error) {
	if !network.IsValid() || !network.Addr().Is4() || network.Bits() > 24 {
		return nil, fmt.Errorf("compute: new host pool %s: need an IPv4 network of /24 or larger", network)
	}
	if first < 1 || last > 254 || first > last {
		return nil, fmt.Errorf("compute: new host pool %s: host range %d-%d not within 1-254", network, first, last)
	}
	return &HostPool{base: network.Masked().Addr().As4(), first: first, used: make([]bool, last-first+1)}, nil
}

// Allocate returns the lowest free host.
func (p *HostPool) Allocate() (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, u := range p.used {
		if !u {
			p.used[i] = true
			return p.host(i), nil
		}
	}
	return "", fmt.Errorf("compute: allocate host in %s: %w", p.host(0), ErrNoHosts)
}

// Release frees host; unknown hosts are ignored.
func (p *HostPool) Release(host string) {
	if i, ok := p.index(host); ok {
		p.mu.Lock()
		p.used[i] = false
		p.mu.Unlock()
	}
}

// InUse returns the allocated hosts in ascending order.
func (p *HostPool) InUse() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var hosts []string
	for i, u := range p.used {
		if u {
			hosts = append(hosts, p.host(i))
		}
	}
	return hosts
}

func (p *HostPool) host(i int) string {
	b := p.base
	b[3] = byte(p.first + i)
	return netip.AddrFrom4(b).String()
}

func (p *HostPool) index(host string) (int, bool) {
	a, err := netip.ParseAddr(host)
	if err != nil || !a.Is4() {
		return 0, false
	}
	b := a.As4()
	if [3]byte(b[:3]) != [3]byte(p.base[:3]) {
		return 0, false
	}
	i := int(b[3]) - p.first
	return i, i >= 0 && i < len(p.used)
}

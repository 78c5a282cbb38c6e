// Package dns is pilotlight's authoritative DNS server: it serves the
// plan's zones over UDP and TCP and routes traffic between regions with
// per-record policies, answering from the live decisions of the health
// checks.
//
// It is authoritative only, never a resolver: names outside its zones are
// REFUSED, recursion is not offered, zone transfers are refused. It serves
// SOA and NS at each apex and A, AAAA, CNAME and TXT records (with
// wildcards), answers NXDOMAIN or NODATA with the SOA in the authority
// section (negative TTL: the SOA minimum), matches names without regard to
// case while keeping the question's case in the answer, follows CNAMEs
// inside the zone, supports EDNS0 (the client's UDP size is honoured, 512
// bytes without EDNS0) and sets the TC bit when an answer does not fit in
// UDP, so the client retries over TCP.
//
// Routing policies, decided per query from health.Source (an atomic read):
//
//   - simple: the record's values.
//   - failover: the primary target unless it is Unhealthy; the secondary
//     when the primary is Unhealthy and the secondary is not. When both are
//     Unhealthy the primary is answered: the server fails open, since an
//     answer that may work beats no answer. Unknown counts as healthy.
//   - weighted: one member chosen at random by weight among the members
//     that are not Unhealthy; when all are Unhealthy, among all members
//     (fail open). A member of weight 0 is never answered.
//
// Reload swaps the configuration atomically, so no query is dropped.
//
// UDP is served by one loop per socket (an SO_REUSEPORT group, one socket
// per CPU) that reads and writes datagrams in batches (recvmmsg and
// sendmmsg on Linux) and answers them inline; TCP is served by miekg/dns.
package dns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	mdns "github.com/miekg/dns"
	"golang.org/x/sys/unix"

	"github.com/pilotlight/pilotlight/health"
)

// Options tune a Server.
type Options struct {
	// Logger receives reloads and health transitions (nil discards).
	Logger *slog.Logger
	// Clock stamps default SOA serials (default: the system clock).
	Clock func() time.Time
	// Rand chooses weighted members (default: the global source). It is
	// guarded by the server, so a seeded *rand.Rand is safe to pass.
	Rand *rand.Rand
	// ShutdownTimeout bounds the wait for in-flight TCP connections when
	// the server stops (default 5s).
	ShutdownTimeout time.Duration
}

// Server is an authoritative DNS server. It is safe for concurrent use.
type Server struct {
	src   health.Source
	log   *slog.Logger
	clock func() time.Time
	opts  Options

	table atomic.Pointer[table]
	randM sync.Mutex

	mu      sync.Mutex
	started bool
	done    chan struct{}
	err     error
}

// NewServer checks cfg and returns a server for it. src decides the health
// of routing targets; nil means every target is healthy.
func NewServer(cfg Config, src health.Source, o Options) (*Server, error) {
	s := &Server{src: src, log: o.Logger, clock: o.Clock, opts: o, done: make(chan struct{})}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("component", "dns")
	if s.clock == nil {
		s.clock = time.Now
	}
	if s.opts.ShutdownTimeout <= 0 {
		s.opts.ShutdownTimeout = 5 * time.Second
	}
	t, err := compile(cfg, s.clock())
	if err != nil {
		return nil, err
	}
	s.table.Store(t)
	return s, nil
}

// Reload checks cfg and makes it the served configuration at once; queries
// in flight finish with the old one. On error the old one stays.
func (s *Server) Reload(cfg Config) error {
	t, err := compile(cfg, s.clock())
	if err != nil {
		return fmt.Errorf("dns: reload: %w", err)
	}
	s.table.Store(t)
	s.log.Info("configuration reloaded", "zones", len(t.zones))
	return nil
}

// ListenAndServe serves UDP and TCP on addr until ctx is cancelled.
func (s *Server) ListenAndServe(ctx context.Context, addr string) error {
	if _, _, err := s.Start(ctx, addr); err != nil {
		return err
	}
	return s.Wait()
}

// Start binds UDP and TCP on addr (host:port; port 0 picks one free port
// for both), serves in the background until ctx is cancelled and returns
// the bound addresses. Bind errors are returned here. A server starts once.
func (s *Server) Start(ctx context.Context, addr string) (udpAddr, tcpAddr string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return "", "", errors.New("dns: start: already started")
	}
	pc, l, err := listen(addr)
	if err != nil {
		return "", "", fmt.Errorf("dns: listen %s: %w", addr, err)
	}
	s.started = true
	udpAddr = pc.LocalAddr().String()
	pcs := udpSockets(pc, runtime.GOMAXPROCS(0))
	if len(pcs) == 0 {
		l.Close()
		return "", "", fmt.Errorf("dns: listen %s: could not bind UDP again", addr)
	}
	accept := func(h mdns.Header) mdns.MsgAcceptAction {
		if h.Bits&(1<<15) != 0 { // QR: never answer a response
			return mdns.MsgIgnore
		}
		return mdns.MsgAccept
	}
	tcp := &mdns.Server{Listener: l, Handler: s, MsgAcceptFunc: accept,
		ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second,
		IdleTimeout: func() time.Duration { return 10 * time.Second }}

	var wg sync.WaitGroup
	errs := make([]error, len(pcs)+1)
	for i, c := range pcs {
		loop := newUDPLoop(s, c)
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = loop.serve()
		}()
	}
	started := make(chan struct{})
	tcp.NotifyStartedFunc = func() { close(started) }
	served := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(served)
		errs[len(pcs)] = tcp.ActivateAndServe()
	}()
	select {
	case <-started:
	case <-served: // failed before serving; reported by Wait
	}
	stopWatch := s.watch(ctx, &wg)
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownTimeout)
		defer cancel()
		var shut []error
		for _, c := range pcs {
			c.Close() // ends its loop
		}
		if err := tcp.ShutdownContext(sctx); err != nil {
			shut = append(shut, err)
		}
		stopWatch()
		wg.Wait()
		if err := errors.Join(append(shut, errs...)...); err != nil {
			s.err = fmt.Errorf("dns: serve %s: %w", addr, err)
		}
		close(s.done)
	}()
	s.log.Info("serving", "udp", udpAddr, "udp_sockets", len(pcs), "tcp", l.Addr().String())
	return udpAddr, l.Addr().String(), nil
}

// Wait blocks until a started server has stopped after its context was
// cancelled, and returns what went wrong while serving, if anything. Call
// it only after a successful Start.
func (s *Server) Wait() error {
	<-s.done
	return s.err
}

// listen binds UDP and TCP on the same address. With port 0 the TCP port
// is the one the UDP socket got, retried a few times if it is taken.
func listen(addr string) (net.PacketConn, net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, err
	}
	for attempt := 0; ; attempt++ {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, nil, err
		}
		taddr := addr
		if port == "0" {
			_, p, _ := net.SplitHostPort(pc.LocalAddr().String())
			taddr = net.JoinHostPort(host, p)
		}
		l, err := net.Listen("tcp", taddr)
		if err == nil {
			return pc, l, nil
		}
		pc.Close()
		if port != "0" || attempt >= 10 {
			return nil, nil, err
		}
	}
}

// udpSockets returns n UDP sockets bound to the address of pc with
// SO_REUSEPORT, so that the kernel spreads queries over n read loops (one
// per CPU). pc itself, bound without the option, first proved the address
// free — a socket with SO_REUSEPORT would otherwise share a port that
// another server holds — and is closed once the group is bound. With n < 2,
// or if the option is refused, pc alone is returned.
func udpSockets(pc net.PacketConn, n int) []net.PacketConn {
	if n < 2 {
		return []net.PacketConn{pc}
	}
	addr := pc.LocalAddr().String()
	lc := net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		}); err != nil {
			return err
		}
		return serr
	}}
	pc.Close()
	var group []net.PacketConn
	for range n {
		c, err := lc.ListenPacket(context.Background(), "udp", addr)
		if err != nil {
			break
		}
		group = append(group, c)
	}
	if len(group) > 0 {
		return group
	}
	// The option was refused: bind plainly again.
	if c, err := net.ListenPacket("udp", addr); err == nil {
		return []net.PacketConn{c}
	}
	return nil
}

// watch logs the health transitions of targets the configuration refers
// to, until the returned stop function is called.
func (s *Server) watch(ctx context.Context, wg *sync.WaitGroup) (stop func()) {
	if s.src == nil {
		return func() {}
	}
	ch, unsubscribe := s.src.Subscribe(64)
	quit := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-quit:
				return
			case <-ctx.Done():
				return
			case ev, ok := <-ch:
				if !ok {
					return
				}
				if s.table.Load().healthIDs()[ev.Target] {
					s.log.Info("routing target changed", "target", ev.Target, "from", ev.From, "to", ev.To, "reason", ev.Reason)
				}
			}
		}
	}()
	return func() {
		close(quit)
		unsubscribe()
	}
}

// generationer is a health.Source that tells when its states may have
// changed (health.Registry does).
type generationer interface{ Generation() uint64 }

// healthGeneration returns the generation of the health states and whether
// replies may be cached: with no source the states never change; with a
// source that has no generation, replies are never cached.
func (s *Server) healthGeneration() (uint64, bool) {
	if s.src == nil {
		return 0, true
	}
	if g, ok := s.src.(generationer); ok {
		return g.Generation(), true
	}
	return 0, false
}

// healthOf returns the decided state of target id; "" is always healthy.
func (s *Server) healthOf(id string) health.State {
	if id == "" || s.src == nil {
		return health.Healthy
	}
	return s.src.Health(id)
}

// intN returns a random int in [0, n).
func (s *Server) intN(n int) int {
	if s.opts.Rand == nil {
		return rand.IntN(n)
	}
	s.randM.Lock()
	defer s.randM.Unlock()
	return s.opts.Rand.IntN(n)
}

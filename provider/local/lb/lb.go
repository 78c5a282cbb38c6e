// Package lb is the local provider's HTTP load balancer: one per service per
// region, a reverse proxy that sends traffic only to targets that pass
// active health checks.
//
// Targets are balanced round-robin or by least connections. A newly
// registered target receives traffic only after SuccessThreshold passing
// checks (as with ELB), unless Config.StartHealthy is set. With no healthy
// target the balancer answers 503 with "Retry-After: 1". A removed target
// stops receiving new requests at once and its in-flight requests drain for
// up to DrainTimeout.
package lb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pilotlight/pilotlight/health"
)

// Algorithms.
const (
	RoundRobin       = "round-robin"
	LeastConnections = "least-connections"
)

// DefaultDrainTimeout bounds how long a removed target's requests may run.
const DefaultDrainTimeout = 10 * time.Second

// HeaderName is the response header naming the balancer that answered.
const HeaderName = "X-Pilotlight-LB"

// ErrClosed is returned by operations on a closed balancer.
var ErrClosed = errors.New("lb: closed")

// Config configures one load balancer.
type Config struct {
	// Name identifies the balancer in logs and in the X-Pilotlight-LB header.
	Name string
	// Listen is the host:port to bind (port 0 picks a free port).
	Listen string
	// Algorithm is "round-robin" (default) or "least-connections".
	Algorithm string
	// Check is the health check template; Target is set per target
	// (default: http GET /healthz expecting 200..399, 1s timeout).
	Check health.Check
	// Interval between health checks of a target (default 2s).
	Interval time.Duration
	// FailureThreshold consecutive failures take a target out (default 3);
	// SuccessThreshold consecutive passes put it in (default 2).
	FailureThreshold, SuccessThreshold int
	// DrainTimeout bounds in-flight requests of a removed target; they are
	// cancelled after it (default 10s).
	DrainTimeout time.Duration
	// StartHealthy lets a new target receive traffic before its first
	// check; by default it must first pass SuccessThreshold checks.
	StartHealthy bool
	// Logger receives structured logs (nil discards).
	Logger *slog.Logger
	// Clock drives health checks and drain timeouts (default real time).
	Clock health.Clock
}

// LB is an HTTP load balancer. Its methods are safe for concurrent use.
type LB struct {
	cfg       Config
	log       *slog.Logger // with component=lb
	baseLog   *slog.Logger // as configured, for the health monitors
	proxy     *httputil.ReverseProxy
	transport *http.Transport

	base     context.Context // parent of monitors; cancelled by Close
	stopBase context.CancelFunc
	wg       sync.WaitGroup // monitors, forwarders, drains, server

	rr      atomic.Uint64              // round-robin cursor
	active  atomic.Pointer[[]*backend] // targets that may receive new requests
	mu      sync.Mutex                 // guards below and writes of active
	byID    map[string]*backend        // active targets by ID
	drains  map[*backend]struct{}      // removed targets still draining
	subs    map[*subscriber]struct{}   // event subscribers
	srv     *http.Server
	ln      net.Listener
	stopCtx func() bool // deregisters Start's context watcher
	closing bool
	paused  bool // listener closed by Pause; guarded by mu

	closeOnce sync.Once
	closed    chan struct{}
	closeErr  error
	dropped   atomic.Uint64
	fenced    atomic.Bool // writes refused (see Fence)
}

// New validates c, applies defaults and returns a balancer that is not yet
// listening. Targets may be set before Start; their checks begin at once.
func New(c Config) (*LB, error) {
	if c.Name == "" {
		return nil, errors.New("lb: new: name is required")
	}
	if c.Listen == "" {
		return nil, fmt.Errorf("lb: new %s: listen address is required", c.Name)
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return nil, fmt.Errorf("lb: new %s: listen %q: %w", c.Name, c.Listen, err)
	}
	switch c.Algorithm {
	case "":
		c.Algorithm = RoundRobin
	case RoundRobin, LeastConnections:
	default:
		return nil, fmt.Errorf("lb: new %s: unknown algorithm %q (want round-robin or least-connections)", c.Name, c.Algorithm)
	}
	c.Check.Target = ""
	if err := c.Check.Validate(); err != nil {
		return nil, fmt.Errorf("lb: new %s: %w", c.Name, err)
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = DefaultDrainTimeout
	}
	if c.Clock == nil {
		c.Clock = health.SystemClock
	}
	log := c.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	lb := &LB{
		cfg:     c,
		log:     log.With("component", "lb", "lb", c.Name),
		baseLog: log,
		byID:    make(map[string]*backend),
		drains:  make(map[*backend]struct{}),
		subs:    make(map[*subscriber]struct{}),
		closed:  make(chan struct{}),
	}
	lb.base, lb.stopBase = context.WithCancel(context.Background())
	lb.active.Store(&[]*backend{})
	lb.transport = &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	lb.proxy = &httputil.ReverseProxy{
		Rewrite:      lb.rewrite,
		Transport:    lb.transport,
		ErrorHandler: lb.proxyError,
		ErrorLog:     slog.NewLogLogger(lb.log.Handler(), slog.LevelWarn),
	}
	return lb, nil
}

// Start binds the listener, returning bind errors (address in use, ...)
// synchronously, and serves in the background until Close is called or ctx
// is done (then it closes itself, draining for up to DrainTimeout).
func (lb *LB) Start(ctx context.Context) error {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	if lb.closing {
		return fmt.Errorf("lb: start %s: %w", lb.cfg.Name, ErrClosed)
	}
	if lb.srv != nil || lb.paused {
		return fmt.Errorf("lb: start %s: already started", lb.cfg.Name)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", lb.cfg.Listen)
	if err != nil {
		return fmt.Errorf("lb: start %s: listen %s: %w", lb.cfg.Name, lb.cfg.Listen, err)
	}
	lb.serve(ln)
	lb.stopCtx = context.AfterFunc(ctx, func() {
		cctx, cancel := context.WithTimeout(context.Background(), lb.cfg.DrainTimeout)
		defer cancel()
		_ = lb.Close(cctx)
	})
	lb.log.Info("listening", "addr", ln.Addr().String(), "algorithm", lb.cfg.Algorithm)
	return nil
}

// Addr returns the bound address (useful with port 0), or Config.Listen
// before Start.
func (lb *LB) Addr() string {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	if lb.ln == nil {
		return lb.cfg.Listen
	}
	return lb.ln.Addr().String()
}

// Close stops accepting connections, waits for in-flight requests until ctx
// is done (then closes their connections), stops every health check, and
// closes subscriber channels. It is idempotent; later calls return the first
// result.
func (lb *LB) Close(ctx context.Context) error {
	lb.closeOnce.Do(func() {
		lb.closeErr = lb.shutdown(ctx)
		close(lb.closed)
	})
	<-lb.closed
	return lb.closeErr
}

func (lb *LB) shutdown(ctx context.Context) error {
	lb.mu.Lock()
	lb.closing = true
	srv, stopCtx := lb.srv, lb.stopCtx
	lb.mu.Unlock()
	if stopCtx != nil {
		stopCtx()
	}
	var err error
	if srv != nil {
		if err = srv.Shutdown(ctx); err != nil {
			_ = srv.Close()
			err = fmt.Errorf("lb: close %s: %w", lb.cfg.Name, err)
		}
	}
	lb.stopBase() // stops every monitor and cuts off draining requests
	lb.wg.Wait()
	lb.transport.CloseIdleConnections()
	lb.mu.Lock()
	for s := range lb.subs {
		delete(lb.subs, s)
		close(s.ch)
	}
	lb.mu.Unlock()
	lb.log.Info("closed")
	return err
}

package health

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// ProbeFunc runs one probe. It must honour ctx and return promptly when ctx
// is done. (*Prober).Probe is the usual implementation; a remote vantage
// point or a test can supply another.
type ProbeFunc func(ctx context.Context) Result

// HistorySize is how many recent results a Monitor keeps for Last.
const HistorySize = 10

// Default interval between probes.
const DefaultInterval = 2 * time.Second

// MonitorOptions tunes a Monitor. Zero values take the documented defaults.
type MonitorOptions struct {
	// Interval between probe starts (default 2s). A probe slower than the
	// interval delays the next one; probes of one target never overlap.
	Interval time.Duration
	// FailureThreshold consecutive failures make a target Unhealthy (default 3).
	FailureThreshold int
	// SuccessThreshold consecutive passes make a target Healthy (default 2).
	SuccessThreshold int
	// Initial is the state before any probe (default Unknown: the first
	// decision is taken once either threshold is reached, see Tracker).
	// Set Healthy to let a target serve until FailureThreshold failures.
	Initial State
	// Probe replaces the HTTP/TCP prober built from the Check (default
	// NewProber(check).Probe).
	Probe ProbeFunc
	// Clock is the time source (default SystemClock).
	Clock Clock
	// Logger receives transitions at Info and probe failures at Debug
	// (nil discards).
	Logger *slog.Logger
}

// ErrRunning is returned by Run when the Monitor is already running.
var ErrRunning = errors.New("health: monitor already running")

// Monitor probes one target on an interval and tracks its State.
// State, Last, Subscribe and Dropped are safe to call from any goroutine.
type Monitor struct {
	check   Check
	opts    MonitorOptions
	probe   ProbeFunc
	log     *slog.Logger
	running atomic.Bool
	state   atomic.Int32
	dropped atomic.Uint64
	mu      sync.Mutex // guards the fields below
	tracker *Tracker
	history []Result // ring, oldest first once full
	subs    map[*subscriber]struct{}
	// onChange, when set (by a Target, before Run), is called with every
	// transition under mu, so that the target decides before the monitor
	// waits for its next probe.
	onChange func(Event)
}

type subscriber struct {
	ch     chan Event
	closed bool
}

// NewMonitor returns a Monitor for c (defaults applied); call Run to start it.
func NewMonitor(c Check, o MonitorOptions) *Monitor {
	c = c.WithDefaults()
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.FailureThreshold < 1 {
		o.FailureThreshold = DefaultFailureThreshold
	}
	if o.SuccessThreshold < 1 {
		o.SuccessThreshold = DefaultSuccessThreshold
	}
	if o.Clock == nil {
		o.Clock = SystemClock
	}
	if o.Probe == nil {
		o.Probe = NewProber(c).Probe
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &Monitor{
		check:   c,
		opts:    o,
		probe:   o.Probe,
		log:     log.With("component", "health", "target", c.Target),
		tracker: NewTracker(o.Initial, o.FailureThreshold, o.SuccessThreshold),
		subs:    make(map[*subscriber]struct{}),
	}
	m.state.Store(int32(o.Initial))
	return m
}

// Target returns the monitored target (host:port).
func (m *Monitor) Target() string { return m.check.Target }

// State returns the current state.
func (m *Monitor) State() State { return State(m.state.Load()) }

// Last returns up to HistorySize most recent results, oldest first.
func (m *Monitor) Last() []Result {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Result(nil), m.history...)
}

// Dropped returns how many events were not delivered because a
// subscriber's buffer was full.
func (m *Monitor) Dropped() uint64 { return m.dropped.Load() }

// Subscribe returns a channel receiving every transition from now on, and a
// function that unsubscribes and closes the channel (idempotent).
//
// The monitor never blocks on a subscriber: when the channel's buffer (buf,
// minimum 1) is full the event is dropped for that subscriber and counted in
// Dropped. A subscriber that must not miss a verdict should re-read State
// after draining its channel.
func (m *Monitor) Subscribe(buf int) (<-chan Event, func()) {
	if buf < 1 {
		buf = 1
	}
	s := &subscriber{ch: make(chan Event, buf)}
	m.mu.Lock()
	m.subs[s] = struct{}{}
	m.mu.Unlock()
	return s.ch, func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		if !s.closed {
			s.closed = true
			delete(m.subs, s)
			close(s.ch)
		}
	}
}

// Run probes immediately and then every Interval until ctx is done, and
// returns nil then. A probe interrupted by ctx is discarded, not counted as
// a failure. Run does not close subscriber channels: their owners do. It
// returns ErrRunning if the monitor is already running.
func (m *Monitor) Run(ctx context.Context) error {
	if !m.running.CompareAndSwap(false, true) {
		return fmt.Errorf("health: run monitor %s: %w", m.check.Target, ErrRunning)
	}
	defer m.running.Store(false)
	clock := m.opts.Clock
	for {
		start := clock.Now()
		r := m.probe(ctx)
		if ctx.Err() != nil {
			return nil
		}
		r.At = start
		m.observe(r)
		wait := m.opts.Interval - clock.Now().Sub(start)
		if wait < 0 {
			wait = 0
		}
		t := clock.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C():
		}
	}
}

// observe feeds one result to the tracker and publishes a transition.
func (m *Monitor) observe(r Result) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.history) == HistorySize {
		copy(m.history, m.history[1:])
		m.history = m.history[:HistorySize-1]
	}
	m.history = append(m.history, r)
	if !r.OK {
		m.log.Debug("probe failed", "reason", r.Err, "status", r.Status, "latency", r.Latency)
	}
	from, changed := m.tracker.Observe(r.OK)
	if !changed {
		return
	}
	to := m.tracker.State()
	m.state.Store(int32(to))
	ok, streak := m.tracker.Streak()
	n := min(streak, len(m.history))
	ev := Event{
		Target:  m.check.Target,
		From:    from,
		To:      to,
		At:      r.At,
		Reason:  streakReason(ok, streak, r),
		Results: append([]Result(nil), m.history[len(m.history)-n:]...),
	}
	m.log.Info("health changed", "from", from, "to", to, "reason", ev.Reason)
	for s := range m.subs {
		select {
		case s.ch <- ev:
		default:
			m.dropped.Add(1)
		}
	}
	if m.onChange != nil {
		m.onChange(ev)
	}
}

func streakReason(ok bool, n int, last Result) string {
	if ok {
		return fmt.Sprintf("%d consecutive passes", n)
	}
	return fmt.Sprintf("%d consecutive failures: %s", n, last.Err)
}

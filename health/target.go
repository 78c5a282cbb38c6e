package health

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Vantage is one point from which a Target is probed.
type Vantage struct {
	// Name identifies the vantage point in votes and events. Unique per
	// target; required when a target has more than one vantage point.
	Name string
	// Probe runs one probe from this vantage point (default: a local
	// Prober of the target's Check). Tests inject fakes; remote checkers
	// plug in here.
	Probe ProbeFunc
}

// TargetOptions tunes a Target. Zero values take the documented defaults.
type TargetOptions struct {
	// Vantages watching the target (default one local vantage "local").
	Vantages []Vantage
	// Rule combining the vantage points' votes (default majority).
	Rule Rule
	// Interval between probes of each vantage point (default 2s).
	Interval time.Duration
	// FailureThreshold and SuccessThreshold apply to each vantage point's
	// own Tracker (defaults 3 and 2).
	FailureThreshold, SuccessThreshold int
	// Initial is every vantage point's state before its first decision
	// (default Unknown; see MonitorOptions.Initial).
	Initial State
	// Clock is the time source of probes and override expiry (default
	// SystemClock).
	Clock Clock
	// Logger receives decisions at Info (nil discards).
	Logger *slog.Logger
}

// Target is one health-checked target watched from one or more vantage
// points. Its decided state is the override state while an override is
// active, and otherwise the Rule's outcome over the vantage points' votes.
// The decision is taken as soon as a vantage point's state changes, and
// every change of the decided state (and every override set, cleared or
// expired) is published as an Event whose Target is the ID.
//
// All methods are safe for concurrent use.
type Target struct {
	id       string
	check    Check
	rule     Rule
	clock    Clock
	log      *slog.Logger
	names    []string
	monitors []*Monitor
	running  atomic.Bool
	dropped  atomic.Uint64
	wake     chan struct{} // cap 1: the override changed

	mu         sync.Mutex // guards the fields below
	votes      []State
	outcome    State  // the rule's outcome
	ruleReason string // why the rule decided outcome
	state      State  // the decided state
	since      time.Time
	reason     string
	override   *Override
	subs       map[*subscriber]struct{}
	notify     func(Event) // set by a Registry
}

// NewTarget returns a Target with the given ID probing c (defaults
// applied); call Run to start it. It fails on an empty ID, an invalid rule
// or missing or duplicate vantage names.
func NewTarget(id string, c Check, o TargetOptions) (*Target, error) {
	if id == "" {
		return nil, errors.New("health: new target: empty id")
	}
	if err := o.Rule.Validate(); err != nil {
		return nil, fmt.Errorf("health: new target %s: %w", id, err)
	}
	if len(o.Vantages) == 0 {
		o.Vantages = []Vantage{{Name: "local"}}
	}
	if o.Clock == nil {
		o.Clock = SystemClock
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c = c.WithDefaults()
	t := &Target{
		id:    id,
		check: c,
		rule:  o.Rule.withDefaults(),
		clock: o.Clock,
		log:   log.With("component", "health", "target", id),
		wake:  make(chan struct{}, 1),
		subs:  make(map[*subscriber]struct{}),
		votes: make([]State, len(o.Vantages)),
	}
	seen := make(map[string]bool)
	for i, v := range o.Vantages {
		name := v.Name
		if name == "" && len(o.Vantages) == 1 {
			name = "local"
		}
		if name == "" {
			return nil, fmt.Errorf("health: new target %s: vantage %d has no name", id, i)
		}
		if seen[name] {
			return nil, fmt.Errorf("health: new target %s: duplicate vantage %q", id, name)
		}
		seen[name] = true
		t.names = append(t.names, name)
		t.monitors = append(t.monitors, NewMonitor(c, MonitorOptions{
			Interval:         o.Interval,
			FailureThreshold: o.FailureThreshold,
			SuccessThreshold: o.SuccessThreshold,
			Initial:          o.Initial,
			Probe:            v.Probe,
			Clock:            o.Clock,
			Logger:           log.With("vantage", name),
		}))
		t.votes[i] = o.Initial
		t.monitors[i].onChange = func(ev Event) { t.vote(i, ev) }
	}
	t.outcome = t.rule.Decide(t.votes)
	t.state = t.outcome
	t.ruleReason = "initial: " + t.tally()
	t.reason = t.ruleReason
	t.since = t.clock.Now()
	return t, nil
}

// LocalVantages returns n vantage points probing locally, named local-1 to
// local-n (or "local" when n is 1). n below 1 counts as 1.
func LocalVantages(n int) []Vantage {
	if n <= 1 {
		return []Vantage{{Name: "local"}}
	}
	vs := make([]Vantage, n)
	for i := range vs {
		vs[i].Name = "local-" + strconv.Itoa(i+1)
	}
	return vs
}

// ID returns the target's ID.
func (t *Target) ID() string { return t.id }

// Check returns the check the vantage points run, with defaults applied.
func (t *Target) Check() Check { return t.check }

// Rule returns the rule combining the votes, with defaults applied.
func (t *Target) Rule() Rule { return t.rule }

// Health returns the decided state.
func (t *Target) Health() State {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.expireLocked()
	return t.state
}

// Status returns a snapshot of the target.
func (t *Target) Status() Status {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.expireLocked()
	st := Status{ID: t.id, State: t.state, Since: t.since, Reason: t.reason, Votes: make(map[string]State, len(t.votes))}
	if t.override != nil {
		o := *t.override
		st.Override = &o
	}
	for i, v := range t.votes {
		st.Votes[t.names[i]] = v
	}
	return st
}

// Dropped returns how many events were not delivered because a
// subscriber's buffer was full.
func (t *Target) Dropped() uint64 { return t.dropped.Load() }

// Subscribe returns a channel receiving every event of the target from now
// on and a function that unsubscribes and closes it (idempotent). Delivery
// never blocks: when the buffer (buf, minimum 1) is full the event is
// dropped and counted in Dropped; re-read Health after draining.
func (t *Target) Subscribe(buf int) (<-chan Event, func()) {
	return subscribe(&t.mu, t.subs, buf)
}

// Run runs one Monitor per vantage point and the override expiry timer
// until ctx is done, then returns nil once all of them have stopped. A
// vantage point's transition is counted synchronously, before its monitor
// waits for the next probe. It returns ErrRunning if the target is already
// running.
func (t *Target) Run(ctx context.Context) error {
	if !t.running.CompareAndSwap(false, true) {
		return fmt.Errorf("health: run target %s: %w", t.id, ErrRunning)
	}
	defer t.running.Store(false)
	var runs sync.WaitGroup
	for i, m := range t.monitors {
		runs.Go(func() {
			if err := m.Run(ctx); err != nil {
				t.log.Error("vantage stopped", "vantage", t.names[i], "err", err)
			}
		})
	}
	runs.Go(func() { t.expiryLoop(ctx) })
	runs.Wait()
	return nil
}

// vote records vantage i's new state and re-decides.
func (t *Target) vote(i int, ev Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.votes[i] = ev.To
	outcome := t.rule.Decide(t.votes)
	if outcome == t.outcome {
		return
	}
	t.outcome = outcome
	t.ruleReason = fmt.Sprintf("%s: %s; vantage %s: %s", t.rule, t.tally(), t.names[i], ev.Reason)
	if t.override != nil {
		t.log.Info("health changed under override", "outcome", outcome, "reason", t.ruleReason)
		return
	}
	t.decideLocked(outcome, ev.At, t.ruleReason, t.ruleReason, ev.Results)
}

func (t *Target) tally() string { return Count(t.votes).String() }

// decideLocked sets the decided state and publishes the event. The reason
// of the event and the reason kept in Status can differ (for overrides).
func (t *Target) decideLocked(to State, at time.Time, eventReason, statusReason string, results []Result) {
	from := t.state
	t.state = to
	t.reason = statusReason
	if from != to {
		t.since = at
	}
	ev := Event{Target: t.id, From: from, To: to, At: at, Reason: eventReason, Results: results}
	t.log.Info("health decided", "from", from, "to", to, "reason", eventReason)
	for s := range t.subs {
		select {
		case s.ch <- ev:
		default:
			t.dropped.Add(1)
		}
	}
	if t.notify != nil {
		t.notify(ev)
	}
}

// subscribe adds a subscriber to subs (guarded by mu) and returns its
// channel and an idempotent unsubscribe function that closes it.
func subscribe(mu *sync.Mutex, subs map[*subscriber]struct{}, buf int) (<-chan Event, func()) {
	if buf < 1 {
		buf = 1
	}
	s := &subscriber{ch: make(chan Event, buf)}
	mu.Lock()
	subs[s] = struct{}{}
	mu.Unlock()
	return s.ch, func() {
		mu.Lock()
		defer mu.Unlock()
		if !s.closed {
			s.closed = true
			delete(subs, s)
			close(s.ch)
		}
	}
}

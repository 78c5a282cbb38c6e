package health

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Source is what a consumer of health decisions, such as the DNS server,
// needs: the decided state of a target by ID and its transitions.
type Source interface {
	// Health returns the decided state of target id, Unknown when the
	// target is not known.
	Health(id string) State
	// Subscribe returns a channel receiving the events of every target
	// (Event.Target is the target ID) and an idempotent function that
	// unsubscribes and closes it. Delivery must never block the source.
	Subscribe(buf int) (<-chan Event, func())
}

var _ Source = (*Registry)(nil)

// ErrNotFound is returned for a target ID the registry does not hold.
var ErrNotFound = errors.New("target not found")

// ErrExists is returned by Add for an ID the registry already holds.
var ErrExists = errors.New("target already registered")

// RegistryOptions tunes a Registry.
type RegistryOptions struct {
	// Logger receives target lifecycle errors (nil discards).
	Logger *slog.Logger
}

// Registry holds many targets by ID, runs them, and fans out their events.
// It implements Source. All methods are safe for concurrent use.
type Registry struct {
	log     *slog.Logger
	dropped atomic.Uint64
	gen     atomic.Uint64 // see Generation

	mu      sync.Mutex // guards targets, ctx and wg.Add
	targets map[string]*entry
	ctx     context.Context // non-nil while Run runs
	wg      sync.WaitGroup  // target runs

	subsMu sync.Mutex // guards subs; taken inside a target's lock
	subs   map[*subscriber]struct{}
}

type entry struct {
	t      *Target
	cancel context.CancelFunc // non-nil while the target runs
	done   chan struct{}      // closed when the target's run ends
}

// NewRegistry returns an empty registry.
func NewRegistry(o RegistryOptions) *Registry {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Registry{
		log:     log.With("component", "health"),
		targets: make(map[string]*entry),
		subs:    make(map[*subscriber]struct{}),
	}
}

// Add registers t; while Run runs, t starts at once. It fails when the ID
// is already registered or t belongs to another registry.
func (r *Registry) Add(t *Target) error {
	if t == nil {
		return errors.New("health: add target: nil target")
	}
	t.mu.Lock()
	if t.notify != nil {
		t.mu.Unlock()
		return fmt.Errorf("health: add target %s: %w", t.id, ErrExists)
	}
	t.notify = r.publish
	t.mu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.targets[t.id]; ok {
		t.mu.Lock()
		t.notify = nil
		t.mu.Unlock()
		return fmt.Errorf("health: add target %s: %w", t.id, ErrExists)
	}
	e := &entry{t: t}
	r.targets[t.id] = e
	r.gen.Add(1)
	if r.ctx != nil {
		r.startLocked(e)
	}
	return nil
}

// Remove stops and unregisters target id, waits for its run to end and
// publishes an event to Unknown. It reports whether the target existed.
func (r *Registry) Remove(id string) bool {
	r.mu.Lock()
	e, ok := r.targets[id]
	delete(r.targets, id)
	r.gen.Add(1)
	r.mu.Unlock()
	if !ok {
		return false
	}
	if e.cancel != nil {
		e.cancel()
		<-e.done
	}
	t := e.t
	t.mu.Lock()
	t.notify = nil
	from, at := t.state, t.clock.Now()
	t.mu.Unlock()
	r.publish(Event{Target: id, From: from, To: Unknown, At: at, Reason: "removed"})
	return true
}

// Run runs every target, also those added later, until ctx is done, and
// returns nil once all of them have stopped. It returns ErrRunning when
// the registry is already running.
func (r *Registry) Run(ctx context.Context) error {
	r.mu.Lock()
	if r.ctx != nil {
		r.mu.Unlock()
		return fmt.Errorf("health: run registry: %w", ErrRunning)
	}
	r.ctx = ctx
	for _, e := range r.targets {
		r.startLocked(e)
	}
	r.mu.Unlock()
	<-ctx.Done()
	r.mu.Lock()
	r.ctx = nil
	r.mu.Unlock()
	r.wg.Wait()
	r.mu.Lock()
	for _, e := range r.targets {
		e.cancel, e.done = nil, nil
	}
	r.mu.Unlock()
	return nil
}

func (r *Registry) startLocked(e *entry) {
	ctx, cancel := context.WithCancel(r.ctx)
	done := make(chan struct{})
	e.cancel, e.done = cancel, done
	r.wg.Go(func() {
		defer close(done)
		defer cancel()
		if err := e.t.Run(ctx); err != nil {
			r.log.Error("target stopped", "target", e.t.id, "err", err)
		}
	})
}

func (r *Registry) get(id string) *Target {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.targets[id]; ok {
		return e.t
	}
	return nil
}

// Target returns the target with the given ID, or nil.
func (r *Registry) Target(id string) *Target { return r.get(id) }

// Health returns the decided state of target id, Unknown when unknown.
func (r *Registry) Health(id string) State {
	if t := r.get(id); t != nil {
		return t.Health()
	}
	return Unknown
}

// Statuses returns a snapshot of every target, sorted by ID.
func (r *Registry) Statuses() []Status {
	r.mu.Lock()
	ts := make([]*Target, 0, len(r.targets))
	for _, e := range r.targets {
		ts = append(ts, e.t)
	}
	r.mu.Unlock()
	sts := make([]Status, len(ts))
	for i, t := range ts {
		sts[i] = t.Status()
	}
	slices.SortFunc(sts, func(a, b Status) int { return cmp.Compare(a.ID, b.ID) })
	return sts
}

// Override sets an override on target id (see Target.SetOverride).
func (r *Registry) Override(id string, state State, until time.Time, reason string) error {
	t := r.get(id)
	if t == nil {
		return fmt.Errorf("health: override %s: %w", id, ErrNotFound)
	}
	return t.SetOverride(state, until, reason)
}

// ClearOverride clears the override of target id; clearing a target
// without an override is not an error.
func (r *Registry) ClearOverride(id string) error {
	t := r.get(id)
	if t == nil {
		return fmt.Errorf("health: clear override %s: %w", id, ErrNotFound)
	}
	t.ClearOverride()
	return nil
}

// Subscribe returns a channel receiving the events of every target from
// now on, and an idempotent function that unsubscribes and closes it.
// Delivery never blocks: when the buffer (buf, minimum 1) is full the event
// is dropped and counted in Dropped; re-read Health after draining.
func (r *Registry) Subscribe(buf int) (<-chan Event, func()) {
	return subscribe(&r.subsMu, r.subs, buf)
}

// Dropped returns how many events subscribers of the registry missed
// because their buffers were full.
func (r *Registry) Dropped() uint64 { return r.dropped.Load() }

// Generation changes whenever the decided state of a target may have
// changed (every event, and targets added or removed), before the change
// can be read with Health; equal generations mean unchanged states. The
// DNS server keys its reply cache on it.
func (r *Registry) Generation() uint64 { return r.gen.Load() }

// publish fans ev out to the subscribers without blocking.
func (r *Registry) publish(ev Event) {
	r.gen.Add(1)
	r.subsMu.Lock()
	defer r.subsMu.Unlock()
	for s := range r.subs {
		select {
		case s.ch <- ev:
		default:
			r.dropped.Add(1)
		}
	}
}

package compute

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"os/exec"
	"slices"
	"sync"
	"syscall"
	"time"
)

// Instance states.
const (
	StateStarting = "starting"
	StateRunning  = "running"
	StateStopping = "stopping"
	StateExited   = "exited"
)

// Group states reported by Status.
const (
	GroupPending = "pending" // Run not called yet
	GroupSteady  = "steady"  // desired instances running
	GroupScaling = "scaling" // launching or stopping towards the desired count
	GroupBackoff = "backoff" // waiting before a new start after early failures
	GroupStopped = "stopped" // Run returned
)

// ErrNotFound is returned for an unknown or already exited instance ID.
var ErrNotFound = errors.New("instance not found")

// InstanceStatus describes one instance.
type InstanceStatus struct {
	ID      string    `json:"id"`
	Addr    string    `json:"addr"` // host:port
	Zone    string    `json:"zone"`
	PID     int       `json:"pid"`
	State   string    `json:"state"` // starting | running | stopping | exited
	Started time.Time `json:"started"`
	// Restarts counts the replacements in this instance's lineage: 0 for a
	// fresh instance, n+1 for the replacement of an instance with n.
	Restarts int    `json:"restarts"`
	LogFile  string `json:"logFile"`
	// Health is the last health reported by ReportHealth or MarkUnhealthy
	// ("unknown" until then).
	Health string `json:"health"`
	// Exit is the exit reason of an exited instance.
	Exit string `json:"exit,omitempty"`
}

// GroupStatus summarises a group.
type GroupStatus struct {
	State   string `json:"state"` // pending | steady | scaling | backoff | stopped
	Desired int    `json:"desired"`
	Running int    `json:"running"`
	// Backoff is the current delay between starts while instances crash in a
	// loop (0 when not backing off).
	Backoff   time.Duration `json:"backoff"`
	LastError string        `json:"lastError,omitempty"`
}

// Group keeps Desired instances of one service running in one region.
type Group struct {
	cfg  GroupConfig
	tmpl *compiledTemplate
	log  *slog.Logger
	hub  hub
	kick chan struct{}

	mu        sync.Mutex
	ran, done bool
	desired   int
	seq       uint64
	live      map[string]*instance
	recent    []InstanceStatus // exited instances, oldest first
	pending   []replacement    // failed instances awaiting a replacement
	streak    int              // consecutive early failures
	curDelay  time.Duration
	nextStart time.Time
	lastError string
	lastZone  int
	downZones map[string]bool
	busyHosts []string // hosts found taken by foreign processes
	runCtx    context.Context
	spawner   *spawner
	wg        sync.WaitGroup
	rand      func() float64
}

// instance is the group's record of one child process; guarded by Group.mu.
type instance struct {
	InstanceStatus
	host     string
	seq      uint64
	stopAt   time.Time // when the group asked it to stop
	killSent bool
	// requested: the group itself is stopping it, so its exit is expected.
	requested bool
	// injected names the signal sent by Kill, so the exit is not counted as a crash.
	injected    string
	cancelProbe context.CancelFunc
	cmd         *exec.Cmd
}

type replacement struct {
	id, addr, zone string
	restarts       int
}

const recentMax = 32

// NewGroup validates c, including every template, and returns a group ready to Run.
func NewGroup(c GroupConfig) (*Group, error) {
	c.setDefaults()
	name := c.Service + "/" + c.Region
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("compute: new group %s: %w", name, err)
	}
	tmpl, err := compileTemplate(c.Template)
	if err != nil {
		return nil, fmt.Errorf("compute: new group %s: template: %w", name, err)
	}
	c.Zones = slices.Clone(c.Zones)
	return &Group{
		cfg:       c,
		tmpl:      tmpl,
		log:       c.Logger.With("component", "compute", "service", c.Service, "region", c.Region),
		kick:      make(chan struct{}, 1),
		desired:   c.Desired,
		live:      make(map[string]*instance),
		lastZone:  -1,
		downZones: make(map[string]bool),
		rand:      mrand.Float64,
	}, nil
}

// poke wakes the supervision loop.
func (g *Group) poke() {
	select {
	case g.kick <- struct{}{}:
	default:
	}
}

// SetDesired changes the desired count (negative means 0). Scale-in stops the
// newest instances first, gracefully.
func (g *Group) SetDesired(n int) {
	g.mu.Lock()
	g.desired = max(n, 0)
	g.mu.Unlock()
	g.log.Info("desired count set", "desired", max(n, 0))
	g.poke()
}

// Desired returns the desired count.
func (g *Group) Desired() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.desired
}

// Instances returns the live instances in launch order, followed by up to 32
// recently exited ones.
func (g *Group) Instances() []InstanceStatus {
	g.mu.Lock()
	defer g.mu.Unlock()
	live := make([]*instance, 0, len(g.live))
	for _, in := range g.live {
		live = append(live, in)
	}
	slices.SortFunc(live, func(a, b *instance) int { return cmp.Compare(a.seq, b.seq) })
	out := make([]InstanceStatus, 0, len(live)+len(g.recent))
	for _, in := range live {
		out = append(out, in.InstanceStatus)
	}
	return append(out, g.recent...)
}

// Status summarises the group.
func (g *Group) Status() GroupStatus {
	g.mu.Lock()
	defer g.mu.Unlock()
	s := GroupStatus{Desired: g.desired, LastError: g.lastError}
	active := 0
	for _, in := range g.live {
		switch in.State {
		case StateRunning:
			s.Running++
			active++
		case StateStarting:
			active++
		}
	}
	if g.streak > 0 {
		s.Backoff = g.curDelay
	}
	switch {
	case !g.ran:
		s.State = GroupPending
	case g.done:
		s.State = GroupStopped
	case g.streak > 0 && active < g.desired:
		s.State = GroupBackoff
	case s.Running == g.desired && len(g.live) == g.desired:
		s.State = GroupSteady
	default:
		s.State = GroupScaling
	}
	return s
}

// Subscribe returns a channel of lifecycle events and a function that ends
// the subscription. Events that do not fit in the buffer (default 64) are
// dropped rather than blocking the group. The channel is closed when the
// subscription ends or Run returns.
func (g *Group) Subscribe(buffer int) (<-chan Event, func()) {
	return g.hub.subscribe(buffer)
}

// ReportHealth records a health observation (for status only).
func (g *Group) ReportHealth(id, health string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if in := g.live[id]; in != nil {
		in.Health = health
	}
}

// MarkUnhealthy terminates the instance and launches a replacement, as an
// auto scaling group does on a failed load-balancer health check. Unknown or
// already stopping instances are ignored.
func (g *Group) MarkUnhealthy(id, reason string) {
	g.mu.Lock()
	in := g.live[id]
	if in == nil || (in.State != StateStarting && in.State != StateRunning) {
		g.mu.Unlock()
		return
	}
	g.failInstance(in, "unhealthy: "+reason)
	g.mu.Unlock()
	g.poke()
}

// Kill sends sig to the instance's whole process group, as a chaos fault.
// The group replaces the instance if it exits; such an exit does not count
// towards crash-loop backoff.
func (g *Group) Kill(id string, sig syscall.Signal) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	in := g.live[id]
	if in == nil {
		return fmt.Errorf("compute: kill instance %s: %w", id, ErrNotFound)
	}
	in.injected = sig.String()
	if err := signalGroup(in.PID, sig); err != nil {
		return fmt.Errorf("compute: kill instance %s: %w", id, err)
	}
	g.log.Info("instance signalled", "id", id, "signal", sig.String())
	return nil
}

// KillZone sends SIGKILL to every instance in zone and returns how many it
// signalled. Use SetZoneDown to also keep replacements out of the zone.
func (g *Group) KillZone(zone string) int {
	g.mu.Lock()
	var ids []string
	for id, in := range g.live {
		if in.Zone == zone && in.State != StateExited {
			ids = append(ids, id)
		}
	}
	g.mu.Unlock()
	n := 0
	for _, id := range ids {
		if g.Kill(id, syscall.SIGKILL) == nil {
			n++
		}
	}
	return n
}

// SetZoneDown marks a zone unavailable (or available again) for new
// instances; running instances are not touched.
func (g *Group) SetZoneDown(zone string, down bool) {
	g.mu.Lock()
	if down {
		g.downZones[zone] = true
	} else {
		delete(g.downZones, zone)
	}
	g.mu.Unlock()
	g.poke()
}

// newID returns a fresh instance ID; called with g.mu held.
func (g *Group) newID() string {
	for {
		var b [3]byte
		_, _ = rand.Read(b[:])
		id := fmt.Sprintf("i-%s-%s-%s", g.cfg.Service, g.cfg.Region, hex.EncodeToString(b[:]))
		if _, taken := g.live[id]; !taken && !slices.ContainsFunc(g.recent, func(s InstanceStatus) bool { return s.ID == id }) {
			return id
		}
	}
}

// allZonesDown reports whether every zone is marked down; called with g.mu
// held.
func (g *Group) allZonesDown() bool {
	for _, z := range g.cfg.Zones {
		if !g.downZones[z] {
			return false
		}
	}
	return true
}

// pickZone returns the least-populated available zone, ties broken
// round-robin; called with g.mu held.
func (g *Group) pickZone() (string, bool) {
	count := make(map[string]int, len(g.cfg.Zones))
	for _, in := range g.live {
		if in.State == StateStarting || in.State == StateRunning {
			count[in.Zone]++
		}
	}
	n := len(g.cfg.Zones)
	best := -1
	for k := 1; k <= n; k++ {
		i := (g.lastZone + k) % n
		z := g.cfg.Zones[i]
		if g.downZones[z] {
			continue
		}
		if best < 0 || count[z] < count[g.cfg.Zones[best]] {
			best = i
		}
	}
	if best < 0 {
		return "", false
	}
	g.lastZone = best
	return g.cfg.Zones[best], true
}

package compute

import (
	"sync"
	"time"
)

// Event kinds.
const (
	// EventStarted: the instance accepts TCP on its Addr (add it as a target).
	EventStarted = "started"
	// EventStopping: the group began terminating the instance (drain it).
	EventStopping = "stopping"
	// EventExited: the instance's process exited.
	EventExited = "exited"
	// EventReplaced: a replacement for the instance was launched; Reason names it.
	EventReplaced = "replaced"
	// EventUnhealthy: the instance was reported unhealthy or never started listening.
	EventUnhealthy = "unhealthy"
)

// Event is an instance lifecycle notification.
type Event struct {
	Kind       string
	InstanceID string
	Addr       string
	Zone       string
	At         time.Time
	Reason     string
}

// hub fans events out to subscribers without ever blocking the sender:
// an event that does not fit in a subscriber's buffer is dropped for it.
type hub struct {
	mu      sync.Mutex
	subs    map[chan Event]struct{}
	closed  bool
	dropped int
}

func (h *hub) subscribe(buffer int) (<-chan Event, func()) {
	if buffer <= 0 {
		buffer = 64
	}
	ch := make(chan Event, buffer)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		close(ch)
		return ch, func() {}
	}
	if h.subs == nil {
		h.subs = make(map[chan Event]struct{})
	}
	h.subs[ch] = struct{}{}
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			h.mu.Lock()
			defer h.mu.Unlock()
			if _, ok := h.subs[ch]; ok {
				delete(h.subs, ch)
				close(ch)
			}
		})
	}
}

func (h *hub) publish(e Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		select {
		case ch <- e:
		default:
			h.dropped++
		}
	}
}

// close closes every subscriber channel; later subscriptions get a closed channel.
func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for ch := range h.subs {
		close(ch)
	}
	h.subs = nil
}

package events

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMaxBody is the default limit of a notification body.
const DefaultMaxBody = 1 << 20

// ReceiverOptions configures a [Receiver].
type ReceiverOptions struct {
	// Logger receives rejected requests and the first drop of each
	// subscriber, at debug level (nil discards them).
	Logger *slog.Logger
	// MaxBody is the largest accepted body in bytes (default 1 MiB);
	// larger ones are answered 413.
	MaxBody int64
}

// Receiver is the webhook endpoint: an http.Handler that parses
// notifications and fans their events out to subscribers. It answers
// without waiting for any subscriber: a subscriber whose buffer is full
// misses the event (counted by Dropped), because a store must never be
// slowed by its replicator, and the periodic listing catches what events
// miss.
type Receiver struct {
	log     *slog.Logger
	maxBody int64

	mu     sync.RWMutex
	subs   map[int]*subscriber
	nextID int

	received atomic.Uint64
	dropped  atomic.Uint64
}

type subscriber struct {
	bucket  string
	ch      chan Event
	dropped atomic.Bool // a drop was logged
}

var _ http.Handler = (*Receiver)(nil)

// NewReceiver returns a Receiver with no subscribers.
func NewReceiver(o ReceiverOptions) *Receiver {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultMaxBody
	}
	return &Receiver{
		log:     o.Logger.With("component", "events"),
		maxBody: o.MaxBody,
		subs:    make(map[int]*subscriber),
	}
}

// Subscribe returns a channel of the events of bucket ("" for every
// bucket), buffered for buf events (at least 1), and a function that ends
// the subscription and closes the channel. Events that find the buffer full
// are dropped.
func (r *Receiver) Subscribe(bucket string, buf int) (<-chan Event, func()) {
	s := &subscriber{bucket: bucket, ch: make(chan Event, max(buf, 1))}
	r.mu.Lock()
	id := r.nextID
	r.nextID++
	r.subs[id] = s
	r.mu.Unlock()
	var once sync.Once
	return s.ch, func() {
		once.Do(func() {
			r.mu.Lock()
			delete(r.subs, id)
			r.mu.Unlock()
			close(s.ch) // no send is in flight: sends hold the read lock
		})
	}
}

// Received returns the number of events received (test events excluded).
func (r *Receiver) Received() uint64 { return r.received.Load() }

// Dropped returns the number of events not delivered to a subscriber
// because its buffer was full, summed over subscribers.
func (r *Receiver) Dropped() uint64 { return r.dropped.Load() }

// ServeHTTP accepts one notification: 204 when parsed (even with no
// events), 405 for a method other than POST, 413 for a body over MaxBody,
// 400 for a body Parse rejects.
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "events: method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, r.maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			r.log.Debug("notification rejected", "remote", req.RemoteAddr, "err", "body over limit", "limit", r.maxBody)
			http.Error(w, fmt.Sprintf("events: body over %d bytes", r.maxBody), http.StatusRequestEntityTooLarge)
			return
		}
		r.log.Debug("notification unread", "remote", req.RemoteAddr, "err", err)
		http.Error(w, "events: read body", http.StatusBadRequest)
		return
	}
	evs, err := Parse(body)
	if err != nil {
		r.log.Debug("notification rejected", "remote", req.RemoteAddr, "err", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.Publish(evs...)
	w.WriteHeader(http.StatusNoContent)
}

// Publish delivers events to the subscribers as if a store had posted
// them; it never blocks.
func (r *Receiver) Publish(evs ...Event) {
	r.received.Add(uint64(len(evs)))
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, ev := range evs {
		for _, s := range r.subs {
			if s.bucket != "" && s.bucket != ev.Bucket {
				continue
			}
			select {
			case s.ch <- ev:
			default:
				r.dropped.Add(1)
				if !s.dropped.Swap(true) {
					r.log.Debug("subscriber too slow, dropping events", "bucket", s.bucket, "buffer", cap(s.ch))
				}
			}
		}
	}
}

// Listen serves r on addr (host:port; port 0 picks a free one) until ctx
// ends, and returns the URL to configure as the store's webhook. The
// receiver is unauthenticated: listen on loopback or a trusted network.
// When ctx ends the server shuts down (in-flight requests get 1 s) and its
// goroutines exit.
func Listen(ctx context.Context, addr string, r *Receiver) (string, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return "", fmt.Errorf("events: listen %s: %w", addr, err)
	}
	srv := &http.Server{
		Handler:           r,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		IdleTimeout:       30 * time.Second,
		ErrorLog:          slog.NewLogLogger(r.log.Handler(), slog.LevelDebug),
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			r.log.Error("webhook server stopped", "addr", ln.Addr().String(), "err", err)
		}
	}()
	go func() {
		select {
		case <-ctx.Done():
		case <-served:
			return
		}
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if srv.Shutdown(sctx) != nil {
			srv.Close()
		}
	}()
	return webhookURL(ln.Addr().(*net.TCPAddr)), nil
}

// webhookURL is the URL a local store reaches the listener at; an
// unspecified host maps to loopback.
func webhookURL(a *net.TCPAddr) string {
	ip := a.IP
	if ip == nil || ip.IsUnspecified() {
		ip = net.IPv4(127, 0, 0, 1) // Go's wildcard listeners are dual-stack
	}
	return "http://" + net.JoinHostPort(ip.String(), fmt.Sprint(a.Port)) + "/events"
}

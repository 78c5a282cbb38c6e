package lb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// serve serves HTTP on ln in the background. Called with lb.mu held.
func (lb *LB) serve(ln net.Listener) {
	lb.ln = ln
	srv := &http.Server{
		Handler:           lb,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(lb.log.Handler(), slog.LevelDebug),
	}
	lb.srv = srv
	lb.wg.Add(1)
	go func() {
		defer lb.wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			lb.log.Error("serve failed", "err", err)
		}
	}()
}

// Pause closes the listener and every open connection at once, cutting off
// in-flight requests, as when a region goes dark: new connections are
// refused. Targets and their health checks are kept. Resume listens again
// on the same address. Pausing a paused balancer does nothing.
func (lb *LB) Pause() error {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	switch {
	case lb.closing:
		return fmt.Errorf("lb: pause %s: %w", lb.cfg.Name, ErrClosed)
	case lb.paused:
		return nil
	case lb.srv == nil:
		return fmt.Errorf("lb: pause %s: not started", lb.cfg.Name)
	}
	err := lb.srv.Close()
	lb.srv, lb.paused = nil, true
	lb.log.Info("paused", "addr", lb.ln.Addr().String())
	if err != nil {
		return fmt.Errorf("lb: pause %s: %w", lb.cfg.Name, err)
	}
	return nil
}

// Resume listens again on the address the balancer had before Pause. It
// does nothing when the balancer is not paused.
func (lb *LB) Resume(ctx context.Context) error {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	if lb.closing {
		return fmt.Errorf("lb: resume %s: %w", lb.cfg.Name, ErrClosed)
	}
	if !lb.paused {
		return nil
	}
	addr := lb.ln.Addr().String()
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("lb: resume %s: listen %s: %w", lb.cfg.Name, addr, err)
	}
	lb.paused = false
	lb.serve(ln)
	lb.log.Info("resumed", "addr", addr)
	return nil
}

// Paused reports whether the balancer is paused.
func (lb *LB) Paused() bool {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	return lb.paused
}

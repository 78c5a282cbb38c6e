package lb

import (
	"context"
	"errors"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/pilotlight/pilotlight/health"
)

func TestPauseRefusesAndResumeServesAgain(t *testing.T) {
	b := newBackend(t, "a")
	lb := startLB(t, Config{SuccessThreshold: 1}, b)
	waitState(t, lb, b.id, health.Healthy)
	addr := lb.Addr()

	// A keep-alive connection opened before the pause must be cut too.
	tr := &http.Transport{Proxy: nil}
	t.Cleanup(tr.CloseIdleConnections)
	keep := &http.Client{Transport: tr, Timeout: 2 * time.Second}
	if r := do(t, keep, http.MethodGet, "http://"+addr+"/", ""); r.status != http.StatusOK {
		t.Fatalf("before pause: %d", r.status)
	}
	if err := lb.Pause(); err != nil {
		t.Fatalf("Pause() = %v", err)
	}
	if err := lb.Pause(); err != nil {
		t.Errorf("second Pause() = %v, want nil", err)
	}
	if !lb.Paused() {
		t.Error("Paused() = false")
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial paused balancer: %v, want connection refused", err)
	}
	if _, err := keep.Get("http://" + addr + "/"); err == nil {
		t.Error("request on a keep-alive connection succeeded while paused")
	}
	if err := lb.Start(context.Background()); err == nil {
		t.Error("Start() of a paused balancer succeeded")
	}

	if err := lb.Resume(context.Background()); err != nil {
		t.Fatalf("Resume() = %v", err)
	}
	if err := lb.Resume(context.Background()); err != nil {
		t.Errorf("second Resume() = %v, want nil", err)
	}
	if lb.Addr() != addr {
		t.Errorf("address after resume %s, want %s", lb.Addr(), addr)
	}
	if r := get(t, client(t), lb, "/"); r.status != http.StatusOK || r.body != "a" {
		t.Errorf("after resume: %d %q", r.status, r.body)
	}
}

func TestPauseAfterClose(t *testing.T) {
	lb := startLB(t, Config{})
	if err := lb.Pause(); err != nil {
		t.Fatalf("Pause() = %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := lb.Close(ctx); err != nil {
		t.Fatalf("Close() of a paused balancer = %v", err)
	}
	if err := lb.Resume(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Resume() after Close = %v, want ErrClosed", err)
	}
	if err := lb.Pause(); !errors.Is(err, ErrClosed) {
		t.Errorf("Pause() after Close = %v, want ErrClosed", err)
	}
}

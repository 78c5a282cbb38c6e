package lb

import (
	"net/http"
	"strings"
	"testing"

	"github.com/pilotlight/pilotlight/health"
)

func TestFenceRefusesWritesOnly(t *testing.T) {
	b := newBackend(t, "a")
	lb := startLB(t, Config{SuccessThreshold: 1}, b)
	waitState(t, lb, b.id, health.Healthy)
	c := client(t)
	post := func() int {
		req, _ := http.NewRequest(http.MethodPost, "http://"+lb.Addr()+"/orders", strings.NewReader("{}"))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := post(); got != http.StatusOK {
		t.Fatalf("POST before fence = %d, want 200", got)
	}
	lb.Fence(true)
	if !lb.Fenced() {
		t.Fatal("Fenced() = false after Fence(true)")
	}
	if got := post(); got != http.StatusServiceUnavailable {
		t.Errorf("POST while fenced = %d, want 503", got)
	}
	if r := get(t, c, lb, "/"); r.status != http.StatusOK {
		t.Errorf("GET while fenced = %d, want 200", r.status)
	}
	hits := b.hits.Load()
	lb.Fence(false)
	if got := post(); got != http.StatusOK {
		t.Errorf("POST after unfence = %d, want 200", got)
	}
	if b.hits.Load() != hits+1 {
		t.Errorf("backend hits %d, want %d: a fenced write reached the backend", b.hits.Load(), hits+1)
	}
}

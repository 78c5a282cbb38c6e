package lb

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pilotlight/pilotlight/health"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const checkInterval = 20 * time.Millisecond

// fakeBackend is an instance behind the balancer. GET /healthz follows
// healthy; /slow blocks until release is closed or the request ends; every
// other path answers 200 with the backend's id. Hits excludes /healthz.
type fakeBackend struct {
	id      string
	srv     *httptest.Server
	healthy atomic.Bool
	hits    atomic.Int64
	release chan struct{}
	mu      sync.Mutex
	lastReq http.Header
	lastHst string
}

func newBackend(t *testing.T, id string) *fakeBackend {
	t.Helper()
	b := &fakeBackend{id: id, release: make(chan struct{})}
	b.healthy.Store(true)
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			if !b.healthy.Load() {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
			return
		}
		b.hits.Add(1)
		// Consume the body so the server notices a closed connection.
		_, _ = io.Copy(io.Discard, r.Body)
		b.mu.Lock()
		b.lastReq, b.lastHst = r.Header.Clone(), r.Host
		b.mu.Unlock()
		if r.URL.Path == "/slow" {
			select {
			case <-b.release:
			case <-r.Context().Done():
				return
			}
		}
		_, _ = io.WriteString(w, b.id)
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *fakeBackend) addr() string { return b.srv.Listener.Addr().String() }

func (b *fakeBackend) target() Target { return Target{ID: b.id, Addr: b.addr(), Zone: "local-a"} }

// startLB starts a balancer on a free loopback port with test-friendly
// defaults and closes it when the test ends.
func startLB(t *testing.T, c Config, backends ...*fakeBackend) *LB {
	t.Helper()
	if c.Name == "" {
		c.Name = "web"
	}
	if c.Listen == "" {
		c.Listen = "127.0.0.1:0"
	}
	if c.Interval == 0 {
		c.Interval = checkInterval
	}
	if c.Check.Timeout == 0 {
		c.Check.Timeout = 500 * time.Millisecond
	}
	lb, err := New(c)
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	if err := lb.Start(context.Background()); err != nil {
		t.Fatalf("Start() = %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := lb.Close(ctx); err != nil {
			t.Errorf("Close() = %v", err)
		}
	})
	var ts []Target
	for _, b := range backends {
		ts = append(ts, b.target())
	}
	if err := lb.SetTargets(ts); err != nil {
		t.Fatalf("SetTargets() = %v", err)
	}
	return lb
}

// client returns an HTTP client that keeps no idle connections behind.
func client(t *testing.T) *http.Client {
	t.Helper()
	tr := &http.Transport{Proxy: nil, DisableKeepAlives: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

type reply struct {
	status int
	body   string
	header http.Header
}

func do(t *testing.T, c *http.Client, method, url string, body string) reply {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Errorf("%s %s: %v", method, url, err)
		return reply{}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, string(b), resp.Header}
}

func get(t *testing.T, c *http.Client, lb *LB, path string) reply {
	t.Helper()
	return do(t, c, http.MethodGet, "http://"+lb.Addr()+path, "")
}

// waitFor polls cond every few milliseconds for up to 5 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func status(lb *LB, id string) (TargetStatus, bool) {
	for _, s := range lb.Targets() {
		if s.ID == id {
			return s, true
		}
	}
	return TargetStatus{}, false
}

func waitState(t *testing.T, lb *LB, id string, want health.State) {
	t.Helper()
	waitFor(t, id+" "+want.String(), func() bool {
		s, ok := status(lb, id)
		return ok && s.State == want
	})
}

// closedAddr returns a loopback address on which nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

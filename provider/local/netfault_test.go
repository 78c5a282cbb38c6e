package local

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/netip"
	"syscall"
	"testing"
	"time"
)

func TestInternalLBAddr(t *testing.T) {
	tests := []struct{ public, want string }{
		{"127.0.1.2:8080", "127.0.1.2:8081"},
		{"127.0.2.3:80", "127.0.2.3:81"},
		{"127.0.1.2:65535", "127.0.1.2:65534"},
	}
	for _, tt := range tests {
		if got := internalLBAddr(netip.MustParseAddrPort(tt.public)); got.String() != tt.want {
			t.Errorf("internalLBAddr(%s) = %s, want %s", tt.public, got, tt.want)
		}
	}
}

// timedGet does GET url with c and reports the status, whether the
// connection was reused and how long it took.
func timedGet(c *http.Client, url string) (status int, reused bool, took time.Duration, err error) {
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused }}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), http.MethodGet, url, nil)
	if err != nil {
		return 0, false, 0, err
	}
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		return 0, reused, time.Since(start), err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, reused, time.Since(start), nil
}

// The proxy's toxics act on open keep-alive connections, and removing them
// restores the traffic; stop refuses connections and start serves again.
func TestNetProxyToxics(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }))
	t.Cleanup(backend.Close)
	addr := freeLoopbackAddr(t)
	n, err := newNetProxy("test", addr, backend.Listener.Addr().String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.stop)
	tr := &http.Transport{Proxy: nil}
	t.Cleanup(tr.CloseIdleConnections)
	c := &http.Client{Transport: tr, Timeout: 2 * time.Second}
	url := "http://" + addr + "/"
	if st, _, _, err := timedGet(c, url); err != nil || st != http.StatusOK {
		t.Fatalf("before any toxic: %d, %v", st, err)
	}

	const latency = 300 * time.Millisecond
	latencyToxics := networkToxics("f1", latency, false)
	for _, tx := range latencyToxics {
		if err := n.addToxic(tx); err != nil {
			t.Fatal(err)
		}
	}
	st, reused, took, err := timedGet(c, url)
	if err != nil || st != http.StatusOK || !reused || took < latency {
		t.Errorf("with latency: status %d reused %v took %s err %v; want 200 on the kept-alive connection after >= %s", st, reused, took, err, latency)
	}
	for _, tx := range latencyToxics {
		if err := n.removeToxic(context.Background(), tx.Name); err != nil {
			t.Fatal(err)
		}
		if err := n.removeToxic(context.Background(), tx.Name); err != nil {
			t.Errorf("removing a removed toxic: %v", err)
		}
	}
	if st, _, took, err := timedGet(c, url); err != nil || st != http.StatusOK || took >= latency {
		t.Errorf("latency removed: status %d took %s err %v", st, took, err)
	}

	blackhole := networkToxics("f2", 0, true)
	for _, tx := range blackhole {
		if err := n.addToxic(tx); err != nil {
			t.Fatal(err)
		}
	}
	short := &http.Client{Transport: tr, Timeout: 300 * time.Millisecond}
	if _, reused, _, err := timedGet(short, url); err == nil || !reused {
		t.Errorf("blackholed keep-alive connection: reused %v err %v, want a timeout", reused, err)
	}
	fresh := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}, Timeout: 300 * time.Millisecond}
	if _, _, _, err := timedGet(fresh, url); err == nil {
		t.Error("blackholed new connection answered")
	}
	for _, tx := range blackhole {
		if err := n.removeToxic(context.Background(), tx.Name); err != nil {
			t.Fatal(err)
		}
	}
	if st, _, _, err := timedGet(c, url); err != nil || st != http.StatusOK {
		t.Errorf("blackhole removed: %d, %v", st, err)
	}

	n.stop()
	if _, err := net.DialTimeout("tcp", addr, time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial stopped proxy: %v, want connection refused", err)
	}
	if err := n.start(); err != nil {
		t.Fatal(err)
	}
	if st, _, _, err := timedGet(c, url); err != nil || st != http.StatusOK {
		t.Errorf("restarted: %d, %v", st, err)
	}
}

func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

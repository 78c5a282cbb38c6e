package dns

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"go.uber.org/goleak"

	"github.com/pilotlight/pilotlight/health"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeSource is a health.Source whose states the test sets.
type fakeSource struct {
	mu     sync.Mutex
	states map[string]health.State
	subs   []chan health.Event
	gen    atomic.Uint64
}

// Generation changes with every set, as health.Registry's does.
func (f *fakeSource) Generation() uint64 { return f.gen.Load() }

func newFakeSource() *fakeSource { return &fakeSource{states: make(map[string]health.State)} }

func (f *fakeSource) Health(id string) health.State {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.states[id]
}

func (f *fakeSource) Subscribe(buf int) (<-chan health.Event, func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch := make(chan health.Event, buf)
	f.subs = append(f.subs, ch)
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			f.mu.Lock()
			defer f.mu.Unlock()
			for i, c := range f.subs {
				if c == ch {
					f.subs = append(f.subs[:i], f.subs[i+1:]...)
					close(ch)
				}
			}
		})
	}
}

// set changes the state of id and publishes the transition.
func (f *fakeSource) set(id string, s health.State) {
	f.mu.Lock()
	defer f.mu.Unlock()
	from := f.states[id]
	f.states[id] = s
	f.gen.Add(1)
	for _, ch := range f.subs {
		select {
		case ch <- health.Event{Target: id, From: from, To: s, At: time.Now(), Reason: "test"}:
		default:
		}
	}
}

// testServer starts s on 127.0.0.1:0 and stops it when the test ends.
func testServer(t *testing.T, cfg Config, src health.Source, o Options) (*Server, string, string) {
	t.Helper()
	s, err := NewServer(cfg, src, o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	udp, tcp, err := s.Start(ctx, "127.0.0.1:0")
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		if err := s.Wait(); err != nil {
			t.Errorf("Wait: %v", err)
		}
	})
	return s, udp, tcp
}

// query sends one question with a real client over network ("udp" or
// "tcp"); edns > 0 adds an OPT record with that UDP size.
func query(t *testing.T, network, addr, name string, qtype uint16, edns uint16) *mdns.Msg {
	t.Helper()
	m := new(mdns.Msg)
	m.SetQuestion(name, qtype)
	if edns > 0 {
		m.SetEdns0(edns, false)
	}
	c := &mdns.Client{Net: network, Timeout: 2 * time.Second, UDPSize: max(edns, mdns.MinMsgSize)}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("%s query %s %s: %v", network, name, mdns.TypeToString[qtype], err)
	}
	if r.Id != m.Id || !r.Response {
		t.Fatalf("bad reply header: %v", r.MsgHdr)
	}
	return r
}

// answers returns the answer section as strings without TTL noise.
func answers(rrs []mdns.RR) []string {
	out := make([]string, len(rrs))
	for i, rr := range rrs {
		out[i] = rr.String()
	}
	return out
}

// fakeWriter is a ResponseWriter that keeps the reply.
type fakeWriter struct {
	udp bool
	msg *mdns.Msg
}

func (w *fakeWriter) LocalAddr() net.Addr {
	if w.udp {
		return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53}
	}
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53}
}
func (w *fakeWriter) RemoteAddr() net.Addr {
	return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2), Port: 5300}
}
func (w *fakeWriter) WriteMsg(m *mdns.Msg) error  { w.msg = m; return nil }
func (w *fakeWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *fakeWriter) Close() error                { return nil }
func (w *fakeWriter) TsigStatus() error           { return nil }
func (w *fakeWriter) TsigTimersOnly(bool)         {}
func (w *fakeWriter) Hijack()                     {}

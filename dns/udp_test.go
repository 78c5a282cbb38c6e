package dns

import (
	"bytes"
	"context"
	"errors"
	"net"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/pilotlight/pilotlight/health"
	"golang.org/x/net/ipv4"
)

// rawExchange sends the datagram b from c to addr and returns the reply,
// or nil when none arrives within wait.
func rawExchange(t *testing.T, c *net.UDPConn, addr string, b []byte, wait time.Duration) []byte {
	t.Helper()
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.WriteToUDP(b, ua); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, mdns.MaxMsgSize)
	_ = c.SetReadDeadline(time.Now().Add(wait))
	n, _, err := c.ReadFromUDP(buf)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil
		}
		t.Fatal(err)
	}
	return buf[:n]
}

func TestUDPMalformedQueries(t *testing.T) {
	_, udp, _ := testServer(t, testConfig(), nil, Options{Clock: fixedClock})
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	good := new(mdns.Msg)
	good.SetQuestion("www.shop.test.", mdns.TypeA)
	good.Id = 0x1234
	packed, err := good.Pack()
	if err != nil {
		t.Fatal(err)
	}
	resp := good.Copy()
	resp.Response = true
	packedResp, _ := resp.Pack()
	// A header announcing one question followed by a broken name.
	broken := append(append([]byte{}, packed[:headerSize]...), 0x3f, 'a')

	tests := []struct {
		name  string
		b     []byte
		rcode int // -1: no reply expected
	}{
		{"short", packed[:headerSize-1], -1},
		{"response", packedResp, -1},
		{"unpackable", broken, mdns.RcodeFormatError},
		{"good", packed, mdns.RcodeSuccess},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wait := 2 * time.Second
			if tt.rcode < 0 {
				wait = 200 * time.Millisecond
			}
			b := rawExchange(t, c, udp, tt.b, wait)
			if tt.rcode < 0 {
				if b != nil {
					t.Fatalf("got a reply to a query that must be dropped: % x", b)
				}
				return
			}
			if b == nil {
				t.Fatal("no reply")
			}
			r := new(mdns.Msg)
			if err := r.Unpack(b); err != nil {
				t.Fatalf("unpack reply: %v", err)
			}
			if r.Id != 0x1234 || !r.Response || r.Rcode != tt.rcode {
				t.Fatalf("reply id %#x response %v rcode %s", r.Id, r.Response, mdns.RcodeToString[r.Rcode])
			}
			if len(r.Answer)+len(r.Ns)+len(r.Extra) > 0 && tt.rcode == mdns.RcodeFormatError {
				t.Errorf("FORMERR carries records: %v", r)
			}
		})
	}
}

// TestUDPBatchOfQueries sends more queries than one batch holds before
// reading any reply, so that the loop reads and answers full batches.
func TestUDPBatchOfQueries(t *testing.T) {
	_, udp, _ := testServer(t, testConfig(), nil, Options{Clock: fixedClock})
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadBuffer(1 << 20)
	ua, _ := net.ResolveUDPAddr("udp", udp)

	const n = 3 * batchSize
	names := []string{"shop.test.", "deep.a.b.shop.test.", "x.wild.shop.test.", "nope.shop.test.", "other.example."}
	want := make(map[uint16]*mdns.Msg, n)
	for i := range n {
		m := new(mdns.Msg)
		m.SetQuestion(names[i%len(names)], mdns.TypeA)
		m.Id = uint16(i + 1)
		b, _ := m.Pack()
		if _, err := c.WriteToUDP(b, ua); err != nil {
			t.Fatal(err)
		}
		want[m.Id] = m
	}
	buf := make([]byte, mdns.MaxMsgSize)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for len(want) > 0 {
		k, _, err := c.ReadFromUDP(buf)
		if err != nil {
			t.Fatalf("%d replies missing: %v", len(want), err)
		}
		r := new(mdns.Msg)
		if err := r.Unpack(buf[:k]); err != nil {
			t.Fatal(err)
		}
		q, ok := want[r.Id]
		if !ok {
			t.Fatalf("unexpected or duplicate reply id %d", r.Id)
		}
		delete(want, r.Id)
		// The batched reply is the one the handler builds, packed as is.
		exp, _ := (&Server{}).withTable(t, testConfig()).answer(q, true).Pack()
		if !bytes.Equal(buf[:k], exp) {
			t.Errorf("reply to %s differs:\n got % x\nwant % x", q.Question[0].Name, buf[:k], exp)
		}
	}
}

// withTable gives a bare server the compiled cfg, for building expected
// answers without sockets.
func (s *Server) withTable(t *testing.T, cfg Config) *Server {
	t.Helper()
	tb, err := compile(cfg, fixedClock())
	if err != nil {
		t.Fatal(err)
	}
	s.table.Store(tb)
	return s
}

// TestUDPWildcardReplySource binds the unspecified address and checks the
// reply comes from the address the query was sent to.
func TestUDPWildcardReplySource(t *testing.T) {
	s, err := NewServer(testConfig(), nil, Options{Clock: fixedClock})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	udp, _, err := s.Start(ctx, "0.0.0.0:0")
	if err != nil {
		cancel()
		t.Skipf("cannot bind the wildcard address: %v", err)
	}
	defer func() {
		cancel()
		if err := s.Wait(); err != nil {
			t.Errorf("Wait: %v", err)
		}
	}()
	_, port, _ := net.SplitHostPort(udp)
	for _, dst := range []string{"127.0.0.1", "127.0.0.2"} {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		m := new(mdns.Msg)
		m.SetQuestion("shop.test.", mdns.TypeA)
		b, _ := m.Pack()
		ua, _ := net.ResolveUDPAddr("udp4", net.JoinHostPort(dst, port))
		if _, err := c.WriteToUDP(b, ua); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		buf := make([]byte, 4096)
		_, from, err := c.ReadFromUDP(buf)
		c.Close()
		if err != nil {
			t.Fatalf("query to %s: %v", dst, err)
		}
		if from.IP.String() != dst {
			t.Errorf("reply to a query sent to %s came from %s", dst, from.IP)
		}
	}
}

// TestUDPFlushSkipsRefusedReply injects replies the kernel refuses (an
// IPv6 destination on an IPv4 socket) among good ones: the good ones must
// still be sent, in order.
func TestUDPFlushSkipsRefusedReply(t *testing.T) {
	srv, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := newUDPLoop(&Server{}, srv)
	defer l.conn.Close()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	bad := &net.UDPAddr{IP: net.ParseIP("2001:db8::1"), Port: 53}
	tests := []struct {
		name  string
		addrs []net.Addr
	}{
		{"bad first", []net.Addr{bad, c.LocalAddr(), c.LocalAddr()}},
		{"bad middle", []net.Addr{c.LocalAddr(), bad, bad, c.LocalAddr()}},
		{"bad last", []net.Addr{c.LocalAddr(), c.LocalAddr(), bad}},
		{"all bad", []net.Addr{bad, bad}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l.out = l.out[:0]
			var want []string
			for i, a := range tt.addrs {
				p := []byte{byte('a' + i)}
				l.out = append(l.out, ipv4Message(p, a))
				if a != bad {
					want = append(want, string(p))
				}
			}
			l.flush()
			buf := make([]byte, 16)
			for _, w := range want {
				_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
				n, _, err := c.ReadFromUDP(buf)
				if err != nil {
					t.Fatalf("want %q: %v", w, err)
				}
				if string(buf[:n]) != w {
					t.Fatalf("got %q, want %q", buf[:n], w)
				}
			}
			_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			if n, _, err := c.ReadFromUDP(buf); err == nil {
				t.Fatalf("extra datagram %q", buf[:n])
			}
		})
	}
}

// ipv4Message is an outgoing datagram of payload p to a.
func ipv4Message(p []byte, a net.Addr) ipv4.Message {
	return ipv4.Message{Buffers: [][]byte{p}, Addr: a}
}

// Cached replies carry each query's own ID, and are never served once the
// health states or the configuration changed.
func TestReplyCache(t *testing.T) {
	src := newFakeSource()
	s, udp, _ := testServer(t, testConfig(), src, Options{})
	c := &mdns.Client{Net: "udp", Timeout: 2 * time.Second}
	ask := func(id uint16) *mdns.Msg {
		t.Helper()
		m := new(mdns.Msg)
		m.SetQuestion("www.shop.test.", mdns.TypeA)
		m.Id = id
		r, _, err := c.Exchange(m, udp)
		if err != nil {
			t.Fatal(err)
		}
		if r.Id != id {
			t.Fatalf("reply ID %d, want %d", r.Id, id)
		}
		return r
	}
	addr := func(r *mdns.Msg) string {
		if len(r.Answer) != 1 {
			t.Fatalf("answer %v", r.Answer)
		}
		return r.Answer[0].(*mdns.A).A.String()
	}
	for id := range uint16(20) {
		if got := addr(ask(1000 + id)); got != "127.0.1.2" {
			t.Fatalf("answer %s, want the primary", got)
		}
	}
	// A health decision is visible to the very next query.
	src.set("www/primary", health.Unhealthy)
	src.set("www/recovery", health.Healthy)
	if got := addr(ask(7)); got != "127.0.2.2" {
		t.Errorf("after failover: %s, want the secondary", got)
	}
	src.set("www/primary", health.Healthy)
	if got := addr(ask(8)); got != "127.0.1.2" {
		t.Errorf("after failback: %s, want the primary", got)
	}
	// So is a reload.
	cfg := testConfig()
	for i := range cfg.Zones[0].Records {
		if r := &cfg.Zones[0].Records[i]; r.Name == "www.shop.test." && r.Type == mdns.TypeA {
			r.Primary = []string{"127.0.1.99"}
		}
	}
	if err := s.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	if got := addr(ask(9)); got != "127.0.1.99" {
		t.Errorf("after reload: %s, want 127.0.1.99", got)
	}
}

package drill

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testName = "www.ticketing.test."

// fakeDNS is a tiny authoritative server for testName whose answer tests switch.
type fakeDNS struct {
	addr    string
	queries atomic.Int64

	mu    sync.Mutex
	ip    net.IP
	ttl   uint32
	rcode int
}

func startDNS(t *testing.T, ip string, ttl uint32) *fakeDNS {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeDNS{addr: pc.LocalAddr().String(), ip: net.ParseIP(ip), ttl: ttl}
	started := make(chan struct{})
	srv := &dns.Server{PacketConn: pc, Handler: f, NotifyStartedFunc: func() { close(started) }}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.ActivateAndServe()
	}()
	<-started
	t.Cleanup(func() {
		_ = srv.Shutdown()
		<-done
	})
	return f
}

// set switches the answer.
func (f *fakeDNS) set(ip string, ttl uint32, rcode int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ip, f.ttl, f.rcode = net.ParseIP(ip), ttl, rcode
}

func (f *fakeDNS) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	f.queries.Add(1)
	f.mu.Lock()
	ip, ttl, rcode := f.ip, f.ttl, f.rcode
	f.mu.Unlock()
	m := new(dns.Msg)
	m.SetRcode(req, rcode)
	m.Authoritative = true
	q := req.Question[0]
	if rcode == dns.RcodeSuccess && q.Name == testName && q.Qtype == dns.TypeA && ip != nil {
		m.Answer = append(m.Answer, &dns.A{
			Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: ttl},
			A:   ip,
		})
	}
	_ = w.WriteMsg(m)
}

// Modes of a fakeApp.
const (
	appOK   = iota
	appFail // 503 on every request
	appHang // never answers before the client gives up
)

// orderStore holds the orders both regions serve reads from: replication
// between the regions is instantaneous, so a read of a write acknowledged by
// the other region does not fail.
type orderStore struct {
	mu     sync.Mutex
	orders map[string]bool
}

func (s *orderStore) add(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.orders[id] = true
}

func (s *orderStore) has(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.orders[id]
}

func (s *orderStore) ids() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.orders))
	for id := range s.orders {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// fakeApp imitates the example ticketing app of one region.
type fakeApp struct {
	region string
	ip     string
	srv    *httptest.Server
	mode   atomic.Int32
	hosts  atomic.Int64 // requests with a wrong Host header
	shared *orderStore  // what reads see
	own    orderStore   // orders accepted by this region
}

func startApp(t *testing.T, region string, ln net.Listener, shared *orderStore) *fakeApp {
	t.Helper()
	release := make(chan struct{})
	a := &fakeApp{region: region, ip: ln.Addr().(*net.TCPAddr).IP.String(),
		shared: shared, own: orderStore{orders: map[string]bool{}}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("<html>tickets</html>"))
	})
	mux.HandleFunc("POST /orders", a.create)
	mux.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		if !a.shared.has(r.PathValue("id")) {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		_, _ = w.Write([]byte(`{"id":"` + r.PathValue("id") + `"}`))
	})
	mux.HandleFunc("GET /orders", func(w http.ResponseWriter, r *http.Request) {
		client := r.URL.Query().Get("client")
		ids := []string{}
		for _, id := range a.shared.ids() {
			if strings.HasPrefix(id, client+"-") {
				ids = append(ids, id)
			}
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"client": client, "count": len(ids), "ids": ids})
	})
	a.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(RegionHeader, region)
		if r.Host != strings.TrimSuffix(testName, ".") {
			a.hosts.Add(1)
		}
		switch a.mode.Load() {
		case appFail:
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		case appHang:
			// The server notices the client hanging up only once the
			// body is read; release frees what is left at cleanup.
			_, _ = io.Copy(io.Discard, r.Body)
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		mux.ServeHTTP(w, r)
	}))
	_ = a.srv.Listener.Close()
	a.srv.Listener = ln
	a.srv.Start()
	t.Cleanup(a.srv.Close)
	t.Cleanup(func() { close(release) }) // runs before Close
	return a
}

func (a *fakeApp) create(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Client string `json:"client"`
		Seq    *int64 `json:"seq"`
		Item   string `json:"item"`
		Qty    int    `json:"qty"`
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || req.Seq == nil || req.Client == "" || req.Qty < 1 {
		http.Error(w, "bad order", http.StatusBadRequest)
		return
	}
	id := fmt.Sprintf("%s-%012d", req.Client, *req.Seq)
	a.own.add(id)
	a.shared.add(id)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(map[string]any{"id": id, "region": a.region, "acceptedAt": time.Now().UTC()})
}

// startRegions starts the apps of two regions on two loopback addresses
// sharing one port, as the load balancers of a drill do.
func startRegions(t *testing.T) (primary, recovery *fakeApp, port int) {
	t.Helper()
	for range 20 {
		la, err := net.Listen("tcp", "127.0.91.2:0")
		if err != nil {
			t.Skipf("cannot bind 127.0.91.2: %v", err)
		}
		port = la.Addr().(*net.TCPAddr).Port
		lb, err := net.Listen("tcp", net.JoinHostPort("127.0.92.2", strconv.Itoa(port)))
		if err != nil {
			_ = la.Close()
			continue
		}
		shared := &orderStore{orders: map[string]bool{}}
		return startApp(t, "seoul", la, shared), startApp(t, "virginia", lb, shared), port
	}
	t.Fatal("no port free on both 127.0.91.2 and 127.0.92.2")
	return nil, nil, 0
}

// runTraffic starts tr and returns a function that stops it and checks that
// Run returned nil within the request timeout.
func runTraffic(t *testing.T, tr *Traffic) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- tr.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(tr.o.Timeout + 2*time.Second):
				t.Fatalf("Run did not return within Timeout after the context ended")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkWrites checks that sequence numbers run 1..n over all attempts and
// that every acknowledged write is stored in the region that acknowledged it.
func checkWrites(t *testing.T, tr *Traffic, apps ...*fakeApp) {
	t.Helper()
	acked, unacked := tr.Acked(), tr.Unacked()
	var seqs []int64
	for _, w := range acked {
		seqs = append(seqs, w.Seq)
		if want := fmt.Sprintf("%s-%012d", tr.Client(), w.Seq); w.ID != want {
			t.Errorf("write %d: ID %q, want %q", w.Seq, w.ID, want)
		}
		if w.AckedAt.Before(w.SentAt) || w.Latency <= 0 {
			t.Errorf("write %s: sent %v, acked %v, latency %v", w.ID, w.SentAt, w.AckedAt, w.Latency)
		}
		stored := false
		for _, a := range apps {
			if a.region == w.Region {
				stored = a.own.has(w.ID)
			}
		}
		if !stored {
			t.Errorf("acked write %s not stored in region %q", w.ID, w.Region)
		}
	}
	for _, w := range unacked {
		seqs = append(seqs, w.Seq)
		if !w.AckedAt.IsZero() {
			t.Errorf("unacked write %s has AckedAt %v", w.ID, w.AckedAt)
		}
	}
	slices.Sort(seqs)
	for i, s := range seqs {
		if s != int64(i+1) {
			t.Fatalf("write sequence numbers %v are not 1..%d", seqs, len(seqs))
		}
	}
}

func TestTrafficFollowsDNSAnswer(t *testing.T) {
	tests := []struct {
		name string
		ttl  uint32
	}{
		{name: "ttl 1s", ttl: 1},
		{name: "ttl 0 not cached", ttl: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			primary, recovery, port := startRegions(t)
			zone := startDNS(t, primary.ip, tc.ttl)
			const bucket = 100 * time.Millisecond
			tr, err := NewTraffic(TrafficOptions{
				DNSServer: zone.addr, Name: testName, Port: port,
				Rate: 50, Timeout: 500 * time.Millisecond, Bucket: bucket,
			})
			if err != nil {
				t.Fatal(err)
			}
			begin := time.Now()
			stop := runTraffic(t, tr)
			waitFor(t, 3*time.Second, "writes acked by the primary", func() bool { return len(tr.Acked()) >= 5 })

			switched := time.Now()
			zone.set(recovery.ip, tc.ttl, dns.RcodeSuccess)
			var moved time.Time
			waitFor(t, 4*time.Second, "a success from the recovery region", func() bool {
				var ok bool
				moved, ok = tr.FirstSuccessFrom("virginia", switched)
				return ok
			})
			limit := time.Duration(tc.ttl)*time.Second + bucket + 300*time.Millisecond
			if d := moved.Sub(switched); d > limit {
				t.Errorf("clients moved %v after the answer changed, want <= %v (TTL + bucket)", d, limit)
			}
			var since time.Time
			waitFor(t, 3*time.Second, "stable traffic to the recovery region", func() bool {
				var ok bool
				since, ok = tr.StableSince("virginia", 400*time.Millisecond)
				return ok
			})
			if since.Before(switched.Add(-bucket)) {
				t.Errorf("stable since %v, before the answer changed at %v", since, switched)
			}
			stop()

			requests := 0
			for _, s := range tr.Samples() {
				requests += s.Requests
				if s.Start.After(switched.Add(limit)) && s.Regions["seoul"] > 0 {
					t.Errorf("bucket %v: %d answers from the old region after TTL", s.Start, s.Regions["seoul"])
				}
				if s.Requests > 0 && s.P50Ms <= 0 {
					t.Errorf("bucket %v: p50 %v with %d requests", s.Start, s.P50Ms, s.Requests)
				}
			}
			elapsed := time.Since(begin)
			queries := int(zone.queries.Load())
			if tc.ttl > 0 {
				if max := int(elapsed/(time.Duration(tc.ttl)*time.Second)) + 3; queries > max {
					t.Errorf("%d DNS queries in %v with TTL %ds, want <= %d (answer cached)", queries, elapsed, tc.ttl, max)
				}
			} else if queries < requests/2 {
				t.Errorf("%d DNS queries for %d requests with TTL 0, want about one per request", queries, requests)
			}
			if n := tr.Errors(begin, time.Now()); n != 0 {
				t.Errorf("Errors = %d with both regions up", n)
			}
			if n := primary.hosts.Load() + recovery.hosts.Load(); n != 0 {
				t.Errorf("%d requests without Host %q", n, testName)
			}
			if _, ok := tr.FirstSuccessFrom("seoul", begin); !ok {
				t.Error("no success from the primary before the switch")
			}
			checkWrites(t, tr, primary, recovery)
		})
	}
}

func TestTrafficCountsErrorsOfStoppedRegion(t *testing.T) {
	primary, recovery, port := startRegions(t)
	zone := startDNS(t, primary.ip, 0)
	const bucket = 100 * time.Millisecond
	tr, err := NewTraffic(TrafficOptions{
		DNSServer: zone.addr, Name: testName, Port: port,
		Rate: 50, Timeout: 300 * time.Millisecond, Bucket: bucket,
	})
	if err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	stop := runTraffic(t, tr)
	waitFor(t, 3*time.Second, "writes acked by the primary", func() bool { return len(tr.Acked()) >= 5 })

	fault := time.Now()
	primary.srv.Close()
	time.Sleep(400 * time.Millisecond)
	failover := time.Now()
	zone.set(recovery.ip, 0, dns.RcodeSuccess)
	var since time.Time
	waitFor(t, 3*time.Second, "stable traffic to the recovery region", func() bool {
		var ok bool
		since, ok = tr.StableSince("virginia", 300*time.Millisecond)
		return ok
	})
	stop()

	if n := tr.Errors(begin, fault.Add(-50*time.Millisecond)); n != 0 {
		t.Errorf("Errors before the fault = %d, want 0", n)
	}
	if n := tr.Errors(fault, failover); n < 5 {
		t.Errorf("Errors while the primary was down = %d, want >= 5", n)
	}
	if n := tr.Errors(failover.Add(100*time.Millisecond), time.Now()); n != 0 {
		t.Errorf("Errors after failover = %d, want 0", n)
	}
	if since.Before(failover.Add(-bucket)) {
		t.Errorf("stable since %v, before failover at %v", since, failover)
	}
	if len(tr.Unacked()) == 0 {
		t.Error("no unacknowledged writes while the primary was down")
	}
	sampled := 0
	for _, s := range tr.Samples() {
		sampled += s.Errors
	}
	if total := tr.Errors(begin, time.Now()); sampled != total {
		t.Errorf("samples count %d errors, Errors counts %d", sampled, total)
	}
	checkWrites(t, tr, primary, recovery)
}

func TestTrafficHangingRegionKeepsPacing(t *testing.T) {
	primary, _, port := startRegions(t)
	primary.mode.Store(appHang)
	zone := startDNS(t, primary.ip, 5)
	tr, err := NewTraffic(TrafficOptions{
		DNSServer: zone.addr, Name: testName, Port: port,
		Rate: 40, Timeout: 250 * time.Millisecond, Bucket: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	stop := runTraffic(t, tr)
	time.Sleep(time.Second)
	stopped := time.Now()
	stop()
	if d := time.Since(stopped); d > tr.o.Timeout+200*time.Millisecond {
		t.Errorf("Run took %v to return, want about Timeout (%v)", d, tr.o.Timeout)
	}
	requests, errs := 0, 0
	for _, s := range tr.Samples() {
		requests += s.Requests
		errs += s.Errors
	}
	if requests < 25 {
		t.Errorf("%d requests in 1s at 40/s against a hanging region: pacing stalled", requests)
	}
	if errs != requests {
		t.Errorf("%d errors of %d requests, want all", errs, requests)
	}
	if len(tr.Acked()) != 0 {
		t.Errorf("acked writes from a hanging region: %v", tr.Acked())
	}
}

func TestTrafficDNSFailure(t *testing.T) {
	tests := []struct {
		name  string
		setup func(z *fakeDNS) string // returns the server address to use
	}{
		{name: "servfail", setup: func(z *fakeDNS) string { z.set("", 5, dns.RcodeServerFailure); return z.addr }},
		{name: "nxdomain", setup: func(z *fakeDNS) string { z.set("", 5, dns.RcodeNameError); return z.addr }},
		{name: "no A record", setup: func(z *fakeDNS) string { z.set("", 5, dns.RcodeSuccess); return z.addr }},
		{name: "server down", setup: func(*fakeDNS) string {
			pc, err := net.ListenPacket("udp", "127.0.0.1:0")
			if err != nil {
				panic(err)
			}
			addr := pc.LocalAddr().String()
			_ = pc.Close()
			return addr
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			primary, _, port := startRegions(t)
			zone := startDNS(t, primary.ip, 5)
			tr, err := NewTraffic(TrafficOptions{
				DNSServer: tc.setup(zone), Name: testName, Port: port,
				Rate: 40, Timeout: 200 * time.Millisecond, Bucket: 100 * time.Millisecond,
			})
			if err != nil {
				t.Fatal(err)
			}
			begin := time.Now()
			stop := runTraffic(t, tr)
			time.Sleep(400 * time.Millisecond)
			stop()
			samples := tr.Samples()
			requests := 0
			for _, s := range samples {
				requests += s.Requests
			}
			if requests < 5 {
				t.Fatalf("%d requests in 400ms at 40/s", requests)
			}
			if n := tr.Errors(begin, time.Now()); n != requests {
				t.Errorf("Errors = %d of %d requests, want all", n, requests)
			}
			if len(tr.Acked()) != 0 || len(tr.Unacked()) == 0 {
				t.Errorf("acked %d, unacked %d writes; want 0 and > 0", len(tr.Acked()), len(tr.Unacked()))
			}
			if got := primary.shared.ids(); len(got) != 0 {
				t.Errorf("app received orders without a DNS answer: %v", got)
			}
		})
	}
}

func TestNewTrafficValidates(t *testing.T) {
	ok := TrafficOptions{DNSServer: "127.0.0.1:5353", Name: "www.ticketing.test", Port: 8080}
	tests := []struct {
		name    string
		edit    func(o *TrafficOptions)
		wantErr string
	}{
		{name: "defaults", edit: func(*TrafficOptions) {}},
		{name: "no dns server", edit: func(o *TrafficOptions) { o.DNSServer = "" }, wantErr: "DNSServer"},
		{name: "dns server without port", edit: func(o *TrafficOptions) { o.DNSServer = "127.0.0.1" }, wantErr: "DNSServer"},
		{name: "no name", edit: func(o *TrafficOptions) { o.Name = "" }, wantErr: "Name"},
		{name: "bad name", edit: func(o *TrafficOptions) { o.Name = "a..b" }, wantErr: "Name"},
		{name: "no port", edit: func(o *TrafficOptions) { o.Port = 0 }, wantErr: "Port"},
		{name: "port too big", edit: func(o *TrafficOptions) { o.Port = 70000 }, wantErr: "Port"},
		{name: "negative rate", edit: func(o *TrafficOptions) { o.Rate = -1 }, wantErr: "Rate"},
		{name: "write ratio above 1", edit: func(o *TrafficOptions) { o.WriteRatio = 1.5 }, wantErr: "WriteRatio"},
		{name: "bad client", edit: func(o *TrafficOptions) { o.Client = "a b" }, wantErr: "Client"},
		{name: "negative timeout", edit: func(o *TrafficOptions) { o.Timeout = -time.Second }, wantErr: "Timeout"},
		{name: "tiny bucket", edit: func(o *TrafficOptions) { o.Bucket = time.Microsecond }, wantErr: "Bucket"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := ok
			tc.edit(&o)
			tr, err := NewTraffic(o)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				got := tr.o
				if got.Rate != DefaultRate || got.WriteRatio != DefaultWriteRatio || got.Timeout != DefaultTimeout ||
					got.Bucket != DefaultBucket || got.Name != "www.ticketing.test." || !clientPattern.MatchString(got.Client) {
					t.Errorf("defaults not applied: %+v", got)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want one naming %s", err, tc.wantErr)
			}
		})
	}
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func TestResolverHonoursTTL(t *testing.T) {
	tests := []struct {
		name        string
		ttl         uint32
		at          []time.Duration // lookup times since the first
		wantQueries int64
	}{
		{name: "cached within ttl", ttl: 5, at: []time.Duration{0, time.Second, 4999 * time.Millisecond}, wantQueries: 1},
		{name: "re-resolved at expiry", ttl: 5, at: []time.Duration{0, 5 * time.Second, 6 * time.Second, 10 * time.Second}, wantQueries: 3},
		{name: "ttl 0 not cached", ttl: 0, at: []time.Duration{0, 0, time.Millisecond}, wantQueries: 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			zone := startDNS(t, "127.0.91.2", tc.ttl)
			clock := &fakeClock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
			tr, err := NewTraffic(TrafficOptions{DNSServer: zone.addr, Name: testName, Port: 80, Clock: clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			t0 := clock.Now()
			for _, d := range tc.at {
				clock.Set(t0.Add(d))
				addr, err := tr.res.lookup(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				if addr.String() != "127.0.91.2" {
					t.Fatalf("lookup = %v", addr)
				}
			}
			if got := zone.queries.Load(); got != tc.wantQueries {
				t.Errorf("%d queries, want %d", got, tc.wantQueries)
			}
		})
	}
}

// recorded builds traffic whose requests are injected, on a fake clock.
func recorded(t *testing.T, now time.Duration, reqs ...request) (*Traffic, time.Time) {
	t.Helper()
	origin := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := &fakeClock{now: origin.Add(now)}
	tr, err := NewTraffic(TrafficOptions{DNSServer: "127.0.0.1:53", Name: testName, Port: 80,
		Bucket: 100 * time.Millisecond, Clock: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	tr.started, tr.origin = true, origin
	tr.regionIndex("seoul")    // index 0
	tr.regionIndex("virginia") // index 1
	tr.reqs = reqs
	return tr, origin
}

// Region indexes of injected requests.
const (
	seoul    int32 = 0
	virginia int32 = 1
)

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

// okFrom and failed are requests issued at ms since origin, taking 10ms.
func okFrom(region int32, at int) request {
	return request{start: ms(at), latency: ms(10), region: region, ok: true}
}
func failed(at int) request { return request{start: ms(at), latency: ms(10), region: -1} }

func TestStableSince(t *testing.T) {
	tests := []struct {
		name     string
		now      int // ms since origin
		inflight []int
		reqs     []request
		window   time.Duration
		want     int // ms since origin; -1 for none
	}{
		{name: "nothing", now: 1000, window: ms(100), want: -1},
		{name: "switch after errors", now: 1000,
			reqs:   []request{okFrom(seoul, 0), failed(150), failed(250), okFrom(virginia, 350), okFrom(virginia, 450), okFrom(virginia, 550)},
			window: ms(300), want: 300},
		{name: "run shorter than window", now: 1000,
			reqs:   []request{failed(250), okFrom(virginia, 350), okFrom(virginia, 450)},
			window: ms(300), want: -1},
		{name: "latest bucket failed", now: 1000,
			reqs:   []request{okFrom(virginia, 350), okFrom(virginia, 450), failed(560)},
			window: ms(100), want: -1},
		{name: "mixed regions break the run", now: 1000,
			reqs:   []request{okFrom(virginia, 150), okFrom(seoul, 260), okFrom(virginia, 270), okFrom(virginia, 350), okFrom(virginia, 450)},
			window: ms(200), want: 300},
		{name: "error in bucket breaks the run", now: 1000,
			reqs:   []request{okFrom(virginia, 150), okFrom(virginia, 250), failed(251), okFrom(virginia, 350)},
			window: ms(100), want: 300},
		{name: "empty buckets neither break nor extend", now: 2000,
			reqs:   []request{failed(50), okFrom(virginia, 150), okFrom(virginia, 550), okFrom(virginia, 950)},
			window: ms(900), want: 100},
		{name: "other region stable", now: 1000,
			reqs:   []request{okFrom(seoul, 150), okFrom(seoul, 250)},
			window: ms(100), want: -1},
		{name: "open bucket ignored", now: 450,
			reqs:   []request{okFrom(virginia, 150), okFrom(virginia, 250), okFrom(virginia, 350), failed(420)},
			window: ms(300), want: 100},
		{name: "bucket with a request in flight ignored", now: 1000, inflight: []int{3},
			reqs:   []request{okFrom(virginia, 150), okFrom(virginia, 250), failed(450)},
			window: ms(200), want: 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr, origin := recorded(t, ms(tc.now), tc.reqs...)
			for _, b := range tc.inflight {
				tr.inflight[b]++
			}
			got, ok := tr.StableSince("virginia", tc.window)
			switch {
			case tc.want < 0 && ok:
				t.Errorf("StableSince = %v, want none", got.Sub(origin))
			case tc.want >= 0 && (!ok || !got.Equal(origin.Add(ms(tc.want)))):
				t.Errorf("StableSince = %v, %v; want %v", got.Sub(origin), ok, ms(tc.want))
			}
		})
	}
}

func TestFirstSuccessFromAndErrors(t *testing.T) {
	tr, origin := recorded(t, ms(1000),
		okFrom(seoul, 0), failed(100), failed(200), request{start: ms(290), latency: ms(40), region: virginia, ok: true},
		okFrom(virginia, 310), request{start: ms(400), latency: ms(5), region: virginia}, okFrom(virginia, 500))
	at := func(n int) time.Time { return origin.Add(ms(n)) }
	first := []struct {
		region string
		after  int
		want   int // answer time in ms; -1 none
	}{
		{region: "virginia", after: 0, want: 320},
		{region: "virginia", after: 320, want: 330},
		{region: "virginia", after: 330, want: 510},
		{region: "virginia", after: 510, want: -1},
		{region: "seoul", after: -10, want: 10},
		{region: "seoul", after: 10, want: -1},
		{region: "tokyo", after: 0, want: -1},
	}
	for _, tc := range first {
		got, ok := tr.FirstSuccessFrom(tc.region, at(tc.after))
		if tc.want < 0 && ok || tc.want >= 0 && (!ok || !got.Equal(at(tc.want))) {
			t.Errorf("FirstSuccessFrom(%s, %dms) = %v, %v; want %dms", tc.region, tc.after, got.Sub(origin), ok, tc.want)
		}
	}
	errs := []struct{ from, to, want int }{
		{0, 1000, 3}, {100, 200, 1}, {101, 400, 1}, {0, 100, 0}, {400, 401, 1},
	}
	for _, tc := range errs {
		if got := tr.Errors(at(tc.from), at(tc.to)); got != tc.want {
			t.Errorf("Errors(%d, %d) = %d, want %d", tc.from, tc.to, got, tc.want)
		}
	}
}

func TestSamples(t *testing.T) {
	reqs := []request{failed(350)}
	for i := range 100 { // bucket 0: latencies 1..100ms from seoul
		reqs = append(reqs, request{start: ms(i % 100), latency: ms(i + 1), region: seoul, ok: true})
	}
	reqs = append(reqs, request{start: ms(310), latency: ms(7), region: virginia, ok: true},
		request{start: ms(320), latency: ms(9), region: -1, ok: true})
	tr, origin := recorded(t, ms(1000), reqs...)
	got := tr.Samples()
	if len(got) != 4 {
		t.Fatalf("%d samples, want 4: %+v", len(got), got)
	}
	want := []Sample{
		{Start: origin, Requests: 100, P50Ms: 50, P99Ms: 99, Regions: map[string]int{"seoul": 100}},
		{Start: origin.Add(ms(100)), Regions: map[string]int{}},
		{Start: origin.Add(ms(200)), Regions: map[string]int{}},
		{Start: origin.Add(ms(300)), Requests: 3, Errors: 1, P50Ms: 7, P99Ms: 9, Regions: map[string]int{"virginia": 1}},
	}
	for i := range want {
		g, w := got[i], want[i]
		if !g.Start.Equal(w.Start) || g.Requests != w.Requests || g.Errors != w.Errors ||
			g.P50Ms != w.P50Ms || g.P99Ms != w.P99Ms || fmt.Sprint(g.Regions) != fmt.Sprint(w.Regions) {
			t.Errorf("sample %d = %+v, want %+v", i, g, w)
		}
	}
}

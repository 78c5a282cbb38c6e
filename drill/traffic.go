package drill

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sync/singleflight"
	"golang.org/x/time/rate"
)

// Defaults of TrafficOptions.
const (
	DefaultRate       = 20.0
	DefaultWriteRatio = 0.5
	DefaultTimeout    = time.Second
	DefaultBucket     = 250 * time.Millisecond
)

// RegionHeader is the response header naming the region that answered.
const RegionHeader = "X-Pilotlight-Region"

const (
	minWorkers = 8
	maxWorkers = 256
	maxRate    = 10_000
	maxBody    = 1 << 20 // bytes read of a response body
	writeItem  = "drill-ticket"
)

// clientPattern is what the example app accepts as a client ID.
var clientPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// TrafficOptions configures synthetic traffic. Zero fields take their default.
type TrafficOptions struct {
	// DNSServer is the address ("127.0.0.1:5353") of the DNS server that
	// answers Name; it is queried over UDP, never through /etc/hosts.
	DNSServer string
	// Name is the record the clients resolve, e.g. "www.ticketing.test.".
	Name string
	// Port is the HTTP port of the load balancers.
	Port int
	// Rate is the total requests per second (default 20).
	Rate float64
	// WriteRatio is the fraction of requests that are POST /orders, in
	// (0, 1] (default 0.5; zero means the default).
	WriteRatio float64
	// Client is the client ID of order writes (default "drill-<random>").
	Client string
	// Timeout bounds each request, DNS lookup included (default 1s).
	Timeout time.Duration
	// Bucket is the aggregation interval of Samples (default 250ms).
	Bucket time.Duration
	// Clock stamps requests and expires DNS answers (default time.Now).
	Clock func() time.Time
	// Logger receives answer changes and error/recovery transitions (default discards).
	Logger *slog.Logger
}

// Sample aggregates the requests issued during one bucket.
type Sample struct {
	Start    time.Time `json:"start"`
	Requests int       `json:"requests"` // finished requests issued in the bucket
	Errors   int       `json:"errors"`
	// P50Ms and P99Ms are latency percentiles of the successful requests (0 if none).
	P50Ms float64 `json:"p50Ms"`
	P99Ms float64 `json:"p99Ms"`
	// Regions counts successful responses by the region that answered.
	Regions map[string]int `json:"regions"`
}

// Write is one order write attempt.
type Write struct {
	Seq     int64         `json:"seq"`
	ID      string        `json:"id"`
	Region  string        `json:"region,omitempty"` // region that acknowledged it
	SentAt  time.Time     `json:"sentAt"`
	AckedAt time.Time     `json:"ackedAt,omitzero"` // client clock; zero if not acknowledged
	Latency time.Duration `json:"latency"`
}

// Traffic is a pool of synthetic clients behind a caching stub resolver.
// Writes are POST /orders with sequence numbers 1, 2, … (a failed write is
// not retried); reads alternate GET / and GET /orders/{id} of the latest
// acknowledged write, so a write lost in a failover shows as a failed read
// until the next write is acknowledged. A request succeeds on 200 (201 and
// the expected order ID for writes). Memory grows by about 32 bytes per
// request. Its methods are safe for concurrent use; Run may be called once.
type Traffic struct {
	o       TrafficOptions
	log     *slog.Logger
	res     *resolver
	tr      *http.Transport
	hc      *http.Client
	host    string // Host header: Name without the trailing dot
	port    string
	workers int

	mu        sync.Mutex
	started   bool
	origin    time.Time
	reqs      []request
	inflight  map[int]int // bucket → requests not finished yet
	regions   []string
	regionIdx map[string]int32
	seq       int64
	reads     int
	acked     []Write
	unacked   []Write
	lastAcked string
	failing   bool
}

// request is the compact record of one finished request.
type request struct {
	start   time.Duration // since origin
	latency time.Duration
	region  int32 // index into Traffic.regions; -1 when not known
	ok      bool
}

// NewTraffic validates o, fills in defaults and returns traffic ready to Run.
func NewTraffic(o TrafficOptions) (*Traffic, error) {
	if o.Rate == 0 {
		o.Rate = DefaultRate
	}
	if o.WriteRatio == 0 {
		o.WriteRatio = DefaultWriteRatio
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Bucket == 0 {
		o.Bucket = DefaultBucket
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Client == "" {
		o.Client = "drill-" + strings.ToLower(rand.Text()[:8])
	}
	if o.Name != "" {
		o.Name = dns.Fqdn(o.Name)
	}
	if _, _, err := net.SplitHostPort(o.DNSServer); err != nil {
		return nil, fmt.Errorf("drill: traffic option DNSServer %q: %w", o.DNSServer, err)
	}
	switch {
	case o.Name == "" || len(o.Name) > 254:
		return nil, fmt.Errorf("drill: traffic option Name %q: must be a domain name", o.Name)
	case o.Port < 1 || o.Port > 65535:
		return nil, fmt.Errorf("drill: traffic option Port %d: must be in 1..65535", o.Port)
	case !(o.Rate > 0 && o.Rate <= maxRate):
		return nil, fmt.Errorf("drill: traffic option Rate %g: must be in (0, %d]", o.Rate, maxRate)
	case !(o.WriteRatio > 0 && o.WriteRatio <= 1):
		return nil, fmt.Errorf("drill: traffic option WriteRatio %g: must be in (0, 1]", o.WriteRatio)
	case !clientPattern.MatchString(o.Client):
		return nil, fmt.Errorf("drill: traffic option Client %q: must match %s", o.Client, clientPattern)
	case o.Timeout < 0:
		return nil, fmt.Errorf("drill: traffic option Timeout %s: must be positive", o.Timeout)
	case o.Bucket < time.Millisecond:
		return nil, fmt.Errorf("drill: traffic option Bucket %s: must be at least 1ms", o.Bucket)
	}
	if _, ok := dns.IsDomainName(o.Name); !ok {
		return nil, fmt.Errorf("drill: traffic option Name %q: must be a domain name", o.Name)
	}

	// Enough workers that requests hanging for the whole Timeout do not
	// slow the pacing down.
	workers := int(math.Ceil(o.Rate*o.Timeout.Seconds())) + 2
	workers = min(max(workers, minWorkers), maxWorkers)
	tr := &http.Transport{
		Proxy:                 nil, // drills talk to the load balancers directly
		DialContext:           (&net.Dialer{Timeout: o.Timeout}).DialContext,
		MaxIdleConnsPerHost:   workers,
		IdleConnTimeout:       2 * time.Second,
		ResponseHeaderTimeout: o.Timeout,
		DisableCompression:    true,
	}
	log := o.Logger.With("component", "drill-traffic")
	return &Traffic{
		o:   o,
		log: log,
		res: &resolver{
			server: o.DNSServer,
			name:   o.Name,
			client: &dns.Client{Net: "udp", Timeout: o.Timeout},
			clock:  o.Clock,
			log:    log,
		},
		tr:        tr,
		hc:        &http.Client{Transport: tr, CheckRedirect: noRedirects},
		host:      strings.TrimSuffix(o.Name, "."),
		port:      strconv.Itoa(o.Port),
		workers:   workers,
		inflight:  map[int]int{},
		regionIdx: map[string]int32{},
	}, nil
}

// Client returns the client ID of the order writes.
func (t *Traffic) Client() string { return t.o.Client }

func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

type kind uint8

const (
	kindRead kind = iota
	kindWrite
)

// Run issues requests at Rate until ctx ends, then waits for the requests in
// flight (at most Timeout) so that stopping is not counted as errors. It
// returns nil when ctx ends, and an error only if Run was called before.
func (t *Traffic) Run(ctx context.Context) error {
	t.mu.Lock()
	if t.started {
		t.mu.Unlock()
		return errors.New("drill: run traffic: already started")
	}
	t.started = true
	t.origin = t.o.Clock()
	t.mu.Unlock()

	jobs := make(chan kind)
	var wg sync.WaitGroup
	reqCtx := context.WithoutCancel(ctx)
	for range t.workers {
		wg.Go(func() {
			for k := range jobs {
				t.do(reqCtx, k)
			}
		})
	}
	defer func() {
		close(jobs)
		wg.Wait()
		t.tr.CloseIdleConnections()
	}()

	lim := rate.NewLimiter(rate.Limit(t.o.Rate), 1)
	var writeAcc float64
	for {
		if err := lim.Wait(ctx); err != nil {
			return nil // ctx ended, or ends before the next request is due
		}
		k := kindRead
		if writeAcc += t.o.WriteRatio; writeAcc >= 1 {
			writeAcc--
			k = kindWrite
		}
		select {
		case jobs <- k:
		case <-ctx.Done():
			return nil
		}
	}
}

// do issues one request and records its outcome.
func (t *Traffic) do(ctx context.Context, k kind) {
	start := t.o.Clock()
	t.mu.Lock()
	b := t.bucketOf(start)
	t.inflight[b]++
	var w Write
	path := "/"
	if k == kindWrite {
		t.seq++
		w = Write{Seq: t.seq, ID: fmt.Sprintf("%s-%012d", t.o.Client, t.seq), SentAt: start}
	} else {
		if t.reads%2 == 1 && t.lastAcked != "" {
			path = "/orders/" + t.lastAcked
		}
		t.reads++
	}
	t.mu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, t.o.Timeout)
	defer cancel()
	var region string
	var err error
	if k == kindWrite {
		region, err = t.write(ctx, w)
	} else {
		region, err = t.read(ctx, path)
	}
	end := t.o.Clock()
	w.Latency = end.Sub(start)
	if err != nil {
		t.tr.CloseIdleConnections()
	}

	t.mu.Lock()
	defer t.mu.Unlock()
	if t.inflight[b]--; t.inflight[b] <= 0 {
		delete(t.inflight, b)
	}
	t.reqs = append(t.reqs, request{
		start:   start.Sub(t.origin),
		latency: end.Sub(start),
		region:  t.regionIndex(region),
		ok:      err == nil,
	})
	if k == kindWrite {
		if err == nil {
			w.Region, w.AckedAt = region, end
			t.acked = append(t.acked, w)
			t.lastAcked = w.ID
		} else {
			t.unacked = append(t.unacked, w)
		}
	}
	switch {
	case err != nil && !t.failing:
		t.failing = true
		t.log.Warn("requests failing", "err", err)
	case err == nil && t.failing:
		t.failing = false
		t.log.Info("requests succeeding", "region", region)
	}
}

// orderRequest and orderReceipt are the example app's POST /orders body and answer.
type orderRequest struct {
	Client string `json:"client"`
	Seq    int64  `json:"seq"`
	Item   string `json:"item"`
	Qty    int    `json:"qty"`
}

type orderReceipt struct {
	ID     string `json:"id"`
	Region string `json:"region"`
}

// write posts order w; nil means the app acknowledged exactly this order.
func (t *Traffic) write(ctx context.Context, w Write) (string, error) {
	body, err := json.Marshal(orderRequest{Client: t.o.Client, Seq: w.Seq, Item: writeItem, Qty: 1})
	if err != nil {
		return "", fmt.Errorf("drill: encode order %s: %w", w.ID, err)
	}
	status, region, data, err := t.exchange(ctx, http.MethodPost, "/orders", body)
	if err != nil {
		return region, err
	}
	if status != http.StatusCreated {
		return region, fmt.Errorf("drill: POST /orders %s: status %d", w.ID, status)
	}
	var rc orderReceipt
	if err := json.Unmarshal(data, &rc); err != nil {
		return region, fmt.Errorf("drill: POST /orders %s: decode receipt: %w", w.ID, err)
	}
	if rc.ID != w.ID {
		return region, fmt.Errorf("drill: POST /orders %s: receipt for %q", w.ID, rc.ID)
	}
	if rc.Region != "" {
		region = rc.Region
	}
	return region, nil
}

// read gets path and expects 200.
func (t *Traffic) read(ctx context.Context, path string) (string, error) {
	status, region, _, err := t.exchange(ctx, http.MethodGet, path, nil)
	if err == nil && status != http.StatusOK {
		err = fmt.Errorf("drill: GET %s: status %d", path, status)
	}
	return region, err
}

// exchange resolves Name and sends one request to the address it answers.
func (t *Traffic) exchange(ctx context.Context, method, path string, body []byte) (status int, region string, data []byte, err error) {
	addr, err := t.res.lookup(ctx)
	if err != nil {
		return 0, "", nil, err
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	url := "http://" + net.JoinHostPort(addr.String(), t.port) + path
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, "", nil, fmt.Errorf("drill: %s %s: %w", method, path, err)
	}
	req.Host = t.host
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := t.hc.Do(req)
	if err != nil {
		return 0, "", nil, fmt.Errorf("drill: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	region = resp.Header.Get(RegionHeader)
	data, err = io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return resp.StatusCode, region, nil, fmt.Errorf("drill: %s %s: read body: %w", method, path, err)
	}
	return resp.StatusCode, region, data, nil
}

// bucketOf returns the bucket index of time at; t.mu must be held.
func (t *Traffic) bucketOf(at time.Time) int {
	return int(max(at.Sub(t.origin), 0) / t.o.Bucket)
}

// regionIndex interns region; t.mu must be held.
func (t *Traffic) regionIndex(region string) int32 {
	if region == "" {
		return -1
	}
	i, ok := t.regionIdx[region]
	if !ok {
		i = int32(len(t.regions))
		t.regions = append(t.regions, region)
		t.regionIdx[region] = i
	}
	return i
}

// Samples returns one sample per bucket from the start of Run to the bucket
// of the latest finished request; requests count in the bucket they were
// issued in.
func (t *Traffic) Samples() []Sample {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.reqs) == 0 {
		return nil
	}
	last := 0
	for _, r := range t.reqs {
		last = max(last, t.bucketIndex(r.start))
	}
	out := make([]Sample, last+1)
	lat := make([][]time.Duration, last+1)
	for i := range out {
		out[i].Start = t.origin.Add(time.Duration(i) * t.o.Bucket)
		out[i].Regions = map[string]int{}
	}
	for _, r := range t.reqs {
		i := t.bucketIndex(r.start)
		s := &out[i]
		s.Requests++
		if !r.ok {
			s.Errors++
			continue
		}
		lat[i] = append(lat[i], r.latency)
		if r.region >= 0 {
			s.Regions[t.regions[r.region]]++
		}
	}
	for i := range out {
		out[i].P50Ms = percentileMs(lat[i], 0.50)
		out[i].P99Ms = percentileMs(lat[i], 0.99)
	}
	return out
}

func (t *Traffic) bucketIndex(start time.Duration) int { return int(max(start, 0) / t.o.Bucket) }

// percentileMs returns the nearest-rank percentile p of ds in milliseconds;
// it sorts ds.
func percentileMs(ds []time.Duration, p float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	i := max(int(math.Ceil(p*float64(len(ds))))-1, 0)
	return float64(ds[i].Microseconds()) / 1000
}

// Acked returns every acknowledged write, in sequence order.
func (t *Traffic) Acked() []Write {
	t.mu.Lock()
	defer t.mu.Unlock()
	return sortedBySeq(t.acked)
}

// Unacked returns every write attempt that was not acknowledged, in sequence
// order. The app may still have stored some of them; they do not count for RPO.
func (t *Traffic) Unacked() []Write {
	t.mu.Lock()
	defer t.mu.Unlock()
	return sortedBySeq(t.unacked)
}

func sortedBySeq(ws []Write) []Write {
	out := slices.Clone(ws)
	slices.SortFunc(out, func(a, b Write) int { return cmp.Compare(a.Seq, b.Seq) })
	return out
}

// FirstSuccessFrom returns the time the first successful response from
// region arrived after the time after.
func (t *Traffic) FirstSuccessFrom(region string, after time.Time) (time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ri, ok := t.regionIdx[region]
	if !ok {
		return time.Time{}, false
	}
	var first time.Duration
	found := false
	limit := after.Sub(t.origin)
	for _, r := range t.reqs {
		if done := r.start + r.latency; r.ok && r.region == ri && done > limit && (!found || done < first) {
			first, found = done, true
		}
	}
	if !found {
		return time.Time{}, false
	}
	return t.origin.Add(first), true
}

// StableSince returns the start of the current run of buckets in which every
// request succeeded and was answered by region, when that run lasts at least
// window. Only settled buckets count: past buckets with no request still in
// flight. Buckets without requests neither break nor extend a run.
func (t *Traffic) StableSince(region string, window time.Duration) (time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.started {
		return time.Time{}, false
	}
	settled := t.bucketOf(t.o.Clock()) - 1 // the current bucket is still open
	for b := range t.inflight {
		settled = min(settled, b-1)
	}
	if settled < 0 {
		return time.Time{}, false
	}
	type tally struct{ requests, good int }
	tallies := make([]tally, settled+1)
	ri, known := t.regionIdx[region]
	for _, r := range t.reqs {
		b := t.bucketIndex(r.start)
		if b > settled {
			continue
		}
		tallies[b].requests++
		if r.ok && known && r.region == ri {
			tallies[b].good++
		}
	}
	end, first := -1, -1
	for b := settled; b >= 0; b-- {
		tl := tallies[b]
		if tl.requests == 0 {
			continue
		}
		if tl.good != tl.requests {
			break
		}
		if end < 0 {
			end = b
		}
		first = b
	}
	if first < 0 || time.Duration(end-first+1)*t.o.Bucket < window {
		return time.Time{}, false
	}
	return t.origin.Add(time.Duration(first) * t.o.Bucket), true
}

// Errors returns the number of failed requests issued in [from, to).
func (t *Traffic) Errors(from, to time.Time) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	lo, hi := from.Sub(t.origin), to.Sub(t.origin)
	n := 0
	for _, r := range t.reqs {
		if !r.ok && r.start >= lo && r.start < hi {
			n++
		}
	}
	return n
}

// resolver is a caching stub resolver for one A record: it keeps an answer
// for its TTL (a TTL of 0 is not cached) and rotates among its addresses.
type resolver struct {
	server, name string
	client       *dns.Client
	clock        func() time.Time
	log          *slog.Logger
	group        singleflight.Group

	mu      sync.Mutex
	addrs   []netip.Addr
	expires time.Time
	next    int
	last    string // last answer, for logging changes
}

// lookup returns an address of the name, from the cache while it is fresh.
func (r *resolver) lookup(ctx context.Context) (netip.Addr, error) {
	r.mu.Lock()
	if len(r.addrs) > 0 && r.clock().Before(r.expires) {
		a := r.addrs[r.next%len(r.addrs)]
		r.next++
		r.mu.Unlock()
		return a, nil
	}
	r.mu.Unlock()
	v, err, _ := r.group.Do("A", func() (any, error) { return r.query(ctx) })
	if err != nil {
		return netip.Addr{}, err
	}
	addrs := v.([]netip.Addr)
	r.mu.Lock()
	defer r.mu.Unlock()
	a := addrs[r.next%len(addrs)]
	r.next++
	return a, nil
}

// query asks the server and caches the answer for its smallest TTL.
func (r *resolver) query(ctx context.Context) ([]netip.Addr, error) {
	m := new(dns.Msg)
	m.SetQuestion(r.name, dns.TypeA)
	in, _, err := r.client.ExchangeContext(ctx, m, r.server)
	if err != nil {
		return nil, fmt.Errorf("drill: resolve %s: %w", r.name, err)
	}
	if in.Rcode != dns.RcodeSuccess {
		return nil, fmt.Errorf("drill: resolve %s: %s", r.name, dns.RcodeToString[in.Rcode])
	}
	var addrs []netip.Addr
	ttl := uint32(math.MaxUint32)
	for _, rr := range in.Answer {
		a, ok := rr.(*dns.A)
		if !ok {
			continue
		}
		if addr, ok := netip.AddrFromSlice(a.A.To4()); ok {
			addrs = append(addrs, addr)
			ttl = min(ttl, a.Hdr.Ttl)
		}
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("drill: resolve %s: no A record in the answer", r.name)
	}
	now := r.clock()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.addrs, r.expires = nil, time.Time{}
	if ttl > 0 {
		r.addrs, r.expires = addrs, now.Add(time.Duration(ttl)*time.Second)
	}
	if s := fmt.Sprint(addrs); s != r.last {
		r.log.Info("answer changed", "name", r.name, "from", r.last, "to", s, "ttl", ttl)
		r.last = s
	}
	return addrs, nil
}

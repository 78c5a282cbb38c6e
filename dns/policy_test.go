package dns

import (
	"bytes"
	"context"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/pilotlight/pilotlight/health"
)

// countAnswers asks n times over UDP and counts the A answers.
func countAnswers(t *testing.T, addr, name string, n int) map[string]int {
	t.Helper()
	c := &mdns.Client{Net: "udp", Timeout: 2 * time.Second}
	counts := make(map[string]int)
	m := new(mdns.Msg)
	m.SetQuestion(name, mdns.TypeA)
	for range n {
		r, _, err := c.Exchange(m, addr)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Answer) != 1 {
			t.Fatalf("weighted answer %v", r.Answer)
		}
		counts[r.Answer[0].(*mdns.A).A.String()]++
	}
	return counts
}

func TestWeightedDistribution(t *testing.T) {
	src := newFakeSource()
	_, udp, _ := testServer(t, testConfig(), src, Options{Rand: rand.New(rand.NewPCG(1, 2))})
	const n = 2000
	tests := []struct {
		name              string
		primary, recovery health.State
		want              map[string]float64 // expected share
	}{
		{"both healthy 3:1", health.Healthy, health.Unknown, map[string]float64{"127.0.1.3": 0.75, "127.0.2.3": 0.25}},
		{"primary unhealthy", health.Unhealthy, health.Healthy, map[string]float64{"127.0.2.3": 1}},
		{"recovery unhealthy", health.Healthy, health.Unhealthy, map[string]float64{"127.0.1.3": 1}},
		{"all unhealthy fails open by weight", health.Unhealthy, health.Unhealthy, map[string]float64{"127.0.1.3": 0.75, "127.0.2.3": 0.25}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src.set("cdn/primary", tt.primary)
			src.set("cdn/recovery", tt.recovery)
			counts := countAnswers(t, udp, "cdn.shop.test.", n)
			// Chi-square against the expected shares; 1 degree of freedom,
			// 10.83 is the 0.1% critical value.
			chi := 0.0
			for addr, got := range counts {
				share, ok := tt.want[addr]
				if !ok {
					t.Fatalf("answered %s (%d times), not expected; counts %v", addr, got, counts)
				}
				exp := share * n
				chi += (float64(got) - exp) * (float64(got) - exp) / exp
			}
			if chi > 10.83 {
				t.Errorf("counts %v far from shares %v (chi-square %.1f)", counts, tt.want, chi)
			}
		})
	}
}

func TestPickWeightedZeroWeightNeverChosen(t *testing.T) {
	s, err := NewServer(Config{}, nil, Options{Rand: rand.New(rand.NewPCG(3, 4))})
	if err != nil {
		t.Fatal(err)
	}
	ws := []weighted{{target: target{data: []rdata{{name: "a."}}}, weight: 0}, {target: target{data: []rdata{{name: "b."}}}, weight: 5}}
	for range 500 {
		if got := s.pickWeighted(ws); got[0].name != "b." {
			t.Fatalf("weight 0 member chosen")
		}
	}
}

func TestReloadUnderLoad(t *testing.T) {
	s, udp, tcp := testServer(t, testConfig(), nil, Options{})
	alt := testConfig()
	alt.Zones[0].Records[3].Values = []string{"192.0.2.200"} // the apex A
	var failures, total atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			network, addr := "udp", udp
			if i%2 == 1 {
				network, addr = "tcp", tcp
			}
			c := &mdns.Client{Net: network, Timeout: 2 * time.Second}
			m := new(mdns.Msg)
			m.SetQuestion("shop.test.", mdns.TypeA)
			for {
				select {
				case <-stop:
					return
				default:
				}
				r, _, err := c.Exchange(m, addr)
				total.Add(1)
				if err != nil || r.Rcode != mdns.RcodeSuccess || len(r.Answer) != 1 {
					failures.Add(1)
					continue
				}
				if a := r.Answer[0].(*mdns.A).A.String(); a != "192.0.2.1" && a != "192.0.2.200" {
					failures.Add(1)
				}
			}
		}()
	}
	deadline := time.Now().Add(time.Second)
	reloads := 0
	for time.Now().Before(deadline) && reloads < 200 {
		cfg := testConfig()
		if reloads%2 == 0 {
			cfg = alt
		}
		if err := s.Reload(cfg); err != nil {
			t.Fatal(err)
		}
		reloads++
		time.Sleep(2 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if failures.Load() != 0 || total.Load() < 50 {
		t.Errorf("%d of %d queries failed across %d reloads", failures.Load(), total.Load(), reloads)
	}
	// A bad configuration is rejected and the old one keeps serving.
	bad := testConfig()
	bad.Zones[0].Records[0].Primary = []string{"not-an-ip"}
	if err := s.Reload(bad); err == nil || !strings.HasPrefix(err.Error(), "dns: reload: dns: config zone shop.test.") {
		t.Errorf("Reload(bad) = %v", err)
	}
	if r := query(t, "udp", udp, "www.shop.test.", mdns.TypeA, 0); len(r.Answer) != 1 {
		t.Errorf("after a failed reload: %v", r)
	}
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestTransitionsLogged(t *testing.T) {
	var buf syncBuffer
	src := newFakeSource()
	log := slog.New(slog.NewTextHandler(&buf, nil))
	s, err := NewServer(testConfig(), src, Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if _, _, err := s.Start(ctx, "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	src.set("unrelated/primary", health.Unhealthy)
	src.set("www/primary", health.Unhealthy)
	deadline := time.Now().Add(2 * time.Second)
	for !strings.Contains(buf.String(), "target=www/primary") && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := s.Wait(); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, "routing target changed") || !strings.Contains(out, "to=unhealthy") {
		t.Errorf("transition not logged:\n%s", out)
	}
	if strings.Contains(out, "unrelated") {
		t.Errorf("a target outside the configuration was logged:\n%s", out)
	}
	src.mu.Lock()
	defer src.mu.Unlock()
	if len(src.subs) != 0 {
		t.Errorf("%d subscriptions left after stop", len(src.subs))
	}
}

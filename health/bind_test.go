package health_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pilotlight/pilotlight/health"
	"github.com/pilotlight/pilotlight/plan"
)

func testPlan() *plan.Plan {
	return &plan.Plan{
		Name: "ticketing",
		Regions: plan.Regions{
			Primary:  plan.Region{Name: "seoul", Provider: plan.ProviderLocal, Network: "127.0.201.0/24"},
			Recovery: plan.Region{Name: "tokyo", Provider: plan.ProviderLocal, Network: "127.0.202.0/24"},
		},
		Services: []plan.Service{
			{Name: "api", LoadBalancer: &plan.LoadBalancer{Port: 8081}},
			{Name: "web", LoadBalancer: &plan.LoadBalancer{Port: 80}},
		},
		Routing: &plan.Routing{Zone: "ticketing.test.", Records: []plan.Record{
			{Name: "www", Service: "web", Policy: plan.PolicyFailover, HealthCheck: &plan.HealthCheck{
				Type: plan.CheckHTTPS, Path: "/ready", Interval: plan.Duration(time.Second),
				Timeout: plan.Duration(500 * time.Millisecond), FailureThreshold: 4, SuccessThreshold: 3,
				ExpectStatus: "200-204", Body: "ok", InsecureSkipVerify: true,
			}},
			{Name: "static", Service: "web", Policy: plan.PolicySimple},
			{Name: "api", Service: "api", Policy: plan.PolicyFailover, HealthCheck: &plan.HealthCheck{
				Type: plan.CheckTCP, Port: 9443,
			}},
		}},
	}
}

// localResolver mimics the local provider: service i's load balancer is
// host .(2+i) of the region's /24.
func localResolver(p *plan.Plan) health.Resolver {
	return func(role string, svc *plan.Service) (string, int, error) {
		network := p.Regions.Primary.Network
		if role == health.RoleRecovery {
			network = p.Regions.Recovery.Network
		}
		for i := range p.Services {
			if p.Services[i].Name == svc.Name {
				return strings.TrimSuffix(network, "0/24") + strconv.Itoa(2+i), svc.LoadBalancer.Port, nil
			}
		}
		return "", 0, fmt.Errorf("service %s not found", svc.Name)
	}
}

func TestFromPlan(t *testing.T) {
	p := testPlan()
	rule, _ := health.ParseRule("all")
	targets, err := health.FromPlan(p, localResolver(p), health.BindingOptions{Vantages: 3, Rule: rule})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		id, addr   string
		check      health.Check
		interval   time.Duration
		fail, pass int
	}{
		{"www/primary", "127.0.201.3:80", health.Check{Type: "https", Path: "/ready", ExpectMin: 200, ExpectMax: 204,
			Body: "ok", Timeout: 500 * time.Millisecond, InsecureSkipVerify: true}, time.Second, 4, 3},
		{"www/recovery", "127.0.202.3:80", health.Check{Type: "https", Path: "/ready", ExpectMin: 200, ExpectMax: 204,
			Body: "ok", Timeout: 500 * time.Millisecond, InsecureSkipVerify: true}, time.Second, 4, 3},
		{"api/primary", "127.0.201.2:9443", health.Check{Type: "tcp", Path: "/healthz", ExpectMin: 200, ExpectMax: 399,
			Timeout: time.Second}, 0, 0, 0},
		{"api/recovery", "127.0.202.2:9443", health.Check{Type: "tcp", Path: "/healthz", ExpectMin: 200, ExpectMax: 399,
			Timeout: time.Second}, 0, 0, 0},
	}
	if len(targets) != len(want) {
		t.Fatalf("FromPlan() made %d targets, want %d", len(targets), len(want))
	}
	for i, w := range want {
		tg := targets[i]
		w.check.Target = w.addr
		if tg.ID() != w.id || tg.Check() != w.check {
			t.Errorf("target %d = %s %+v, want %s %+v", i, tg.ID(), tg.Check(), w.id, w.check)
		}
		st := tg.Status()
		if len(st.Votes) != 3 || st.Votes["local-2"] != health.Unknown || tg.Rule() != rule {
			t.Errorf("target %s votes %v rule %v, want 3 local vantages and all", tg.ID(), st.Votes, tg.Rule())
		}
	}
}

func TestFromPlanErrors(t *testing.T) {
	fail := func(string, *plan.Service) (string, int, error) { return "", 0, errors.New("no such region") }
	tests := []struct {
		name    string
		mutate  func(*plan.Plan)
		resolve health.Resolver
		want    string
	}{
		{"unknown service", func(p *plan.Plan) { p.Routing.Records[0].Service = "nope" }, nil, `bind record www: service "nope" not in plan`},
		{"no load balancer", func(p *plan.Plan) { p.Services[1].LoadBalancer = nil }, nil, "bind record www: service web has no load balancer"},
		{"resolver fails", func(*plan.Plan) {}, fail, "bind target www/primary: resolve web: no such region"},
		{"bad check path", func(p *plan.Plan) { p.Routing.Records[0].HealthCheck.Path = "ready" }, nil, `path "ready" must start with /`},
		{"bad type", func(p *plan.Plan) { p.Routing.Records[0].HealthCheck.Type = "icmp" }, nil, `unsupported type "icmp"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPlan()
			tt.mutate(p)
			resolve := tt.resolve
			if resolve == nil {
				resolve = localResolver(p)
			}
			_, err := health.FromPlan(p, resolve)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "health: ") {
				t.Fatalf("FromPlan() = %v, want error containing %q", err, tt.want)
			}
		})
	}
	if ts, err := health.FromPlan(&plan.Plan{}, nil); err != nil || ts != nil {
		t.Fatalf("FromPlan(no routing) = %v, %v", ts, err)
	}
	if _, err := health.FromPlan(testPlan(), nil); err == nil {
		t.Fatal("FromPlan(nil resolver) = nil error")
	}
	if _, err := health.FromPlan(testPlan(), localResolver(testPlan()), health.BindingOptions{Rule: health.Rule{Kind: "x"}}); err == nil {
		t.Fatal("FromPlan(bad rule) = nil error")
	}
}

// TestFromPlanProbesRealEndpoints runs bound targets in a Registry against
// a live HTTP endpoint (primary) and a closed port (recovery).
func TestFromPlanProbesRealEndpoints(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, "status: ok")
	}))
	defer srv.Close()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().(*net.TCPAddr)
	closed.Close()
	live := srv.Listener.Addr().(*net.TCPAddr)

	p := &plan.Plan{
		Services: []plan.Service{{Name: "web", LoadBalancer: &plan.LoadBalancer{Port: 80}}},
		Routing: &plan.Routing{Zone: "t.test.", Records: []plan.Record{{Name: "www", Service: "web",
			HealthCheck: &plan.HealthCheck{Type: plan.CheckHTTP, Interval: plan.Duration(5 * time.Millisecond),
				Timeout: plan.Duration(time.Second), FailureThreshold: 1, SuccessThreshold: 1, Body: "ok"}}}},
	}
	resolve := func(role string, _ *plan.Service) (string, int, error) {
		if role == health.RolePrimary {
			return "127.0.0.1", live.Port, nil
		}
		return "127.0.0.1", closedAddr.Port, nil
	}
	targets, err := health.FromPlan(p, resolve, health.BindingOptions{Vantages: 2})
	if err != nil {
		t.Fatal(err)
	}
	reg := health.NewRegistry(health.RegistryOptions{})
	for _, tg := range targets {
		if err := reg.Add(tg); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- reg.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	eventually(t, func() bool {
		return reg.Health("www/primary") == health.Healthy && reg.Health("www/recovery") == health.Unhealthy
	})
	st := reg.Statuses()
	if len(st) != 2 || !strings.Contains(st[1].Reason, "connection refused") {
		t.Fatalf("Statuses() = %+v", st)
	}
}

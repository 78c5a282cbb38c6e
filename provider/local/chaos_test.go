package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"go.uber.org/goleak"

	"github.com/pilotlight/pilotlight/plan"
	"github.com/pilotlight/pilotlight/provider/local/compute"
	"github.com/pilotlight/pilotlight/provider/local/objstore"
)

// The test binary doubles as the regions' child processes: with the first
// argument storeChildArg it serves an object store (Options.ExeArgs), with
// instanceEnv=instance in its environment it is a service instance.
const (
	storeChildArg = "local-test-store"
	instanceEnv   = "LOCAL_TEST_CHILD"
)

func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == storeChildArg {
		os.Exit(serveChild(func(ctx context.Context) error { return objstore.ServeMain(ctx, os.Args[2:], os.Stdout) }))
	}
	if os.Getenv(instanceEnv) == "instance" {
		os.Exit(serveChild(serveInstance))
	}
	// Children of a -race build would sleep 1 s at exit, and versitygw's
	// own race (docs/decisions/0002) must not fail the store.
	os.Setenv("GORACE", "atexit_sleep_ms=0 exitcode=0")
	goleak.VerifyTestMain(m,
		// Idle keep-alive connections of the SDK's HTTP client pool.
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
	)
}

func serveChild(serve func(context.Context) error) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := serve(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// serveInstance answers / with the instance ID and /healthz with 200.
func serveInstance(ctx context.Context) error {
	ln, err := net.Listen("tcp", os.Getenv("PILOTLIGHT_ADDR"))
	if err != nil {
		return err
	}
	id := os.Getenv("PILOTLIGHT_INSTANCE_ID")
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, id)
	})}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// syncBuffer collects logs, printed when a test fails.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testDeployment is a pilot-light deployment of the test binary: service
// web (2 instances behind a load balancer) and worker (1 instance, no load
// balancer) in the primary region prim (127.0.241.0/24); nothing but the
// store runs in the recovery region reco (127.0.242.0/24).
type testDeployment struct {
	*Deployment
	logs *syncBuffer
	pids map[int]bool // every child process seen
}

func startTestDeployment(t *testing.T) *testDeployment {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	local := &plan.LocalCompute{Command: []string{exe}, Port: 8080, Env: map[string]string{instanceEnv: "instance"}}
	p := &plan.Plan{
		Name:     "chaos",
		Strategy: plan.PilotLight,
		Regions: plan.Regions{
			Primary:  plan.Region{Name: "prim", Provider: plan.ProviderLocal, Network: "127.0.241.0/24"},
			Recovery: plan.Region{Name: "reco", Provider: plan.ProviderLocal, Network: "127.0.242.0/24"},
		},
		Data: plan.Data{Buckets: []plan.Bucket{{Name: "orders"}}},
		Services: []plan.Service{
			{Name: "web", Compute: plan.Compute{Count: 2, Local: local}, LoadBalancer: &plan.LoadBalancer{
				Port: 8080,
				HealthCheck: &plan.HealthCheck{
					Path: "/healthz", Interval: plan.Duration(100 * time.Millisecond), Timeout: plan.Duration(time.Second),
					FailureThreshold: 1, SuccessThreshold: 1,
				},
			}},
			{Name: "worker", Compute: plan.Compute{Count: 1, Local: local}},
		},
	}
	logs := &syncBuffer{}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	d, err := Up(ctx, p, Options{
		StateDir:      t.TempDir(),
		Exe:           exe,
		ExeArgs:       []string{storeChildArg},
		NetworkFaults: true,
		Logger:        slog.New(slog.NewTextHandler(logs, nil)),
	})
	if err != nil {
		t.Fatalf("Up: %v", err)
	}
	td := &testDeployment{Deployment: d, logs: logs, pids: map[int]bool{}}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := d.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
		for pid := range td.pids {
			if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
				t.Errorf("child process %d outlived Stop (kill -0: %v)", pid, err)
			}
		}
		if t.Failed() {
			t.Logf("deployment logs:\n%s", logs.String())
		}
	})
	td.waitServing(t, d.Primary, 2)
	return td
}

// notePIDs records the current child processes of both regions.
func (td *testDeployment) notePIDs() {
	for _, r := range td.Regions() {
		st := r.Status()
		if st.Store.PID != 0 {
			td.pids[st.Store.PID] = true
		}
		for _, s := range st.Services {
			for _, in := range s.Instances {
				if in.PID != 0 {
					td.pids[in.PID] = true
				}
			}
		}
	}
}

// running returns the running instances of service name in r.
func running(r *Region, name string) []compute.InstanceStatus {
	r.mu.Lock()
	s := r.services[name]
	r.mu.Unlock()
	if s == nil {
		return nil
	}
	var out []compute.InstanceStatus
	for _, in := range s.group.Instances() {
		if in.State == compute.StateRunning {
			out = append(out, in)
		}
	}
	return out
}

// eventually polls cond every 50ms until it returns nil or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %v", what, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// lbAddr is the public address of web's load balancer in r.
func lbAddr(t *testing.T, r *Region) string {
	t.Helper()
	a, err := LoadBalancerAddr(r.plan, r.spec, r.plan.Service("web"))
	if err != nil {
		t.Fatal(err)
	}
	return a.String()
}

// lbGet does GET / on a new connection to addr.
func lbGet(addr string, timeout time.Duration) (int, string, error) {
	tr := &http.Transport{Proxy: nil, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: timeout}).Get("http://" + addr + "/")
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// waitServing waits until r's web load balancer answers 200 from an
// instance and r runs n web instances and its worker.
func (td *testDeployment) waitServing(t *testing.T, r *Region, n int) {
	t.Helper()
	eventually(t, 30*time.Second, "region "+r.Name()+" serving", func() error {
		if got := len(running(r, "web")); got != n {
			return fmt.Errorf("%d web instances running, want %d", got, n)
		}
		if r.Role() == Primary && len(running(r, "worker")) != 1 {
			return errors.New("worker not running")
		}
		st, body, err := lbGet(lbAddr(t, r), 2*time.Second)
		if err != nil || st != http.StatusOK || !strings.HasPrefix(body, "i-web-") {
			return fmt.Errorf("GET: %d %q %v", st, body, err)
		}
		return nil
	})
	td.notePIDs()
}

func headBucket(ctx context.Context, r *Region) error {
	ctx, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	defer cancel()
	_, err := r.Client().HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("orders")})
	return err
}

func inject(t *testing.T, d *testDeployment, spec FaultSpec) *Fault {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f, err := d.InjectFault(ctx, spec)
	if err != nil {
		t.Fatalf("InjectFault(%+v): %v", spec, err)
	}
	if !slices.ContainsFunc(d.Faults(), func(s FaultStatus) bool { return s.ID == f.ID }) {
		t.Errorf("Faults() = %+v, missing %s", d.Faults(), f.ID)
	}
	if !strings.Contains(d.logs.String(), "fault="+f.ID) {
		t.Errorf("injection of %s not logged", f.ID)
	}
	d.notePIDs()
	return f
}

// rollback rolls f back twice (the second must do nothing) and checks it
// is no longer active.
func rollback(t *testing.T, d *testDeployment, f *Fault) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range 2 {
		if err := d.RollbackFault(ctx, f.ID); err != nil {
			t.Fatalf("RollbackFault(%s) #%d: %v", f.ID, i+1, err)
		}
	}
	if slices.ContainsFunc(d.Faults(), func(s FaultStatus) bool { return s.ID == f.ID }) {
		t.Errorf("fault %s still active after rollback", f.ID)
	}
}

// TestFaults injects and rolls back each kind of fault in turn on one
// deployment, checking the effect and that the region serves again.
func TestFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	d := startTestDeployment(t)
	prim := d.Primary
	web := lbAddr(t, prim)

	t.Run("instance-kill", func(t *testing.T) {
		before := running(prim, "web")
		f := inject(t, d, FaultSpec{Kind: FaultInstanceKill, Service: "web", Seed: 7})
		if len(f.Targets) != 1 || !slices.ContainsFunc(before, func(in compute.InstanceStatus) bool { return in.ID == f.Targets[0] }) {
			t.Fatalf("targets %v, want one of %v", f.Targets, before)
		}
		eventually(t, 10*time.Second, "killed instance gone", func() error {
			if slices.ContainsFunc(running(prim, "web"), func(in compute.InstanceStatus) bool { return in.ID == f.Targets[0] }) {
				return errors.New("still running")
			}
			return nil
		})
		rollback(t, d, f)
		d.waitServing(t, prim, 2)

		// Every service by default, with a seed chosen and reported.
		f = inject(t, d, FaultSpec{Kind: FaultInstanceKill})
		if len(f.Targets) != 2 || f.Spec.Seed == 0 || f.Spec.Count != 1 {
			t.Errorf("default instance-kill: targets %v spec %+v, want one web and one worker instance and a seed", f.Targets, f.Spec)
		}
		rollback(t, d, f)
		d.waitServing(t, prim, 2)
	})

	t.Run("zone-outage", func(t *testing.T) {
		for _, zone := range prim.Zones() {
			f := inject(t, d, FaultSpec{Kind: FaultZoneOutage, Zone: zone})
			// The group refills in the other zone only.
			eventually(t, 20*time.Second, "instances out of "+zone, func() error {
				ins := append(running(prim, "web"), running(prim, "worker")...)
				if len(ins) != 3 {
					return fmt.Errorf("%d instances running, want 3", len(ins))
				}
				for _, in := range ins {
					if in.Zone == zone {
						return fmt.Errorf("%s runs in %s", in.ID, zone)
					}
				}
				return nil
			})
			// Instances relaunched in the other zone serve once the load
			// balancer's checks pass.
			eventually(t, 10*time.Second, "web to serve during the outage of "+zone, func() error {
				if st, _, err := lbGet(web, 2*time.Second); err != nil || st != http.StatusOK {
					return fmt.Errorf("GET = %d %v", st, err)
				}
				return nil
			})
			d.notePIDs()
			// Rolling back zone a lets the outage of zone b move everything
			// back to a.
			rollback(t, d, f)
		}
		d.waitServing(t, prim, 2)
	})

	t.Run("store-outage", func(t *testing.T) {
		ctx := context.Background()
		if _, err := prim.Client().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("orders"), Key: aws.String("k"), Body: strings.NewReader("v1")}); err != nil {
			t.Fatal(err)
		}
		f := inject(t, d, FaultSpec{Kind: FaultStoreOutage})
		if err := headBucket(ctx, prim); err == nil {
			t.Error("HeadBucket answered during a store outage")
		}
		if err := headBucket(ctx, d.Recovery); err != nil {
			t.Errorf("the recovery region's store is down too: %v", err)
		}
		rollback(t, d, f)
		if err := headBucket(ctx, prim); err != nil {
			t.Fatalf("HeadBucket after rollback: %v", err)
		}
		out, err := prim.Client().GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("orders"), Key: aws.String("k")})
		if err != nil {
			t.Fatalf("object written before the outage: %v", err)
		}
		b, _ := io.ReadAll(out.Body)
		out.Body.Close()
		if string(b) != "v1" {
			t.Errorf("object after restart = %q, want v1", b)
		}
		d.notePIDs()
	})

	t.Run("network", func(t *testing.T) {
		tr := &http.Transport{Proxy: nil}
		defer tr.CloseIdleConnections()
		keep := &http.Client{Transport: tr, Timeout: 5 * time.Second}
		if st, _, took, err := timedGet(keep, "http://"+web+"/"); err != nil || st != http.StatusOK || took > 200*time.Millisecond {
			t.Fatalf("before: %d in %s, %v", st, took, err)
		}
		f := inject(t, d, FaultSpec{Kind: FaultNetwork, Latency: 400 * time.Millisecond})
		st, reused, took, err := timedGet(keep, "http://"+web+"/")
		if err != nil || st != http.StatusOK || !reused || took < 400*time.Millisecond {
			t.Errorf("with latency: %d reused %v in %s, %v; want 200 on the open connection after >= 400ms", st, reused, took, err)
		}
		rollback(t, d, f)
		if st, _, took, err := timedGet(keep, "http://"+web+"/"); err != nil || st != http.StatusOK || took > 200*time.Millisecond {
			t.Errorf("latency rolled back: %d in %s, %v", st, took, err)
		}

		f = inject(t, d, FaultSpec{Kind: FaultNetwork, Blackhole: true})
		short := &http.Client{Transport: tr, Timeout: 300 * time.Millisecond}
		if _, reused, _, err := timedGet(short, "http://"+web+"/"); err == nil || !reused {
			t.Errorf("blackhole, open connection: reused %v err %v; want a timeout", reused, err)
		}
		conn, err := net.DialTimeout("tcp", web, time.Second)
		if err != nil {
			t.Errorf("blackhole refuses connections (%v); it should accept and hang", err)
		} else {
			conn.Close()
		}
		if _, _, err := lbGet(web, 300*time.Millisecond); err == nil {
			t.Error("blackhole, new connection: answered")
		}
		// The load balancer's own health checks do not cross the proxy.
		if got := len(running(prim, "web")); got != 2 {
			t.Errorf("%d web instances during the blackhole, want 2", got)
		}
		rollback(t, d, f)
		d.waitServing(t, prim, 2)
	})

	t.Run("region-outage", func(t *testing.T) {
		f := inject(t, d, FaultSpec{Kind: FaultRegionOutage})
		if _, err := net.DialTimeout("tcp", web, time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("dial web during the outage: %v, want connection refused", err)
		}
		if err := headBucket(context.Background(), prim); err == nil {
			t.Error("store answered during the region outage")
		}
		eventually(t, 10*time.Second, "every instance gone", func() error {
			if n := len(running(prim, "web")) + len(running(prim, "worker")); n != 0 {
				return fmt.Errorf("%d instances running", n)
			}
			return nil
		})
		time.Sleep(300 * time.Millisecond) // nothing may be relaunched meanwhile
		for _, name := range []string{"web", "worker"} {
			prim.mu.Lock()
			ins := prim.services[name].group.Instances()
			prim.mu.Unlock()
			for _, in := range ins {
				if in.State != compute.StateExited {
					t.Errorf("%s %s during the region outage", in.ID, in.State)
				}
			}
		}
		rollback(t, d, f)
		if err := headBucket(context.Background(), prim); err != nil {
			t.Errorf("store after rollback: %v", err)
		}
		d.waitServing(t, prim, 2)
	})

	// A service started in a dark region stays dark until the rollback, as
	// when a failover targets a region that is down.
	t.Run("region-outage-then-start", func(t *testing.T) {
		reco := d.Recovery
		f := inject(t, d, FaultSpec{Kind: FaultRegionOutage, Region: reco.Name()})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := reco.StartService(ctx, "web", 1); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
		if n := len(running(reco, "web")); n != 0 {
			t.Errorf("%d instances launched in a dark region", n)
		}
		if _, err := net.DialTimeout("tcp", lbAddr(t, reco), time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("dial a load balancer started in a dark region: %v, want connection refused", err)
		}
		rollback(t, d, f)
		d.waitServing(t, reco, 1)
	})

	t.Run("stop-rolls-back", func(t *testing.T) {
		inject(t, d, FaultSpec{Kind: FaultStoreOutage})
		inject(t, d, FaultSpec{Kind: FaultZoneOutage, Region: d.Recovery.Name()})
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := d.Stop(ctx); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		if fs := d.Faults(); len(fs) != 0 {
			t.Errorf("faults after Stop: %+v", fs)
		}
		if n := strings.Count(d.logs.String(), `msg="fault rolled back"`); n < 2 {
			t.Errorf("%d rollbacks logged, want the 2 active faults rolled back by Stop", n)
		}
		if _, err := d.InjectFault(ctx, FaultSpec{Kind: FaultStoreOutage}); err == nil {
			t.Error("InjectFault after Stop succeeded")
		}
	})
}

func TestNormalizeFault(t *testing.T) {
	p := &plan.Plan{
		Name: "p",
		Regions: plan.Regions{
			Primary:  plan.Region{Name: "a", Provider: plan.ProviderLocal, Network: "127.0.241.0/24"},
			Recovery: plan.Region{Name: "b", Provider: plan.ProviderLocal, Network: "127.0.242.0/24"},
		},
		Services: []plan.Service{{Name: "web"}},
	}
	newRegion := func(netFaults bool) *Region {
		r, err := NewRegion(p, Primary, Credentials{}, Options{StateDir: t.TempDir(), Exe: "/bin/true", NetworkFaults: netFaults})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	plain, withNet := newRegion(false), newRegion(true)
	tests := []struct {
		name    string
		r       *Region
		spec    FaultSpec
		want    FaultSpec // checked when wantErr is empty; Seed only for being set
		wantErr string
	}{
		{"kill defaults", plain, FaultSpec{Kind: FaultInstanceKill}, FaultSpec{Kind: FaultInstanceKill, Region: "a", Count: 1}, ""},
		{"kill keeps seed", plain, FaultSpec{Kind: FaultInstanceKill, Service: "web", Count: 2, Seed: 5}, FaultSpec{Kind: FaultInstanceKill, Region: "a", Service: "web", Count: 2, Seed: 5}, ""},
		{"kill unknown service", plain, FaultSpec{Kind: FaultInstanceKill, Service: "db"}, FaultSpec{}, `no service "db"`},
		{"kill negative count", plain, FaultSpec{Kind: FaultInstanceKill, Count: -1}, FaultSpec{}, "count -1 < 0"},
		{"zone default", plain, FaultSpec{Kind: FaultZoneOutage}, FaultSpec{Kind: FaultZoneOutage, Region: "a", Zone: "a-a"}, ""},
		{"zone of another region", plain, FaultSpec{Kind: FaultZoneOutage, Zone: "b-a"}, FaultSpec{}, `zone "b-a" is not one of a-a, a-b`},
		{"other region", plain, FaultSpec{Kind: FaultStoreOutage, Region: "b"}, FaultSpec{}, `region "b" is not this region`},
		{"unknown kind", plain, FaultSpec{Kind: "meteor"}, FaultSpec{}, `unknown fault kind "meteor"`},
		{"zone on store outage", plain, FaultSpec{Kind: FaultStoreOutage, Zone: "a-a"}, FaultSpec{}, "zone applies to zone-outage only"},
		{"count on region outage", plain, FaultSpec{Kind: FaultRegionOutage, Count: 2}, FaultSpec{}, "apply to instance-kill only"},
		{"latency on zone outage", plain, FaultSpec{Kind: FaultZoneOutage, Latency: time.Second}, FaultSpec{}, "apply to network only"},
		{"network without proxies", plain, FaultSpec{Kind: FaultNetwork, Blackhole: true}, FaultSpec{}, "without Options.NetworkFaults"},
		{"network latency", withNet, FaultSpec{Kind: FaultNetwork, Latency: time.Second}, FaultSpec{Kind: FaultNetwork, Region: "a", Latency: time.Second}, ""},
		{"network both", withNet, FaultSpec{Kind: FaultNetwork, Latency: time.Second, Blackhole: true}, FaultSpec{}, "either latency or blackhole"},
		{"network neither", withNet, FaultSpec{Kind: FaultNetwork}, FaultSpec{}, "either latency or blackhole"},
		{"network sub-millisecond", withNet, FaultSpec{Kind: FaultNetwork, Latency: time.Microsecond}, FaultSpec{}, "< 1ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.r.normalizeFault(tt.spec)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.spec.Kind == FaultInstanceKill && got.Seed == 0 {
				t.Error("no seed chosen")
			}
			if tt.want.Seed == 0 {
				got.Seed = 0
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// A failed rollback keeps the fault, with its error and only the steps
// left to undo; the next rollback retries them; later ones do nothing.
func TestRollbackRetriesFailedSteps(t *testing.T) {
	p := &plan.Plan{Name: "p", Regions: plan.Regions{
		Primary:  plan.Region{Name: "a", Provider: plan.ProviderLocal, Network: "127.0.241.0/24"},
		Recovery: plan.Region{Name: "b", Provider: plan.ProviderLocal, Network: "127.0.242.0/24"},
	}}
	r, err := NewRegion(p, Primary, Credentials{}, Options{StateDir: t.TempDir(), Exe: "/bin/true"})
	if err != nil {
		t.Fatal(err)
	}
	var calls []string
	fails := 1
	f := &activeFault{Fault: Fault{ID: "fault-a-1", Kind: FaultRegionOutage, Region: "a"}, undo: []undoStep{
		{"first", func(context.Context) error { calls = append(calls, "first"); return nil }},
		{"second", func(context.Context) error {
			calls = append(calls, "second")
			if fails > 0 {
				fails--
				return errors.New("address in use")
			}
			return nil
		}},
		{"third", func(context.Context) error { calls = append(calls, "third"); return nil }},
	}}
	r.chaos.active = append(r.chaos.active, f)
	ctx := context.Background()

	if err := r.RollbackFault(ctx, f.ID); err == nil || !strings.Contains(err.Error(), "second: address in use") {
		t.Fatalf("first rollback: %v, want the failed step's error", err)
	}
	st := r.Faults()
	if len(st) != 1 || !strings.Contains(st[0].RollbackError, "address in use") {
		t.Fatalf("Faults() after a failed rollback = %+v", st)
	}
	if err := r.RollbackFault(ctx, f.ID); err != nil {
		t.Fatalf("second rollback: %v", err)
	}
	if err := r.RollbackFault(ctx, f.ID); err != nil {
		t.Fatalf("third rollback: %v", err)
	}
	if want := []string{"third", "second", "first", "second"}; !slices.Equal(calls, want) {
		t.Errorf("undo calls %v, want %v (newest first, then only the failed step)", calls, want)
	}
	if st := r.Faults(); len(st) != 0 {
		t.Errorf("Faults() after rollback = %+v", st)
	}
	if err := r.RollbackFault(ctx, "fault-a-nope"); !errors.Is(err, ErrUnknownFault) {
		t.Errorf("unknown ID: %v, want ErrUnknownFault", err)
	}
	if _, err := r.InjectFault(ctx, FaultSpec{Kind: FaultStoreOutage}); err == nil || !strings.Contains(err.Error(), "not running") {
		t.Errorf("inject into a region not started: %v", err)
	}
}

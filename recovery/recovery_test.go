package recovery

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pilotlight/pilotlight/capacity"
	"github.com/pilotlight/pilotlight/plan"
	"github.com/pilotlight/pilotlight/runbook"
)

// world is an in-memory pair of regions: a fake Provider that counts what
// it creates, so that tests can check that nothing is created twice.
type world struct {
	mu          sync.Mutex
	primary     string
	services    map[string]svcState // region/service
	created     map[string]int      // region/service → times created from nothing
	fenced      map[string]bool
	from, to    string // replication direction
	pins        map[string]string
	noCapacity  map[string]bool // region/type
	syncs       []string
	unreachable map[string]bool
	calls       int
}

type svcState struct {
	Type  string
	Count int
}

func newWorld(p *plan.Plan) *world {
	w := &world{
		primary:  p.Regions.Primary.Name,
		services: map[string]svcState{}, created: map[string]int{}, fenced: map[string]bool{},
		pins: map[string]string{}, noCapacity: map[string]bool{}, unreachable: map[string]bool{},
		from: p.Regions.Primary.Name, to: p.Regions.Recovery.Name,
	}
	for _, s := range p.Services {
		w.services[p.Regions.Primary.Name+"/"+s.Name] = svcState{Type: plan.DefaultLocalInstanceType, Count: s.Compute.Count}
		w.created[p.Regions.Primary.Name+"/"+s.Name] = 1
	}
	return w
}

func (w *world) Scale(ctx context.Context, region, service, typ string, count int, key string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls++
	k := region + "/" + service
	cur, ok := w.services[k]
	if typ == "" {
		typ = cur.Type
	}
	if count > 0 && w.noCapacity[region+"/"+typ] {
		return &capacity.InsufficientCapacityError{Type: typ, Zone: region + "-a"}
	}
	if !ok {
		w.created[k]++
	}
	w.services[k] = svcState{Type: typ, Count: count}
	return nil
}

func (w *world) Service(ctx context.Context, region, service string) (ServiceState, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s, ok := w.services[region+"/"+service]
	if !ok {
		return ServiceState{}, runbook.NotFound(fmt.Errorf("no service %s in %s", service, region))
	}
	return ServiceState{InstanceType: s.Type, Desired: s.Count, Running: s.Count, Healthy: s.Count}, nil
}

func (w *world) Fence(ctx context.Context, region string, on bool) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.fenced[region] = on
	return nil
}

func (w *world) Sync(ctx context.Context, from, to string) (SyncReport, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.syncs = append(w.syncs, from+">"+to)
	return SyncReport{Listed: 10, Copied: 1}, nil
}

func (w *world) SetReplication(ctx context.Context, from, to string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.from, w.to = from, to
	return nil
}

func (w *world) Replication(ctx context.Context) (ReplicationReport, error) {
	return ReplicationReport{From: w.from, To: w.to, Buckets: []BucketReplica{{Bucket: "ticket-assets", Converged: time.Now(), Lag: 100 * time.Millisecond}}}, nil
}

func (w *world) SetActive(ctx context.Context, record, role string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pins[record] = role
	return nil
}

func (w *world) Reachable(ctx context.Context, region string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.unreachable[region] {
		return fmt.Errorf("region %s unreachable", region)
	}
	return nil
}

func (w *world) Verify(ctx context.Context, record string) (Answer, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	region := w.primary
	for k, s := range w.services {
		if s.Count > 0 && w.pins[record] == RoleRecovery && !strings.HasPrefix(k, w.primary+"/") {
			region = strings.Split(k, "/")[0]
		}
	}
	return Answer{Region: region, Status: 200}, nil
}

// state is the part of the world a recovery must leave identical.
func (w *world) state() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return fmt.Sprintf("services=%v created=%v fenced=%v replication=%s>%s pins=%v", w.services, w.created, w.fenced, w.from, w.to, w.pins)
}

func examplePlan(t *testing.T) *plan.Plan {
	t.Helper()
	p, err := plan.Load(filepath.Join("..", "examples", "ticketing", "pilotlight.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func run(t *testing.T, ctx context.Context, rb runbook.Runbook, journal, id string, obs func(runbook.Event)) (runbook.Result, error) {
	t.Helper()
	e, err := runbook.New(runbook.Options{Journal: journal, Observer: obs, Backoff: runbook.Backoff{Initial: time.Millisecond, Max: 5 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	return e.Run(ctx, rb, id)
}

func TestFailoverRunbookShape(t *testing.T) {
	p := examplePlan(t)
	for _, tc := range []struct {
		mode Mode
		want []string
	}{
		{Graceful, []string{"check-virginia", "check-seoul", "check-data", "scale-web", "healthy-web", "fence-seoul", "sync-seoul-to-virginia", "promote-data", "dns-www", "verify-www"}},
		{Ungraceful, []string{"check-virginia", "check-data", "scale-web", "healthy-web", "promote-data", "dns-www", "verify-www"}},
	} {
		rb, err := Build(p, newWorld(p), Options{Direction: Failover, Mode: tc.mode})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, s := range rb.Steps {
			got = append(got, s.ID)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s steps = %v, want %v", tc.mode, got, tc.want)
		}
		waves, err := runbook.Plan(rb)
		if err != nil {
			t.Fatal(err)
		}
		// Data before compute before DNS before verification.
		order := map[string]int{}
		for i, w := range waves {
			for _, id := range w.Steps {
				order[id] = i
			}
		}
		if !(order["promote-data"] < order["scale-web"] && order["healthy-web"] < order["dns-www"] && order["dns-www"] < order["verify-www"]) {
			t.Errorf("%s: wrong order %v", tc.mode, waves)
		}
	}
}

func TestFailoverAndFailback(t *testing.T) {
	p := examplePlan(t)
	w := newWorld(p)
	rb, err := Build(p, w, Options{Direction: Failover, Mode: Graceful, Poll: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	res, err := run(t, context.Background(), rb, "", "r1", nil)
	if err != nil {
		t.Fatalf("failover: %v\n%+v", err, res)
	}
	if got := w.services["virginia/web"]; got != (svcState{Type: "local.medium", Count: 2}) {
		t.Errorf("virginia/web = %+v", got)
	}
	if !w.fenced["seoul"] || w.from != "" || w.pins["www"] != RoleRecovery || !reflect.DeepEqual(w.syncs, []string{"seoul>virginia"}) {
		t.Errorf("after failover: %s syncs=%v", w.state(), w.syncs)
	}
	if s, _ := res.Step("verify-www"); s.Output["region"] != "virginia" {
		t.Errorf("verify output %v", s.Output)
	}
	rb, err = Build(p, w, Options{Direction: Failback, Poll: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, context.Background(), rb, "", "r2", nil); err != nil {
		t.Fatalf("failback: %v", err)
	}
	if w.fenced["seoul"] || w.fenced["virginia"] || w.from != "seoul" || w.to != "virginia" || w.pins["www"] != "" ||
		w.services["virginia/web"].Count != 0 || w.services["seoul/web"].Count != 2 || w.syncs[1] != "virginia>seoul" {
		t.Errorf("after failback: %s syncs=%v", w.state(), w.syncs)
	}
}

func TestCapacityFallbackRecomputesCount(t *testing.T) {
	p := examplePlan(t)
	p.Services[0].Compute.Local.InstanceTypes = []string{"local.large", "local.medium", "local.small"}
	w := newWorld(p)
	w.noCapacity["virginia/local.large"] = true
	w.noCapacity["virginia/local.medium"] = true
	rb, err := Build(p, w, Options{Direction: Failover, Mode: Ungraceful, Poll: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	res, err := run(t, context.Background(), rb, "", "cap", nil)
	if err != nil {
		t.Fatal(err)
	}
	// 2 × local.large (4 vCPU) = 8 vCPU → 8 × local.small (1 vCPU).
	if got := w.services["virginia/web"]; got != (svcState{Type: "local.small", Count: 8}) {
		t.Errorf("virginia/web = %+v, want 8 × local.small", got)
	}
	s, _ := res.Step("scale-web")
	if s.Output["instanceType"] != "local.small" || s.Output["count"] != "8" || s.Attempts != 3 {
		t.Errorf("scale-web result %+v", s)
	}
}

func TestUngracefulNeedsNoPrimary(t *testing.T) {
	p := examplePlan(t)
	w := newWorld(p)
	w.unreachable["seoul"] = true
	rb, err := Build(p, w, Options{Direction: Failover, Mode: Ungraceful, Poll: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, context.Background(), rb, "", "u", nil); err != nil {
		t.Fatal(err)
	}
	if len(w.syncs) != 0 || w.fenced["seoul"] || w.pins["www"] != RoleRecovery {
		t.Errorf("ungraceful: %s syncs=%v", w.state(), w.syncs)
	}
}

// A crash after every mutating step — with the step's "done" record
// written, or lost with the crash — then a resume ends in the same state as
// an uninterrupted run, with nothing created twice.
func TestCrashAfterEveryMutatingStepThenResume(t *testing.T) {
	p := examplePlan(t)
	ref := newWorld(p)
	rb, _ := Build(p, ref, Options{Direction: Failover, Mode: Graceful, Poll: time.Millisecond})
	if _, err := run(t, context.Background(), rb, "", "ref", nil); err != nil {
		t.Fatal(err)
	}
	var mutating []string
	for _, s := range rb.Steps {
		if s.Mutating {
			mutating = append(mutating, s.ID)
		}
	}
	if len(mutating) < 4 {
		t.Fatalf("only %d mutating steps: %v", len(mutating), mutating)
	}
	for _, crashAfter := range mutating {
		for _, lose := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/lose-done=%v", crashAfter, lose), func(t *testing.T) {
				w := newWorld(p)
				rb, _ := Build(p, w, Options{Direction: Failover, Mode: Graceful, Poll: time.Millisecond})
				journal := filepath.Join(t.TempDir(), "run.journal")
				ctx, crash := context.WithCancel(context.Background())
				defer crash()
				_, err := run(t, ctx, rb, journal, "x", func(ev runbook.Event) {
					if ev.Kind == runbook.EventDone && ev.Step == crashAfter {
						crash()
					}
				})
				if err == nil && crashAfter != mutating[len(mutating)-1] {
					t.Fatalf("run did not stop after %s", crashAfter)
				}
				if lose {
					dropLastDone(t, journal, crashAfter)
				}
				rb2, _ := Build(p, w, Options{Direction: Failover, Mode: Graceful, Poll: time.Millisecond})
				res, err := run(t, context.Background(), rb2, journal, "x", nil)
				if err != nil {
					t.Fatalf("resume: %v", err)
				}
				if got, want := w.state(), ref.state(); got != want {
					t.Errorf("final state after crash and resume:\n got %s\nwant %s", got, want)
				}
				if s, _ := res.Step(crashAfter); !lose && s.State != runbook.StateResumed {
					t.Errorf("step %s state %s after resume, want resumed", crashAfter, s.State)
				}
			})
		}
	}
}

// dropLastDone removes the journal's "done" record of step, as if the
// process died between the call and that record's fsync.
func dropLastDone(t *testing.T, path, step string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], `"step":"`+step+`"`) && strings.Contains(lines[i], `"done"`) {
			lines = append(lines[:i], lines[i+1:]...)
			break
		}
	}
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// The plan's hooks run at the end of their stage: a command after the data
// is promoted (with the step's idempotency key), a webhook after DNS moved.
func TestHooks(t *testing.T) {
	p := examplePlan(t)
	var posts atomic.Int32
	var key atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		posts.Add(1)
		key.Store(r.Header.Get("Idempotency-Key"))
	}))
	defer srv.Close()
	out := filepath.Join(t.TempDir(), "hook.out")
	p.Hooks = []plan.Hook{
		{Name: "flush-cache", After: plan.StageData, On: []string{"failover"}, Command: []string{"sh", "-c", "echo $PILOTLIGHT_STEP_KEY > " + out}},
		{Name: "page", After: plan.StageDNS, On: []string{"failover", "failback"}, Webhook: srv.URL},
		{Name: "back-only", After: plan.StageVerify, On: []string{"failback"}, Command: []string{"false"}},
	}
	w := newWorld(p)
	rb, err := Build(p, w, Options{Direction: Failover, Mode: Graceful, Poll: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	waves, _ := runbook.Plan(rb)
	order := map[string]int{}
	for i, wv := range waves {
		for _, id := range wv.Steps {
			order[id] = i
		}
	}
	if _, ok := order["hook-back-only"]; ok {
		t.Error("a failback-only hook is in the failover runbook")
	}
	if !(order["promote-data"] < order["hook-flush-cache"] && order["hook-flush-cache"] < order["scale-web"] &&
		order["dns-www"] < order["hook-page"] && order["hook-page"] < order["verify-www"]) {
		t.Errorf("hooks out of order: %v", waves)
	}
	res, err := run(t, context.Background(), rb, "", "h", nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(out)
	if got, want := strings.TrimSpace(string(b)), runbook.StepKey(rb.Name, "h", "hook-flush-cache"); got != want {
		t.Errorf("command hook saw key %q, want %q", got, want)
	}
	if posts.Load() != 1 || key.Load() != runbook.StepKey(rb.Name, "h", "hook-page") {
		t.Errorf("webhook: %d posts, key %v", posts.Load(), key.Load())
	}
	if s, _ := res.Step("hook-page"); s.State != runbook.StateDone {
		t.Errorf("hook-page %+v", s)
	}
}

// batchWorld is a world whose provider batches DNS changes and restores
// databases.
type batchWorld struct {
	*world
	batches  [][]string
	restores map[string]int
	polls    map[string]int
}

func (w *batchWorld) SetActiveMany(ctx context.Context, records []string, role string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.batches = append(w.batches, records)
	for _, r := range records {
		w.pins[r] = role
	}
	return nil
}

func (w *batchWorld) MaxRecords() int { return 2 }

func (w *batchWorld) RestoreDatabase(ctx context.Context, region string, db plan.Database, key string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.restores[region+"/"+db.ID]++
	return nil
}

func (w *batchWorld) Database(ctx context.Context, region, id string) (DatabaseState, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.polls[id]++
	if w.polls[id] < 3 {
		return DatabaseState{Status: "restoring"}, nil
	}
	return DatabaseState{Available: true, Status: "available"}, nil
}

func TestBatchedDNSAndDatabases(t *testing.T) {
	p := examplePlan(t)
	for _, n := range []string{"api", "img", "m"} {
		p.Routing.Records = append(p.Routing.Records, plan.Record{Name: n, Service: "web", Policy: plan.PolicyFailover, TTL: 1})
	}
	p.Data.Databases = []plan.Database{{ID: "orders"}, {ID: "users", Cluster: true}}
	w := &batchWorld{world: newWorld(p), restores: map[string]int{}, polls: map[string]int{}}
	rb, err := Build(p, w, Options{Direction: Failover, Mode: Ungraceful, Poll: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, context.Background(), rb, "", "b", nil); err != nil {
		t.Fatal(err)
	}
	if len(w.batches) != 2 || len(w.batches[0]) != 2 || len(w.batches[1]) != 2 {
		t.Errorf("DNS batches %v, want 2 of 2 records", w.batches)
	}
	for _, r := range []string{"www", "api", "img", "m"} {
		if w.pins[r] != RoleRecovery {
			t.Errorf("record %s pinned to %q", r, w.pins[r])
		}
	}
	if w.restores["virginia/orders"] != 1 || w.restores["virginia/users"] != 1 || w.polls["orders"] < 3 {
		t.Errorf("restores %v polls %v", w.restores, w.polls)
	}
	verifies := 0
	for _, s := range rb.Steps {
		if strings.HasPrefix(s.ID, "verify-") {
			verifies++
		}
	}
	if verifies != 1 {
		t.Errorf("%d verify steps, want one per service", verifies)
	}
}

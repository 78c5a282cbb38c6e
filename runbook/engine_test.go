package runbook

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestOrderingByTierAndDependency(t *testing.T) {
	rec := &recorder{}
	rb := Runbook{Name: "rb", Steps: []Step{
		okStep(rec, "dns", 2, "lb"),
		okStep(rec, "lb", 2, "web", "api"),
		okStep(rec, "web", 1),
		okStep(rec, "api", 1, "cache"),
		okStep(rec, "cache", 1),
		okStep(rec, "db", 0),
		okStep(rec, "net", 0),
	}}
	res, err := mustEngine(t, Options{Concurrency: 4}).Run(context.Background(), rb, "r1")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range rb.Steps {
		start := rec.index("start:" + s.ID)
		if start < 0 {
			t.Fatalf("step %s did not run", s.ID)
		}
		for _, d := range s.DependsOn {
			if end := rec.index("end:" + d); end < 0 || end > start {
				t.Errorf("%s started before its dependency %s ended: %v", s.ID, d, rec.events)
			}
		}
		for _, o := range rb.Steps {
			if o.Tier < s.Tier && rec.index("end:"+o.ID) > start {
				t.Errorf("%s (tier %d) started before %s (tier %d) ended", s.ID, s.Tier, o.ID, o.Tier)
			}
		}
		if sr, _ := res.Step(s.ID); sr.State != StateDone || sr.Attempts != 1 {
			t.Errorf("step %s = %+v", s.ID, sr)
		}
	}
}

func TestDependencyOutputsPassed(t *testing.T) {
	var got Output
	rb := Runbook{Name: "rb", Steps: []Step{
		{ID: "a", Run: func(context.Context, *StepContext) (Output, error) { return Output{"ip": "10.0.0.1"}, nil }},
		{ID: "b", DependsOn: []string{"a"}, Run: func(_ context.Context, sc *StepContext) (Output, error) {
			got = sc.Input("a")
			return nil, nil
		}},
	}}
	if _, err := mustEngine(t, Options{}).Run(context.Background(), rb, "r"); err != nil {
		t.Fatal(err)
	}
	if got["ip"] != "10.0.0.1" {
		t.Fatalf("b saw input %v", got)
	}
}

func TestConcurrencyBound(t *testing.T) {
	for _, limit := range []int{1, 3, 5} {
		var inFlight, maxSeen atomic.Int32
		var steps []Step
		for i := range 12 {
			steps = append(steps, Step{ID: string(rune('a' + i)), Run: func(context.Context, *StepContext) (Output, error) {
				n := inFlight.Add(1)
				for {
					m := maxSeen.Load()
					if n <= m || maxSeen.CompareAndSwap(m, n) {
						break
					}
				}
				time.Sleep(3 * time.Millisecond)
				inFlight.Add(-1)
				return nil, nil
			}})
		}
		if _, err := mustEngine(t, Options{Concurrency: limit}).Run(context.Background(), Runbook{Name: "rb", Steps: steps}, "r"); err != nil {
			t.Fatal(err)
		}
		if got := maxSeen.Load(); got != int32(limit) {
			t.Errorf("concurrency %d: max in flight %d", limit, got)
		}
	}
}

func TestCancelMidRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rec := &recorder{}
	journal := t.TempDir() + "/run.jsonl"
	rb := Runbook{Name: "rb", Steps: []Step{
		{ID: "a", Mutating: true, Run: func(context.Context, *StepContext) (Output, error) { rec.call("a"); return nil, nil }},
		{ID: "b", Mutating: true, DependsOn: []string{"a"}, Run: func(ctx context.Context, sc *StepContext) (Output, error) {
			rec.call("b")
			cancel() // Ctrl-C while b runs
			<-ctx.Done()
			return nil, ctx.Err()
		}},
		{ID: "c", Mutating: true, Run: func(ctx context.Context, sc *StepContext) (Output, error) {
			rec.call("c") // independent, but queued behind b (concurrency 1)
			return nil, nil
		}},
		{ID: "d", Tier: 1, Mutating: true, Run: func(context.Context, *StepContext) (Output, error) { rec.call("d"); return nil, nil }},
	}}
	res, err := mustEngine(t, Options{Concurrency: 1, Journal: journal}).Run(ctx, rb, "r")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run error = %v, want context.Canceled", err)
	}
	if rec.count("d") != 0 {
		t.Fatal("step d started after cancel")
	}
	if s, _ := res.Step("b"); s.State != StateCancelled {
		t.Fatalf("b state %s", s.State)
	}
	if rec.count("c") != 0 {
		t.Fatal("step c started after cancel")
	}
	if s, _ := res.Step("d"); s.State != StateCancelled || s.Attempts != 0 {
		t.Fatalf("d = %+v", s)
	}
	// Journal consistent: every start has a matching end record.
	recs := readRecords(t, journal)
	open := map[string]bool{}
	for _, r := range recs {
		switch r.Event {
		case eventStart:
			open[r.Step] = true
		default:
			delete(open, r.Step)
		}
	}
	if len(open) != 0 {
		t.Fatalf("journal has unfinished steps %v: %+v", open, recs)
	}
}

func TestFailurePolicies(t *testing.T) {
	tests := []struct {
		policy   string
		failures int // how many times a fails before succeeding
		wantErr  bool
		wantA    State
		wantRuns int
		states   map[string]State
	}{
		{OnFailureAbort, 100, true, StateFailed, 1, map[string]State{"b": StateCancelled, "d": StateCancelled}},
		{OnFailureSkip, 100, false, StateSkipped, 1, map[string]State{"b": StateSkipped, "c": StateDone, "d": StateDone}},
		{OnFailureRetry, 2, false, StateDone, 3, map[string]State{"b": StateDone, "c": StateDone, "d": StateDone}},
		{OnFailureRetry, 100, true, StateFailed, 3, map[string]State{"b": StateCancelled, "d": StateCancelled}},
	}
	for _, tt := range tests {
		t.Run(tt.policy, func(t *testing.T) {
			rec := &recorder{}
			rb := Runbook{Name: "rb", Steps: []Step{
				{ID: "a", Run: func(context.Context, *StepContext) (Output, error) {
					if rec.call("a") <= tt.failures {
						return nil, Conflict(errors.New("ec2: run instances: in use"))
					}
					return nil, nil
				}},
				okStep(rec, "b", 0, "a"),
				okStep(rec, "c", 0),
				okStep(rec, "d", 1),
			}}
			res, err := mustEngine(t, Options{Concurrency: 1, OnFailure: tt.policy, Retries: 2}).Run(context.Background(), rb, "r")
			if (err != nil) != tt.wantErr {
				t.Fatalf("Run error = %v, want error %v", err, tt.wantErr)
			}
			if err != nil && Classify(err) != ClassConflict {
				t.Fatalf("error class %v lost: %v", Classify(err), err)
			}
			a, _ := res.Step("a")
			if a.State != tt.wantA || rec.count("a") != tt.wantRuns || a.Attempts != tt.wantRuns {
				t.Fatalf("a = %+v, runs %d; want %s, %d runs", a, rec.count("a"), tt.wantA, tt.wantRuns)
			}
			for id, want := range tt.states {
				if s, _ := res.Step(id); s.State != want {
					t.Errorf("%s state %s, want %s", id, s.State, want)
				}
			}
		})
	}
}

func TestDecideOverridesPolicy(t *testing.T) {
	var asked []string
	calls := 0
	rb := Runbook{Name: "rb", Steps: []Step{{ID: "a", Run: func(context.Context, *StepContext) (Output, error) {
		calls++
		if calls < 4 {
			return nil, errors.New("boom")
		}
		return nil, nil
	}}}}
	decide := func(_ context.Context, id string, err error) string { asked = append(asked, id); return OnFailureRetry }
	res, err := mustEngine(t, Options{Decide: decide}).Run(context.Background(), rb, "r")
	if err != nil || len(asked) != 3 || res.Steps[0].State != StateDone {
		t.Fatalf("err %v, asked %v, result %+v", err, asked, res.Steps[0])
	}
}

func TestRetryByClass(t *testing.T) {
	tests := []struct {
		name      string
		wrap      func(error) error
		failures  int
		wantCalls int
		wantErr   bool
	}{
		{"throttled recovers", Throttled, 3, 4, false},
		{"transient recovers", Transient, 1, 2, false},
		{"throttled exhausts attempts", Throttled, 100, 5, true},
		{"not found fails at once", NotFound, 100, 1, true},
		{"fatal fails at once", func(err error) error { return err }, 100, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newFakeClock()
			calls := 0
			rb := Runbook{Name: "rb", Steps: []Step{{ID: "a", Run: func(context.Context, *StepContext) (Output, error) {
				calls++
				if calls <= tt.failures {
					return nil, tt.wrap(errors.New("api: call: slow down"))
				}
				return nil, nil
			}}}}
			b := Backoff{Initial: time.Second, Max: 4 * time.Second, Attempts: 5}
			res, err := mustEngine(t, Options{Clock: clk, Backoff: b}).Run(context.Background(), rb, "r")
			if (err != nil) != tt.wantErr || calls != tt.wantCalls || res.Steps[0].Attempts != tt.wantCalls {
				t.Fatalf("err %v, calls %d, attempts %d; want err %v, calls %d", err, calls, res.Steps[0].Attempts, tt.wantErr, tt.wantCalls)
			}
			waits := clk.Waits()
			if len(waits) != tt.wantCalls-1 {
				t.Fatalf("waits %v, want %d", waits, tt.wantCalls-1)
			}
			for i, w := range waits {
				d := min(time.Second<<i, 4*time.Second)
				if w < d/2 || w > d {
					t.Errorf("retry %d waited %v, want in [%v, %v]", i+1, w, d/2, d)
				}
			}
			var total time.Duration
			for _, w := range waits {
				total += w
			}
			// Compare the times, not Seconds: the float round trip can be off by 1ns.
			if got := res.Steps[0].Ended.Sub(res.Steps[0].Started); got != total {
				t.Errorf("step took %v, backoff total %v", got, total)
			}
		})
	}
}

func TestCapacityFallback(t *testing.T) {
	tests := []struct {
		name      string
		options   int // fallbacks available
		okOn      int // call that succeeds (0 = never)
		wantCalls int
		wantFalls int
		wantErr   bool
	}{
		{"second type works", 2, 2, 2, 1, false},
		{"third type works", 2, 3, 3, 2, false},
		{"no type left", 2, 0, 3, 3, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			types := []string{"m6i.xlarge", "m5.xlarge", "m6i.2xlarge"}
			current, calls, falls := 0, 0, 0
			var used string
			rb := Runbook{Name: "rb", Steps: []Step{{
				ID: "web", Mutating: true,
				Run: func(context.Context, *StepContext) (Output, error) {
					calls++
					if calls == tt.okOn {
						used = types[current]
						return Output{"type": used}, nil
					}
					return nil, Capacity(errors.New("ec2: run instances: InsufficientInstanceCapacity"))
				},
				Fallback: func(attempt int) bool {
					falls++
					if attempt > tt.options {
						return false
					}
					current = attempt
					return true
				},
			}}}
			clk := newFakeClock()
			res, err := mustEngine(t, Options{Clock: clk}).Run(context.Background(), rb, "r")
			if (err != nil) != tt.wantErr || calls != tt.wantCalls || falls != tt.wantFalls {
				t.Fatalf("err %v, calls %d, fallbacks %d", err, calls, falls)
			}
			if len(clk.Waits()) != 0 {
				t.Fatalf("capacity fallback waited %v; want immediate retry", clk.Waits())
			}
			if !tt.wantErr && res.Steps[0].Output["type"] != types[tt.okOn-1] {
				t.Fatalf("output %v", res.Steps[0].Output)
			}
			if tt.wantErr && Classify(err) != ClassCapacity {
				t.Fatalf("class of %v = %v", err, Classify(err))
			}
		})
	}
}

func TestLimiterSpacing(t *testing.T) {
	clk := newFakeClock()
	t0 := clk.Now()
	var starts []time.Duration
	var steps []Step
	for _, id := range []string{"a", "b", "c", "d"} {
		steps = append(steps, Step{ID: id, API: "ec2:RunInstances", Run: func(context.Context, *StepContext) (Output, error) {
			starts = append(starts, clk.Now().Sub(t0))
			return nil, nil
		}})
	}
	steps = append(steps, Step{ID: "free", Tier: 1, API: "ec2:Describe", Run: func(context.Context, *StepContext) (Output, error) {
		starts = append(starts, clk.Now().Sub(t0))
		return nil, nil
	}})
	e := mustEngine(t, Options{Concurrency: 1, Clock: clk, Limits: map[string]Limit{"ec2:RunInstances": {Rate: 0.5, Burst: 1}}})
	if _, err := e.Run(context.Background(), Runbook{Name: "rb", Steps: steps}, "r"); err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{0, 2 * time.Second, 4 * time.Second, 6 * time.Second, 6 * time.Second}
	if len(starts) != len(want) {
		t.Fatalf("starts %v", starts)
	}
	for i := range want {
		if d := starts[i] - want[i]; d < -time.Millisecond || d > time.Millisecond {
			t.Fatalf("starts %v, want %v", starts, want)
		}
	}
	if _, err := New(Options{Limits: map[string]Limit{"x": {Rate: 0}}}); err == nil {
		t.Fatal("New accepted a zero rate")
	}
}

func TestDryRunRunsNothing(t *testing.T) {
	rec := &recorder{}
	journal := t.TempDir() + "/run.jsonl"
	rb := Runbook{Name: "rb", Steps: []Step{okStep(rec, "a", 0), okStep(rec, "b", 1, "a"), okStep(rec, "c", 1)}}
	res, err := mustEngine(t, Options{DryRun: true, Journal: journal}).Run(context.Background(), rb, "r")
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.events) != 0 {
		t.Fatalf("dry run ran steps: %v", rec.events)
	}
	if len(res.Plan) != 2 || res.Plan[1].Steps[0] != "b" || res.Steps[0].State != StatePlanned {
		t.Fatalf("plan %+v steps %+v", res.Plan, res.Steps)
	}
	if len(readRecords(t, journal)) != 0 {
		t.Fatal("dry run wrote a journal")
	}
}

func TestResultDurationsAddUp(t *testing.T) {
	clk := newFakeClock()
	work := func(d time.Duration) func(context.Context, *StepContext) (Output, error) {
		return func(context.Context, *StepContext) (Output, error) { <-clk.After(d); return nil, nil }
	}
	rb := Runbook{Name: "rb", Steps: []Step{
		{ID: "a", Run: work(3 * time.Second)},
		{ID: "b", Run: work(5 * time.Second)},
		{ID: "c", Tier: 1, Run: work(2 * time.Second)},
		{ID: "d", Tier: 2, DependsOn: []string{"c"}, Run: work(time.Second)},
	}}
	res, err := mustEngine(t, Options{Concurrency: 1, Clock: clk}).Run(context.Background(), rb, "r")
	if err != nil {
		t.Fatal(err)
	}
	if res.Seconds != 11 {
		t.Fatalf("total %v s, want 11", res.Seconds)
	}
	var sum float64
	tiers := map[int]TierResult{}
	for _, tr := range res.Tiers {
		sum += tr.Seconds
		tiers[tr.Tier] = tr
		if tr.Started.Before(res.Started) || tr.Ended.After(res.Ended) {
			t.Errorf("tier %d outside the run", tr.Tier)
		}
	}
	if sum > res.Seconds || tiers[0].Seconds != 8 || tiers[1].Seconds != 2 {
		t.Fatalf("tiers %+v sum %v, total %v", res.Tiers, sum, res.Seconds)
	}
	for _, s := range res.Steps {
		tr := tiers[s.Tier]
		if s.Started.Before(tr.Started) || s.Ended.After(tr.Ended) || s.Seconds != s.Ended.Sub(s.Started).Seconds() {
			t.Errorf("step %+v outside tier %+v", s, tr)
		}
	}
	b, err := json.Marshal(res)
	if err != nil || !strings.Contains(string(b), `"seconds":11`) || !strings.Contains(string(b), `"tiers":[`) {
		t.Fatalf("json %s, %v", b, err)
	}
}

func TestNewRejectsUnknownPolicy(t *testing.T) {
	if _, err := New(Options{OnFailure: "pause"}); err == nil {
		t.Fatal("New accepted on-failure pause")
	}
}

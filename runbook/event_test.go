package runbook

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// eventLog collects events; the engine serialises calls, the mutex is for
// the test's reads.
type eventLog struct {
	mu     sync.Mutex
	events []Event
}

func (l *eventLog) observe(ev Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, ev)
}

// kinds returns "kind" or "kind:step" for each event of step ("" = all).
func (l *eventLog) kinds(step string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, ev := range l.events {
		if step == "" || ev.Step == step {
			out = append(out, string(ev.Kind))
		}
	}
	return out
}

func (l *eventLog) find(kind EventKind, step string) (Event, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ev := range l.events {
		if ev.Kind == kind && ev.Step == step {
			return ev, true
		}
	}
	return Event{}, false
}

func TestObserverEvents(t *testing.T) {
	calls := map[string]int{}
	var mu sync.Mutex
	call := func(id string) int {
		mu.Lock()
		defer mu.Unlock()
		calls[id]++
		return calls[id]
	}
	rb := Runbook{Name: "rb", Steps: []Step{
		{ID: "flaky", Run: func(context.Context, *StepContext) (Output, error) {
			if call("flaky") == 1 {
				return nil, Throttled(errors.New("SlowDown"))
			}
			return nil, nil
		}},
		{ID: "compute", Mutating: true, Run: func(context.Context, *StepContext) (Output, error) {
			if call("compute") == 1 {
				return nil, Capacity(errors.New("InsufficientInstanceCapacity"))
			}
			return nil, nil
		}, Fallback: func(int) bool { return true }},
		{ID: "broken", Tier: 1, Run: func(context.Context, *StepContext) (Output, error) {
			return nil, errors.New("boom")
		}},
		okStep(&recorder{}, "after", 2, "broken"),
		okStep(&recorder{}, "other", 2),
	}}
	log := &eventLog{}
	clk := newFakeClock()
	e := mustEngine(t, Options{Concurrency: 1, Clock: clk, OnFailure: OnFailureSkip, Observer: log.observe})
	if _, err := e.Run(context.Background(), rb, "r1"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		step string
		want []string
	}{
		{"flaky", []string{"step-started", "retrying", "done"}},
		{"compute", []string{"step-started", "falling-back", "done"}},
		{"broken", []string{"step-started", "skipped"}},
		{"after", []string{"skipped"}},
		{"other", []string{"step-started", "done"}},
	}
	for _, tt := range tests {
		if got := log.kinds(tt.step); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("events of %s = %v, want %v", tt.step, got, tt.want)
		}
	}
	all := log.kinds("")
	if all[0] != "run-started" || all[len(all)-1] != "run-ended" {
		t.Errorf("run events not first and last: %v", all)
	}
	retry, _ := log.find(EventRetrying, "flaky")
	if !strings.Contains(retry.Detail, "class=throttled") || !strings.Contains(retry.Detail, "delay=") ||
		retry.Err != "SlowDown" || retry.Attempt != 1 || retry.Run != "r1" {
		t.Errorf("retrying event = %+v", retry)
	}
	fb, _ := log.find(EventFallingBack, "compute")
	if fb.Detail != "fallback=1" || fb.Attempt != 1 {
		t.Errorf("falling-back event = %+v", fb)
	}
	if ev, _ := log.find(EventSkipped, "broken"); ev.Err != "boom" || ev.Tier != 1 {
		t.Errorf("skipped event = %+v", ev)
	}
	if ev, _ := log.find(EventDone, "flaky"); ev.Attempt != 2 {
		t.Errorf("done event attempt = %d, want 2", ev.Attempt)
	}
	// Times come from the engine clock: the backoff wait moved it forward.
	start, _ := log.find(EventStepStarted, "flaky")
	done, _ := log.find(EventDone, "flaky")
	if !start.Time.Equal(newFakeClock().now) || !done.Time.After(start.Time) {
		t.Errorf("times: started %v, done %v", start.Time, done.Time)
	}
	b, err := json.Marshal(retry)
	if err != nil || !strings.Contains(string(b), `"kind":"retrying"`) || !strings.Contains(string(b), `"step":"flaky"`) {
		t.Errorf("json %s, %v", b, err)
	}
}

func TestObserverResumedAndCancelled(t *testing.T) {
	journal := t.TempDir() + "/run.jsonl"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rb := Runbook{Name: "rb", Steps: []Step{
		okStep(&recorder{}, "a", 0),
		{ID: "b", Tier: 1, Run: func(ctx context.Context, _ *StepContext) (Output, error) {
			cancel()
			<-ctx.Done()
			return nil, ctx.Err()
		}},
		okStep(&recorder{}, "c", 2),
	}}
	first := &eventLog{}
	if _, err := mustEngine(t, Options{Journal: journal, Observer: first.observe}).Run(ctx, rb, "r"); !errors.Is(err, context.Canceled) {
		t.Fatalf("first run: %v", err)
	}
	if got := first.kinds("b"); !reflect.DeepEqual(got, []string{"step-started", "cancelled"}) {
		t.Errorf("b events %v", got)
	}
	if got := first.kinds("c"); !reflect.DeepEqual(got, []string{"cancelled"}) {
		t.Errorf("c events %v", got)
	}
	if ev, _ := first.find(EventRunEnded, ""); !strings.Contains(ev.Err, "canceled") {
		t.Errorf("run-ended = %+v", ev)
	}
	rb.Steps[1] = okStep(&recorder{}, "b", 1)
	second := &eventLog{}
	if _, err := mustEngine(t, Options{Journal: journal, Observer: second.observe}).Run(context.Background(), rb, "r"); err != nil {
		t.Fatal(err)
	}
	if got := second.kinds("a"); !reflect.DeepEqual(got, []string{"resumed"}) {
		t.Errorf("a events on resume %v", got)
	}
	if got := second.kinds("b"); !reflect.DeepEqual(got, []string{"step-started", "done"}) {
		t.Errorf("b events on resume %v", got)
	}
}

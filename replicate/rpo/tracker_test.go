package rpo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// fakeClock is a settable clock safe for concurrent use.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// logCounter is a slog.Handler that records "LEVEL message" lines.
type logCounter struct {
	mu    sync.Mutex
	lines []string
}

func (h *logCounter) Enabled(context.Context, slog.Level) bool { return true }
func (h *logCounter) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *logCounter) WithGroup(string) slog.Handler            { return h }
func (h *logCounter) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lines = append(h.lines, r.Level.String()+" "+r.Message)
	return nil
}

func (h *logCounter) count(line string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, l := range h.lines {
		if l == line {
			n++
		}
	}
	return n
}

func newTestTracker(objective time.Duration) (*Tracker, *fakeClock, *logCounter) {
	clk := &fakeClock{now: t0}
	logs := &logCounter{}
	tr := NewTracker(Options{
		Bucket: "assets", Source: "s3://assets", Destination: "s3://assets-dr",
		Objective: objective, Interval: 10 * time.Second, StallAfter: 3, ErrorsToStall: 2,
		Clock: clk.Now, Logger: slog.New(logs),
	})
	return tr, clk, logs
}

// step is one action of a scenario, applied at the clock's current time
// after advancing it by wait.
type step struct {
	wait time.Duration
	do   func(tr *Tracker, now time.Time)
}

func changed(key string, ago time.Duration) step {
	return step{do: func(tr *Tracker, now time.Time) { tr.Changed(key, now.Add(-ago)) }}
}
func replicated(key string) step {
	return step{do: func(tr *Tracker, now time.Time) { tr.Replicated(key, now) }}
}
func failed(key string) step {
	return step{do: func(tr *Tracker, _ time.Time) { tr.Failed(key, errors.New("replicate: copy boom")) }}
}
func pass(failures int) step {
	return step{do: func(tr *Tracker, now time.Time) { tr.PassStarted(now); tr.PassEnded(now, failures) }}
}
func wait(d time.Duration) step { return step{wait: d, do: func(*Tracker, time.Time) {}} }

func TestTrackerStates(t *testing.T) {
	tests := []struct {
		name    string
		steps   []step
		state   State
		pending int
		lag     float64
		reason  string
	}{
		{name: "new tracker is unknown", state: StateUnknown},
		{name: "unknown to in-sync after a complete pass", steps: []step{pass(0)}, state: StateInSync},
		{name: "a pass with failures is not complete", steps: []step{pass(1)}, state: StateUnknown},
		{name: "backfill lagging before the first pass", steps: []step{changed("a", 5*time.Second)},
			state: StateLagging, pending: 1, lag: 5},
		{name: "lagging while making progress", steps: []step{
			pass(0), changed("a", 0), changed("b", 0), wait(25 * time.Second), replicated("a"), wait(25 * time.Second),
		}, state: StateLagging, pending: 1, lag: 50},
		{name: "stalled after StallAfter intervals without progress", steps: []step{
			pass(0), changed("a", 0), wait(30 * time.Second),
		}, state: StateStalled, pending: 1, lag: 30, reason: "no progress for 30s"},
		{name: "just below the stall window is lagging", steps: []step{
			pass(0), changed("a", 0), wait(29 * time.Second),
		}, state: StateLagging, pending: 1, lag: 29},
		{name: "idle bucket is not stalled by its first change", steps: []step{
			pass(0), changed("a", 0), replicated("a"), wait(time.Hour), changed("b", time.Second),
		}, state: StateLagging, pending: 1, lag: 1},
		{name: "stalled by consecutive errors", steps: []step{
			pass(0), changed("a", 0), failed("a"), failed("a"),
		}, state: StateStalled, pending: 1, reason: "2 consecutive failures"},
		{name: "errors interrupted by a success do not stall", steps: []step{
			pass(0), changed("a", 0), changed("b", 0), failed("a"), replicated("b"), failed("a"),
		}, state: StateLagging, pending: 1},
		{name: "recovery from stalled to in-sync", steps: []step{
			pass(0), changed("a", 0), failed("a"), failed("a"), wait(time.Minute), replicated("a"),
		}, state: StateInSync},
		{name: "complete pass clears an error stall", steps: []step{
			pass(0), failed("x"), failed("x"), pass(0),
		}, state: StateInSync},
		{name: "lag follows the oldest pending change", steps: []step{
			changed("new", time.Second), changed("old", 9*time.Second), changed("mid", 4*time.Second),
		}, state: StateLagging, pending: 3, lag: 9},
		{name: "replicating the oldest moves lag to the next", steps: []step{
			changed("new", time.Second), changed("old", 9*time.Second), changed("mid", 4*time.Second), replicated("old"),
		}, state: StateLagging, pending: 2, lag: 4},
		{name: "a repeated change keeps the oldest time", steps: []step{
			changed("a", 8*time.Second), changed("a", time.Second),
		}, state: StateLagging, pending: 1, lag: 8},
		{name: "an older report of a pending key moves it back", steps: []step{
			changed("a", time.Second), changed("b", 3*time.Second), changed("a", 6*time.Second),
		}, state: StateLagging, pending: 2, lag: 6},
		{name: "replicating an unknown key is progress only", steps: []step{
			pass(0), changed("a", 0), wait(25 * time.Second), replicated("zzz"), wait(10 * time.Second),
		}, state: StateLagging, pending: 1, lag: 35},
		{name: "change time in the future clamps lag to zero", steps: []step{
			changed("a", -5*time.Second),
		}, state: StateLagging, pending: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr, clk, _ := newTestTracker(0)
			for _, s := range tc.steps {
				clk.Advance(s.wait)
				s.do(tr, clk.Now())
			}
			got := tr.Snapshot()
			if got.State != tc.state || got.Pending != tc.pending || got.LagSeconds != tc.lag || got.Reason != tc.reason {
				t.Errorf("got state %s (%q) pending %d lag %v; want %s (%q) pending %d lag %v",
					got.State, got.Reason, got.Pending, got.LagSeconds, tc.state, tc.reason, tc.pending, tc.lag)
			}
		})
	}
}

func TestRPOBound(t *testing.T) {
	tr, clk, _ := newTestTracker(0)
	if got := tr.Snapshot().RPOBoundSeconds; got != -1 {
		t.Fatalf("bound before any pass = %v, want -1", got)
	}
	tr.PassStarted(clk.Now())
	clk.Advance(4 * time.Second)
	tr.PassEnded(clk.Now(), 0)
	clk.Advance(6 * time.Second)
	s := tr.Snapshot()
	if s.RPOBoundSeconds != 10 || s.LagSeconds != 0 {
		t.Errorf("bound %v lag %v, want 10 (since pass start) and 0", s.RPOBoundSeconds, s.LagSeconds)
	}
	if !s.LastPassStarted.Equal(t0) || !s.LastPass.Equal(t0.Add(4*time.Second)) {
		t.Errorf("last pass %v..%v, want %v..%v", s.LastPassStarted, s.LastPass, t0, t0.Add(4*time.Second))
	}
	tr.Changed("a", t0.Add(-time.Minute))
	if s := tr.Snapshot(); s.RPOBoundSeconds != 70 || s.LagSeconds != 70 {
		t.Errorf("bound %v lag %v, want both 70 (lag dominates)", s.RPOBoundSeconds, s.LagSeconds)
	}
	// A pass with failures does not move the bound.
	tr.PassStarted(clk.Now())
	tr.PassEnded(clk.Now(), 3)
	tr.Replicated("a", clk.Now())
	if s := tr.Snapshot(); s.RPOBoundSeconds != 10 {
		t.Errorf("bound after failed pass %v, want 10", s.RPOBoundSeconds)
	}
}

func TestObjectiveAlertLoggedOncePerBreach(t *testing.T) {
	tr, clk, logs := newTestTracker(5 * time.Second)
	tr.PassStarted(clk.Now())
	tr.PassEnded(clk.Now(), 0)
	tr.Changed("a", clk.Now())
	tr.Changed("b", clk.Now())
	for range 3 {
		clk.Advance(time.Second)
		tr.Check()
	}
	if n := logs.count("WARN RPO objective exceeded"); n != 0 {
		t.Fatalf("alert within objective logged %d times", n)
	}
	for range 10 { // lag 4s .. 13s, all but the first two above 5s
		clk.Advance(time.Second)
		tr.Check()
		tr.Snapshot()
	}
	if s := tr.Snapshot(); !s.ObjectiveExceeded || s.ObjectiveSeconds != 5 {
		t.Errorf("snapshot %+v, want objective 5s exceeded", s)
	}
	tr.Replicated("a", clk.Now())
	tr.Replicated("b", clk.Now())
	for range 3 {
		tr.Check()
	}
	tr.Changed("c", clk.Now().Add(-time.Minute)) // second breach
	tr.Check()
	tr.Check()
	if n := logs.count("WARN RPO objective exceeded"); n != 2 {
		t.Errorf("objective alerts = %d, want 2 (one per breach)\n%s", n, strings.Join(logs.lines, "\n"))
	}
	if n := logs.count("INFO RPO objective met again"); n != 1 {
		t.Errorf("recovery lines = %d, want 1", n)
	}
	if s := tr.Snapshot(); !s.ObjectiveExceeded {
		t.Error("second breach not reported")
	}
}

func TestStallAlertLoggedOnce(t *testing.T) {
	tr, clk, logs := newTestTracker(0)
	tr.Changed("a", clk.Now())
	for range 10 {
		clk.Advance(10 * time.Second)
		tr.Check()
	}
	tr.Replicated("a", clk.Now())
	tr.Check()
	tr.Check()
	if w, i := logs.count("WARN replication stalled"), logs.count("INFO replication resumed"); w != 1 || i != 1 {
		t.Errorf("stalled/resumed lines = %d/%d, want 1/1\n%s", w, i, strings.Join(logs.lines, "\n"))
	}
	if n := logs.count("WARN RPO objective exceeded"); n != 0 {
		t.Errorf("objective alert without objective logged %d times", n)
	}
}

func TestSnapshotCountsAndJSON(t *testing.T) {
	tr, clk, _ := newTestTracker(30 * time.Second)
	tr.Changed("a", clk.Now())
	tr.Changed("b", clk.Now())
	tr.Failed("b", errors.New("replicate: copy s3://assets/b: boom"))
	tr.Replicated("a", clk.Now())
	tr.Failed("b", nil)
	s := tr.Snapshot()
	if s.Replicated != 1 || s.Failed != 2 || s.ConsecutiveFailures != 1 || s.LastError != "unknown error" {
		t.Errorf("counts %+v", s)
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"bucket":"assets"`, `"state":"lagging"`, `"lagSeconds":0`, `"rpoBoundSeconds":-1`,
		`"pending":1`, `"oldestPending":"2026-01-02T03:04:05Z"`, `"objectiveSeconds":30`, `"replicated":1`, `"failed":2`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON %s lacks %s", b, want)
		}
	}
	if strings.Contains(string(b), `"lastPass"`) {
		t.Errorf("JSON %s shows a zero lastPass", b)
	}
}

func TestDefaults(t *testing.T) {
	tr := NewTracker(Options{Bucket: "b"})
	if tr.o.Interval != DefaultInterval || tr.o.StallAfter != DefaultStallAfter || tr.o.ErrorsToStall != DefaultErrorsToStall {
		t.Errorf("defaults %+v", tr.o)
	}
	tr.Changed("k", time.Time{}) // zero time means now, with the real clock
	if s := tr.Snapshot(); s.State != StateLagging || s.LagSeconds > 1 {
		t.Errorf("snapshot %+v", s)
	}
}

func TestTrackerConcurrent(t *testing.T) {
	tr, clk, _ := newTestTracker(time.Second)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 500 {
				key := fmt.Sprintf("w%d/%d", w, i)
				tr.Changed(key, clk.Now())
				switch i % 5 {
				case 0:
					tr.Failed(key, errors.New("boom"))
				case 1:
					tr.PassStarted(clk.Now())
					tr.PassEnded(clk.Now(), 0)
				}
				tr.Replicated(key, clk.Now())
				if i%50 == 0 {
					clk.Advance(time.Millisecond)
					tr.Check()
				}
			}
		})
	}
	wg.Go(func() {
		c := NewCollector(tr)
		for range 50 {
			ch := make(chan prometheusMetric, 64)
			go func() { c.Collect(ch); close(ch) }()
			for range ch {
			}
		}
	})
	wg.Wait()
	s := tr.Snapshot()
	if s.Pending != 0 || s.Replicated != 4000 || s.Failed != 800 || s.State != StateInSync {
		t.Errorf("after concurrent use: %+v", s)
	}
}

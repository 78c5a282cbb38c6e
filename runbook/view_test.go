package runbook

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

// viewRunbook is the runbook of the view tests: two tiers, one with more
// running steps than a line names.
func viewRunbook() Runbook {
	noop := func(context.Context, *StepContext) (Output, error) { return nil, nil }
	rb := Runbook{Name: "ticketing"}
	for _, id := range []string{"db", "bucket"} {
		rb.Steps = append(rb.Steps, Step{ID: id, Tier: 0, Run: noop})
	}
	for i := range 7 {
		rb.Steps = append(rb.Steps, Step{ID: fmt.Sprintf("web-%d", i+1), Tier: 1, Run: noop})
	}
	rb.Steps = append(rb.Steps, Step{ID: "dns", Tier: 2, Run: noop})
	return rb
}

// viewEvents is a fixed run: tier 0 finishes, tier 1 is half done with one
// failure and one retry; frames are rendered between the groups.
func viewEvents(t0 time.Time) [][]Event {
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	ev := func(ms int, kind EventKind, step string, tier int) Event {
		return Event{Time: at(ms), Kind: kind, Run: "r-7", Step: step, Tier: tier, Attempt: 1}
	}
	g1 := []Event{{Time: at(0), Kind: EventRunStarted, Run: "r-7"}, ev(0, EventResumed, "db", 0), ev(100, EventStepStarted, "bucket", 0)}
	g2 := []Event{ev(2300, EventDone, "bucket", 0)}
	for i := range 7 {
		g2 = append(g2, ev(2400+10*i, EventStepStarted, fmt.Sprintf("web-%d", i+1), 1))
	}
	g2 = append(g2, ev(3000, EventRetrying, "web-2", 1), ev(3500, EventDone, "web-1", 1), ev(3600, EventFailed, "web-3", 1))
	g3 := []Event{ev(4000, EventCancelled, "web-2", 1), ev(4000, EventCancelled, "web-4", 1), ev(4000, EventCancelled, "web-5", 1),
		ev(4000, EventDone, "web-6", 1), ev(4000, EventDone, "web-7", 1), ev(4000, EventCancelled, "dns", 2),
		{Time: at(4100), Kind: EventRunEnded, Run: "r-7", Err: "runbook: run r-7: step web-3: boom"}}
	return [][]Event{g1, g2, g3}
}

func TestViewRenderGolden(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	v := NewView(&bytes.Buffer{}, viewRunbook(), ViewOptions{})
	var sb strings.Builder
	fmt.Fprintf(&sb, "== before the run\n%s", v.Render(t0))
	renderAt := []time.Duration{1500 * time.Millisecond, 3800 * time.Millisecond, 9 * time.Second}
	for i, group := range viewEvents(t0) {
		for _, ev := range group {
			v.Observe(ev)
		}
		fmt.Fprintf(&sb, "== at %s\n%s", renderAt[i], v.Render(t0.Add(renderAt[i])))
	}
	golden := filepath.Join("testdata", "view.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(sb.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if sb.String() != string(want) {
		t.Fatalf("render mismatch (run with -update to accept):\n--- got\n%s--- want\n%s", sb.String(), want)
	}
}

func TestViewTerminalRedraw(t *testing.T) {
	var buf syncBuffer
	clk := newFakeClock()
	rb := viewRunbook()
	v := NewView(&buf, rb, ViewOptions{Terminal: true, Clock: clk, Interval: time.Millisecond})
	if !v.Terminal() {
		t.Fatal("not a terminal view")
	}
	v.Start(context.Background())
	// A real run drives the view; the fake clock makes the steps instant.
	e := mustEngine(t, Options{Clock: clk, Observer: v.Observe})
	if _, err := e.Run(context.Background(), rb, "r-1"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return strings.Count(buf.String(), "\x1b[4A") > 0 })
	v.Stop()
	v.Stop() // second call does nothing
	out := buf.String()
	lines := 1 + 3 // header and three tiers
	if !strings.Contains(out, fmt.Sprintf("\x1b[%dA", lines)) {
		t.Fatalf("no cursor-up over %d lines in %q", lines, out)
	}
	// The final frame is last and complete.
	i := strings.LastIndex(out, fmt.Sprintf("\x1b[%dA", lines))
	final := strings.ReplaceAll(out[i:], "\r\x1b[2K", "")
	final = final[strings.IndexByte(final, 'A')+1:]
	if final != v.Render(clk.Now()) || !strings.Contains(final, "tier 1  [##########] 7/7 done") ||
		!strings.HasPrefix(final, "run r-1  ticketing  ") || !strings.Contains(final, "done\n") {
		t.Fatalf("final frame:\n%s", final)
	}
}

func TestViewLogsOutsideTerminal(t *testing.T) {
	var buf syncBuffer
	var logs bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(&lockedWriter{mu: &mu, w: &logs}, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}}))
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	v := NewView(&buf, viewRunbook(), ViewOptions{Logger: logger})
	v.Start(context.Background())
	for _, g := range viewEvents(t0)[:2] {
		for _, ev := range g {
			v.Observe(ev)
		}
	}
	v.Stop()
	if buf.Len() != 0 {
		t.Fatalf("wrote %q outside a terminal", buf.String())
	}
	mu.Lock()
	got := strings.Split(strings.TrimSpace(logs.String()), "\n")
	mu.Unlock()
	want := []string{
		`level=INFO msg="step ended" run=r-7 step=db tier=0 state=resumed`,
		`level=INFO msg="step started" run=r-7 step=bucket tier=0 attempt=1`,
		`level=INFO msg="step ended" run=r-7 step=bucket tier=0 state=done seconds=2.2`,
	}
	if len(got) != 3+7+2 {
		t.Fatalf("%d lines:\n%s", len(got), strings.Join(got, "\n"))
	}
	for i, w := range want {
		if got[i] != w {
			t.Errorf("line %d = %s\nwant        %s", i, got[i], w)
		}
	}
	if last := got[len(got)-1]; !strings.HasPrefix(last, `level=ERROR msg="step ended" run=r-7 step=web-3`) {
		t.Errorf("last line %s", last)
	}
}

// syncBuffer is a bytes.Buffer safe for the redraw goroutine and the test.
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

func (s *syncBuffer) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Len()
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

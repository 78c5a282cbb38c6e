package runbook

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// viewMaxRunning is how many running step IDs a tier line names.
const viewMaxRunning = 4

// ViewOptions configure a View.
type ViewOptions struct {
	// Terminal forces the redrawn display. When false, it is used if w is
	// an *os.File that is a terminal; otherwise steps are logged.
	Terminal bool
	// Clock tells the time of redraws (default the wall clock); use the
	// engine's clock.
	Clock Clock
	// Logger receives one line per step start and end outside a terminal
	// (nil discards).
	Logger *slog.Logger
	// Interval between redraws on a terminal (default 200ms).
	Interval time.Duration
	// TierName, when set, names each tier after its number (for example
	// "compute tier 1").
	TierName func(tier int) string
}

// View shows the progress of a run from its events: plug View.Observe into
// Options.Observer. On a terminal it redraws one line per tier in place
// (Start, Stop); elsewhere it logs each step's start and end. It is safe
// for concurrent use.
type View struct {
	w        io.Writer
	terminal bool
	clock    Clock
	log      *slog.Logger
	interval time.Duration
	tierName func(int) string

	mu      sync.Mutex // guards the fields below and serialises output
	run     string
	name    string
	started time.Time
	ended   time.Time
	runErr  string
	tiers   []int
	steps   map[string]*viewStep
	order   []string // step IDs in runbook order
	lines   int      // lines of the last drawing, to move back over

	runMu   sync.Mutex
	cancel  context.CancelFunc
	stopped chan struct{}
}

// viewStep is what the view knows of one step.
type viewStep struct {
	tier    int
	state   EventKind // "" pending, EventStepStarted while running, or a final kind
	started time.Time
	ended   time.Time
}

// NewView returns a View of rb writing to w. Nothing is drawn until Start.
func NewView(w io.Writer, rb Runbook, o ViewOptions) *View {
	v := &View{w: w, terminal: o.Terminal, clock: o.Clock, log: o.Logger, interval: o.Interval,
		tierName: o.TierName, name: rb.Name, steps: map[string]*viewStep{}}
	if f, ok := w.(*os.File); ok && !v.terminal {
		v.terminal = term.IsTerminal(int(f.Fd()))
	}
	if v.clock == nil {
		v.clock = realClock{}
	}
	if v.log == nil {
		v.log = slog.New(slog.DiscardHandler)
	}
	if v.interval <= 0 {
		v.interval = 200 * time.Millisecond
	}
	for _, s := range rb.Steps {
		v.add(s.ID, s.Tier)
	}
	return v
}

// add registers a step; v.mu must be held (or v not yet shared).
func (v *View) add(id string, tier int) *viewStep {
	s := &viewStep{tier: tier}
	v.steps[id] = s
	v.order = append(v.order, id)
	if i, found := slices.BinarySearch(v.tiers, tier); !found {
		v.tiers = slices.Insert(v.tiers, i, tier)
	}
	return s
}

// Terminal reports whether the view redraws (true) or logs (false).
func (v *View) Terminal() bool { return v.terminal }

// Observe records ev; outside a terminal it logs step starts and ends.
func (v *View) Observe(ev Event) {
	v.mu.Lock()
	defer v.mu.Unlock()
	switch ev.Kind {
	case EventRunStarted:
		v.run, v.started = ev.Run, ev.Time
		return
	case EventRunEnded:
		v.ended, v.runErr = ev.Time, ev.Err
		return
	}
	if ev.Step == "" {
		return
	}
	s, ok := v.steps[ev.Step]
	if !ok {
		s = v.add(ev.Step, ev.Tier)
	}
	switch {
	case ev.Kind == EventStepStarted:
		s.state, s.started, s.ended = EventStepStarted, ev.Time, time.Time{}
		v.log.LogAttrs(context.Background(), slog.LevelInfo, "step started",
			slog.String("run", ev.Run), slog.String("step", ev.Step), slog.Int("tier", ev.Tier), slog.Int("attempt", ev.Attempt))
	case ev.Kind.Final():
		s.state, s.ended = ev.Kind, ev.Time
		attrs := []slog.Attr{slog.String("run", ev.Run), slog.String("step", ev.Step), slog.Int("tier", ev.Tier),
			slog.String("state", string(ev.Kind))}
		if !s.started.IsZero() {
			attrs = append(attrs, slog.Float64("seconds", round1(ev.Time.Sub(s.started).Seconds())))
		}
		level := slog.LevelInfo
		if ev.Err != "" {
			attrs = append(attrs, slog.String("error", ev.Err))
		}
		if ev.Kind == EventFailed {
			level = slog.LevelError
		}
		v.log.LogAttrs(context.Background(), level, "step ended", attrs...)
	}
}

// Start redraws every interval on a terminal until ctx is cancelled or Stop
// is called; outside a terminal it does nothing. Calling it again does
// nothing.
func (v *View) Start(ctx context.Context) {
	v.runMu.Lock()
	defer v.runMu.Unlock()
	if !v.terminal || v.stopped != nil {
		return
	}
	ctx, v.cancel = context.WithCancel(ctx)
	v.stopped = make(chan struct{})
	go func() {
		defer close(v.stopped)
		t := time.NewTicker(v.interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				v.draw()
			}
		}
	}()
}

// Stop ends the redraws and, on a terminal, draws the final frame, which
// stays on screen. Only the first call after Start does anything.
func (v *View) Stop() {
	v.runMu.Lock()
	defer v.runMu.Unlock()
	if v.cancel == nil {
		return
	}
	v.cancel()
	<-v.stopped
	v.cancel = nil
	v.draw()
}

// draw moves the cursor back over the last frame and writes a new one.
// Write errors are ignored: the view must not fail the run it shows.
func (v *View) draw() {
	now := v.clock.Now()
	v.mu.Lock()
	defer v.mu.Unlock()
	frame := v.render(now)
	var sb strings.Builder
	if v.lines > 0 {
		fmt.Fprintf(&sb, "\x1b[%dA", v.lines)
	}
	v.lines = 0
	for line := range strings.Lines(frame) {
		sb.WriteString("\r\x1b[2K")
		sb.WriteString(line)
		v.lines++
	}
	_, _ = io.WriteString(v.w, sb.String())
}

// Render returns the frame at now: a header line for the run, then one line
// per tier, each ending in a newline:
//
//	tier 1  [#####.....] 3/5 done  1 running  0 failed  4.2s  web-2
func (v *View) Render(now time.Time) string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.render(now)
}

func (v *View) render(now time.Time) string {
	var sb strings.Builder
	status := "waiting"
	switch {
	case !v.ended.IsZero() && v.runErr != "":
		status = "failed: " + oneLine(v.runErr)
	case !v.ended.IsZero():
		status = "done"
	case !v.started.IsZero():
		status = "running"
	}
	run := v.run
	if run == "" {
		run = "-"
	}
	fmt.Fprintf(&sb, "run %s  %s  %s  %s\n", run, v.name, span(v.started, v.ended, now), status)
	for _, tier := range v.tiers {
		var total, done, running, failed, skipped, cancelled int
		var first, last time.Time
		var names []string
		for _, id := range v.order {
			s := v.steps[id]
			if s.tier != tier {
				continue
			}
			total++
			switch s.state {
			case EventDone, EventResumed:
				done++
			case EventStepStarted:
				running++
				names = append(names, id)
			case EventFailed:
				failed++
			case EventSkipped:
				skipped++
			case EventCancelled:
				cancelled++
			}
			if !s.started.IsZero() && (first.IsZero() || s.started.Before(first)) {
				first = s.started
			}
			if s.ended.After(last) {
				last = s.ended
			}
		}
		if running > 0 || done+failed+skipped+cancelled < total {
			last = time.Time{} // the tier is not over
		}
		label := ""
		if v.tierName != nil {
			label = fmt.Sprintf(" %-16s", v.tierName(tier))
		}
		fmt.Fprintf(&sb, "tier %d%s  [%s] %d/%d done  %d running  %d failed", tier, label, bar(done, total, 10), done, total, running, failed)
		if skipped > 0 {
			fmt.Fprintf(&sb, "  %d skipped", skipped)
		}
		if cancelled > 0 {
			fmt.Fprintf(&sb, "  %d cancelled", cancelled)
		}
		fmt.Fprintf(&sb, "  %s", span(first, last, now))
		if len(names) > viewMaxRunning {
			names = append(names[:viewMaxRunning], fmt.Sprintf("+%d", len(names)-viewMaxRunning))
		}
		if len(names) > 0 {
			sb.WriteString("  " + strings.Join(names, " "))
		}
		sb.WriteByte('\n')
	}
	return sb.String()
}

// bar draws n of total as width cells of '#' and '.'.
func bar(n, total, width int) string {
	full := width
	if total > 0 {
		full = n * width / total
	}
	return strings.Repeat("#", full) + strings.Repeat(".", width-full)
}

// span formats the time from start to end (now if end is zero), or "-".
func span(start, end, now time.Time) string {
	if start.IsZero() {
		return "-"
	}
	if end.IsZero() {
		end = now
	}
	return fmt.Sprintf("%.1fs", end.Sub(start).Seconds())
}

// oneLine returns the first line of s.
func oneLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func round1(f float64) float64 { return math.Round(f*10) / 10 }

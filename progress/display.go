package progress

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// Default redraw intervals.
const (
	DefaultTerminalInterval = 200 * time.Millisecond
	DefaultLogInterval      = 10 * time.Second
	defaultWidth            = 80
)

// Options configure a Display.
type Options struct {
	// Terminal forces terminal rendering (bars redrawn in place with ANSI
	// escapes). When false, terminal rendering is used if w is an *os.File
	// that is a terminal; otherwise progress is logged.
	Terminal bool
	// Interval between redraws (default 200ms on a terminal) or log lines
	// (default 10s otherwise).
	Interval time.Duration
	// Width of the terminal in columns (default: the terminal's width when
	// w is one, else 80).
	Width int
	// Logger receives the progress lines outside a terminal (nil: discard).
	Logger *slog.Logger
	// Clock tells the time (default time.Now).
	Clock func() time.Time
}

// Display shows a set of bars on w. It is safe for concurrent use.
type Display struct {
	w        io.Writer
	terminal bool
	interval time.Duration
	width    func() int
	log      *slog.Logger
	clock    func() time.Time

	mu    sync.Mutex // guards bars and lines, and serialises output
	bars  []*Bar
	lines int // lines drawn by the last redraw, to move back over

	runMu   sync.Mutex
	cancel  context.CancelFunc
	stopped chan struct{}
}

// New returns a Display writing to w. Nothing is shown until Start.
func New(w io.Writer, o Options) *Display {
	d := &Display{w: w, terminal: o.Terminal, log: o.Logger, clock: o.Clock}
	f, isFile := w.(*os.File)
	if !d.terminal && isFile {
		d.terminal = term.IsTerminal(int(f.Fd()))
	}
	d.width = func() int { return defaultWidth }
	switch {
	case o.Width > 0:
		d.width = func() int { return o.Width }
	case isFile && d.terminal:
		d.width = func() int {
			if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 0 {
				return w
			}
			return defaultWidth
		}
	}
	d.interval = o.Interval
	if d.interval <= 0 {
		d.interval = DefaultLogInterval
		if d.terminal {
			d.interval = DefaultTerminalInterval
		}
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.clock == nil {
		d.clock = time.Now
	}
	return d
}

// Terminal reports whether the display draws bars (true) or logs (false).
func (d *Display) Terminal() bool { return d.terminal }

// NewBar adds a bar, shown below the existing ones.
func (d *Display) NewBar(name string) *Bar {
	b := &Bar{Name: name, disp: d, clock: d.clock}
	d.mu.Lock()
	d.bars = append(d.bars, b)
	d.mu.Unlock()
	return b
}

// Start redraws (or logs) every interval in a goroutine until ctx is
// cancelled or Stop is called. Calling Start again does nothing.
func (d *Display) Start(ctx context.Context) {
	d.runMu.Lock()
	defer d.runMu.Unlock()
	if d.stopped != nil {
		return
	}
	ctx, d.cancel = context.WithCancel(ctx)
	d.stopped = make(chan struct{})
	go func() {
		defer close(d.stopped)
		t := time.NewTicker(d.interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				d.Refresh()
			}
		}
	}()
}

// Stop ends the goroutine started by Start, waits for it, and draws the bars
// a last time (on a terminal) or logs a last line for each bar not done.
// Only the first call after Start does anything.
func (d *Display) Stop() {
	d.runMu.Lock()
	defer d.runMu.Unlock()
	if d.cancel == nil {
		return
	}
	d.cancel()
	<-d.stopped
	d.cancel = nil
	d.final()
}

// Refresh redraws the bars now (terminal) or logs one line per bar that is
// not done (otherwise). Start calls it every interval.
func (d *Display) Refresh() {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.clock()
	if d.terminal {
		d.draw(now)
		return
	}
	for _, b := range d.bars {
		if s := b.Snapshot(now); !s.Done {
			d.logBar(s)
		}
	}
}

// final is Stop's last output.
func (d *Display) final() {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.clock()
	if d.terminal {
		d.draw(now)
		return
	}
	for _, b := range d.bars {
		b.mu.Lock()
		logged := b.logged
		b.logged = true
		b.mu.Unlock()
		if !logged {
			d.logBar(b.Snapshot(now))
		}
	}
}

// draw moves the cursor back over the last drawing and writes every bar,
// one cleared line each; d.mu must be held. Write errors are ignored: the
// display is best effort and must not fail the operation it shows.
func (d *Display) draw(now time.Time) {
	var sb strings.Builder
	if d.lines > 0 {
		fmt.Fprintf(&sb, "\x1b[%dA", d.lines)
	}
	width := d.width() - 1 // never write the last column: no wrap
	for _, b := range d.bars {
		sb.WriteString("\r\x1b[2K")
		sb.WriteString(Render(b.Snapshot(now), width, now))
		sb.WriteByte('\n')
	}
	d.lines = len(d.bars)
	_, _ = io.WriteString(d.w, sb.String())
}

// barDone writes the final log line of a bar outside a terminal.
func (d *Display) barDone(b *Bar) {
	if d.terminal {
		return
	}
	b.mu.Lock()
	logged := b.logged
	b.logged = true
	b.mu.Unlock()
	if logged {
		return
	}
	now := d.clock()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.logBar(b.Snapshot(now))
}

// logBar writes one progress line for s.
func (d *Display) logBar(s BarSnapshot) {
	attrs := []slog.Attr{
		slog.String("name", s.Name),
		slog.Int64("objects", s.Objects),
		slog.Int64("objects_total", s.ObjectsTotal),
		slog.Int64("bytes", s.Bytes),
		slog.Int64("bytes_total", s.BytesTotal),
		slog.Float64("rate_objects", round1(s.ObjectRate)),
		slog.Float64("rate_bytes", math.Round(s.ByteRate)),
	}
	level := slog.LevelInfo
	switch {
	case s.Done:
		attrs = append(attrs, slog.Bool("done", true),
			slog.Float64("seconds", round1(s.Finished.Sub(s.Started).Seconds())))
		if s.Err != nil {
			level = slog.LevelError
			attrs = append(attrs, slog.String("error", s.Err.Error()))
		}
	case !s.Final:
		attrs = append(attrs, slog.Bool("listing", true))
	default:
		attrs = append(attrs, slog.String("eta", formatETA(s)))
	}
	if s.Status != "" {
		attrs = append(attrs, slog.String("status", s.Status))
	}
	d.log.LogAttrs(context.Background(), level, "progress", attrs...)
}

func round1(f float64) float64 { return math.Round(f*10) / 10 }

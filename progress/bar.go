// Package progress shows the progress of long operations: on a terminal, one
// bar per item (bucket, tier) redrawn in place; elsewhere, periodic structured
// log lines (log/slog).
//
// A Display owns the output; operations report through the Bars it creates:
//
//	d := progress.New(os.Stderr, progress.Options{Logger: log})
//	d.Start(ctx)
//	defer d.Stop()
//	b := d.NewBar("ticket-assets")
//	b.SetTotal(10000, 40<<20, true)
//	b.Add(1, 4096)
//	b.Done(nil)
package progress

import (
	"sync"
	"time"
)

// Window is the span over which rates (and so ETAs) are measured.
const Window = 5 * time.Second

// sampleEvery is the resolution of the rate window: samples closer together
// than this are merged, which bounds the memory of a busy bar.
const sampleEvery = 100 * time.Millisecond

// sample is the cumulative progress of a bar at time t.
type sample struct {
	t              time.Time
	objects, bytes int64
}

// Bar is the progress of one item. It is safe for concurrent use. Create it
// with Display.NewBar; the zero Bar works too (with the wall clock) but is
// shown nowhere.
type Bar struct {
	// Name is what the bar is labelled with. Set it before sharing the bar.
	Name string

	disp  *Display
	clock func() time.Time

	mu                       sync.Mutex
	objects, bytes           int64
	objectsTotal, bytesTotal int64
	final                    bool
	status                   string
	done                     bool
	err                      error
	started, finished        time.Time
	samples                  []sample // cumulative counts, oldest first
	logged                   bool     // the final log line was written
}

func (b *Bar) now() time.Time {
	if b.clock != nil {
		return b.clock()
	}
	return time.Now()
}

// start records the start time and the first sample; b.mu must be held.
func (b *Bar) start(now time.Time) {
	if b.started.IsZero() {
		b.started = now
		b.samples = append(b.samples, sample{t: now})
	}
}

// SetTotal sets the expected totals. final=false means the total is still
// growing (e.g. the source is being listed): no fraction or ETA is shown.
func (b *Bar) SetTotal(objects, bytes int64, final bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.start(b.now())
	b.objectsTotal, b.bytesTotal, b.final = objects, bytes, final
}

// Add records objects and bytes done since the last call.
func (b *Bar) Add(objects, bytes int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	b.start(now)
	b.objects += objects
	b.bytes += bytes
	s := sample{t: now, objects: b.objects, bytes: b.bytes}
	if n := len(b.samples); n > 1 && now.Sub(b.samples[n-2].t) < sampleEvery {
		b.samples[n-1] = s // merge with the previous sample
	} else {
		b.samples = append(b.samples, s)
	}
	b.prune(now)
}

// prune drops samples that are no longer needed to know the counts at
// now-Window: it keeps the newest sample at or before that instant.
func (b *Bar) prune(now time.Time) {
	cut := now.Add(-Window)
	i := 0
	for i+1 < len(b.samples) && !b.samples[i+1].t.After(cut) {
		i++
	}
	if i > 0 {
		b.samples = append(b.samples[:0], b.samples[i:]...)
	}
}

// SetStatus sets a short free-form status shown after the figures (for
// example "retrying: SlowDown"); "" clears it.
func (b *Bar) SetStatus(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.status = s
}

// Done marks the bar finished, failed when err is not nil. Later calls are
// ignored. Outside a terminal the bar's final log line is written now.
func (b *Bar) Done(err error) {
	b.mu.Lock()
	if b.done {
		b.mu.Unlock()
		return
	}
	now := b.now()
	b.start(now)
	b.done, b.err, b.finished = true, err, now
	b.mu.Unlock()
	if b.disp != nil {
		b.disp.barDone(b)
	}
}

// BarSnapshot is the state of a Bar at one instant, what Render draws.
type BarSnapshot struct {
	Name           string
	Objects, Bytes int64
	// ObjectsTotal and BytesTotal are the expected totals; Final is false
	// while they are still growing.
	ObjectsTotal, BytesTotal int64
	Final                    bool
	Status                   string
	Done                     bool
	Err                      error
	// Started is when the bar first saw a total or progress; Finished when
	// Done was called.
	Started, Finished time.Time
	// ObjectRate and ByteRate are per second over the last Window (over the
	// whole run once Done).
	ObjectRate, ByteRate float64
}

// Snapshot returns the bar's state at now.
func (b *Bar) Snapshot(now time.Time) BarSnapshot {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := BarSnapshot{
		Name: b.Name, Objects: b.objects, Bytes: b.bytes,
		ObjectsTotal: b.objectsTotal, BytesTotal: b.bytesTotal, Final: b.final,
		Status: b.status, Done: b.done, Err: b.err,
		Started: b.started, Finished: b.finished,
	}
	if b.done {
		if secs := b.finished.Sub(b.started).Seconds(); secs > 0 {
			s.ObjectRate = float64(b.objects) / secs
			s.ByteRate = float64(b.bytes) / secs
		}
		return s
	}
	if len(b.samples) == 0 {
		return s
	}
	b.prune(now)
	base := b.samples[0]
	from := base.t
	if cut := now.Add(-Window); from.Before(cut) {
		// The counts are constant between samples, so at now-Window
		// they were base's.
		from = cut
	}
	if secs := now.Sub(from).Seconds(); secs > 0 {
		s.ObjectRate = float64(b.objects-base.objects) / secs
		s.ByteRate = float64(b.bytes-base.bytes) / secs
	}
	return s
}

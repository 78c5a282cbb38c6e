package progress

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for concurrent use.
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

func (s *syncBuffer) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.Reset()
}

const clear = "\r\x1b[2K"

func TestTerminalSequence(t *testing.T) {
	clk := newFakeClock()
	var buf syncBuffer
	d := New(&buf, Options{Terminal: true, Width: 81, Clock: clk.Now})
	if !d.Terminal() || d.interval != DefaultTerminalInterval {
		t.Fatalf("terminal %v interval %v", d.Terminal(), d.interval)
	}
	a := d.NewBar("alpha")
	a.SetTotal(100, 0, false)

	d.Refresh()
	want := clear + "alpha  listing…  0 obj  0 obj/s\n"
	if got := buf.String(); got != want {
		t.Fatalf("first draw %q, want %q", got, want)
	}

	buf.Reset()
	clk.Advance(2 * time.Second)
	a.SetTotal(100, 0, true)
	a.Add(50, 0)
	b := d.NewBar("beta")
	d.Refresh()
	want = "\x1b[1A" + // back over the one line drawn before
		clear + "alpha  [===============>              ]  50/100 obj  25 obj/s  ETA 2s\n" +
		clear + "beta  listing…  0 obj  0 obj/s\n"
	if got := buf.String(); got != want {
		t.Fatalf("second draw\n got %q\nwant %q", got, want)
	}

	buf.Reset()
	clk.Advance(time.Second)
	a.Done(nil) // no output of its own on a terminal
	if got := buf.String(); got != "" {
		t.Fatalf("Done wrote %q on a terminal", got)
	}
	b.Done(errors.New("replicate: list s3://beta: AccessDenied"))
	d.Refresh()
	want = "\x1b[2A" +
		clear + "alpha  [==============================]  50/100 obj  17 obj/s  done in 3s\n" +
		clear + "beta  0 obj  0 obj/s  failed: replicate: list s3://beta: AccessDenied\n"
	if got := buf.String(); got != want {
		t.Fatalf("third draw\n got %q\nwant %q", got, want)
	}
	for _, line := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		line = strings.TrimPrefix(line, "\x1b[2A")
		if n := len([]rune(strings.TrimPrefix(line, clear))); n > 80 {
			t.Errorf("line of %d columns on an 81-column terminal: %q", n, line)
		}
	}
}

func TestTerminalStartStop(t *testing.T) {
	var buf syncBuffer
	d := New(&buf, Options{Terminal: true, Interval: 2 * time.Millisecond})
	b := d.NewBar("alpha")
	b.SetTotal(10, 0, true)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d.Start(ctx)
	d.Start(ctx) // a second Start does nothing
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(buf.String(), "\x1b[1A") < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("no periodic redraw within 5s: %q", buf.String())
		}
		time.Sleep(time.Millisecond)
	}
	b.Add(10, 0)
	b.Done(nil)
	d.Stop()
	out := buf.String()
	if !strings.HasSuffix(out, "10/10 obj") && !strings.Contains(out[strings.LastIndex(out, clear):], "10/10 obj") {
		t.Fatalf("final redraw missing: %q", out[max(0, len(out)-200):])
	}
	d.Stop() // only the first Stop draws
	if buf.String() != out {
		t.Fatal("second Stop wrote again")
	}
}

func TestStopWithoutStartAndCancelledContext(t *testing.T) {
	var buf syncBuffer
	d := New(&buf, Options{Terminal: true})
	d.NewBar("a")
	d.Stop()
	if buf.String() != "" {
		t.Fatalf("Stop without Start wrote %q", buf.String())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	d.Start(ctx) // the loop ends at once; Stop still draws the last state
	d.Stop()
	if !strings.Contains(buf.String(), "a  listing…  0 obj") {
		t.Fatalf("final draw %q", buf.String())
	}
}

// recorder is a slog.Handler that keeps the records it handles.
type recorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, rec)
	return nil
}
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler      { return r }

// take returns the records so far as "LEVEL msg k=v ..." and forgets them.
func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, rec := range r.recs {
		s := rec.Level.String() + " " + rec.Message
		rec.Attrs(func(a slog.Attr) bool {
			s += fmt.Sprintf(" %s=%v", a.Key, a.Value)
			return true
		})
		out = append(out, s)
	}
	r.recs = nil
	return out
}

func TestLogMode(t *testing.T) {
	clk := newFakeClock()
	rec := &recorder{}
	var buf syncBuffer
	d := New(&buf, Options{Logger: slog.New(rec), Clock: clk.Now})
	if d.Terminal() || d.interval != DefaultLogInterval {
		t.Fatalf("a buffer is no terminal: terminal %v interval %v", d.Terminal(), d.interval)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d.Start(ctx) // 10s interval: only Refresh and Done below log

	a := d.NewBar("alpha")
	b := d.NewBar("beta")
	c := d.NewBar("gamma")
	a.SetTotal(100, 100*kib, true)
	b.SetTotal(7, 0, false)
	c.SetTotal(1, 1, true)
	clk.Advance(4 * time.Second)
	a.Add(40, 40*kib)
	c.SetStatus("retrying: SlowDown")

	d.Refresh()
	want := []string{
		"INFO progress name=alpha objects=40 objects_total=100 bytes=40960 bytes_total=102400 rate_objects=10 rate_bytes=10240 eta=6s",
		"INFO progress name=beta objects=0 objects_total=7 bytes=0 bytes_total=0 rate_objects=0 rate_bytes=0 listing=true",
		"INFO progress name=gamma objects=0 objects_total=1 bytes=0 bytes_total=1 rate_objects=0 rate_bytes=0 eta=? status=retrying: SlowDown",
	}
	checkRecords(t, "refresh", rec.take(), want)

	a.Add(60, 60*kib)
	a.Done(nil)
	b.Done(errors.New("replicate: list s3://beta: NoSuchBucket"))
	want = []string{
		"INFO progress name=alpha objects=100 objects_total=100 bytes=102400 bytes_total=102400 rate_objects=25 rate_bytes=25600 done=true seconds=4",
		"ERROR progress name=beta objects=0 objects_total=7 bytes=0 bytes_total=0 rate_objects=0 rate_bytes=0 done=true seconds=4 error=replicate: list s3://beta: NoSuchBucket",
	}
	checkRecords(t, "done", rec.take(), want)

	clk.Advance(time.Second)
	d.Refresh() // done bars are not logged again
	checkRecords(t, "refresh after done", rec.take(), []string{
		"INFO progress name=gamma objects=0 objects_total=1 bytes=0 bytes_total=1 rate_objects=0 rate_bytes=0 eta=? status=retrying: SlowDown",
	})
	d.Stop() // a last line for the bar still running, none for the others
	checkRecords(t, "stop", rec.take(), []string{
		"INFO progress name=gamma objects=0 objects_total=1 bytes=0 bytes_total=1 rate_objects=0 rate_bytes=0 eta=? status=retrying: SlowDown",
	})
	c.Done(nil) // already had its last line at Stop
	if got := rec.take(); len(got) != 0 {
		t.Fatalf("Done after Stop logged %q", got)
	}
	if buf.String() != "" {
		t.Fatalf("log mode wrote to the writer: %q", buf.String())
	}
}

func checkRecords(t *testing.T, step string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("%s: records\n%s\nwant\n%s", step, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestLogModePeriodic(t *testing.T) {
	rec := &recorder{}
	d := New(&syncBuffer{}, Options{Logger: slog.New(rec), Interval: 2 * time.Millisecond})
	d.NewBar("alpha").SetTotal(1, 0, false)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d.Start(ctx)
	deadline := time.Now().Add(5 * time.Second)
	for {
		rec.mu.Lock()
		n := len(rec.recs)
		rec.mu.Unlock()
		if n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no periodic log lines within 5s")
		}
		time.Sleep(time.Millisecond)
	}
	d.Stop()
}

func TestNilLoggerAndFileDetection(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d := New(f, Options{}) // a regular file is not a terminal; nil logger discards
	if d.Terminal() {
		t.Fatal("regular file detected as a terminal")
	}
	b := d.NewBar("a")
	b.Add(1, 1)
	d.Refresh()
	b.Done(nil)
	if st, err := f.Stat(); err != nil || st.Size() != 0 {
		t.Fatalf("log mode wrote to the file (size %v, %v)", st.Size(), err)
	}
}

func TestConcurrentUse(t *testing.T) {
	for _, terminal := range []bool{true, false} {
		t.Run(fmt.Sprintf("terminal=%v", terminal), func(t *testing.T) {
			var buf syncBuffer
			rec := &recorder{}
			d := New(&buf, Options{Terminal: terminal, Interval: time.Millisecond, Logger: slog.New(rec)})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			d.Start(ctx)
			const workers, adds = 8, 500
			bar := d.NewBar("shared")
			bar.SetTotal(0, 0, false)
			var wg sync.WaitGroup
			for i := range workers {
				wg.Go(func() {
					own := d.NewBar(fmt.Sprintf("w%d", i))
					for j := range adds {
						bar.Add(1, 10)
						own.Add(1, 10)
						if j%50 == 0 {
							bar.SetStatus(fmt.Sprintf("w%d at %d", i, j))
							bar.SetTotal(int64(workers*adds), int64(workers*adds*10), j > 0)
							d.Refresh()
						}
					}
					own.Done(nil)
				})
			}
			wg.Wait()
			bar.Done(nil)
			d.Stop()
			s := bar.Snapshot(time.Now())
			if s.Objects != workers*adds || s.Bytes != workers*adds*10 {
				t.Fatalf("shared bar counted %d objects %d bytes", s.Objects, s.Bytes)
			}
		})
	}
}

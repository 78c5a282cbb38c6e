package progress

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

const (
	kib = 1 << 10
	mib = 1 << 20
)

func TestRenderGolden(t *testing.T) {
	mid := BarSnapshot{
		Name: "ticket-assets", Objects: 5120, ObjectsTotal: 10000, Bytes: 20 * mib, BytesTotal: 39*mib + 100*kib,
		Final: true, Started: t0, ObjectRate: 1234.4, ByteRate: 4.8 * mib,
	}
	cases := []struct {
		name  string
		snap  BarSnapshot
		width int
	}{
		{"listing", BarSnapshot{Name: "ticket-assets", Objects: 812, Bytes: 3 * mib, Started: t0, ObjectRate: 160, ByteRate: 640 * kib}, 80},
		{"listing-narrow", BarSnapshot{Name: "ticket-assets", Objects: 812, Bytes: 3 * mib, Started: t0, ObjectRate: 160, ByteRate: 640 * kib}, 50},
		{"midway-wide", mid, 120},
		{"midway-80", mid, 80},
		{"midway-60", mid, 60},
		{"midway-40", mid, 40},
		{"midway-status", func() BarSnapshot { s := mid; s.Status = "retrying: SlowDown"; return s }(), 140},
		{"no-rate-yet", func() BarSnapshot { s := mid; s.ObjectRate, s.ByteRate = 0, 0; return s }(), 120},
		{"long-name", func() BarSnapshot { s := mid; s.Name = "a-very-long-bucket-name-for-the-assets-of-ticketing"; return s }(), 120},
		{"done", BarSnapshot{
			Name: "ticket-assets", Objects: 10000, ObjectsTotal: 10000, Bytes: 39 * mib, BytesTotal: 39 * mib,
			Final: true, Done: true, Started: t0, Finished: t0.Add(8 * time.Second), ObjectRate: 1250, ByteRate: 4.9 * mib,
		}, 120},
		{"error", BarSnapshot{
			Name: "ticket-assets", Objects: 300, ObjectsTotal: 10000, Bytes: 1 * mib, BytesTotal: 39 * mib,
			Final: true, Done: true, Err: errors.New("replicate: copy s3://ticket-assets/a.txt: AccessDenied\nmore detail"),
			Started: t0, Finished: t0.Add(2 * time.Second), ObjectRate: 150, ByteRate: 512 * kib,
		}, 120},
		{"error-80", BarSnapshot{
			Name: "ticket-assets", Objects: 300, ObjectsTotal: 10000, Bytes: 1 * mib, BytesTotal: 39 * mib,
			Final: true, Done: true, Err: errors.New("replicate: copy s3://ticket-assets/a.txt: AccessDenied"),
			Started: t0, Finished: t0.Add(2 * time.Second), ObjectRate: 150, ByteRate: 512 * kib,
		}, 80},
		{"zero-total", BarSnapshot{Name: "empty", Final: true, Started: t0}, 80},
		{"zero-total-done", BarSnapshot{Name: "empty", Final: true, Done: true, Started: t0, Finished: t0.Add(300 * time.Millisecond)}, 80},
		{"objects-only", BarSnapshot{Name: "tier-1", Objects: 3, ObjectsTotal: 12, Final: true, Started: t0, ObjectRate: 0.5}, 80},
		{"huge", BarSnapshot{
			Name: "archive", Objects: 1234567890, ObjectsTotal: 9876543210, Bytes: 1 << 50, BytesTotal: 3 << 50,
			Final: true, Started: t0, ObjectRate: 98765.4, ByteRate: 1 << 30,
		}, 160},
		{"eta-hours", BarSnapshot{Name: "slow", Objects: 1, ObjectsTotal: 100000, Final: true, Started: t0, ObjectRate: 10}, 100},
		{"eta-forever", BarSnapshot{Name: "slow", Objects: 1, ObjectsTotal: 1e12, Final: true, Started: t0, ObjectRate: 1}, 100},
		{"tiny-width", mid, 12},
	}
	var sb strings.Builder
	for _, c := range cases {
		got := Render(c.snap, c.width, t0.Add(12*time.Second))
		if n := utf8.RuneCountInString(got); n > c.width {
			t.Errorf("%s: %d runes, more than width %d: %q", c.name, n, c.width, got)
		}
		if strings.ContainsAny(got, "\r\n") {
			t.Errorf("%s: line break in %q", c.name, got)
		}
		fmt.Fprintf(&sb, "=== %s (width %d)\n%s\n", c.name, c.width, got)
	}
	golden := filepath.Join("testdata", "render.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(sb.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got := sb.String(); got != string(want) {
		t.Errorf("Render output differs from %s (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", golden, got, want)
	}
}

func TestFormatters(t *testing.T) {
	counts := []struct {
		n    int64
		want string
	}{{0, "0"}, {999, "999"}, {1000, "1,000"}, {123456, "123,456"}, {-1234567, "-1,234,567"}, {9223372036854775807, "9,223,372,036,854,775,807"}}
	for _, c := range counts {
		if got := formatCount(c.n); got != c.want {
			t.Errorf("formatCount(%d) = %q, want %q", c.n, got, c.want)
		}
	}
	bytes := []struct {
		n    int64
		want string
	}{{0, "0 B"}, {1023, "1023 B"}, {1024, "1.0 KiB"}, {20 * mib, "20.0 MiB"}, {1 << 60, "1.0 EiB"}, {9223372036854775807, "8.0 EiB"}}
	for _, c := range bytes {
		if got := formatBytes(c.n); got != c.want {
			t.Errorf("formatBytes(%d) = %q, want %q", c.n, got, c.want)
		}
	}
	durs := []struct {
		d    time.Duration
		want string
	}{{0, "0s"}, {1400 * time.Millisecond, "1s"}, {65 * time.Second, "1m05s"}, {2*time.Hour + 3*time.Minute + 40*time.Second, "2h03m"}}
	for _, c := range durs {
		if got := formatDuration(c.d); got != c.want {
			t.Errorf("formatDuration(%v) = %q, want %q", c.d, got, c.want)
		}
	}
	if got := truncate("ticket-assets", 8); got != "ticket-…" {
		t.Errorf("truncate = %q", got)
	}
}

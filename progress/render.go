package progress

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Layout limits of a rendered line.
const (
	maxName     = 24 // longest name shown in full
	minName     = 8  // a name is never cut shorter than this
	minBarInner = 10 // narrowest bar worth drawing
	maxBarInner = 30 // widest bar drawn
)

// Render draws one bar as a single line of at most width columns (runes),
// without a newline:
//
//	ticket-assets  [======>       ]  5,120/10,000 obj  20.0 MiB/39.1 MiB  1,234 obj/s  4.8 MiB/s  ETA 4s
//
// While the total is not final, "listing…" replaces the bar and there is no
// ETA but the time since the bar started (now - Started). A finished bar shows "done in D" or "failed: ERR". When the line is
// too wide the bar shrinks, then the name is cut, then the bar, the byte rate
// and the object rate are left out in that order, and as a last resort the
// line is cut. Byte figures are left out when there are no bytes at all.
func Render(b BarSnapshot, width int, now time.Time) string {
	name := b.Name
	if name == "" {
		name = "-"
	}
	name = truncate(name, maxName)

	counts := formatCount(b.Objects) + " obj"
	bytes := formatBytes(b.Bytes)
	if b.Final {
		counts = formatCount(b.Objects) + "/" + formatCount(b.ObjectsTotal) + " obj"
		bytes += "/" + formatBytes(b.BytesTotal)
	}
	objRate := formatCount(int64(math.Round(b.ObjectRate))) + " obj/s"
	byteRate := formatBytes(int64(math.Round(b.ByteRate))) + "/s"
	tail := tailText(b, now)

	hasBytes := b.Bytes != 0 || b.BytesTotal != 0 // else objects are all there is (runbook steps)
	withBar := b.Final || b.Done
	frac := fraction(b)
	build := func(name string, inner int, rates int) string {
		parts := []string{name}
		switch {
		case inner > 0 && withBar:
			parts = append(parts, drawBar(frac, inner, b.Done && b.Err == nil))
		case inner > 0:
			parts = append(parts, "listing…")
		}
		parts = append(parts, counts)
		if hasBytes {
			parts = append(parts, bytes)
		}
		if rates >= 1 {
			parts = append(parts, objRate)
		}
		if rates >= 2 && hasBytes {
			parts = append(parts, byteRate)
		}
		if tail != "" {
			parts = append(parts, tail)
		}
		return strings.Join(parts, "  ")
	}
	fits := func(s string) bool { return utf8.RuneCountInString(s) <= width }

	// With the bar: as wide as possible up to maxBarInner, down to
	// minBarInner, cutting the name if that makes it fit.
	if withBar {
		fixed := utf8.RuneCountInString(build(name, 0, 2)) + 2 + 2 // "  [" ... "]" minus inner
		inner := min(width-fixed, maxBarInner)
		if inner >= minBarInner {
			return build(name, inner, 2)
		}
		if cut := utf8.RuneCountInString(name) - (minBarInner - inner); cut >= minName {
			return build(truncate(name, cut), minBarInner, 2)
		}
	} else if s := build(name, 1, 2); fits(s) {
		return s
	} else if over := utf8.RuneCountInString(s) - width; utf8.RuneCountInString(name)-over >= minName {
		return build(truncate(name, utf8.RuneCountInString(name)-over), 1, 2)
	}
	// Without the bar (or "listing…"), dropping the rates one by one.
	for rates := 2; rates >= 0; rates-- {
		s := build(name, 0, rates)
		if fits(s) {
			return s
		}
		over := utf8.RuneCountInString(s) - width
		if n := utf8.RuneCountInString(name) - over; n >= minName {
			return build(truncate(name, n), 0, rates)
		}
	}
	return truncate(build(truncate(name, minName), 0, 0), width)
}

// tailText is what follows the figures: ETA, done, failed, and the status.
func tailText(b BarSnapshot, now time.Time) string {
	var t string
	switch {
	case b.Done && b.Err != nil:
		t = "failed: " + oneLine(b.Err.Error())
	case b.Done:
		t = "done in " + formatDuration(b.Finished.Sub(b.Started))
	case b.Final:
		t = "ETA " + formatETA(b)
	case !b.Started.IsZero() && now.After(b.Started):
		t = formatDuration(now.Sub(b.Started)) // how long it has been listing
	}
	if b.Status != "" && !(b.Done && b.Err != nil) {
		if t != "" {
			t += "  "
		}
		t += oneLine(b.Status)
	}
	return t
}

// fraction is the part done, by bytes when there are any, else by objects.
func fraction(b BarSnapshot) float64 {
	var f float64
	switch {
	case b.BytesTotal > 0:
		f = float64(b.Bytes) / float64(b.BytesTotal)
	case b.ObjectsTotal > 0:
		f = float64(b.Objects) / float64(b.ObjectsTotal)
	default:
		f = 1 // nothing to do is all done
	}
	return math.Max(0, math.Min(1, f))
}

// formatETA estimates the time left from the window rate of the same
// measure as the bar's fraction; "?" when there is no rate yet.
func formatETA(b BarSnapshot) string {
	var left, rate float64
	switch {
	case b.BytesTotal > 0:
		left, rate = float64(b.BytesTotal-b.Bytes), b.ByteRate
	case b.ObjectsTotal > 0:
		left, rate = float64(b.ObjectsTotal-b.Objects), b.ObjectRate
	}
	if left <= 0 {
		return "0s"
	}
	if rate <= 0 {
		return "?"
	}
	secs := left / rate
	if secs > 100*3600 {
		return ">99h"
	}
	return formatDuration(time.Duration(math.Ceil(secs)) * time.Second)
}

// drawBar draws [=====>    ] with inner columns between the brackets.
func drawBar(frac float64, inner int, complete bool) string {
	n := int(frac * float64(inner))
	if complete {
		n = inner
	}
	var sb strings.Builder
	sb.WriteByte('[')
	switch {
	case n >= inner:
		sb.WriteString(strings.Repeat("=", inner))
	default:
		sb.WriteString(strings.Repeat("=", n))
		sb.WriteByte('>')
		sb.WriteString(strings.Repeat(" ", inner-n-1))
	}
	sb.WriteByte(']')
	return sb.String()
}

// truncate cuts s to at most n runes, ending with "…" when cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// oneLine keeps the first line of s.
func oneLine(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		return s[:i]
	}
	return s
}

// formatCount writes n with thousands separators: 1,234,567.
func formatCount(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var sb strings.Builder
	if neg {
		sb.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			sb.WriteByte(',')
		}
		sb.WriteRune(c)
	}
	return sb.String()
}

// formatBytes writes n in binary units with one decimal: 512 B, 20.0 MiB.
func formatBytes(n int64) string {
	const units = "KMGTPE"
	if n < 1024 && n > -1024 {
		return strconv.FormatInt(n, 10) + " B"
	}
	v := float64(n)
	i := -1
	for math.Abs(v) >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, units[i])
}

// formatDuration writes d rounded to the second: 4s, 1m05s, 2h03m.
func formatDuration(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d/time.Minute), int(d%time.Minute/time.Second))
	default:
		return fmt.Sprintf("%dh%02dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
}

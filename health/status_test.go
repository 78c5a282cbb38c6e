package health_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/pilotlight/pilotlight/health"
)

func TestWriteTable(t *testing.T) {
	now := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	sts := []health.Status{
		{ID: "api/primary", State: health.Unhealthy, Since: now.Add(-90 * time.Second),
			Reason: "majority: 1/3 healthy, 2 unhealthy, 0 unknown;\nvantage b: 3 consecutive failures: timeout",
			Votes:  map[string]health.State{"a": health.Unhealthy, "b": health.Unhealthy, "c": health.Healthy}},
		{ID: "www/primary", State: health.Unhealthy, Since: now.Add(-5 * time.Second), Reason: "override unhealthy: drill",
			Override: &health.Override{State: health.Unhealthy, Until: now.Add(4*time.Minute + 400*time.Millisecond)},
			Votes:    map[string]health.State{"local": health.Healthy}},
		{ID: "www/recovery", State: health.Healthy, Override: &health.Override{State: health.Healthy},
			Votes: map[string]health.State{"local": health.Unknown}},
		{ID: "x", State: health.Unknown},
	}
	var buf bytes.Buffer
	if err := health.WriteTable(&buf, sts, now); err != nil {
		t.Fatal(err)
	}
	want := `ID            STATE      SINCE  OVERRIDE            VOTES                                   REASON
api/primary   unhealthy  1m30s  -                   1/3 healthy (a unhealthy, b unhealthy)  majority: 1/3 healthy, 2 unhealthy, 0 unknown; vantage b: 3 consecutive failures: timeout
www/primary   unhealthy  5s     unhealthy for 4m0s  1/1 healthy                             override unhealthy: drill
www/recovery  healthy    -      healthy             0/1 healthy (local unknown)             -
x             unknown    -      -                   -                                       -
`
	if got := buf.String(); got != want {
		t.Fatalf("WriteTable() =\n%s\nwant\n%s", got, want)
	}
	if err := health.WriteTable(failWriter{}, sts, now); err == nil {
		t.Fatal("WriteTable to a failing writer = nil")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestStatusJSON(t *testing.T) {
	st := health.Status{ID: "www/primary", State: health.Healthy, Since: time.Unix(10, 0).UTC(),
		Override: &health.Override{State: health.Healthy, Set: time.Unix(5, 0).UTC()},
		Votes:    map[string]health.State{"local": health.Healthy}}
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"www/primary","state":"healthy","since":"1970-01-01T00:00:10Z","override":{"state":"healthy","set":"1970-01-01T00:00:05Z"},"votes":{"local":"healthy"}}`
	if string(b) != want {
		t.Fatalf("json = %s\nwant %s", b, want)
	}
	var back health.Status
	if err := json.Unmarshal(b, &back); err != nil || back.Votes["local"] != health.Healthy || back.Override.State != health.Healthy {
		t.Fatalf("round trip = %+v, %v", back, err)
	}
}

package rpo

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

type prometheusMetric = prometheus.Metric

const metricsHelp = `
# HELP pilotlight_replication_lag_seconds Age of the oldest change not yet in the replica (0 when none is pending).
# TYPE pilotlight_replication_lag_seconds gauge
# HELP pilotlight_replication_rpo_bound_seconds Worst-case RPO if change events were lost: max(lag, now - start of the last complete pass); -1 before the first complete pass.
# TYPE pilotlight_replication_rpo_bound_seconds gauge
# HELP pilotlight_replication_pending_objects Objects with changes not yet in the replica.
# TYPE pilotlight_replication_pending_objects gauge
# HELP pilotlight_replication_last_pass_timestamp_seconds Unix time of the end of the last complete pass (0 before the first).
# TYPE pilotlight_replication_last_pass_timestamp_seconds gauge
# HELP pilotlight_replication_state Replication state of the bucket: 1 for the current state, 0 for the others.
# TYPE pilotlight_replication_state gauge
# HELP pilotlight_replication_objects_total Objects replicated or failed since start.
# TYPE pilotlight_replication_objects_total counter
# HELP pilotlight_replication_objective_seconds The plan's RPO objective (0 when none).
# TYPE pilotlight_replication_objective_seconds gauge
`

func TestCollector(t *testing.T) {
	clk := &fakeClock{now: t0}
	assets := NewTracker(Options{Bucket: "assets", Objective: 5 * time.Second, Clock: clk.Now})
	logs := NewTracker(Options{Bucket: "logs", Clock: clk.Now, ErrorsToStall: 1})

	assets.PassStarted(clk.Now())
	clk.Advance(2 * time.Second)
	assets.PassEnded(clk.Now(), 0)
	assets.Changed("a", clk.Now())
	assets.Changed("b", clk.Now())
	assets.Replicated("b", clk.Now())
	logs.Changed("x", clk.Now())
	logs.Failed("x", errors.New("boom"))
	clk.Advance(7 * time.Second)

	c := NewCollector(assets)
	c.Add(logs)
	want := metricsHelp + `
pilotlight_replication_lag_seconds{bucket="assets"} 7
pilotlight_replication_lag_seconds{bucket="logs"} 7
pilotlight_replication_rpo_bound_seconds{bucket="assets"} 9
pilotlight_replication_rpo_bound_seconds{bucket="logs"} -1
pilotlight_replication_pending_objects{bucket="assets"} 1
pilotlight_replication_pending_objects{bucket="logs"} 1
pilotlight_replication_last_pass_timestamp_seconds{bucket="assets"} 1.767323047e+09
pilotlight_replication_last_pass_timestamp_seconds{bucket="logs"} 0
pilotlight_replication_state{bucket="assets",state="in-sync"} 0
pilotlight_replication_state{bucket="assets",state="lagging"} 1
pilotlight_replication_state{bucket="assets",state="stalled"} 0
pilotlight_replication_state{bucket="assets",state="unknown"} 0
pilotlight_replication_state{bucket="logs",state="in-sync"} 0
pilotlight_replication_state{bucket="logs",state="lagging"} 0
pilotlight_replication_state{bucket="logs",state="stalled"} 1
pilotlight_replication_state{bucket="logs",state="unknown"} 0
pilotlight_replication_objects_total{bucket="assets",result="failed"} 0
pilotlight_replication_objects_total{bucket="assets",result="replicated"} 1
pilotlight_replication_objects_total{bucket="logs",result="failed"} 1
pilotlight_replication_objects_total{bucket="logs",result="replicated"} 0
pilotlight_replication_objective_seconds{bucket="assets"} 5
pilotlight_replication_objective_seconds{bucket="logs"} 0
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(c); n != 2*11 {
		t.Errorf("metrics = %d, want 22", n)
	}
	// The lint checks names, units and help texts.
	problems, err := testutil.CollectAndLint(c)
	if err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", err, problems)
	}
}

func TestHandler(t *testing.T) {
	reg := prometheus.NewRegistry()
	tr := NewTracker(Options{Bucket: "assets"})
	if err := reg.Register(NewCollector(tr)); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(Handler(reg))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `pilotlight_replication_state{bucket="assets",state="unknown"} 1`) {
		t.Errorf("scrape %d:\n%s", resp.StatusCode, b)
	}
	srv.Client().CloseIdleConnections()
}

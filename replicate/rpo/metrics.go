package rpo

import (
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

var (
	descLag = prometheus.NewDesc("pilotlight_replication_lag_seconds",
		"Age of the oldest change not yet in the replica (0 when none is pending).",
		[]string{"bucket"}, nil)
	descBound = prometheus.NewDesc("pilotlight_replication_rpo_bound_seconds",
		"Worst-case RPO if change events were lost: max(lag, now - start of the last complete pass); -1 before the first complete pass.",
		[]string{"bucket"}, nil)
	descPending = prometheus.NewDesc("pilotlight_replication_pending_objects",
		"Objects with changes not yet in the replica.",
		[]string{"bucket"}, nil)
	descLastPass = prometheus.NewDesc("pilotlight_replication_last_pass_timestamp_seconds",
		"Unix time of the end of the last complete pass (0 before the first).",
		[]string{"bucket"}, nil)
	descState = prometheus.NewDesc("pilotlight_replication_state",
		"Replication state of the bucket: 1 for the current state, 0 for the others.",
		[]string{"bucket", "state"}, nil)
	descObjects = prometheus.NewDesc("pilotlight_replication_objects_total",
		"Objects replicated or failed since start.",
		[]string{"bucket", "result"}, nil)
	descObjective = prometheus.NewDesc("pilotlight_replication_objective_seconds",
		"The plan's RPO objective (0 when none).",
		[]string{"bucket"}, nil)
)

// Collector exports trackers as Prometheus metrics. It reads each tracker's
// Snapshot at scrape time, so it runs no goroutine of its own. Bucket names
// are the bucket label and must be unique among the trackers of one
// Collector.
type Collector struct {
	mu       sync.Mutex
	trackers []*Tracker
}

var _ prometheus.Collector = (*Collector)(nil)

// NewCollector returns a Collector for trackers.
func NewCollector(trackers ...*Tracker) *Collector {
	return &Collector{trackers: append([]*Tracker(nil), trackers...)}
}

// Add exports one more tracker; it is safe to call while scraping.
func (c *Collector) Add(t *Tracker) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.trackers = append(c.trackers, t)
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descLag, descBound, descPending, descLastPass, descState, descObjects, descObjective} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	trackers := append([]*Tracker(nil), c.trackers...)
	c.mu.Unlock()
	for _, t := range trackers {
		s := t.Snapshot()
		gauge := func(d *prometheus.Desc, v float64, labels ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append([]string{s.Bucket}, labels...)...)
		}
		gauge(descLag, s.LagSeconds)
		gauge(descBound, s.RPOBoundSeconds)
		gauge(descPending, float64(s.Pending))
		var lastPass float64
		if !s.LastPass.IsZero() {
			lastPass = float64(s.LastPass.UnixNano()) / 1e9
		}
		gauge(descLastPass, lastPass)
		for _, st := range States {
			v := 0.0
			if st == s.State {
				v = 1
			}
			gauge(descState, v, string(st))
		}
		gauge(descObjective, s.ObjectiveSeconds)
		ch <- prometheus.MustNewConstMetric(descObjects, prometheus.CounterValue, float64(s.Replicated), s.Bucket, "replicated")
		ch <- prometheus.MustNewConstMetric(descObjects, prometheus.CounterValue, float64(s.Failed), s.Bucket, "failed")
	}
}

// Handler serves reg in the Prometheus text format, for --metrics-listen.
func Handler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pilotlight/pilotlight/replicate"
	"github.com/pilotlight/pilotlight/replicate/events"
	"github.com/pilotlight/pilotlight/replicate/rpo"
)

// trackerObserver adapts an rpo.Tracker to the engine's Observer.
type trackerObserver struct{ *rpo.Tracker }

func (t trackerObserver) PassCompleted(at time.Time, s replicate.Summary) { t.PassEnded(at, s.Failed) }

// continuous runs replications until ctx ends: each one converges on events
// and lists every interval; their RPO is published in STATE/replication.json
// and, optionally, as Prometheus metrics.
type continuous struct {
	stateDir      string
	interval      time.Duration
	metricsListen string
	receiver      *events.Receiver // nil: listing only
	log           *slog.Logger

	trackers []*rpo.Tracker
	reps     []*replicate.Replicator
	pairs    []pair
}

// newContinuous prepares the continuous replication of pairs: an RPO
// tracker and a replicator each.
func newContinuous(g *globals, pairs []pair, o *replicateOptions, log *slog.Logger) (*continuous, error) {
	c := &continuous{stateDir: g.stateDir, interval: o.interval, metricsListen: o.metricsListen, log: log}
	for _, p := range pairs {
		t := rpo.NewTracker(rpo.Options{
			Bucket: p.name, Source: p.src.Name, Destination: p.dst.Name,
			Objective: p.objective, Interval: o.interval, Logger: log,
		})
		ro, err := o.engineOptions(g, p, log)
		if err != nil {
			c.close()
			return nil, err
		}
		ro.Observer = trackerObserver{t}
		r, err := replicate.New(p.src, p.dst, p.policy, ro)
		if err != nil {
			c.close()
			return nil, err
		}
		c.pairs = append(c.pairs, p)
		c.trackers = append(c.trackers, t)
		c.reps = append(c.reps, r)
	}
	return c, nil
}

// close closes the replicators' checkpoints.
func (c *continuous) close() {
	for _, r := range c.reps {
		r.Close()
	}
}

// run blocks until ctx ends or a replication fails permanently at start.
func (c *continuous) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	if c.metricsListen != "" {
		reg := prometheus.NewRegistry()
		reg.MustRegister(rpo.NewCollector(c.trackers...))
		ln, err := net.Listen("tcp", c.metricsListen)
		if err != nil {
			return fmt.Errorf("replicate: metrics listener: %w", err)
		}
		srv := &http.Server{Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), ReadHeaderTimeout: 5 * time.Second}
		c.log.Info("serving metrics", "url", "http://"+ln.Addr().String()+"/metrics")
		wg.Add(1)
		go func() { defer wg.Done(); _ = srv.Serve(ln) }()
		defer srv.Close()
	}
	wg.Add(1)
	go func() { defer wg.Done(); c.publish(ctx) }()

	errs := make(chan error, len(c.reps))
	for i, r := range c.reps {
		var evs <-chan events.Event
		if c.receiver != nil {
			ch, unsubscribe := c.receiver.Subscribe(c.pairs[i].src.Bucket, 4096)
			defer unsubscribe()
			evs = ch
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := r.Run(ctx, replicate.RunOptions{Interval: c.interval, Events: evs})
			if err != nil && !errors.Is(err, context.Canceled) {
				errs <- err
			}
		}()
	}
	select {
	case <-ctx.Done():
		return nil
	case err := <-errs:
		return err
	}
}

// replicationFile is what STATE/replication.json holds.
type replicationFile struct {
	PID     int          `json:"pid"`
	Updated time.Time    `json:"updated"`
	Buckets []rpo.Status `json:"buckets"`
}

func (c *continuous) snapshot() []rpo.Status {
	out := make([]rpo.Status, 0, len(c.trackers))
	for _, t := range c.trackers {
		t.Check()
		out = append(out, t.Snapshot())
	}
	return out
}

// publish writes STATE/replication.json every second until ctx ends, then
// removes it.
func (c *continuous) publish(ctx context.Context) {
	path := filepath.Join(c.stateDir, "replication.json")
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		b, _ := json.MarshalIndent(replicationFile{PID: os.Getpid(), Updated: time.Now(), Buckets: c.snapshot()}, "", "  ")
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, b, 0o644); err == nil {
			_ = os.Rename(tmp, path)
		}
		select {
		case <-ctx.Done():
			_ = os.Remove(path)
			return
		case <-tick.C:
		}
	}
}

// readReplication reads STATE/replication.json when its writer still runs.
func readReplication(stateDir string) (replicationFile, bool) {
	var f replicationFile
	b, err := os.ReadFile(filepath.Join(stateDir, "replication.json"))
	if err != nil || json.Unmarshal(b, &f) != nil {
		return f, false
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", f.PID)); err != nil {
		return f, false
	}
	return f, true
}

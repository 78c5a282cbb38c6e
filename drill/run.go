package drill

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/pilotlight/pilotlight/plan"
	"github.com/pilotlight/pilotlight/report"
	"github.com/pilotlight/pilotlight/runbook"
)

// FaultSpec names a fault and its parameters; providers interpret it.
type FaultSpec struct {
	Kind      string        `json:"kind"`
	Region    string        `json:"region,omitempty"`
	Service   string        `json:"service,omitempty"`
	Count     int           `json:"count,omitempty"`
	Zone      string        `json:"zone,omitempty"`
	Latency   time.Duration `json:"latency,omitempty"`
	Blackhole bool          `json:"blackhole,omitempty"`
	Seed      int64         `json:"seed,omitempty"`
}

// Fault kinds.
var FaultKinds = []string{"instance-kill", "zone-outage", "region-outage", "network", "store-outage"}

// Injected is a fault in place.
type Injected struct {
	ID          string
	Description string
}

// Injector breaks a running deployment and puts it back: providers
// implement it (the local provider for every kind; AWS adds throttling).
type Injector interface {
	Inject(ctx context.Context, spec FaultSpec) (Injected, error)
	Rollback(ctx context.Context, id string) error
}

// Options are the parts and settings of one drill. The caller brings the
// deployment up and tears it down; Run drives traffic, the fault, the
// detection, the recovery and the measurements.
type Options struct {
	ID       string
	Plan     *plan.Plan
	Fault    FaultSpec
	Injector Injector
	// Detect blocks until the health checks see the primary fail and
	// returns when they did and why; it returns ctx's error if they never do.
	Detect func(ctx context.Context) (time.Time, string, error)
	// Declare, when set, is asked after detection and before the failover
	// (a human decision); nil fails over automatically.
	Declare func(ctx context.Context) error
	// Recover runs the failover runbook; observe receives its events.
	Recover func(ctx context.Context, observe func(runbook.Event)) (runbook.Result, error)
	// Present returns the IDs of the client's orders present in the
	// recovery region once the drill is over.
	Present func(ctx context.Context, client string) (map[string]bool, error)
	// TierName names runbook tiers in the report.
	TierName func(int) string
	// Traffic is the synthetic clients' configuration (DNSServer, Name,
	// Port, Rate...).
	Traffic TrafficOptions
	// Warmup runs traffic before the fault (default 5s); Stable is how long
	// traffic must be clean from the recovery region to end (default 3s);
	// Timeout bounds the wait for recovery after the fault (default 2m);
	// DetectWindow is how long to wait for detection before concluding the
	// fault was absorbed without failover (default 10s).
	Warmup, Stable, Timeout, DetectWindow time.Duration
	Logger                                *slog.Logger
	// Progress receives one line per drill phase (nil: none).
	Progress func(format string, a ...any)
}

// Run runs the drill and returns its report; the fault is always rolled
// back before Run returns, even when ctx is cancelled. The report is filled
// as far as the drill got, also on error.
func Run(ctx context.Context, o Options) (report.Drill, error) {
	if o.Warmup <= 0 {
		o.Warmup = 5 * time.Second
	}
	if o.Stable <= 0 {
		o.Stable = 3 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Minute
	}
	if o.DetectWindow <= 0 {
		o.DetectWindow = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Progress == nil {
		o.Progress = func(string, ...any) {}
	}
	if o.TierName == nil {
		o.TierName = func(t int) string { return fmt.Sprintf("tier %d", t) }
	}
	p := o.Plan
	d := report.Drill{
		ID: o.ID, Plan: p.Name, Strategy: string(p.Strategy), Mode: report.ModeAutomatic,
		Primary: p.Regions.Primary.Name, Recovery: p.Regions.Recovery.Name, Started: time.Now(),
		Fault:      report.Fault{Kind: o.Fault.Kind},
		Objectives: report.Objectives{RTOSeconds: p.Objectives.RTO.D().Seconds(), RPOSeconds: p.Objectives.RPO.D().Seconds()},
		Events:     []report.Event{}, Traffic: []report.Sample{}, Steps: []report.Step{},
	}
	if o.Declare != nil {
		d.Mode = report.ModeDeclared
	}
	event := func(at time.Time, kind, msg string) {
		d.Events = append(d.Events, report.Event{Time: at, Kind: kind, Message: msg})
	}
	tr, err := NewTraffic(o.Traffic)
	if err != nil {
		return d, err
	}
	trCtx, stopTraffic := context.WithCancel(context.WithoutCancel(ctx))
	trDone := make(chan error, 1)
	go func() { trDone <- tr.Run(trCtx) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			stopTraffic()
			<-trDone
		}
	}
	defer stop()
	event(time.Now(), report.KindWarmup, fmt.Sprintf("traffic: %.0f requests/s to %s (client %s)", o.Traffic.Rate, o.Traffic.Name, tr.Client()))
	o.Progress("warm-up: %s of traffic through %s", o.Warmup, o.Traffic.Name)
	if err := sleep(ctx, o.Warmup); err != nil {
		return d, err
	}
	if _, ok := tr.StableSince(p.Regions.Primary.Name, o.Warmup/2); !ok {
		return d, fmt.Errorf("drill: warm-up: traffic through %s is not healthy from %s before the fault (errors: %d)", o.Traffic.Name, p.Regions.Primary.Name, tr.Errors(d.Started, time.Now()))
	}

	// The fault, with a rollback that always runs.
	// The fault begins when its injection does: an outage can take effect
	// before the injection returns.
	fault := time.Now()
	inj, err := o.Injector.Inject(ctx, o.Fault)
	if err != nil {
		return d, fmt.Errorf("drill: inject %s: %w", o.Fault.Kind, err)
	}
	d.Fault.Description = inj.Description
	event(fault, report.KindFault, inj.Description)
	o.Progress("fault injected: %s", inj.Description)
	rolledBack := false
	rollback := func() error {
		if rolledBack {
			return nil
		}
		rolledBack = true
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		return o.Injector.Rollback(rctx, inj.ID)
	}
	defer func() { _ = rollback() }()

	// Detection.
	dctx, cancelDetect := context.WithTimeout(ctx, o.DetectWindow)
	detected, why, derr := o.Detect(dctx)
	cancelDetect()
	failover := derr == nil
	if derr != nil && ctx.Err() != nil {
		return d, ctx.Err()
	}
	var res runbook.Result
	deadline := fault.Add(o.Timeout)
	if failover {
		d.RTO.Detection = detected.Sub(fault).Seconds()
		event(detected, report.KindDetected, "health checks: "+p.Regions.Primary.Name+" is unhealthy ("+why+")")
		o.Progress("detected after %.2fs", d.RTO.Detection)
		declared := detected
		if o.Declare != nil {
			if err := o.Declare(ctx); err != nil {
				return d, fmt.Errorf("drill: declare: %w", err)
			}
			declared = time.Now()
			event(declared, report.KindDeclared, "disaster declared")
		}
		d.RTO.Declare = declared.Sub(fault).Seconds()
		rctx, cancel := context.WithDeadline(ctx, deadline)
		tierSeen := map[int]bool{}
		res, err = o.Recover(rctx, func(ev runbook.Event) {
			if ev.Kind == runbook.EventStepStarted && !tierSeen[ev.Tier] {
				tierSeen[ev.Tier] = true
				d.Events = append(d.Events, report.TierEvent(ev.Time, report.KindTierStarted, ev.Tier, o.TierName(ev.Tier)+" started"))
			}
			if ev.Kind == runbook.EventDone && strings.HasPrefix(ev.Step, "dns-") {
				event(ev.Time, report.KindDNSSwitched, "DNS "+strings.TrimPrefix(ev.Step, "dns-")+" answers with "+p.Regions.Recovery.Name)
				d.RTO.DNSSwitch = ev.Time.Sub(fault).Seconds()
			}
		})
		cancel()
		for _, t := range res.Tiers {
			if !t.Ended.IsZero() {
				d.Events = append(d.Events, report.TierEvent(t.Ended, report.KindTierDone, t.Tier, o.TierName(t.Tier)+" done"))
			}
			d.RTO.Tiers = append(d.RTO.Tiers, report.TierTime{Tier: t.Tier, Name: o.TierName(t.Tier), Seconds: t.Seconds})
		}
		for _, s := range res.Steps {
			d.Steps = append(d.Steps, report.Step{ID: s.ID, Tier: s.Tier, State: string(s.State), Attempts: s.Attempts, Seconds: s.Seconds, Error: s.Err})
		}
		if err != nil {
			return finish(ctx, &d, tr, stop, rollback, o, fault, time.Time{}, fmt.Errorf("drill: failover runbook: %w", err))
		}
		d.RTO.Runbook = res.Ended.Sub(fault).Seconds()
		o.Progress("failover runbook done in %.2fs", res.Seconds)
	} else {
		o.Progress("no failover: health checks did not see %s fail within %s", p.Regions.Primary.Name, o.DetectWindow)
	}

	// Recovered: the first success from the serving region after the
	// fault's errors; then stable for a window.
	serving := p.Regions.Primary.Name
	if failover {
		serving = p.Regions.Recovery.Name
	}
	var recovered time.Time
	for {
		if failover {
			if t, ok := tr.FirstSuccessFrom(serving, fault); ok {
				recovered = t
			}
		} else if since, ok := tr.StableSince(serving, o.Stable); ok {
			recovered = firstSuccessAfterErrors(tr, serving, fault, since)
		}
		if !recovered.IsZero() {
			if _, ok := tr.StableSince(serving, o.Stable); ok {
				break
			}
		}
		if time.Now().After(deadline) {
			return finish(ctx, &d, tr, stop, rollback, o, fault, recovered, fmt.Errorf("drill: the service did not recover from %s within %s", serving, o.Timeout))
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return d, err
		}
	}
	return finish(ctx, &d, tr, stop, rollback, o, fault, recovered, nil)
}

// firstSuccessAfterErrors is when service came back without a failover:
// the first success after the last error before the stable run began, or
// the fault itself when no request failed.
func firstSuccessAfterErrors(tr *Traffic, region string, fault, stableSince time.Time) time.Time {
	var lastErr time.Time
	for _, s := range tr.Samples() {
		if s.Start.Before(fault) || s.Start.After(stableSince) {
			continue
		}
		if s.Errors > 0 {
			lastErr = s.Start
		}
	}
	if lastErr.IsZero() {
		return fault
	}
	if t, ok := tr.FirstSuccessFrom(region, lastErr); ok {
		return t
	}
	return stableSince
}

// finish stops the traffic, measures RPO, rolls the fault back and fills
// the rest of the report.
func finish(ctx context.Context, d *report.Drill, tr *Traffic, stop func(), rollback func() error, o Options, fault, recovered time.Time, runErr error) (report.Drill, error) {
	if !recovered.IsZero() {
		d.RTO.Seconds = recovered.Sub(fault).Seconds()
		d.RTO.ClientObserved = d.RTO.Seconds
		d.Events = append(d.Events, report.Event{Time: recovered, Kind: report.KindRecovered, Message: "first successful request after the fault"})
		if st, ok := tr.StableSince(servingRegion(d), o.Stable); ok {
			at := st.Add(o.Stable)
			if at.Before(recovered) {
				at = recovered
			}
			d.Events = append(d.Events, report.Event{Time: at, Kind: report.KindStable, Message: fmt.Sprintf("traffic clean for %s", o.Stable)})
		}
	}
	stop()
	d.ClientErrors = tr.Errors(d.Started, time.Now())
	for _, s := range tr.Samples() {
		d.Traffic = append(d.Traffic, report.Sample{Time: s.Start, Requests: s.Requests, Errors: s.Errors, P50Ms: s.P50Ms, P99Ms: s.P99Ms, Region: topRegion(s.Regions)})
	}
	var errs []error
	if runErr != nil {
		errs = append(errs, runErr)
	}
	if o.Present != nil && runErr == nil {
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		present, err := o.Present(pctx, tr.Client())
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("drill: read orders in %s: %w", servingRegion(d), err))
		} else {
			r := MeasureRPO(tr.Acked(), present, fault)
			d.RPO = report.RPO{AckedWrites: r.Acked, MissingWrites: r.Missing, SpanSeconds: r.Span.Seconds(), LastPresent: r.LastPresent, FirstMissing: r.FirstMissing}
		}
	}
	if err := rollback(); err != nil {
		errs = append(errs, fmt.Errorf("drill: roll back the fault: %w", err))
	}
	d.Events = append(d.Events, report.Event{Time: time.Now(), Kind: report.KindRollback, Message: "fault rolled back"})
	sort.SliceStable(d.Events, func(i, j int) bool { return d.Events[i].Time.Before(d.Events[j].Time) })
	rto := d.RTO.Seconds
	if recovered.IsZero() {
		// Not recovered: the RTO is at least the time waited.
		rto = time.Since(fault).Seconds()
		d.RTO.Seconds = rto
	}
	d.Verdict = report.Judge(d.Objectives, rto, d.RPO.SpanSeconds)
	if recovered.IsZero() {
		hasRTO := false
		for _, f := range d.Verdict.Failures {
			hasRTO = hasRTO || f.Objective == report.ObjectiveRTO
		}
		if !hasRTO {
			d.Verdict.Pass = false
			d.Verdict.Failures = append(d.Verdict.Failures, report.Failure{Objective: report.ObjectiveRTO, Target: d.Objectives.RTOSeconds, Measured: rto,
				Message: fmt.Sprintf("the service did not recover (%.3fs after the fault)", rto)})
		}
	}
	d.Ended = time.Now()
	return *d, errors.Join(errs...)
}

func servingRegion(d *report.Drill) string {
	for _, e := range d.Events {
		if e.Kind == report.KindDetected {
			return d.Recovery
		}
	}
	return d.Primary
}

func topRegion(m map[string]int) string {
	best, n := "", 0
	for r, c := range m {
		if c > n || (c == n && r < best) {
			best, n = r, c
		}
	}
	return best
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

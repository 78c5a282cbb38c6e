package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pilotlight/pilotlight/capacity"
	"github.com/pilotlight/pilotlight/plan"
	awsp "github.com/pilotlight/pilotlight/provider/aws"
	"github.com/pilotlight/pilotlight/recovery"
	"github.com/pilotlight/pilotlight/runbook"
)

// SimulateOptions configure Simulate.
type SimulateOptions struct {
	// Seed draws the provisioning durations.
	Seed int64
	// Shortages declare instance types out of capacity in the recovery
	// region.
	Shortages []Shortage
	// Mode of the failover (default ungraceful: the primary is lost).
	Mode recovery.Mode
	// Concurrency of the runbook engine (default and minimum: the number
	// of steps, so that every step that may run, runs, as the clock's
	// accounting of steps requires).
	Concurrency int
	// Poll is the interval of the runbook's waits (default 10s).
	Poll time.Duration
	// Model times provisioning (default DefaultModel()).
	Model *Model
	// Journal, when set, is the engine's journal (see runbook.Options).
	Journal string
	// RunID names the run (default "simulate").
	RunID string
	// Cloud, when set, is the cloud to run against (a resumed run reuses
	// the cloud of the crashed one); otherwise a new one is made from the
	// plan with Seed and Shortages on a new clock.
	Cloud *Cloud
	// Observer, when set, also receives the engine's events.
	Observer func(runbook.Event)
	// DrillID, when set, simulates an isolated drill of that ID instead of
	// a failover (recovery.Options.Isolated: no fence, promotion or DNS
	// switch; smoke checks of the recovered load balancers), tagging what
	// it creates, and tears it down after the run.
	DrillID string
	// Throttle is the api-throttle fault (off when its Share is 0).
	Throttle APIThrottle
}

// Report is the outcome of a simulated failover.
type Report struct {
	Plan     string        `json:"plan"`
	Seed     int64         `json:"seed"`
	Mode     recovery.Mode `json:"mode"`
	Shortage []Shortage    `json:"shortages,omitempty"`
	// RTO is the simulated recovery time, in seconds: the runbook's run.
	RTO   float64      `json:"rtoSeconds"`
	Tiers []TierReport `json:"tiers"`
	Steps []StepKind   `json:"steps"`
	// Calls counts the cloud API calls by action.
	Calls      []ActionStats `json:"calls"`
	TotalCalls int           `json:"totalCalls"`
	Throttles  int           `json:"throttles"`
	// Probes are end-to-end checks (reachability, requests through DNS),
	// not API calls.
	Probes    int        `json:"probes"`
	Fallbacks []Fallback `json:"fallbacks"`
	Bound     Bound      `json:"bound"`
	// InjectedThrottles are calls the api-throttle fault refused (apart
	// from Throttles, the token buckets').
	InjectedThrottles int `json:"injectedThrottles"`
	// Drill is the isolated drill's ID ("" for a failover); Removed is
	// what its teardown deleted.
	Drill   string   `json:"drill,omitempty"`
	Removed []string `json:"removed,omitempty"`
	// CallsOverMin and TimeOverBound compare the run with the bounds.
	CallsOverMin  float64 `json:"callsOverMin"`
	TimeOverBound float64 `json:"timeOverBound"`
	// WallSeconds is how long the simulation itself took.
	WallSeconds float64    `json:"wallSeconds"`
	Clock       ClockStats `json:"clock"`
	Error       string     `json:"error,omitempty"`
	// Result is the engine's record of the run.
	Result runbook.Result `json:"-"`
}

// TierReport is the span of one runbook tier.
type TierReport struct {
	Tier    int     `json:"tier"`
	Name    string  `json:"name"`
	Start   float64 `json:"startSeconds"`
	Seconds float64 `json:"seconds"`
	// Bound is the tier's share of the time bound.
	Bound float64 `json:"boundSeconds"`
}

// StepKind summarises the steps of one kind (scale, healthy, restore, …).
type StepKind struct {
	Kind    string  `json:"kind"`
	Steps   int     `json:"steps"`
	Max     float64 `json:"maxSeconds"`
	Mean    float64 `json:"meanSeconds"`
	Slowest string  `json:"slowest"`
}

// Fallback is a service that ran another instance type than its first.
type Fallback struct {
	Service string `json:"service"`
	From    string `json:"from"`
	Type    string `json:"type"`
	Count   int    `json:"count"`
	// Steps is how many fallbacks the engine took (including types that
	// were short too).
	Steps int `json:"steps"`
}

// Simulate runs the failover runbook of p against the simulated cloud in
// virtual time and reports it with its bounds. The regions of p are
// treated as sim regions whatever their provider.
func Simulate(ctx context.Context, p *plan.Plan, o SimulateOptions) (*Report, error) {
	p = AsSim(p)
	if o.Mode == "" {
		o.Mode = recovery.Ungraceful
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 4096
	}
	if o.Poll <= 0 {
		o.Poll = 10 * time.Second
	}
	if o.RunID == "" {
		o.RunID = "simulate"
	}
	cloud := o.Cloud
	if cloud == nil {
		clock := NewClock(ClockOptions{})
		defer clock.Stop()
		var err error
		cloud, err = NewCloud(CloudOptions{Plan: p, Clock: clock, Model: o.Model, Seed: o.Seed, Shortages: o.Shortages,
			DrillID: o.DrillID, Throttle: o.Throttle, ClientAttempts: awsp.SDKAttempts})
		if err != nil {
			return nil, err
		}
	}
	clock := cloud.clock
	prov := NewProvider(cloud, ProviderOptions{Poll: o.Poll})
	rb, err := recovery.Build(p, prov, recovery.Options{Direction: recovery.Failover, Mode: o.Mode, HealthyTimeout: 24 * time.Hour, Poll: o.Poll,
		Isolated: o.DrillID != "", DrillID: o.DrillID})
	if err != nil {
		return nil, fmt.Errorf("sim: simulate %s: %w", p.Name, err)
	}
	fallbacks := map[string]int{}
	steps := clock.Steps(rb)
	eng, err := runbook.New(runbook.Options{Concurrency: max(o.Concurrency, len(rb.Steps)), Clock: clock, Journal: o.Journal,
		Backoff: runbook.Backoff{Attempts: attempts(o.Throttle)},
		Observer: func(ev runbook.Event) {
			steps(ev)
			if ev.Kind == runbook.EventFallingBack {
				fallbacks[ev.Step]++
			}
			if o.Observer != nil {
				o.Observer(ev)
			}
		}})
	if err != nil {
		return nil, err
	}
	bound := Bounds(p, cloud, o.Mode)
	wall := time.Now()
	res, runErr := eng.Run(ctx, rb, o.RunID)
	rep := &Report{Plan: p.Name, Seed: cloud.o.Seed, Mode: o.Mode, Shortage: cloud.o.Shortages, RTO: res.Seconds,
		Result: res, Bound: bound, WallSeconds: time.Since(wall).Seconds(), Clock: clock.Stats(), Probes: prov.Probes(), Drill: o.DrillID}
	if o.DrillID != "" {
		removed, err := cloud.Teardown(context.WithoutCancel(ctx), p.Regions.Recovery.Name)
		rep.Removed = removed
		runErr = errors.Join(runErr, err)
	}
	if runErr != nil {
		rep.Error = runErr.Error()
	}
	for _, t := range res.Tiers {
		if t.Started.IsZero() {
			continue
		}
		tr := TierReport{Tier: t.Tier, Name: recovery.TierName(t.Tier), Start: t.Started.Sub(res.Started).Seconds(), Seconds: t.Seconds}
		for _, bt := range bound.Tiers {
			if bt.Tier == t.Tier {
				tr.Bound = bt.Seconds
			}
		}
		rep.Tiers = append(rep.Tiers, tr)
	}
	rep.Steps = stepKinds(res)
	rep.Calls = cloud.Stats()
	for _, a := range rep.Calls {
		rep.TotalCalls += a.Calls
		rep.Throttles += a.Throttled
		rep.InjectedThrottles += a.Injected
	}
	rep.Fallbacks = fallbacksOf(p, res, fallbacks)
	if bound.MinCalls > 0 {
		rep.CallsOverMin = float64(rep.TotalCalls) / float64(bound.MinCalls)
	}
	if bound.Seconds > 0 {
		rep.TimeOverBound = rep.RTO / bound.Seconds
	}
	return rep, runErr
}

// attempts is the engine's retry budget per step (more under the
// api-throttle fault).
func attempts(t APIThrottle) int {
	if t.Share > 0 {
		return awsp.ThrottledStepAttempts
	}
	return awsp.StepAttempts
}

// AsSim returns a copy of p whose regions use the sim provider.
func AsSim(p *plan.Plan) *plan.Plan {
	q := *p
	q.Regions.Primary.Provider = plan.ProviderSim
	q.Regions.Recovery.Provider = plan.ProviderSim
	return &q
}

// stepKinds groups the steps by the part of their ID before the first
// dash (scale, healthy, restore, available, dns, verify, ...).
func stepKinds(res runbook.Result) []StepKind {
	by := map[string]*StepKind{}
	var sum = map[string]float64{}
	for _, s := range res.Steps {
		kind, _, _ := strings.Cut(s.ID, "-")
		k := by[kind]
		if k == nil {
			k = &StepKind{Kind: kind}
			by[kind] = k
		}
		k.Steps++
		sum[kind] += s.Seconds
		if s.Seconds > k.Max || k.Slowest == "" {
			k.Max, k.Slowest = s.Seconds, s.ID
		}
	}
	out := make([]StepKind, 0, len(by))
	for kind, k := range by {
		k.Mean = sum[kind] / float64(k.Steps)
		out = append(out, *k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Kind < out[j].Kind })
	return out
}

// fallbacksOf lists the services whose scale step ran another type than
// their first.
func fallbacksOf(p *plan.Plan, res runbook.Result, steps map[string]int) []Fallback {
	out := []Fallback{}
	for _, s := range res.Steps {
		name, ok := strings.CutPrefix(s.ID, "scale-")
		if !ok {
			continue
		}
		var svc *plan.Service
		for i := range p.Services {
			if p.Services[i].Name == name {
				svc = &p.Services[i]
			}
		}
		if svc == nil {
			continue
		}
		firstType := InstanceTypes(p, svc, p.Regions.Recovery)[0]
		typ := s.Output["instanceType"]
		if typ == "" || (typ == firstType && steps[s.ID] == 0) {
			continue
		}
		n, _ := strconv.Atoi(s.Output["count"])
		out = append(out, Fallback{Service: name, From: firstType, Type: typ, Count: n, Steps: steps[s.ID]})
	}
	return out
}

// finalChoice is the type and count a service ends with when the types
// short in every zone of the recovery region are ruled out, as the
// engine's fallback with capacity.Chooser does, and the short (type,
// zone) pairs met on the way.
func finalChoice(p *plan.Plan, svc *plan.Service, shortIn func(typ string) (zones []string, all bool)) (capacity.Choice, []string) {
	types := InstanceTypes(p, svc, p.Regions.Recovery)
	ch, err := capacity.NewChooser(types, svc.Compute.Count)
	if err != nil {
		return capacity.Choice{Type: types[0], Count: svc.Compute.Count}, nil
	}
	var met []string
	for {
		c := ch.Current()
		zones, all := shortIn(c.Type)
		for _, z := range zones {
			met = append(met, c.Type+"@"+z)
		}
		if !all || !ch.Next() {
			return c, met
		}
	}
}

// WriteText writes the report as tables for a terminal.
func (r *Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "simulated failover of %s (seed %d, %s)\n", r.Plan, r.Seed, r.Mode)
	for _, s := range r.Shortage {
		where := "every zone"
		if s.Zone != "" {
			where = s.Zone
		}
		fmt.Fprintf(tw, "short of capacity: %s in %s\n", s.Type, where)
	}
	fmt.Fprintf(tw, "\nRTO\t%s\tbound %s\t%.2fx\n", secs(r.RTO), secs(r.Bound.Seconds), r.TimeOverBound)
	fmt.Fprintf(tw, "API calls\t%d\tminimum %d\t%.2fx\n", r.TotalCalls, r.Bound.MinCalls, r.CallsOverMin)
	fmt.Fprintf(tw, "throttles\t%d\t\t\n", r.Throttles)
	if r.InjectedThrottles > 0 {
		fmt.Fprintf(tw, "injected throttles\t%d\t(api-throttle fault)\t\n", r.InjectedThrottles)
	}
	if r.Drill != "" {
		fmt.Fprintf(tw, "isolated drill\t%s\tDNS not switched\tremoved %d\n", r.Drill, len(r.Removed))
	}
	fmt.Fprintf(tw, "probes\t%d\t\t\n", r.Probes)
	fmt.Fprintf(tw, "wall clock\t%.2fs\t\t\n", r.WallSeconds)
	fmt.Fprintf(tw, "\nTIER\tSTART\tTIME\tBOUND\n")
	for _, t := range r.Tiers {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.Name, secs(t.Start), secs(t.Seconds), secs(t.Bound))
	}
	fmt.Fprintf(tw, "\nSTEPS\tCOUNT\tMEAN\tMAX\tSLOWEST\n")
	for _, s := range r.Steps {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", s.Kind, s.Steps, secs(s.Mean), secs(s.Max), s.Slowest)
	}
	fmt.Fprintf(tw, "\nACTION\tCALLS\tTHROTTLED\tFAILED\tMINIMUM\n")
	for _, a := range r.Calls {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\n", a.Action, a.Calls, a.Throttled, a.Failed, r.Bound.CallsByAction[a.Action])
	}
	if len(r.Fallbacks) > 0 {
		byType := map[string]int{}
		var keys []string
		for _, f := range r.Fallbacks {
			k := f.From + " → " + f.Type
			if byType[k] == 0 {
				keys = append(keys, k)
			}
			byType[k] += f.Count
		}
		sort.Strings(keys)
		fmt.Fprintf(tw, "\nFALLBACK\tSERVICES\tINSTANCES\t\n")
		for _, k := range keys {
			n := 0
			for _, f := range r.Fallbacks {
				if f.From+" → "+f.Type == k {
					n++
				}
			}
			fmt.Fprintf(tw, "%s\t%d\t%d\t\n", k, n, byType[k])
		}
	}
	if r.Error != "" {
		fmt.Fprintf(tw, "\nerror: %s\n", r.Error)
	}
	return tw.Flush()
}

func secs(s float64) string {
	return (time.Duration(s * float64(time.Second))).Round(100 * time.Millisecond).String()
}

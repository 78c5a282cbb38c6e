// Package sample builds realistic drill reports for the report package's
// tests and its screenshot: a region-outage drill of a pilot-light plan,
// seoul → virginia, with 40 s of traffic at 20 requests a second.
package sample

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/pilotlight/pilotlight/report"
)

// Fault is when the sample drill injects its fault.
var Fault = time.Date(2025, 6, 1, 9, 0, 10, 0, time.UTC)

// at returns the fault time plus s seconds.
func at(s float64) time.Time { return Fault.Add(time.Duration(s * float64(time.Second))) }

// tier is one runbook tier of the sample: when it starts and ends, seconds
// from the fault, and its steps.
type tier struct {
	n          int
	name       string
	start, end float64
	steps      []report.Step
}

// RegionOutage returns a passing drill: detection after 3.0 s, DNS switched
// at 6.1 s, RTO 7.1 s against 30 s, RPO 0.42 s against 1 s with two
// acknowledged writes lost. Its content depends on nothing but the code.
func RegionOutage() report.Drill {
	rng := rand.New(rand.NewPCG(1, 2))
	tiers := []tier{
		{0, "prepare", 3.020, 3.214, []report.Step{
			{ID: "check-virginia", State: "done", Attempts: 1, Seconds: 0.188},
			{ID: "check-data", State: "done", Attempts: 1, Seconds: 0.112},
		}},
		{1, "data", 3.214, 3.981, []report.Step{
			{ID: "fence-seoul", State: "done", Attempts: 2, Seconds: 0.402},
			{ID: "promote-data", State: "done", Attempts: 1, Seconds: 0.365},
		}},
		{2, "compute tier 1", 3.981, 5.934, []report.Step{
			{ID: "scale-web", State: "done", Attempts: 1, Seconds: 1.204},
			{ID: "healthy-web", State: "done", Attempts: 1, Seconds: 0.749},
			{ID: "scale-api", State: "done", Attempts: 1, Seconds: 0.998},
			{ID: "healthy-api", State: "done", Attempts: 1, Seconds: 0.611},
		}},
		{6, "dns", 5.934, 6.141, []report.Step{
			{ID: "dns-www", State: "done", Attempts: 1, Seconds: 0.207},
		}},
		{8, "verify", 6.141, 6.622, []report.Step{
			{ID: "verify-www", State: "done", Attempts: 1, Seconds: 0.481},
		}},
	}
	d := report.Drill{
		ID:       "drill-20250601-090000-7f3a",
		Plan:     "ticketing",
		Strategy: "pilot-light",
		Fault: report.Fault{
			Kind:        "region-outage",
			Description: "region seoul: every instance, load balancer and object store stopped",
		},
		Mode:       report.ModeAutomatic,
		Primary:    "seoul",
		Recovery:   "virginia",
		Started:    at(-10.5),
		Ended:      at(31.2),
		Objectives: report.Objectives{RTOSeconds: 30, RPOSeconds: 1},
		RTO: report.RTO{
			Seconds:        7.104,
			Detection:      3.012,
			Declare:        3.012,
			Runbook:        6.622,
			DNSSwitch:      6.141,
			ClientObserved: 6.870,
		},
		RPO: report.RPO{
			AckedWrites:   163,
			MissingWrites: 2,
			SpanSeconds:   0.42,
			LastPresent:   "w-000048",
			FirstMissing:  "w-000049",
		},
		Cleanup: report.Cleanup{OK: true},
	}
	d.Events = append(d.Events,
		report.Event{Time: at(-10), Kind: report.KindWarmup, Message: "20 clients at 20 req/s through www.ticketing.test"},
		report.Event{Time: at(0), Kind: report.KindFault, Message: "region-outage seoul"},
		report.Event{Time: at(3.012), Kind: report.KindDetected, Message: "www: 3 consecutive failed checks of seoul"},
		report.Event{Time: at(3.012), Kind: report.KindDeclared, Message: "automatic failover seoul → virginia"},
	)
	for _, t := range tiers {
		d.RTO.Tiers = append(d.RTO.Tiers, report.TierTime{Tier: t.n, Name: t.name, Seconds: round(t.end - t.start)})
		d.Events = append(d.Events, report.TierEvent(at(t.start), report.KindTierStarted, t.n,
			fmt.Sprintf("tier %d %s: %s", t.n, t.name, plural(len(t.steps), "step"))))
		if t.n == 6 {
			d.Events = append(d.Events, report.Event{Time: at(6.141), Kind: report.KindDNSSwitched, Message: "www.ticketing.test → virginia (ttl 1s)"})
		}
		d.Events = append(d.Events, report.TierEvent(at(t.end), report.KindTierDone, t.n,
			fmt.Sprintf("tier %d %s done", t.n, t.name)))
		for _, s := range t.steps {
			s.Tier = t.n
			d.Steps = append(d.Steps, s)
		}
	}
	d.Events = append(d.Events,
		report.Event{Time: at(7.104), Kind: report.KindRecovered, Message: "virginia answered 10 requests in a row"},
		report.Event{Time: at(12.104), Kind: report.KindStable, Message: "5s without a client error"},
		report.Event{Time: at(30.0), Kind: report.KindTeardown, Message: "stopped 9 processes, closed 14 listeners"},
	)

	for i := -10; i < 30; i++ {
		s := report.Sample{Time: at(float64(i)), Requests: 20}
		switch {
		case i < 0:
			s.Region = "seoul"
			s.P50Ms = 3.5 + rng.Float64()
			s.P99Ms = 8 + 4*rng.Float64()
		case i < 6:
			s.Errors = 20
		case i == 6:
			s.Errors, s.Region, s.P50Ms, s.P99Ms = 17, "virginia", 21.4, 48.2
		case i == 7:
			s.Errors, s.Region, s.P50Ms, s.P99Ms = 1, "virginia", 9.8, 35.7
		default:
			s.Region = "virginia"
			s.P50Ms = 4 + rng.Float64()
			s.P99Ms = 10 + 12/float64(i-6) + 4*rng.Float64()
		}
		s.P50Ms, s.P99Ms = round(s.P50Ms), round(s.P99Ms)
		d.ClientErrors += s.Errors
		d.Traffic = append(d.Traffic, s)
	}
	d.Verdict = report.Judge(d.Objectives, d.RTO.Seconds, d.RPO.SpanSeconds)
	return d
}

// round rounds to the millisecond (or to 1/1000 of a millisecond for
// latencies), so that the sample's JSON is short.
func round(f float64) float64 { return float64(int64(f*1000+0.5)) / 1000 }

// plural returns "1 step" or "2 steps".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

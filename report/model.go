// Package report renders the result of a DR drill for people and machines:
// a terminal summary (WriteText), indented JSON (WriteJSON) and one
// self-contained HTML page with inline CSS and SVG charts (WriteHTML).
//
// The package holds no drill logic. The drill fills a Drill value — the
// objectives, the measured RTO and RPO, the timeline of events, the traffic
// the synthetic clients saw and the runbook's steps — and Check verifies
// that the value agrees with its own timeline before it is rendered.
// Durations are float seconds throughout, so that the JSON form is stable
// and easy to consume; docs/report.md documents every field.
package report

import (
	"fmt"
	"time"
)

// Mode says who declared the disaster.
type Mode string

// Drill modes.
const (
	// ModeAutomatic: health checks detected the fault and failover started
	// without a person.
	ModeAutomatic Mode = "automatic"
	// ModeDeclared: a person (or the drill acting as one) declared the
	// disaster after detection.
	ModeDeclared Mode = "declared"
)

// Event kinds the drill records. Kinds are open strings; these are the ones
// the report knows how to draw.
const (
	KindWarmup      = "warmup"       // traffic started, before the fault
	KindFault       = "fault"        // the fault was injected: time zero
	KindDetected    = "detected"     // health checks saw the fault
	KindDeclared    = "declared"     // the disaster was declared
	KindTierStarted = "tier-started" // a runbook tier started (Event.Tier set)
	KindTierDone    = "tier-done"    // a runbook tier finished (Event.Tier set)
	KindDNSSwitched = "dns-switched" // DNS answers point to the recovery region
	KindRecovered   = "recovered"    // the service is back: end of the RTO
	KindStable      = "stable"       // traffic has been healthy for a window
	KindRollback    = "rollback"     // the drill rolled back (failback)
	KindTeardown    = "teardown"     // the drill tore its regions down
)

// Drill is the full record of one drill run.
type Drill struct {
	ID       string `json:"id"`       // run ID
	Plan     string `json:"plan"`     // plan name
	Strategy string `json:"strategy"` // backup-restore, pilot-light, warm-standby, active-active
	Fault    Fault  `json:"fault"`
	Mode     Mode   `json:"mode"`
	// Primary and Recovery name the regions the drill failed over from and to.
	Primary  string    `json:"primary"`
	Recovery string    `json:"recovery"`
	Started  time.Time `json:"started"`
	Ended    time.Time `json:"ended"`

	Objectives   Objectives `json:"objectives"`
	RTO          RTO        `json:"rto"`
	RPO          RPO        `json:"rpo"`
	ClientErrors int        `json:"clientErrors"` // failed synthetic requests, whole drill
	Verdict      Verdict    `json:"verdict"`

	Events  []Event  `json:"events"`  // sorted by Time
	Traffic []Sample `json:"traffic"` // one per bucket, sorted by Time
	Steps   []Step   `json:"steps"`   // the failover runbook's steps
	Cleanup Cleanup  `json:"cleanup"`
}

// Fault is what the drill broke.
type Fault struct {
	// Kind is instance-kill, zone-outage, region-outage, network or
	// store-outage.
	Kind        string `json:"kind"`
	Description string `json:"description"` // e.g. "region seoul: all instances and its load balancer stopped"
}

// Objectives are the plan's recovery objectives.
type Objectives struct {
	RTOSeconds float64 `json:"rtoSeconds"`
	RPOSeconds float64 `json:"rpoSeconds"`
}

// RTO is the measured recovery time. Every part is an offset in seconds from
// the fault, not a duration of its own: Detection ≤ Declare ≤ Runbook, and so
// on. A part that did not happen is 0.
type RTO struct {
	Seconds   float64 `json:"seconds"`   // the RTO: "recovered" event − fault
	Detection float64 `json:"detection"` // health checks saw the fault
	Declare   float64 `json:"declare"`   // disaster declared (= Detection in automatic mode)
	Runbook   float64 `json:"runbook"`   // the failover runbook finished
	DNSSwitch float64 `json:"dnsSwitch"` // DNS answered with the recovery region
	// ClientObserved is when the synthetic clients got their first
	// successful answer from the recovery region.
	ClientObserved float64 `json:"clientObserved"`
	// Tiers are the runbook's tiers in the order they ran.
	Tiers []TierTime `json:"tiers"`
}

// TierTime is how long one runbook tier took: from its first step's start to
// its last step's end.
type TierTime struct {
	Tier    int     `json:"tier"`
	Name    string  `json:"name,omitempty"` // e.g. "prepare", "data", "compute tier 1"
	Seconds float64 `json:"seconds"`
}

// RPO is the measured data loss, from sequence-numbered writes the clients
// saw acknowledged.
type RPO struct {
	AckedWrites   int `json:"ackedWrites"`
	MissingWrites int `json:"missingWrites"` // acknowledged but absent from the recovery region
	// SpanSeconds is the RPO: fault time − the acknowledged time of the last
	// write present in the recovery region; 0 when none is missing.
	SpanSeconds  float64 `json:"spanSeconds"`
	LastPresent  string  `json:"lastPresent,omitempty"`  // ID of the newest pre-fault write present
	FirstMissing string  `json:"firstMissing,omitempty"` // ID of the oldest pre-fault write missing
	// NotMeasured, when set, says why the drill measured no RPO (an
	// isolated cloud drill writes no synthetic traffic); the RPO objective
	// is then not judged.
	NotMeasured string `json:"notMeasured,omitempty"`
}

// Objective names, as used in Failure.Objective.
const (
	ObjectiveRTO = "rto"
	ObjectiveRPO = "rpo"
)

// Verdict says whether the drill met its objectives.
type Verdict struct {
	Pass     bool      `json:"pass"`
	Failures []Failure `json:"failures,omitempty"`
}

// Failure is one objective the drill missed.
type Failure struct {
	Objective string  `json:"objective"` // "rto" or "rpo"
	Target    float64 `json:"target"`    // the objective, seconds
	Measured  float64 `json:"measured"`  // seconds
	Over      float64 `json:"over"`      // Measured − Target
	Message   string  `json:"message"`
}

// Event is one moment of the drill's timeline.
type Event struct {
	Time    time.Time `json:"time"`
	Kind    string    `json:"kind"` // see the Kind constants
	Message string    `json:"message"`
	// Tier is the runbook tier of a tier-started or tier-done event, nil
	// otherwise.
	Tier *int `json:"tier,omitempty"`
}

// Sample is what the synthetic clients saw during one traffic bucket.
type Sample struct {
	Time     time.Time `json:"time"` // bucket start
	Requests int       `json:"requests"`
	Errors   int       `json:"errors"`
	P50Ms    float64   `json:"p50Ms"` // latency of successful requests, 0 if none
	P99Ms    float64   `json:"p99Ms"`
	// Region answered most of the bucket's successful requests; "" if none
	// succeeded.
	Region string `json:"region"`
}

// Step is one step of the failover runbook.
type Step struct {
	ID       string  `json:"id"`
	Tier     int     `json:"tier"`
	State    string  `json:"state"` // done, failed, skipped, cancelled, resumed, planned
	Attempts int     `json:"attempts"`
	Seconds  float64 `json:"seconds"`
	Error    string  `json:"error,omitempty"`
}

// Cleanup is what the teardown left behind: OK is true when nothing was.
type Cleanup struct {
	Processes int  `json:"processes"` // child processes still running
	Listeners int  `json:"listeners"` // loopback listeners still open
	OK        bool `json:"ok"`
	// Removed lists what an isolated cloud drill's teardown deleted
	// (kind/ID), found by its drill tag.
	Removed []string `json:"removed,omitempty"`
}

// TierEvent returns a tier-started or tier-done event for tier.
func TierEvent(at time.Time, kind string, tier int, message string) Event {
	return Event{Time: at, Kind: kind, Message: message, Tier: &tier}
}

// Judge compares measured RTO and RPO seconds with the objectives. A
// measurement strictly greater than its objective fails it.
func Judge(o Objectives, rto, rpo float64) Verdict {
	v := Verdict{Pass: true}
	for _, c := range []struct {
		name             string
		target, measured float64
	}{
		{ObjectiveRTO, o.RTOSeconds, rto},
		{ObjectiveRPO, o.RPOSeconds, rpo},
	} {
		if c.measured <= c.target {
			continue
		}
		v.Pass = false
		over := c.measured - c.target
		v.Failures = append(v.Failures, Failure{
			Objective: c.name,
			Target:    c.target,
			Measured:  c.measured,
			Over:      over,
			Message:   fmt.Sprintf("%s %s is over the objective %s by %s", c.name, secs(c.measured), secs(c.target), secs(over)),
		})
	}
	return v
}

// secs formats seconds as a Go duration rounded to the millisecond:
// "7.312s", "420ms", "2m0s".
func secs(s float64) string {
	return time.Duration(s * float64(time.Second)).Round(time.Millisecond).String()
}

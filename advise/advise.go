// Package advise compares the four disaster-recovery strategies for a plan
// (backup-restore, pilot-light, warm-standby, active-active): the expected
// recovery time and recovery point of each, from the step-duration model
// of provider/sim, what the recovery region costs a month, from a price
// table (prices.yaml, embedded), and whether each meets the plan's
// objectives. It recommends the cheapest strategy that meets both, and
// when none does, says which objective is out of reach and what would
// bring it within.
package advise

import (
	"fmt"
	"strings"

	"github.com/pilotlight/pilotlight/plan"
	"github.com/pilotlight/pilotlight/provider/sim"
)

// Report is the advice for one plan.
type Report struct {
	Plan       string          `json:"plan"`
	Objectives plan.Objectives `json:"objectives"`
	// Strategy is the plan's current strategy.
	Strategy       plan.Strategy `json:"strategy"`
	RecoveryRegion string        `json:"recoveryRegion"`
	// PricedAs is the price-table region the recovery region is priced as.
	PricedAs string     `json:"pricedAs"`
	Prices   PricesInfo `json:"prices"`
	// Options has one entry per strategy, cheapest strategy first.
	Options []Option `json:"options"`
	// Recommendation is the cheapest strategy that meets both objectives,
	// or empty when none does.
	Recommendation plan.Strategy `json:"recommendation,omitempty"`
	// Explanation says why, in one or two sentences, or what is out of
	// reach and what would bring it within.
	Explanation string `json:"explanation"`
	// Notes are the assumptions that shaped the figures.
	Notes []string `json:"notes,omitempty"`
}

// PricesInfo names the price table used.
type PricesInfo struct {
	Date     string `json:"date"`
	Source   string `json:"source"`
	Currency string `json:"currency"`
}

// Option is one strategy evaluated for the plan.
type Option struct {
	Strategy plan.Strategy `json:"strategy"`
	// RTO is the estimated recovery time; FullCapacity when every
	// instance serves (later for a warm standby).
	RTO          plan.Duration `json:"rto"`
	FullCapacity plan.Duration `json:"fullCapacity"`
	RTOParts     []Part        `json:"rtoParts"`
	// RPO is the estimated recovery point: the worst of the sources.
	RPO        plan.Duration `json:"rpo"`
	RPOSources []Source      `json:"rpoSources"`
	Cost       Cost          `json:"monthlyCost"`
	MeetsRTO   bool          `json:"meetsRTO"`
	MeetsRPO   bool          `json:"meetsRPO"`
	Meets      bool          `json:"meets"`
	// Misses says, for each objective missed, what it needs and what this
	// strategy gives.
	Misses []string `json:"misses,omitempty"`
}

// Part is one stage of the estimated recovery.
type Part struct {
	Kind     sim.PartKind  `json:"kind"`
	Name     string        `json:"name"`
	Duration plan.Duration `json:"duration"`
	Detail   string        `json:"detail"`
}

// Source is the estimated recovery point of one data source.
type Source struct {
	Kind      sim.SourceKind `json:"kind"`
	Name      string         `json:"name"`
	Mechanism sim.Mechanism  `json:"mechanism"`
	RPO       plan.Duration  `json:"rpo"`
	Detail    string         `json:"detail"`
}

// Advise evaluates every strategy for plan p (loaded, with defaults) with
// price table pr and model m.
func Advise(p *plan.Plan, pr *Prices, m *sim.Model) (*Report, error) {
	r := &Report{
		Plan: p.Name, Objectives: p.Objectives, Strategy: p.Strategy,
		RecoveryRegion: p.Regions.Recovery.Name, PricedAs: pr.PriceRegion(p.Regions.Recovery),
		Prices: PricesInfo{Date: pr.Date, Source: pr.Source, Currency: pr.Currency},
	}
	for _, s := range plan.Strategies {
		o, err := evaluate(p, s, pr, m)
		if err != nil {
			return nil, err
		}
		r.Options = append(r.Options, o)
	}
	for i := range r.Options {
		r.Options[i].Misses = misses(p, r.Options, i, m)
	}
	r.recommend(m)
	r.Notes = notes(p, pr)
	return r, nil
}

func evaluate(p *plan.Plan, s plan.Strategy, pr *Prices, m *sim.Model) (Option, error) {
	est, err := sim.EstimateRecovery(p, s, m)
	if err != nil {
		return Option{}, fmt.Errorf("advise: %w", err)
	}
	srcs, err := sim.EstimateRPO(p, s, m)
	if err != nil {
		return Option{}, fmt.Errorf("advise: %w", err)
	}
	cost, err := pr.MonthlyCost(p, s)
	if err != nil {
		return Option{}, err
	}
	o := Option{Strategy: s, RTO: plan.Duration(est.Total), FullCapacity: plan.Duration(est.FullCapacity), Cost: cost,
		RTOParts: []Part{}, RPOSources: []Source{}}
	for _, pt := range est.Parts {
		o.RTOParts = append(o.RTOParts, Part{Kind: pt.Kind, Name: pt.Name, Duration: plan.Duration(pt.Duration), Detail: pt.Detail})
	}
	for _, src := range srcs {
		o.RPOSources = append(o.RPOSources, Source{Kind: src.Kind, Name: src.Name, Mechanism: src.Mechanism, RPO: plan.Duration(src.RPO), Detail: src.Detail})
	}
	worst, _ := sim.WorstRPO(srcs)
	o.RPO = plan.Duration(worst)
	o.MeetsRTO = o.RTO <= p.Objectives.RTO
	o.MeetsRPO = o.RPO <= p.Objectives.RPO
	o.Meets = o.MeetsRTO && o.MeetsRPO
	return o, nil
}

// slowestPart returns the part that takes the most time.
func (o Option) slowestPart() (Part, bool) {
	var best Part
	found := false
	for _, pt := range o.RTOParts {
		if !found || pt.Duration > best.Duration {
			best, found = pt, true
		}
	}
	return best, found && best.Duration > 0
}

// worstSource returns the data source with the oldest recovery point.
func (o Option) worstSource() (Source, bool) {
	var best Source
	found := false
	for _, s := range o.RPOSources {
		if !found || s.RPO > best.RPO {
			best, found = s, true
		}
	}
	return best, found
}

// mechanismName describes how a source reaches the recovery region.
func mechanismName(mech sim.Mechanism, m *sim.Model) string {
	switch mech {
	case sim.Snapshots:
		return "snapshots every " + m.Snapshot.Interval.String()
	case sim.BatchCopy:
		return "batch copies every " + m.Snapshot.Interval.String()
	case sim.Continuous:
		return "continuous replication"
	case sim.MultiRegionWrite:
		return "multi-region writes"
	}
	return string(mech)
}

// firstMeeting returns the first (cheapest-first order) option that meets
// the objective, or -1.
func firstMeeting(opts []Option, meets func(Option) bool) int {
	for i, o := range opts {
		if meets(o) {
			return i
		}
	}
	return -1
}

// misses explains why option i misses each objective it misses.
func misses(p *plan.Plan, opts []Option, i int, m *sim.Model) []string {
	o := opts[i]
	var out []string
	if !o.MeetsRTO {
		msg := fmt.Sprintf("RTO %s is out of reach", p.Objectives.RTO)
		if j := firstMeeting(opts, func(o Option) bool { return o.MeetsRTO }); j >= 0 {
			msg = fmt.Sprintf("RTO %s needs %s (about %s)", p.Objectives.RTO, opts[j].Strategy, opts[j].RTO)
		}
		msg += fmt.Sprintf("; %s takes about %s", o.Strategy, o.RTO)
		if pt, ok := o.slowestPart(); ok {
			msg += fmt.Sprintf(", most of it %s %s (%s)", pt.Name, pt.Duration, pt.Detail)
		}
		out = append(out, msg)
	}
	if !o.MeetsRPO {
		src, _ := o.worstSource()
		msg := fmt.Sprintf("RPO %s is out of reach", p.Objectives.RPO)
		if j := firstMeeting(opts, func(o Option) bool { return o.MeetsRPO }); j >= 0 {
			need, _ := opts[j].worstSource()
			msg = fmt.Sprintf("RPO %s needs %s (%s)", p.Objectives.RPO, mechanismName(need.Mechanism, m), opts[j].Strategy)
			// The source that limits o may use a different mechanism under
			// the strategy that meets the objective.
			for _, s := range opts[j].RPOSources {
				if s.Kind == src.Kind && s.Name == src.Name {
					msg = fmt.Sprintf("RPO %s needs %s (%s)", p.Objectives.RPO, mechanismName(s.Mechanism, m), opts[j].Strategy)
				}
			}
		}
		msg += fmt.Sprintf("; %s give%s at best %s (%s %s)", mechanismName(src.Mechanism, m), verbS(src.Mechanism), src.RPO, src.Kind, src.Name)
		out = append(out, msg)
	}
	return out
}

// verbS agrees "give" with a mechanism's name.
func verbS(mech sim.Mechanism) string {
	if mech == sim.Continuous {
		return "s"
	}
	return ""
}

// recommend marks the cheapest strategy that meets both objectives, in
// normal times, the cheaper-first order breaking ties, and explains it.
func (r *Report) recommend(m *sim.Model) {
	best := -1
	for i, o := range r.Options {
		if o.Meets && (best < 0 || o.Cost.Normal.Total < r.Options[best].Cost.Normal.Total) {
			best = i
		}
	}
	obj := fmt.Sprintf("RTO %s and RPO %s", r.Objectives.RTO, r.Objectives.RPO)
	if best >= 0 {
		o := r.Options[best]
		r.Recommendation = o.Strategy
		r.Explanation = fmt.Sprintf("%s is the cheapest strategy that meets %s: about %s to recover and %s of data at risk, for %s a month in normal times (%s during a failover).",
			o.Strategy, obj, o.RTO, o.RPO, money(o.Cost.Normal.Total), money(o.Cost.Failover.Total))
		cheaper := -1
		for i, c := range r.Options {
			if !c.Meets && c.Cost.Normal.Total < o.Cost.Normal.Total && (cheaper < 0 || c.Cost.Normal.Total >= r.Options[cheaper].Cost.Normal.Total) {
				cheaper = i
			}
		}
		if cheaper >= 0 {
			c := r.Options[cheaper]
			r.Explanation += fmt.Sprintf(" %s costs %s but misses %s.", c.Strategy, money(c.Cost.Normal.Total), missed(c))
		}
		return
	}
	var parts []string
	rtoAt := firstMeeting(r.Options, func(o Option) bool { return o.MeetsRTO })
	rpoAt := firstMeeting(r.Options, func(o Option) bool { return o.MeetsRPO })
	if rtoAt < 0 {
		fast := r.Options[0]
		for _, o := range r.Options {
			if o.RTO < fast.RTO {
				fast = o
			}
		}
		msg := fmt.Sprintf("RTO %s is out of reach: the fastest, %s, takes about %s", r.Objectives.RTO, fast.Strategy, fast.RTO)
		if pt, ok := fast.slowestPart(); ok {
			msg += fmt.Sprintf(", most of it %s (%s, %s); %s", pt.Name, pt.Duration, pt.Detail, hint(pt.Kind, m))
		}
		parts = append(parts, msg+".")
	}
	if rpoAt < 0 {
		close := r.Options[0]
		for _, o := range r.Options {
			if o.RPO < close.RPO {
				close = o
			}
		}
		src, _ := close.worstSource()
		parts = append(parts, fmt.Sprintf("RPO %s is out of reach: the closest, %s, gives %s, limited by %s %s (%s).",
			r.Objectives.RPO, close.Strategy, close.RPO, src.Kind, src.Name, src.Detail))
	}
	if rtoAt >= 0 && rpoAt >= 0 {
		parts = append(parts, fmt.Sprintf("RTO %s needs %s or faster and RPO %s needs %s, but none does both.",
			r.Objectives.RTO, r.Options[rtoAt].Strategy, r.Objectives.RPO, r.Options[rpoAt].Strategy))
	}
	r.Explanation = "No strategy meets " + obj + ". " + strings.Join(parts, " ")
}

// missed names the objectives an option misses.
func missed(o Option) string {
	switch {
	case !o.MeetsRTO && !o.MeetsRPO:
		return fmt.Sprintf("both objectives (RTO %s, RPO %s)", o.RTO, o.RPO)
	case !o.MeetsRTO:
		return fmt.Sprintf("the RTO (%s)", o.RTO)
	}
	return fmt.Sprintf("the RPO (%s)", o.RPO)
}

// hint says what would shorten a stage of the recovery.
func hint(k sim.PartKind, m *sim.Model) string {
	switch k {
	case sim.PartDetect:
		return fmt.Sprintf("shorter record health checks would bring it closer (interval × failureThreshold; DNS health checks run at most every %s)", m.DNS.MinCheckInterval)
	case sim.PartData:
		return "smaller restores or a faster promotion (a global database cluster promotes in about " + m.Database.Promote.Cluster.String() + ") would bring it closer"
	case sim.PartCompute:
		return "instances kept running in the recovery region (warm-standby) would bring it closer"
	case sim.PartDNS:
		return "a lower TTL on the records would bring it closer"
	}
	return ""
}

// notes lists the assumptions behind the figures.
func notes(p *plan.Plan, pr *Prices) []string {
	out := []string{"RTO and RPO are for an unplanned failover (the primary region is gone), from the step-duration model of provider/sim."}
	for _, r := range []plan.Region{p.Regions.Primary, p.Regions.Recovery} {
		if r.Provider != plan.ProviderAWS {
			out = append(out, fmt.Sprintf("Region %s (provider %s) is priced as %s; local.* instance types are timed and priced as their m6i equivalents.", r.Name, r.Provider, pr.DefaultRegion))
			break
		}
	}
	var unsized []string
	d := p.Data
	for _, b := range d.Buckets {
		if b.SizeGB == 0 || b.ChangeRateGBPerDay == 0 {
			unsized = append(unsized, "bucket "+b.Name)
		}
	}
	for _, v := range d.Volumes {
		if v.SizeGB == 0 || v.ChangeRateGBPerDay == 0 {
			unsized = append(unsized, "volume "+v.ID)
		}
	}
	for _, db := range d.Databases {
		if db.SizeGB == 0 || db.ChangeRateGBPerDay == 0 {
			unsized = append(unsized, "database "+db.ID)
		}
	}
	if len(unsized) > 0 {
		out = append(out, fmt.Sprintf("No sizeGB or changeRateGBPerDay for %s: their storage and transfer cost nothing and restores take their fixed time.", strings.Join(unsized, ", ")))
	}
	var standby []string
	for _, svc := range p.Services {
		if svc.Compute.Standby == 0 {
			standby = append(standby, fmt.Sprintf("%s %d of %d", svc.Name, StandbyCount(svc), svc.Compute.Count))
		}
	}
	if len(standby) > 0 {
		out = append(out, fmt.Sprintf("warm-standby runs %s instances (no compute.standby: %g of the count, at least 1).", strings.Join(standby, ", "), DefaultStandbyFraction))
	}
	if len(d.Databases) > 0 {
		out = append(out, "Database instance hours are not priced: the plan gives no instance class.")
	}
	return out
}

// money formats an amount in dollars and cents.
func money(x float64) string { return fmt.Sprintf("$%.2f", x) }

package aws

import (
	"slices"
	"time"
)

// States of a copy as the retention policy sees it.
const (
	pointPending = iota // in progress: never deleted
	pointGood           // completed
	pointBad            // failed: always deleted
)

// point is one copy of a resource in the recovery region.
type point struct {
	id    string
	state int
	data  time.Time
}

// expired returns the IDs of the copies the retention policy deletes: the
// failed ones, the completed ones beyond the Keep newest, and those whose
// data is older than MaxAge, but never the newest completed copy, never
// current (the catalog's recovery point) and never one in progress.
func (p *Protector) expired(points []point, current string) []string {
	good := make([]point, 0, len(points))
	var out []string
	for _, pt := range points {
		switch pt.state {
		case pointBad:
			if pt.id != current {
				out = append(out, pt.id)
			}
		case pointGood:
			good = append(good, pt)
		}
	}
	slices.SortStableFunc(good, func(a, b point) int { return b.data.Compare(a.data) })
	var maxAge time.Duration
	if s := p.Plan.Data.Snapshots; s != nil {
		maxAge = s.MaxAge.D()
	}
	now := p.clock().Now()
	for i, pt := range good {
		if i == 0 || pt.id == current {
			continue
		}
		if i >= p.keep() || maxAge > 0 && now.Sub(pt.data) > maxAge {
			out = append(out, pt.id)
		}
	}
	return out
}

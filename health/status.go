package health

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Status is a snapshot of one target, as shown by `pilotlight health`.
type Status struct {
	// ID of the target, e.g. www/primary.
	ID string `json:"id"`
	// State is the decided state.
	State State `json:"state"`
	// Since is when the decided state last changed (or the target was
	// created).
	Since time.Time `json:"since"`
	// Reason explains the decided state.
	Reason string `json:"reason,omitempty"`
	// Override is the active override, if any.
	Override *Override `json:"override,omitempty"`
	// Votes are the vantage points' own states, by vantage name.
	Votes map[string]State `json:"votes"`
}

// WriteTable writes statuses as an aligned table with the columns ID,
// STATE, SINCE (age relative to now), OVERRIDE, VOTES and REASON.
func WriteTable(w io.Writer, sts []Status, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tSINCE\tOVERRIDE\tVOTES\tREASON")
	for _, st := range sts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", st.ID, st.State, age(st.Since, now),
			overrideCell(st.Override, now), votesCell(st.Votes), oneLine(st.Reason))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("health: write table: %w", err)
	}
	return nil
}

// age formats now-t rounded to the second, "-" for a zero time.
func age(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t).Round(time.Second)
	if d < 0 {
		d = 0
	}
	return d.String()
}

func overrideCell(o *Override, now time.Time) string {
	if o == nil {
		return "-"
	}
	if o.Until.IsZero() {
		return o.State.String()
	}
	left := o.Until.Sub(now).Round(time.Second)
	if left < 0 {
		left = 0
	}
	return fmt.Sprintf("%s for %s", o.State, left)
}

// votesCell formats votes as "2/3 healthy" followed by the names of the
// vantage points that do not say healthy, e.g. "2/3 healthy (b unhealthy)".
func votesCell(votes map[string]State) string {
	if len(votes) == 0 {
		return "-"
	}
	names := make([]string, 0, len(votes))
	healthy := 0
	for name, s := range votes {
		if s == Healthy {
			healthy++
		} else {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	cell := fmt.Sprintf("%d/%d healthy", healthy, len(votes))
	if len(names) > 0 {
		others := make([]string, len(names))
		for i, n := range names {
			others[i] = n + " " + votes[n].String()
		}
		cell += " (" + strings.Join(others, ", ") + ")"
	}
	return cell
}

func oneLine(s string) string {
	if s == "" {
		return "-"
	}
	return strings.Join(strings.Fields(s), " ")
}

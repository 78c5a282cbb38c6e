package aws

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Render writes the diff as a table for a person (`pilotlight network
// sync`): a summary line, the zone mapping, then one line per change with
// its action, kind, primary → recovery resource and detail. A change that
// Apply made shows its action in the past tense.
func (d *NetworkDiff) Render(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	var counts []string
	for _, a := range []string{NetCreate, NetUpdate, NetDelete, NetOK, NetSkip, NetStale, NetConflict} {
		if n := d.Count(a); n > 0 {
			counts = append(counts, fmt.Sprintf("%d %s", n, a))
		}
	}
	fmt.Fprintf(tw, "network of plan %s: %s → %s: %s\n", d.Plan, d.Primary, d.Recovery, strings.Join(counts, ", "))
	var zones []string
	for _, z := range sortedKeys(d.Zones) {
		zones = append(zones, z+" → "+d.Zones[z])
	}
	if len(zones) > 0 {
		fmt.Fprintf(tw, "zones: %s\n", strings.Join(zones, ", "))
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "ACTION\tKIND\tPRIMARY\t→ RECOVERY\tDETAIL")
	for _, c := range d.Changes {
		action := c.Action
		if c.Done {
			action = map[string]string{NetCreate: "created", NetUpdate: "updated", NetDelete: "deleted"}[c.Action]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", action, c.Kind, dash(c.Source), dash(c.Target), dash(c.Detail))
	}
	return tw.Flush()
}

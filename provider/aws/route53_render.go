package aws

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Render writes the change set as a table for a person (`pilotlight dns
// sync --dry-run`): health checks, then record changes with their action,
// name, type, set identifier, values and health check.
func (cs ChangeSet) Render(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	zone := cs.ZoneID
	if cs.Zone != "" {
		zone = cs.Zone + " (" + cs.ZoneID + ")"
	}
	if cs.Empty() {
		fmt.Fprintf(tw, "hosted zone %s: in sync, no changes\n", zone)
		return tw.Flush()
	}
	fmt.Fprintf(tw, "hosted zone %s: %d health check and %d record changes\n\n", zone, len(cs.HealthChecks), len(cs.Records))
	if len(cs.HealthChecks) > 0 {
		fmt.Fprintln(tw, "ACTION\tHEALTH CHECK\tID\tPROBE\tINTERVAL\tTHRESHOLD\tSEARCH")
		for _, h := range cs.HealthChecks {
			id := h.ID
			if id == "" {
				id = "(new)"
			}
			s := h.Settings
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%ds\t%d\t%s\n", h.Action, h.Key, id, s.target(), s.Interval, s.FailureThreshold, dash(s.SearchString))
		}
		fmt.Fprintln(tw)
	}
	if len(cs.Records) > 0 {
		fmt.Fprintln(tw, "ACTION\tNAME\tTYPE\tSET ID\tROUTING\tTTL\tVALUES\tHEALTH CHECK")
		for _, c := range cs.Records {
			ttl := "-"
			if c.Alias == nil {
				ttl = strconv.FormatInt(c.TTL, 10)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.Action, c.Name, c.Type, dash(c.SetID), c.routing(), ttl, c.values(), c.check())
		}
	}
	return tw.Flush()
}

func (r RecordSet) routing() string {
	switch {
	case r.Failover != "":
		return "failover " + r.Failover
	case r.Weight != nil:
		return "weight " + strconv.FormatInt(*r.Weight, 10)
	}
	return "simple"
}

func (r RecordSet) values() string {
	if r.Alias != nil {
		s := "alias " + r.Alias.DNSName + " (" + r.Alias.HostedZoneID + ")"
		if r.Alias.EvaluateTargetHealth {
			s += " evaluate-health"
		}
		return s
	}
	v := strings.Join(r.Values, ",")
	if len(v) > 60 {
		v = v[:57] + "..."
	}
	return v
}

func (r RecordSet) check() string {
	switch {
	case r.HealthCheckID != "":
		return r.HealthCheckID
	case r.HealthCheckKey != "":
		return "(new " + r.HealthCheckKey + ")"
	}
	return "-"
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

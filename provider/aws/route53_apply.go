package aws

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"

	"github.com/pilotlight/pilotlight/backoff"
)

// Route 53 sentinel errors; test with errors.Is.
var (
	// ErrNoSuchZone: no hosted zone has the configured name.
	ErrNoSuchZone = errors.New("no such hosted zone")
	// ErrThrottled: Route 53 still throttled a call after every retry.
	ErrThrottled = errors.New("throttled")
)

// ApplyReport is what Apply did.
type ApplyReport struct {
	HealthChecksCreated int `json:"healthChecksCreated"`
	HealthChecksUpdated int `json:"healthChecksUpdated"`
	// HealthCheckIDs maps each created or updated check's key to its ID.
	HealthCheckIDs map[string]string `json:"healthCheckIds,omitempty"`
	// Changes is the number of record changes, sent in Batches requests.
	Changes int `json:"changes"`
	Batches int `json:"batches"`
	// ChangeIDs are Route 53's IDs of the batches, in order.
	ChangeIDs []string `json:"changeIds,omitempty"`
	// Retries counts throttled calls that were retried.
	Retries int `json:"retries"`
	// InSync is true once every batch is INSYNC (only when waited for).
	InSync   bool          `json:"inSync"`
	Duration time.Duration `json:"duration"`
}

// Apply makes cs: it creates and updates health checks, then sends the
// record changes in batches within Limits, holding the zone's lock so that
// no other Apply or Switch in the process changes the zone at the same
// time. Throttled calls are retried with Backoff. With waitInsync it polls
// GetChange until every batch is INSYNC or ctx ends. A failed batch stops
// Apply; the batches before it stay applied (each batch is atomic), and
// running Plan and Apply again completes the work.
func (d *Route53Driver) Apply(ctx context.Context, cs ChangeSet, waitInsync bool) (ApplyReport, error) {
	start := d.clock().Now()
	rep := ApplyReport{HealthCheckIDs: make(map[string]string)}
	zoneID := cs.ZoneID
	if zoneID == "" {
		var err error
		if zoneID, err = d.resolveZone(ctx); err != nil {
			return rep, err
		}
	}
	for _, h := range cs.HealthChecks {
		id, err := d.applyCheck(ctx, h, &rep)
		if err != nil {
			return rep, err
		}
		rep.HealthCheckIDs[h.Key] = id
	}
	changes := make([]RecordChange, len(cs.Records))
	for i, c := range cs.Records {
		if c.HealthCheckKey != "" {
			id := rep.HealthCheckIDs[c.HealthCheckKey]
			if id == "" {
				return rep, fmt.Errorf("route53: apply %s: %w: health check %s is neither in the change set nor bound", c.Name, ErrConfig, c.HealthCheckKey)
			}
			c.HealthCheckID, c.HealthCheckKey = id, ""
		}
		changes[i] = c
	}
	batches, err := BatchChanges(changes, d.limits())
	if err != nil {
		return rep, err
	}
	if len(batches) > 0 {
		if err := d.sendBatches(ctx, zoneID, batches, &rep); err != nil {
			return rep, err
		}
	}
	if waitInsync {
		for _, id := range rep.ChangeIDs {
			if err := d.waitInsync(ctx, id); err != nil {
				return rep, err
			}
		}
		rep.InSync = true
	}
	rep.Duration = d.clock().Now().Sub(start)
	d.log().Info("applied", "zone", zoneID, "healthChecksCreated", rep.HealthChecksCreated, "healthChecksUpdated", rep.HealthChecksUpdated,
		"changes", rep.Changes, "batches", rep.Batches, "retries", rep.Retries, "inSync", rep.InSync)
	return rep, nil
}

// sendBatches sends the batches in order under the zone's lock.
func (d *Route53Driver) sendBatches(ctx context.Context, zoneID string, batches [][]RecordChange, rep *ApplyReport) error {
	unlock, err := lockZone(ctx, zoneID)
	if err != nil {
		return err
	}
	defer unlock()
	for i, b := range batches {
		in := &route53.ChangeResourceRecordSetsInput{HostedZoneId: sdkaws.String(zoneID), ChangeBatch: &types.ChangeBatch{
			Comment: sdkaws.String(fmt.Sprintf("pilotlight %s batch %d/%d", d.PlanName, i+1, len(batches)))}}
		for _, c := range b {
			in.ChangeBatch.Changes = append(in.ChangeBatch.Changes, types.Change{Action: types.ChangeAction(c.Action), ResourceRecordSet: c.sdk()})
		}
		var out *route53.ChangeResourceRecordSetsOutput
		err := d.retryCount(ctx, "change record sets", zoneID, &rep.Retries, func() error {
			var err error
			out, err = d.Client.ChangeResourceRecordSets(ctx, in)
			return err
		})
		if err != nil {
			return fmt.Errorf("%w (batch %d of %d; %d earlier batches applied)", err, i+1, len(batches), i)
		}
		rep.Batches++
		rep.Changes += len(b)
		if out.ChangeInfo != nil {
			rep.ChangeIDs = append(rep.ChangeIDs, bareID(sdkaws.ToString(out.ChangeInfo.Id)))
		}
		d.log().Debug("batch sent", "zone", zoneID, "batch", i+1, "of", len(batches), "changes", len(b))
	}
	return nil
}

// applyCheck creates or updates one health check and returns its ID. A
// CallerReference already used by a deleted check is retried with a
// numbered suffix.
func (d *Route53Driver) applyCheck(ctx context.Context, h HealthCheckChange, rep *ApplyReport) (string, error) {
	st := h.Settings
	if h.Action == ActionUpdate {
		in := &route53.UpdateHealthCheckInput{HealthCheckId: sdkaws.String(h.ID), HealthCheckVersion: sdkaws.Int64(h.Version),
			Port: sdkaws.Int32(int32(st.Port)), FailureThreshold: sdkaws.Int32(int32(st.FailureThreshold))}
		var reset []types.ResettableElementName
		if st.FQDN != "" {
			in.FullyQualifiedDomainName = sdkaws.String(st.FQDN)
		} else {
			reset = append(reset, types.ResettableElementNameFullyQualifiedDomainName)
		}
		if st.IP != "" { // Route 53 can change an IP address but not add or remove one
			in.IPAddress = sdkaws.String(st.IP)
		}
		if st.Path != "" {
			in.ResourcePath = sdkaws.String(st.Path)
		} else if st.Type != "TCP" {
			reset = append(reset, types.ResettableElementNameResourcePath)
		}
		if st.SearchString != "" {
			in.SearchString = sdkaws.String(st.SearchString)
		}
		in.ResetElements = reset
		err := d.retryCount(ctx, "update health check", h.Key, &rep.Retries, func() error {
			_, err := d.Client.UpdateHealthCheck(ctx, in)
			return err
		})
		if err != nil {
			return "", err
		}
		rep.HealthChecksUpdated++
		return h.ID, nil
	}
	if h.Action != ActionCreate {
		return "", fmt.Errorf("route53: apply health check %s: %w: action %q", h.Key, ErrConfig, h.Action)
	}
	for n := 0; ; n++ {
		ref := h.CallerReference
		if n > 0 {
			ref += "." + strconv.Itoa(n)
		}
		var out *route53.CreateHealthCheckOutput
		err := d.retryCount(ctx, "create health check", h.Key, &rep.Retries, func() error {
			var err error
			out, err = d.Client.CreateHealthCheck(ctx, &route53.CreateHealthCheckInput{CallerReference: sdkaws.String(ref), HealthCheckConfig: st.sdk()})
			return err
		})
		var exists *types.HealthCheckAlreadyExists
		if errors.As(err, &exists) && n < 3 {
			continue
		}
		if err != nil {
			return "", err
		}
		rep.HealthChecksCreated++
		return sdkaws.ToString(out.HealthCheck.Id), nil
	}
}

// waitInsync polls GetChange until the change is INSYNC.
func (d *Route53Driver) waitInsync(ctx context.Context, changeID string) error {
	every := d.PollInterval
	if every <= 0 {
		every = 2 * time.Second
	}
	for {
		var out *route53.GetChangeOutput
		err := d.retry(ctx, "get change", changeID, func() error {
			var err error
			out, err = d.Client.GetChange(ctx, &route53.GetChangeInput{Id: sdkaws.String(changeID)})
			return err
		})
		if err != nil {
			if ctx.Err() != nil {
				// The wait ran out during a poll: same outcome as between polls.
				return fmt.Errorf("route53: wait for change %s: %w", changeID, ctx.Err())
			}
			return err
		}
		if out.ChangeInfo != nil && out.ChangeInfo.Status == types.ChangeStatusInsync {
			return nil
		}
		select {
		case <-d.clock().After(every):
		case <-ctx.Done():
			return fmt.Errorf("route53: wait for change %s: %w", changeID, ctx.Err())
		}
	}
}

// Switch points one simple record at values by a single UPSERT and waits
// until it is INSYNC: the warm-site failover, where the recovery target
// does not exist in normal times. The name must not hold failover or
// weighted sets of the same type (Route 53 rejects the UPSERT).
func (d *Route53Driver) Switch(ctx context.Context, name, typ string, values []string, ttl int64) error {
	sets, _, err := desired([]RecordSpec{{Name: name, Type: typ, TTL: ttl, Primary: values}})
	if err != nil {
		return err
	}
	zoneID, err := d.resolveZone(ctx)
	if err != nil {
		return err
	}
	var rep ApplyReport
	if err := d.sendBatches(ctx, zoneID, [][]RecordChange{{{Action: ActionUpsert, RecordSet: sets[0]}}}, &rep); err != nil {
		return err
	}
	for _, id := range rep.ChangeIDs {
		if err := d.waitInsync(ctx, id); err != nil {
			return err
		}
	}
	d.log().Info("switched", "zone", zoneID, "name", sets[0].Name, "type", sets[0].Type, "values", sets[0].Values)
	return nil
}

// retry runs call, retrying throttled attempts with the driver's backoff.
func (d *Route53Driver) retry(ctx context.Context, op, target string, call func() error) error {
	var n int
	return d.retryCount(ctx, op, target, &n, call)
}

// retryCount is retry that adds the number of retries to *retries. Its
// errors read "route53: <op> <target>: <cause>".
func (d *Route53Driver) retryCount(ctx context.Context, op, target string, retries *int, call func() error) error {
	b := d.Backoff
	if b.Initial <= 0 {
		b.Initial = 200 * time.Millisecond
	}
	if b.Max <= 0 {
		b.Max = 10 * time.Second
	}
	if b.Attempts <= 0 {
		b.Attempts = 10
	}
	for attempt := 0; ; attempt++ {
		err := call()
		if err == nil {
			return nil
		}
		code := errorCode(err)
		if !throttled(code) {
			return fmt.Errorf("route53: %s %s: %w", op, target, err)
		}
		if attempt+1 >= b.Attempts {
			return fmt.Errorf("route53: %s %s: %w after %d attempts: %w", op, target, ErrThrottled, b.Attempts, err)
		}
		delay := backoff.Equal(b.Initial, b.Max, attempt+1)
		*retries++
		d.log().Debug("throttled, retrying", "op", op, "target", target, "code", code, "attempt", attempt+1, "delay", delay)
		select {
		case <-d.clock().After(delay):
		case <-ctx.Done():
			return fmt.Errorf("route53: %s %s: %w (last error: %w)", op, target, ctx.Err(), err)
		}
	}
}

// throttled reports whether code asks the caller to slow down and retry.
func throttled(code string) bool {
	switch code {
	case "Throttling", "ThrottlingException", "PriorRequestNotComplete", "RequestLimitExceeded", "TooManyRequestsException":
		return true
	}
	return false
}

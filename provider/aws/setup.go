package aws

import (
	"context"
	"fmt"
	"slices"
	"strings"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// rtcMinutes is the only replication time S3 Replication Time Control
// offers.
const rtcMinutes = 15

// SetupReport says what Setup found and changed.
type SetupReport struct {
	SourceBucket      string `json:"sourceBucket"`
	DestinationBucket string `json:"destinationBucket"`
	DestinationRegion string `json:"destinationRegion,omitempty"`
	// SourceVersioning and DestinationVersioning are "enabled" when Setup
	// turned versioning on, "already enabled" when it was on.
	SourceVersioning      string `json:"sourceVersioning"`
	DestinationVersioning string `json:"destinationVersioning"`
	// RuleID and Priority of pilotlight's rule.
	RuleID   string `json:"ruleId"`
	Priority int32  `json:"priority"`
	// Rule is "created", "updated" or "unchanged".
	Rule string `json:"rule"`
	// OtherRules counts the rules of others kept in the configuration.
	OtherRules int `json:"otherRules"`
	// PreviousRole is the configuration's role when Setup replaced it.
	PreviousRole string `json:"previousRole,omitempty"`
}

// Setup turns versioning on for both buckets (when not already on) and
// puts pilotlight's replication rule on the source bucket, keeping any
// other rules. It is idempotent: a second run changes nothing.
func (n *NativeReplication) Setup(ctx context.Context) (SetupReport, error) {
	rep := SetupReport{SourceBucket: n.SourceBucket, DestinationBucket: n.DestinationBucket,
		DestinationRegion: n.DestinationRegion, RuleID: n.RuleID()}
	if err := n.check(); err != nil {
		return rep, err
	}
	log := n.log()
	var err error
	if rep.DestinationVersioning, err = n.enableVersioning(ctx, n.Destination, n.DestinationBucket); err != nil {
		return rep, err
	}
	if rep.SourceVersioning, err = n.enableVersioning(ctx, n.Source, n.SourceBucket); err != nil {
		return rep, err
	}
	existing, err := n.replicationConfig(ctx)
	if err != nil {
		return rep, err
	}
	cfg, rule, changed, err := n.merge(existing)
	if err != nil {
		return rep, err
	}
	rep.Priority = sdkaws.ToInt32(rule.Priority)
	rep.OtherRules = len(cfg.Rules) - 1
	if existing != nil && sdkaws.ToString(existing.Role) != n.RoleARN {
		rep.PreviousRole = sdkaws.ToString(existing.Role)
		log.Warn("replacing the replication role of the bucket", "previous", rep.PreviousRole, "role", n.RoleARN)
	}
	switch {
	case !changed:
		rep.Rule = "unchanged"
		log.Info("replication rule unchanged", "rule", rep.RuleID)
		return rep, nil
	case existing != nil && slices.ContainsFunc(existing.Rules, func(r types.ReplicationRule) bool { return sdkaws.ToString(r.ID) == rep.RuleID }):
		rep.Rule = "updated"
	default:
		rep.Rule = "created"
	}
	if _, err := n.Source.PutBucketReplication(ctx, &s3.PutBucketReplicationInput{
		Bucket: sdkaws.String(n.SourceBucket), ReplicationConfiguration: cfg,
	}); err != nil {
		return rep, wrap(opPutReplication, n.SourceBucket, "", n.RoleARN, err)
	}
	log.Info("replication rule "+rep.Rule, "rule", rep.RuleID, "destination", n.DestinationBucket,
		"deleteMarkers", n.DeleteMarkers, "rtc", n.RTC, "otherRules", rep.OtherRules)
	return rep, nil
}

// enableVersioning turns versioning on for bucket unless it is on.
func (n *NativeReplication) enableVersioning(ctx context.Context, c S3API, bucket string) (string, error) {
	out, err := c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: sdkaws.String(bucket)})
	if err != nil {
		return "", wrap(opGetVersioning, bucket, "", n.RoleARN, err)
	}
	if out.Status == types.BucketVersioningStatusEnabled {
		return "already enabled", nil
	}
	if _, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{
		Bucket:                  sdkaws.String(bucket),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled},
	}); err != nil {
		return "", wrap(opPutVersioning, bucket, "", n.RoleARN, err)
	}
	n.log().Info("versioning enabled", "target", bucket, "was", string(out.Status))
	return "enabled", nil
}

// replicationConfig returns the source bucket's replication configuration,
// or nil when it has none.
func (n *NativeReplication) replicationConfig(ctx context.Context) (*types.ReplicationConfiguration, error) {
	out, err := n.Source.GetBucketReplication(ctx, &s3.GetBucketReplicationInput{Bucket: sdkaws.String(n.SourceBucket)})
	if errorCode(err) == "ReplicationConfigurationNotFoundError" {
		return nil, nil
	}
	if err != nil {
		return nil, wrap(opGetReplication, n.SourceBucket, "", n.RoleARN, err)
	}
	return out.ReplicationConfiguration, nil
}

// Rule returns pilotlight's replication rule with the given priority.
func (n *NativeReplication) Rule(priority int32) types.ReplicationRule {
	dm := types.DeleteMarkerReplicationStatusDisabled
	if n.DeleteMarkers {
		dm = types.DeleteMarkerReplicationStatusEnabled
	}
	dest := &types.Destination{Bucket: sdkaws.String(n.bucketARN(n.DestinationBucket))}
	if n.StorageClass != "" {
		dest.StorageClass = types.StorageClass(n.StorageClass)
	}
	rule := types.ReplicationRule{
		ID:                      sdkaws.String(n.RuleID()),
		Priority:                sdkaws.Int32(priority),
		Status:                  types.ReplicationRuleStatusEnabled,
		Filter:                  &types.ReplicationRuleFilter{},
		DeleteMarkerReplication: &types.DeleteMarkerReplication{Status: dm},
		Destination:             dest,
	}
	if n.KMSKeyARN != "" {
		dest.EncryptionConfiguration = &types.EncryptionConfiguration{ReplicaKmsKeyID: sdkaws.String(n.KMSKeyARN)}
		rule.SourceSelectionCriteria = &types.SourceSelectionCriteria{
			SseKmsEncryptedObjects: &types.SseKmsEncryptedObjects{Status: types.SseKmsEncryptedObjectsStatusEnabled},
		}
	}
	if n.RTC {
		dest.ReplicationTime = &types.ReplicationTime{Status: types.ReplicationTimeStatusEnabled,
			Time: &types.ReplicationTimeValue{Minutes: sdkaws.Int32(rtcMinutes)}}
		dest.Metrics = &types.Metrics{Status: types.MetricsStatusEnabled,
			EventThreshold: &types.ReplicationTimeValue{Minutes: sdkaws.Int32(rtcMinutes)}}
	}
	return rule
}

// merge puts pilotlight's rule into the existing configuration (nil for
// none), keeping the other rules, and reports whether anything changed.
// Our rule keeps its priority; a new one goes above every other rule.
func (n *NativeReplication) merge(existing *types.ReplicationConfiguration) (*types.ReplicationConfiguration, types.ReplicationRule, bool, error) {
	cfg := &types.ReplicationConfiguration{Role: sdkaws.String(n.RoleARN)}
	var old *types.ReplicationRule
	var top int32
	if existing != nil {
		for i, r := range existing.Rules {
			if sdkaws.ToString(r.ID) == n.RuleID() {
				old = &existing.Rules[i]
				continue
			}
			if r.Filter == nil && r.Prefix != nil {
				return nil, types.ReplicationRule{}, false, &Error{Op: opPutReplication, Bucket: n.SourceBucket, Code: "LegacyRule",
					Err: fmt.Errorf("rule %q uses the legacy Prefix schema, which cannot sit beside a filtered rule; give it a Filter first", sdkaws.ToString(r.ID))}
			}
			top = max(top, sdkaws.ToInt32(r.Priority))
			cfg.Rules = append(cfg.Rules, r)
		}
	}
	priority := top + 1
	if old != nil && old.Priority != nil && !priorityTaken(cfg.Rules, *old.Priority) {
		priority = *old.Priority
	}
	rule := n.Rule(priority)
	cfg.Rules = append(cfg.Rules, rule)
	changed := existing == nil || sdkaws.ToString(existing.Role) != n.RoleARN || old == nil || ruleKey(*old) != ruleKey(rule)
	return cfg, rule, changed, nil
}

func priorityTaken(rules []types.ReplicationRule, p int32) bool {
	return slices.ContainsFunc(rules, func(r types.ReplicationRule) bool { return sdkaws.ToInt32(r.Priority) == p })
}

// ruleKey renders the parts of a rule that Setup sets, to compare a rule
// read back from S3 with the wanted one.
func ruleKey(r types.ReplicationRule) string {
	var b strings.Builder
	fmt.Fprintf(&b, "id=%s prio=%d status=%s", sdkaws.ToString(r.ID), sdkaws.ToInt32(r.Priority), r.Status)
	if f := r.Filter; f == nil {
		b.WriteString(" nofilter")
	} else {
		fmt.Fprintf(&b, " filter=%s/%t/%t", sdkaws.ToString(f.Prefix), f.Tag != nil, f.And != nil)
	}
	if r.DeleteMarkerReplication != nil {
		fmt.Fprintf(&b, " dm=%s", r.DeleteMarkerReplication.Status)
	}
	if d := r.Destination; d != nil {
		fmt.Fprintf(&b, " dest=%s sc=%s", sdkaws.ToString(d.Bucket), d.StorageClass)
		if d.EncryptionConfiguration != nil {
			fmt.Fprintf(&b, " kms=%s", sdkaws.ToString(d.EncryptionConfiguration.ReplicaKmsKeyID))
		}
		if d.ReplicationTime != nil && d.ReplicationTime.Status == types.ReplicationTimeStatusEnabled {
			b.WriteString(" rtc")
		}
		if d.Metrics != nil && d.Metrics.Status == types.MetricsStatusEnabled {
			b.WriteString(" metrics")
		}
	}
	if s := r.SourceSelectionCriteria; s != nil && s.SseKmsEncryptedObjects != nil {
		fmt.Fprintf(&b, " ssekms=%s", s.SseKmsEncryptedObjects.Status)
	}
	return b.String()
}

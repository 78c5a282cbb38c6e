package aws

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3control"
	"github.com/aws/aws-sdk-go-v2/service/s3control/types"
)

// batchPriority is the priority of the Batch Replication job.
const batchPriority = 10

// maxListedKeys caps the keys a report lists by name.
const maxListedKeys = 100

// BackfillReport says how the objects that existed before the rule are
// being copied.
type BackfillReport struct {
	// Mode is "batch" (an S3 Batch Replication job) or "copy" (pilotlight's
	// own copy engine must run).
	Mode string `json:"mode"`
	// JobID of the Batch Replication job (mode batch).
	JobID string `json:"jobId,omitempty"`
	// ClientRequestToken the job was created with; the same day and buckets
	// give the same token, so a rerun does not start a second job.
	ClientRequestToken string `json:"clientRequestToken,omitempty"`
	// NeedsCopy is true when some objects have no replica (status NONE or
	// FAILED), so the caller must run the copy engine (mode copy).
	NeedsCopy bool `json:"needsCopy"`
	// Scanned counts the objects examined and Candidates those without a
	// replica (mode copy).
	Scanned    int `json:"scanned,omitempty"`
	Candidates int `json:"candidates,omitempty"`
	// Keys names up to 100 of the candidates.
	Keys []string `json:"keys,omitempty"`
}

// Backfill starts the copy of the objects S3 Replication does not copy by
// itself (those written before the rule, and failed ones). With Batch it
// creates an S3 Batch Replication job and sets n.JobID; otherwise it scans
// the source's replication status and reports whether pilotlight's own copy
// engine must run (NeedsCopy). Call Setup first.
func (n *NativeReplication) Backfill(ctx context.Context) (BackfillReport, error) {
	if err := n.check(); err != nil {
		return BackfillReport{}, err
	}
	if n.Batch {
		return n.batchBackfill(ctx)
	}
	rep := BackfillReport{Mode: "copy"}
	st, err := n.scan(ctx, func(key, status string) {
		if status == StatusNone || status == StatusFailed {
			rep.Candidates++
			if len(rep.Keys) < maxListedKeys {
				rep.Keys = append(rep.Keys, key)
			}
		}
	})
	if err != nil {
		return rep, err
	}
	rep.Scanned = st.Scanned
	rep.NeedsCopy = rep.Candidates > 0
	n.log().Info("backfill scan done", "scanned", rep.Scanned, "needCopy", rep.Candidates)
	return rep, nil
}

func (n *NativeReplication) batchBackfill(ctx context.Context) (BackfillReport, error) {
	if n.Control == nil {
		return BackfillReport{}, fmt.Errorf("aws: native replication %s: %w: Batch needs the Control client and AccountID", n.SourceBucket, ErrConfig)
	}
	rep := BackfillReport{Mode: "batch", ClientRequestToken: n.RequestToken()}
	report := &types.JobReport{Enabled: false}
	if n.ReportBucket != "" {
		report = &types.JobReport{
			Enabled:     true,
			Bucket:      sdkaws.String(n.bucketARN(n.ReportBucket)),
			Prefix:      sdkaws.String(strings.Trim(n.ReportPrefix, "/")),
			Format:      types.JobReportFormatReportCsv20180820,
			ReportScope: types.JobReportScopeFailedTasksOnly,
		}
		if *report.Prefix == "" {
			report.Prefix = nil
		}
	}
	out, err := n.Control.CreateJob(ctx, &s3control.CreateJobInput{
		AccountId:            sdkaws.String(n.AccountID),
		ClientRequestToken:   sdkaws.String(rep.ClientRequestToken),
		ConfirmationRequired: sdkaws.Bool(false),
		Description:          sdkaws.String(fmt.Sprintf("pilotlight backfill %s -> %s", n.SourceBucket, n.DestinationBucket)),
		Priority:             sdkaws.Int32(batchPriority),
		RoleArn:              sdkaws.String(n.RoleARN),
		Operation:            &types.JobOperation{S3ReplicateObject: &types.S3ReplicateObjectOperation{}},
		Report:               report,
		ManifestGenerator: &types.JobManifestGeneratorMemberS3JobManifestGenerator{Value: types.S3JobManifestGenerator{
			SourceBucket:         sdkaws.String(n.bucketARN(n.SourceBucket)),
			EnableManifestOutput: false,
			Filter: &types.JobManifestGeneratorFilter{
				EligibleForReplication:    sdkaws.Bool(true),
				ObjectReplicationStatuses: []types.ReplicationStatus{types.ReplicationStatusNone, types.ReplicationStatusFailed},
			},
		}},
	})
	if err != nil {
		return rep, wrap(opCreateJob, n.SourceBucket, "", n.RoleARN, err)
	}
	rep.JobID = sdkaws.ToString(out.JobId)
	if rep.JobID == "" {
		return rep, &Error{Op: opCreateJob, Bucket: n.SourceBucket, Err: fmt.Errorf("the response has no job ID")}
	}
	n.JobID = rep.JobID
	rep.NeedsCopy = false
	n.log().Info("batch replication job created", "job", rep.JobID)
	return rep, nil
}

// RequestToken is the Batch Replication job's idempotency token: a hash
// of the buckets and the UTC day, so reruns on one day reuse the job.
func (n *NativeReplication) RequestToken() string {
	day := n.now().UTC().Format("2006-01-02")
	sum := sha256.Sum256([]byte(n.SourceBucket + "\x00" + n.DestinationBucket + "\x00" + day))
	return "pilotlight-" + hex.EncodeToString(sum[:])[:40]
}

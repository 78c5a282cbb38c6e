package aws

import (
	"context"
	"errors"
	"fmt"
	"sync"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3control"
	"golang.org/x/sync/errgroup"
)

// Replication statuses of an object, as S3 reports them in the
// x-amz-replication-status header; StatusNone stands for no header.
const (
	StatusPending   = "PENDING"
	StatusCompleted = "COMPLETED"
	StatusFailed    = "FAILED"
	StatusReplica   = "REPLICA"
	StatusNone      = "NONE"
)

// defaultConcurrency is how many HEAD requests run at once by default.
const defaultConcurrency = 16

// StatusReport counts the source objects by replication status.
type StatusReport struct {
	SourceBucket      string `json:"sourceBucket"`
	DestinationBucket string `json:"destinationBucket"`
	// Scanned counts the objects examined; Sampled is true when Sample
	// stopped the scan before the end of the bucket.
	Scanned int  `json:"scanned"`
	Sampled bool `json:"sampled"`
	// Counts by status: objects waiting, copied, failed, that are replicas
	// themselves, and that no rule covered (written before the rule).
	Pending   int `json:"pending"`
	Completed int `json:"completed"`
	Failed    int `json:"failed"`
	Replica   int `json:"replica"`
	None      int `json:"none"`
	// Vanished counts objects listed but deleted before their HEAD.
	Vanished int `json:"vanished,omitempty"`
	// FailedKeys names up to 100 objects whose replication failed.
	FailedKeys []string `json:"failedKeys,omitempty"`
	// Job is the Batch Replication job's progress, when a job is known.
	Job *JobProgress `json:"job,omitempty"`
}

// JobProgress is the state of an S3 Batch Replication job.
type JobProgress struct {
	ID        string `json:"id"`
	Status    string `json:"status"`
	Total     int64  `json:"total"`
	Succeeded int64  `json:"succeeded"`
	Failed    int64  `json:"failed"`
	// Failures are the job's failure reasons, "code: reason".
	Failures []string `json:"failures,omitempty"`
}

// Status lists the source bucket (up to Sample objects), reads each
// object's replication status with HEAD requests (Concurrency at once) and
// counts them; with a JobID and a Control client it adds the job's
// progress.
func (n *NativeReplication) Status(ctx context.Context) (StatusReport, error) {
	if err := n.check(); err != nil {
		return StatusReport{}, err
	}
	rep, err := n.scan(ctx, nil)
	if err != nil {
		return rep, err
	}
	if n.JobID != "" && n.Control != nil {
		job, err := n.describeJob(ctx)
		if err != nil {
			return rep, err
		}
		rep.Job = job
	}
	n.log().Info("replication status", "scanned", rep.Scanned, "pending", rep.Pending, "completed", rep.Completed,
		"failed", rep.Failed, "none", rep.None)
	return rep, nil
}

// scan lists the source and HEADs each object, counting statuses; visit,
// when not nil, sees every object's key and status, one call at a time.
func (n *NativeReplication) scan(ctx context.Context, visit func(key, status string)) (StatusReport, error) {
	rep := StatusReport{SourceBucket: n.SourceBucket, DestinationBucket: n.DestinationBucket}
	conc := n.Concurrency
	if conc <= 0 {
		conc = defaultConcurrency
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(conc)
	var mu sync.Mutex
	count := func(key, status string) {
		mu.Lock()
		defer mu.Unlock()
		switch status {
		case StatusPending:
			rep.Pending++
		case StatusCompleted:
			rep.Completed++
		case StatusFailed:
			rep.Failed++
			if len(rep.FailedKeys) < maxListedKeys {
				rep.FailedKeys = append(rep.FailedKeys, key)
			}
		case StatusReplica:
			rep.Replica++
		case "":
			rep.Vanished++
			return
		default:
			rep.None++
		}
		if visit != nil {
			visit(key, status)
		}
	}
	var listErr error
	pages := s3.NewListObjectsV2Paginator(n.Source, &s3.ListObjectsV2Input{Bucket: sdkaws.String(n.SourceBucket)})
list:
	for pages.HasMorePages() {
		page, err := pages.NextPage(gctx)
		if err != nil {
			listErr = wrap(opList, n.SourceBucket, "", n.RoleARN, err)
			break
		}
		for _, obj := range page.Contents {
			if n.Sample > 0 && rep.Scanned >= n.Sample {
				rep.Sampled = true
				break list
			}
			rep.Scanned++
			key := sdkaws.ToString(obj.Key)
			g.Go(func() error {
				status, err := n.objectStatus(gctx, key)
				if err != nil {
					return err
				}
				count(key, status)
				return nil
			})
		}
	}
	if err := g.Wait(); err != nil {
		return rep, err
	}
	if listErr == nil && ctx.Err() != nil {
		listErr = ctx.Err()
	}
	return rep, listErr
}

// objectStatus returns the replication status of key: one of the Status
// constants, or "" when the object no longer exists.
func (n *NativeReplication) objectStatus(ctx context.Context, key string) (string, error) {
	out, err := n.Source.HeadObject(ctx, &s3.HeadObjectInput{Bucket: sdkaws.String(n.SourceBucket), Key: sdkaws.String(key)})
	if err != nil {
		if code := errorCode(err); code == "NotFound" || code == "NoSuchKey" {
			return "", nil
		}
		return "", wrap(opHead, n.SourceBucket, key, n.RoleARN, err)
	}
	switch s := string(out.ReplicationStatus); s {
	case "":
		return StatusNone, nil
	case "COMPLETE":
		return StatusCompleted, nil
	default:
		return s, nil
	}
}

func (n *NativeReplication) describeJob(ctx context.Context) (*JobProgress, error) {
	out, err := n.Control.DescribeJob(ctx, &s3control.DescribeJobInput{
		AccountId: sdkaws.String(n.AccountID), JobId: sdkaws.String(n.JobID),
	})
	if err != nil {
		return nil, wrap(opDescribeJob, n.SourceBucket, "", n.RoleARN, err)
	}
	if out.Job == nil {
		return nil, &Error{Op: opDescribeJob, Bucket: n.SourceBucket, Err: errors.New("the response has no job")}
	}
	j := &JobProgress{ID: n.JobID, Status: string(out.Job.Status)}
	if p := out.Job.ProgressSummary; p != nil {
		j.Total = sdkaws.ToInt64(p.TotalNumberOfTasks)
		j.Succeeded = sdkaws.ToInt64(p.NumberOfTasksSucceeded)
		j.Failed = sdkaws.ToInt64(p.NumberOfTasksFailed)
	}
	for _, f := range out.Job.FailureReasons {
		j.Failures = append(j.Failures, fmt.Sprintf("%s: %s", sdkaws.ToString(f.FailureCode), sdkaws.ToString(f.FailureReason)))
	}
	return j, nil
}

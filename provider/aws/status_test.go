package aws

import (
	"context"
	"errors"
	"slices"
	"testing"
)

func TestStatusCounts(t *testing.T) {
	tests := []struct {
		name      string
		sample    int
		status    func(int) string
		want      StatusReport // counts, Scanned, Sampled, Vanished
		wantLists []string
	}{
		{
			name: "all 2500 keys over 3 pages", status: mixedStatus,
			want:      StatusReport{Scanned: 2500, Completed: 1000, Pending: 500, Failed: 250, Replica: 250, None: 500},
			wantLists: []string{"", "1000", "2000"},
		},
		{
			name: "sample stops the listing", sample: 1500, status: mixedStatus,
			want:      StatusReport{Scanned: 1500, Sampled: true, Completed: 600, Pending: 300, Failed: 150, Replica: 150, None: 300},
			wantLists: []string{"", "1000"},
		},
		{
			name: "sample larger than bucket", sample: 5000, status: mixedStatus,
			want:      StatusReport{Scanned: 2500, Completed: 1000, Pending: 500, Failed: 250, Replica: 250, None: 500},
			wantLists: []string{"", "1000", "2000"},
		},
		{
			name: "objects deleted during the scan", status: func(i int) string {
				if i%100 == 0 {
					return "404"
				}
				return "COMPLETE" // older responses spell it so
			},
			want:      StatusReport{Scanned: 2500, Completed: 2475, Vanished: 25},
			wantLists: []string{"", "1000", "2000"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			l := newListing(2500, 1000, tt.status)
			l.install(f)
			n := newNative(f)
			n.Sample, n.Concurrency = tt.sample, 4
			got, err := n.Status(context.Background())
			if err != nil {
				t.Fatalf("Status: %v", err)
			}
			if got.Scanned != tt.want.Scanned || got.Sampled != tt.want.Sampled || got.Completed != tt.want.Completed ||
				got.Pending != tt.want.Pending || got.Failed != tt.want.Failed || got.Replica != tt.want.Replica ||
				got.None != tt.want.None || got.Vanished != tt.want.Vanished {
				t.Errorf("report = %+v\nwant     %+v", got, tt.want)
			}
			if got.SourceBucket != srcBucket || got.DestinationBucket != dstBucket || got.Job != nil {
				t.Errorf("report header = %+v", got)
			}
			if wantFailed := min(tt.want.Failed, maxListedKeys); len(got.FailedKeys) != wantFailed {
				t.Errorf("%d failed keys listed, want %d", len(got.FailedKeys), wantFailed)
			}
			for _, k := range got.FailedKeys {
				if l.status(k) != "FAILED" {
					t.Errorf("failed key %s has status %q", k, l.status(k))
				}
			}
			if !slices.Equal(l.lists, tt.wantLists) {
				t.Errorf("list tokens = %q, want %q", l.lists, tt.wantLists)
			}
			if l.maxFlight > 4 {
				t.Errorf("%d HEAD requests at once, limit 4", l.maxFlight)
			}
			heads := f.calls("HeadObject")
			if len(heads) != tt.want.Scanned {
				t.Errorf("%d HEAD requests, want %d", len(heads), tt.want.Scanned)
			}
			for _, h := range heads[:1] {
				if h.Method != "HEAD" || h.Host != srcBucket+".s3.ap-northeast-2.amazonaws.com" {
					t.Errorf("HEAD sent %s %s%s", h.Method, h.Host, h.Path)
				}
			}
			for _, ls := range f.calls("ListObjectsV2") {
				if ls.Method != "GET" || ls.Query["list-type"][0] != "2" {
					t.Errorf("ListObjectsV2 sent %s %v", ls.Method, ls.Query)
				}
			}
		})
	}
}

func TestStatusJobProgress(t *testing.T) {
	f := newFake(t)
	newListing(3, 1000, func(int) string { return "PENDING" }).install(f)
	f.always("DescribeJob", xmlBody(`<DescribeJobResult><Job><JobId>job-42</JobId><Status>Active</Status>`+
		`<ProgressSummary><TotalNumberOfTasks>100</TotalNumberOfTasks><NumberOfTasksSucceeded>60</NumberOfTasksSucceeded>`+
		`<NumberOfTasksFailed>2</NumberOfTasksFailed></ProgressSummary>`+
		`<FailureReasons><member><FailureCode>AccessDenied</FailureCode><FailureReason>role cannot read</FailureReason></member></FailureReasons>`+
		`</Job></DescribeJobResult>`))
	n := newNative(f)
	n.JobID = "job-42"
	got, err := n.Status(context.Background())
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	want := JobProgress{ID: "job-42", Status: "Active", Total: 100, Succeeded: 60, Failed: 2, Failures: []string{"AccessDenied: role cannot read"}}
	if got.Job == nil || got.Job.ID != want.ID || got.Job.Status != want.Status || got.Job.Total != want.Total ||
		got.Job.Succeeded != want.Succeeded || got.Job.Failed != want.Failed || !slices.Equal(got.Job.Failures, want.Failures) {
		t.Errorf("job = %+v, want %+v", got.Job, want)
	}
	if got.Pending != 3 {
		t.Errorf("pending = %d, want 3", got.Pending)
	}
	d := f.calls("DescribeJob")
	if len(d) != 1 || d[0].Method != "GET" || d[0].Path != "/v20180820/jobs/job-42" ||
		d[0].Host != testAccount+".s3-control.ap-northeast-2.amazonaws.com" || d[0].Header.Get("x-amz-account-id") != testAccount {
		t.Errorf("DescribeJob sent %+v", d)
	}
}

func TestStatusErrors(t *testing.T) {
	t.Run("access denied on one object names the key", func(t *testing.T) {
		f := newFake(t)
		newListing(2500, 1000, func(i int) string {
			if i == 1234 {
				return "403"
			}
			return "COMPLETED"
		}).install(f)
		n := newNative(f)
		_, err := n.Status(context.Background())
		if !errors.Is(err, ErrAccessDenied) {
			t.Fatalf("error %v is not ErrAccessDenied", err)
		}
		contains(t, "error", err.Error(), "aws: s3 head ticket-assets/objects/key-01234: access denied: the caller needs s3:GetObject")
	})
	t.Run("missing bucket", func(t *testing.T) {
		f := newFake(t)
		f.always("ListObjectsV2", s3Error(404, "NoSuchBucket", "The specified bucket does not exist"))
		_, err := newNative(f).Status(context.Background())
		if !errors.Is(err, ErrNoSuchBucket) {
			t.Fatalf("error %v is not ErrNoSuchBucket", err)
		}
		contains(t, "error", err.Error(), "aws: s3 list ticket-assets: the bucket does not exist")
	})
	t.Run("cancelled", func(t *testing.T) {
		f := newFake(t)
		newListing(2500, 1000, mixedStatus).install(f)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := newNative(f).Status(ctx)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v is not context.Canceled", err)
		}
	})
	t.Run("describe job denied", func(t *testing.T) {
		f := newFake(t)
		newListing(1, 1000, mixedStatus).install(f)
		f.always("DescribeJob", controlError(403, "AccessDenied", "Access Denied"))
		n := newNative(f)
		n.JobID = "job-1"
		_, err := n.Status(context.Background())
		if !errors.Is(err, ErrAccessDenied) {
			t.Fatalf("error %v is not ErrAccessDenied", err)
		}
		contains(t, "error", err.Error(), "aws: s3control describe job ticket-assets: access denied: the caller needs s3:DescribeJob")
	})
}

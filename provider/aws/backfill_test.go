package aws

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

var day1 = time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)

func TestBackfillBatch(t *testing.T) {
	tests := []struct {
		name    string
		tweak   func(*NativeReplication)
		body    []string
		notBody []string
	}{
		{
			name:    "report disabled",
			body:    []string{"<Report><Enabled>false</Enabled></Report>"},
			notBody: []string{"<Format>", "ReportScope"},
		},
		{
			name:  "report to a prefix",
			tweak: func(n *NativeReplication) { n.ReportBucket, n.ReportPrefix = "dr-reports", "/pilotlight/backfill/" },
			body: []string{"<Bucket>arn:aws:s3:::dr-reports</Bucket>", "<Enabled>true</Enabled>", "<Format>Report_CSV_20180820</Format>",
				"<Prefix>pilotlight/backfill</Prefix>", "<ReportScope>FailedTasksOnly</ReportScope>"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			f.always("CreateJob", xmlBody(`<CreateJobResult><JobId>job-0001</JobId></CreateJobResult>`))
			n := newNative(f)
			n.Batch, n.Now = true, func() time.Time { return day1 }
			if tt.tweak != nil {
				tt.tweak(n)
			}
			rep, err := n.Backfill(context.Background())
			if err != nil {
				t.Fatalf("Backfill: %v", err)
			}
			if rep.Mode != "batch" || rep.JobID != "job-0001" || rep.NeedsCopy || n.JobID != "job-0001" || rep.ClientRequestToken != n.RequestToken() {
				t.Errorf("report = %+v, n.JobID = %q", rep, n.JobID)
			}
			calls := f.calls("")
			if len(calls) != 1 || calls[0].Op != "CreateJob" {
				t.Fatalf("calls = %v, want one CreateJob", f.ops())
			}
			c := calls[0]
			if c.Method != "POST" || c.Path != "/v20180820/jobs" || c.Host != testAccount+".s3-control.ap-northeast-2.amazonaws.com" ||
				c.Header.Get("x-amz-account-id") != testAccount {
				t.Errorf("CreateJob sent %s %s%s account %q", c.Method, c.Host, c.Path, c.Header.Get("x-amz-account-id"))
			}
			contains(t, "CreateJob body", c.Body, append([]string{
				"<ClientRequestToken>" + rep.ClientRequestToken + "</ClientRequestToken>",
				"<ConfirmationRequired>false</ConfirmationRequired>",
				"<Operation><S3ReplicateObject></S3ReplicateObject></Operation>",
				"<ManifestGenerator><S3JobManifestGenerator>",
				"<SourceBucket>arn:aws:s3:::ticket-assets</SourceBucket>",
				"<EnableManifestOutput>false</EnableManifestOutput>",
				"<EligibleForReplication>true</EligibleForReplication>",
				"<ObjectReplicationStatuses><member>NONE</member><member>FAILED</member></ObjectReplicationStatuses>",
				"<Priority>10</Priority>",
				"<RoleArn>" + testRole + "</RoleArn>",
			}, tt.body...)...)
			lacks(t, "CreateJob body", c.Body, append([]string{"<Manifest>", "ManifestOutputLocation"}, tt.notBody...)...)
		})
	}
}

func TestRequestToken(t *testing.T) {
	n := &NativeReplication{SourceBucket: srcBucket, DestinationBucket: dstBucket, Now: func() time.Time { return day1 }}
	first := n.RequestToken()
	if len(first) > 64 || !strings.HasPrefix(first, "pilotlight-") {
		t.Errorf("token %q: want pilotlight- prefix and at most 64 characters", first)
	}
	n.Now = func() time.Time { return day1.Add(20 * time.Hour) } // still 22 November UTC
	if got := n.RequestToken(); got != first {
		t.Errorf("same day gives %q, want %q", got, first)
	}
	n.Now = func() time.Time { return day1.Add(24 * time.Hour) }
	if got := n.RequestToken(); got == first {
		t.Error("next day gives the same token")
	}
	n.Now = func() time.Time { return day1 }
	n.DestinationBucket = "other-replica"
	if got := n.RequestToken(); got == first {
		t.Error("another destination gives the same token")
	}
}

func TestBackfillBatchErrors(t *testing.T) {
	t.Run("create job denied", func(t *testing.T) {
		f := newFake(t)
		f.always("CreateJob", controlError(403, "AccessDenied", "Access Denied"))
		n := newNative(f)
		n.Batch = true
		_, err := n.Backfill(context.Background())
		if !errors.Is(err, ErrAccessDenied) {
			t.Fatalf("error %v is not ErrAccessDenied", err)
		}
		contains(t, "error", err.Error(), "aws: s3control create job ticket-assets: access denied: the caller needs s3:CreateJob and iam:PassRole on "+testRole)
		if n.JobID != "" {
			t.Errorf("JobID = %q after a failure", n.JobID)
		}
	})
	t.Run("idempotency mismatch is permanent", func(t *testing.T) {
		f := newFake(t)
		f.always("CreateJob", controlError(409, "IdempotencyException", "token reused with other parameters"))
		n := newNative(f)
		n.Batch = true
		_, err := n.Backfill(context.Background())
		var e *Error
		if !errors.As(err, &e) || !e.Permanent() || e.Code != "IdempotencyException" {
			t.Fatalf("error %v: want a permanent *Error with code IdempotencyException", err)
		}
	})
	t.Run("no control client", func(t *testing.T) {
		f := newFake(t)
		n := newNative(f)
		n.Batch, n.Control = true, nil
		_, err := n.Backfill(context.Background())
		if !errors.Is(err, ErrConfig) || len(f.ops()) != 0 {
			t.Fatalf("error %v, calls %v: want ErrConfig and no call", err, f.ops())
		}
	})
	t.Run("bad account", func(t *testing.T) {
		f := newFake(t)
		n := newNative(f)
		n.Batch, n.AccountID = true, "12345"
		_, err := n.Backfill(context.Background())
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "AccountID must be 12 digits") {
			t.Fatalf("error %v: want ErrConfig about AccountID", err)
		}
	})
}

func TestBackfillCopy(t *testing.T) {
	tests := []struct {
		name           string
		keys, sample   int
		status         func(int) string
		wantNeeds      bool
		wantScanned    int
		wantCandidates int
	}{
		{name: "mixed bucket needs a copy", keys: 2500, status: mixedStatus, wantNeeds: true, wantScanned: 2500, wantCandidates: 750},
		{name: "all replicated", keys: 1200, status: func(i int) string { return []string{"COMPLETED", "PENDING", "REPLICA"}[i%3] },
			wantScanned: 1200},
		{name: "empty bucket", keys: 0, status: mixedStatus},
		{name: "sampled", keys: 2500, sample: 100, status: mixedStatus, wantNeeds: true, wantScanned: 100, wantCandidates: 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			l := newListing(tt.keys, 1000, tt.status)
			l.install(f)
			n := newNative(f)
			n.Sample = tt.sample
			rep, err := n.Backfill(context.Background())
			if err != nil {
				t.Fatalf("Backfill: %v", err)
			}
			if rep.Mode != "copy" || rep.NeedsCopy != tt.wantNeeds || rep.Scanned != tt.wantScanned || rep.Candidates != tt.wantCandidates || rep.JobID != "" {
				t.Errorf("report = %+v", rep)
			}
			if len(rep.Keys) != min(tt.wantCandidates, maxListedKeys) {
				t.Errorf("%d keys listed, want %d", len(rep.Keys), min(tt.wantCandidates, maxListedKeys))
			}
			for _, k := range rep.Keys {
				if s := l.status(k); s != "" && s != "FAILED" {
					t.Errorf("candidate %s has status %q", k, s)
				}
			}
			if slices.Contains(f.ops(), "CreateJob") {
				t.Error("copy mode created a job")
			}
		})
	}
}

package aws

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
)

const (
	testRole    = "arn:aws:iam::123456789012:role/replication"
	testKMS     = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	testAccount = "123456789012"
	srcBucket   = "ticket-assets"
	dstBucket   = "ticket-assets-use1"
)

const s3NS = ` xmlns="http://s3.amazonaws.com/doc/2006-03-01/"`

// versioningReply answers GetBucketVersioning with status ("" = never
// enabled).
func versioningReply(status string) reply {
	if status == "" {
		return xmlBody(`<VersioningConfiguration` + s3NS + `/>`)
	}
	return xmlBody(`<VersioningConfiguration` + s3NS + `><Status>` + status + `</Status></VersioningConfiguration>`)
}

var noReplication = s3Error(404, "ReplicationConfigurationNotFoundError", "The replication configuration was not found")

// otherRule is a rule of someone else's, to be kept.
const otherRule = `<Rule><ID>other-team</ID><Priority>5</Priority><Status>Enabled</Status><Filter><Prefix>logs/</Prefix></Filter>` +
	`<DeleteMarkerReplication><Status>Disabled</Status></DeleteMarkerReplication>` +
	`<Destination><Bucket>arn:aws:s3:::elsewhere</Bucket></Destination></Rule>`

// ourRule is the rule Setup writes by default, as S3 returns it.
func ourRule(priority, deleteMarkers string) string {
	return `<Rule><ID>pilotlight-` + dstBucket + `</ID><Priority>` + priority + `</Priority><Status>Enabled</Status><Filter/>` +
		`<DeleteMarkerReplication><Status>` + deleteMarkers + `</Status></DeleteMarkerReplication>` +
		`<Destination><Bucket>arn:aws:s3:::` + dstBucket + `</Bucket></Destination></Rule>`
}

func replicationReply(role string, rules ...string) reply {
	return xmlBody(`<ReplicationConfiguration` + s3NS + `><Role>` + role + `</Role>` + strings.Join(rules, "") + `</ReplicationConfiguration>`)
}

// newSetupFake answers versioning by bucket and GetBucketReplication with
// repl; PutBucketVersioning and PutBucketReplication succeed.
func newSetupFake(t *testing.T, srcVersioning, dstVersioning string, repl reply) *fakeAWS {
	f := newFake(t)
	f.on("GetBucketVersioning", func(s sent) reply {
		if strings.HasPrefix(s.Host, dstBucket+".") {
			return versioningReply(dstVersioning)
		}
		return versioningReply(srcVersioning)
	})
	f.always("PutBucketVersioning", reply{})
	f.always("GetBucketReplication", repl)
	f.always("PutBucketReplication", reply{})
	return f
}

func newNative(f *fakeAWS) *NativeReplication {
	return &NativeReplication{
		Source: f.s3("ap-northeast-2"), Destination: f.s3("us-east-1"), Control: f.control("ap-northeast-2"),
		AccountID: testAccount, SourceBucket: srcBucket, DestinationBucket: dstBucket, DestinationRegion: "us-east-1",
		RoleARN: testRole,
	}
}

func TestSetup(t *testing.T) {
	tests := []struct {
		name           string
		srcVer, dstVer string
		repl           reply
		tweak          func(*NativeReplication)
		wantOps        []string
		want           SetupReport // the fields checked: versioning, priority, rule, others, previous role
		body           []string    // PutBucketReplication body must contain
		notBody        []string    // and must not contain
	}{
		{
			name: "fresh buckets", repl: noReplication,
			wantOps: []string{"GetBucketVersioning", "PutBucketVersioning", "GetBucketVersioning", "PutBucketVersioning",
				"GetBucketReplication", "PutBucketReplication"},
			want: SetupReport{SourceVersioning: "enabled", DestinationVersioning: "enabled", Priority: 1, Rule: "created"},
			body: []string{"<Role>" + testRole + "</Role>", "<ID>pilotlight-ticket-assets-use1</ID>", "<Priority>1</Priority>",
				"<Status>Enabled</Status>", "<Filter></Filter>",
				"<DeleteMarkerReplication><Status>Disabled</Status></DeleteMarkerReplication>",
				"<Destination><Bucket>arn:aws:s3:::ticket-assets-use1</Bucket></Destination>"},
			notBody: []string{"ReplicationTime", "Metrics", "EncryptionConfiguration", "SourceSelectionCriteria", "StorageClass", "other-team"},
		},
		{
			name: "already versioned", srcVer: "Enabled", dstVer: "Enabled", repl: noReplication,
			wantOps: []string{"GetBucketVersioning", "GetBucketVersioning", "GetBucketReplication", "PutBucketReplication"},
			want:    SetupReport{SourceVersioning: "already enabled", DestinationVersioning: "already enabled", Priority: 1, Rule: "created"},
		},
		{
			name: "suspended versioning is enabled again", srcVer: "Suspended", dstVer: "Enabled", repl: noReplication,
			wantOps: []string{"GetBucketVersioning", "GetBucketVersioning", "PutBucketVersioning", "GetBucketReplication", "PutBucketReplication"},
			want:    SetupReport{SourceVersioning: "enabled", DestinationVersioning: "already enabled", Priority: 1, Rule: "created"},
		},
		{
			name: "other rule preserved", srcVer: "Enabled", dstVer: "Enabled", repl: replicationReply(testRole, otherRule),
			wantOps: []string{"GetBucketVersioning", "GetBucketVersioning", "GetBucketReplication", "PutBucketReplication"},
			want:    SetupReport{SourceVersioning: "already enabled", DestinationVersioning: "already enabled", Priority: 6, Rule: "created", OtherRules: 1},
			body: []string{"<ID>other-team</ID>", "<Priority>5</Priority>", "<Prefix>logs/</Prefix>", "arn:aws:s3:::elsewhere",
				"<ID>pilotlight-ticket-assets-use1</ID>", "<Priority>6</Priority>"},
		},
		{
			name: "deletes replicate", srcVer: "Enabled", dstVer: "Enabled", repl: noReplication,
			tweak:   func(n *NativeReplication) { n.DeleteMarkers = true },
			wantOps: []string{"GetBucketVersioning", "GetBucketVersioning", "GetBucketReplication", "PutBucketReplication"},
			want:    SetupReport{SourceVersioning: "already enabled", DestinationVersioning: "already enabled", Priority: 1, Rule: "created"},
			body:    []string{"<DeleteMarkerReplication><Status>Enabled</Status></DeleteMarkerReplication>"},
			notBody: []string{"<DeleteMarkerReplication><Status>Disabled</Status>"},
		},
		{
			name: "replication time control", srcVer: "Enabled", dstVer: "Enabled", repl: noReplication,
			tweak:   func(n *NativeReplication) { n.RTC = true },
			wantOps: []string{"GetBucketVersioning", "GetBucketVersioning", "GetBucketReplication", "PutBucketReplication"},
			want:    SetupReport{SourceVersioning: "already enabled", DestinationVersioning: "already enabled", Priority: 1, Rule: "created"},
			body: []string{"<ReplicationTime><Status>Enabled</Status><Time><Minutes>15</Minutes></Time></ReplicationTime>",
				"<Metrics><EventThreshold><Minutes>15</Minutes></EventThreshold><Status>Enabled</Status></Metrics>"},
		},
		{
			name: "kms and storage class", srcVer: "Enabled", dstVer: "Enabled", repl: noReplication,
			tweak:   func(n *NativeReplication) { n.KMSKeyARN, n.StorageClass = testKMS, "STANDARD_IA" },
			wantOps: []string{"GetBucketVersioning", "GetBucketVersioning", "GetBucketReplication", "PutBucketReplication"},
			want:    SetupReport{SourceVersioning: "already enabled", DestinationVersioning: "already enabled", Priority: 1, Rule: "created"},
			body: []string{"<EncryptionConfiguration><ReplicaKmsKeyID>" + testKMS + "</ReplicaKmsKeyID></EncryptionConfiguration>",
				"<StorageClass>STANDARD_IA</StorageClass>",
				"<SourceSelectionCriteria><SseKmsEncryptedObjects><Status>Enabled</Status></SseKmsEncryptedObjects></SourceSelectionCriteria>"},
		},
		{
			name: "rule already in place", srcVer: "Enabled", dstVer: "Enabled", repl: replicationReply(testRole, otherRule, ourRule("7", "Disabled")),
			wantOps: []string{"GetBucketVersioning", "GetBucketVersioning", "GetBucketReplication"},
			want:    SetupReport{SourceVersioning: "already enabled", DestinationVersioning: "already enabled", Priority: 7, Rule: "unchanged", OtherRules: 1},
		},
		{
			name: "rule updated keeps its priority", srcVer: "Enabled", dstVer: "Enabled", repl: replicationReply(testRole, ourRule("3", "Disabled"), otherRule),
			tweak:   func(n *NativeReplication) { n.DeleteMarkers = true },
			wantOps: []string{"GetBucketVersioning", "GetBucketVersioning", "GetBucketReplication", "PutBucketReplication"},
			want:    SetupReport{SourceVersioning: "already enabled", DestinationVersioning: "already enabled", Priority: 3, Rule: "updated", OtherRules: 1},
			body:    []string{"<Priority>3</Priority>", "<ID>other-team</ID>", "<DeleteMarkerReplication><Status>Enabled</Status></DeleteMarkerReplication>"},
		},
		{
			name: "role replaced", srcVer: "Enabled", dstVer: "Enabled",
			repl:    replicationReply("arn:aws:iam::123456789012:role/old", ourRule("1", "Disabled")),
			wantOps: []string{"GetBucketVersioning", "GetBucketVersioning", "GetBucketReplication", "PutBucketReplication"},
			want: SetupReport{SourceVersioning: "already enabled", DestinationVersioning: "already enabled", Priority: 1, Rule: "updated",
				PreviousRole: "arn:aws:iam::123456789012:role/old"},
			body:    []string{"<Role>" + testRole + "</Role>"},
			notBody: []string{"role/old"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newSetupFake(t, tt.srcVer, tt.dstVer, tt.repl)
			n := newNative(f)
			if tt.tweak != nil {
				tt.tweak(n)
			}
			got, err := n.Setup(context.Background())
			if err != nil {
				t.Fatalf("Setup: %v", err)
			}
			if ops := f.ops(); !slices.Equal(ops, tt.wantOps) {
				t.Errorf("calls = %v\nwant    %v", ops, tt.wantOps)
			}
			want := tt.want
			want.SourceBucket, want.DestinationBucket, want.DestinationRegion, want.RuleID = srcBucket, dstBucket, "us-east-1", "pilotlight-"+dstBucket
			if got != want {
				t.Errorf("report = %+v\nwant     %+v", got, want)
			}
			checkVersioningRequests(t, f)
			puts := f.calls("PutBucketReplication")
			if len(puts) == 0 {
				return
			}
			p := puts[0]
			if p.Method != "PUT" || p.Host != srcBucket+".s3.ap-northeast-2.amazonaws.com" || p.Path != "/" || !hasKey(p.Query, "replication") {
				t.Errorf("PutBucketReplication sent %s %s%s %v", p.Method, p.Host, p.Path, p.Query)
			}
			if p.Header.Get("Content-MD5") == "" && !hasChecksumHeader(p) {
				t.Errorf("PutBucketReplication has no integrity header: %v", p.Header)
			}
			contains(t, "PutBucketReplication body", p.Body, tt.body...)
			lacks(t, "PutBucketReplication body", p.Body, tt.notBody...)
			if c := strings.Count(p.Body, "<Rule>"); c != 1+got.OtherRules {
				t.Errorf("body has %d rules, want %d", c, 1+got.OtherRules)
			}
		})
	}
}

// checkVersioningRequests checks every versioning request's shape.
func checkVersioningRequests(t *testing.T, f *fakeAWS) {
	t.Helper()
	for _, s := range f.calls("") {
		if !strings.HasSuffix(s.Op, "BucketVersioning") {
			continue
		}
		wantMethod := map[string]string{"GetBucketVersioning": "GET", "PutBucketVersioning": "PUT"}[s.Op]
		if s.Method != wantMethod || !hasKey(s.Query, "versioning") || s.Path != "/" {
			t.Errorf("%s sent %s %s%s %v", s.Op, s.Method, s.Host, s.Path, s.Query)
		}
		if s.Op == "PutBucketVersioning" {
			contains(t, "PutBucketVersioning body", s.Body, "<VersioningConfiguration", "<Status>Enabled</Status>")
			lacks(t, "PutBucketVersioning body", s.Body, "MfaDelete")
		}
	}
}

func hasKey(q map[string][]string, k string) bool { _, ok := q[k]; return ok }

func hasChecksumHeader(s sent) bool {
	for k := range s.Header {
		if strings.HasPrefix(strings.ToLower(k), "x-amz-checksum-") {
			return true
		}
	}
	return false
}

func TestSetupErrors(t *testing.T) {
	tests := []struct {
		name     string
		prepare  func(f *fakeAWS)
		tweak    func(*NativeReplication)
		is       error
		wantText []string
		lastOp   string // the last call made ("" = none)
	}{
		{
			name:    "access denied on put replication",
			prepare: func(f *fakeAWS) { f.always("PutBucketReplication", s3Error(403, "AccessDenied", "Access Denied")) },
			is:      ErrAccessDenied,
			wantText: []string{"aws: s3 put replication ticket-assets: access denied: the caller needs s3:PutReplicationConfiguration",
				"iam:PassRole on " + testRole, "AccessDenied"},
			lastOp: "PutBucketReplication",
		},
		{
			name: "invalid request on put replication",
			prepare: func(f *fakeAWS) {
				f.always("PutBucketReplication", s3Error(400, "InvalidRequest", "Versioning must be 'Enabled' on the bucket"))
			},
			is:       ErrInvalidRequest,
			wantText: []string{"aws: s3 put replication ticket-assets: S3 rejected the replication rule: versioning must be enabled", "s3.amazonaws.com", testRole},
			lastOp:   "PutBucketReplication",
		},
		{
			name: "destination bucket missing",
			prepare: func(f *fakeAWS) {
				f.always("GetBucketVersioning", s3Error(404, "NoSuchBucket", "The specified bucket does not exist"))
			},
			is:       ErrNoSuchBucket,
			wantText: []string{"aws: s3 get versioning ticket-assets-use1: the bucket does not exist"},
			lastOp:   "GetBucketVersioning",
		},
		{
			name:     "access denied on get replication",
			prepare:  func(f *fakeAWS) { f.always("GetBucketReplication", s3Error(403, "AccessDenied", "Access Denied")) },
			is:       ErrAccessDenied,
			wantText: []string{"aws: s3 get replication ticket-assets: access denied: the caller needs s3:GetReplicationConfiguration"},
			lastOp:   "GetBucketReplication",
		},
		{
			name: "legacy prefix rule",
			prepare: func(f *fakeAWS) {
				f.always("GetBucketReplication", replicationReply(testRole, `<Rule><ID>v1</ID><Prefix>a/</Prefix><Status>Enabled</Status>`+
					`<Destination><Bucket>arn:aws:s3:::elsewhere</Bucket></Destination></Rule>`))
			},
			wantText: []string{`aws: s3 put replication ticket-assets: rule "v1" uses the legacy Prefix schema`},
			lastOp:   "GetBucketReplication",
		},
		{
			name:     "bad role",
			tweak:    func(n *NativeReplication) { n.RoleARN = "arn:aws:iam::123456789012:user/bob" },
			is:       ErrConfig,
			wantText: []string{"aws: native replication ticket-assets: invalid configuration: RoleARN must be an IAM role ARN"},
		},
		{
			name:     "missing destination bucket name",
			tweak:    func(n *NativeReplication) { n.DestinationBucket = "" },
			is:       ErrConfig,
			wantText: []string{"SourceBucket and DestinationBucket are required"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newSetupFake(t, "Enabled", "Enabled", noReplication)
			if tt.prepare != nil {
				tt.prepare(f)
			}
			n := newNative(f)
			if tt.tweak != nil {
				tt.tweak(n)
			}
			_, err := n.Setup(context.Background())
			if err == nil {
				t.Fatal("Setup succeeded")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
			contains(t, "error", err.Error(), tt.wantText...)
			ops := f.ops()
			last := ""
			if len(ops) > 0 {
				last = ops[len(ops)-1]
			}
			if last != tt.lastOp {
				t.Errorf("last call = %q (all %v), want %q", last, ops, tt.lastOp)
			}
			var e *Error
			if tt.is != nil && tt.is != ErrConfig && (!errors.As(err, &e) || !e.Permanent()) {
				t.Errorf("error %v is not a permanent *Error", err)
			}
		})
	}
}

package replicate

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

func httpErr(status int, code string) error {
	var err error = &smithy.GenericAPIError{Code: code, Message: "test"}
	return &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}}, Err: err}}
}

func TestClassify(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	for _, tc := range []struct {
		name     string
		err      error
		answered bool
		want     errorClass
	}{
		{"slow down", httpErr(503, "SlowDown"), true, classRetry},
		{"429", httpErr(429, "TooManyRequests"), true, classRetry},
		{"request limit", httpErr(400, "RequestLimitExceeded"), true, classRetry},
		{"internal", httpErr(500, "InternalError"), true, classRetry},
		{"bad gateway without code", httpErr(502, ""), true, classRetry},
		{"bad digest", httpErr(400, "BadDigest"), true, classRetry},
		{"access denied", httpErr(403, "AccessDenied"), true, classPermanent},
		{"bad key", httpErr(403, "InvalidAccessKeyId"), true, classPermanent},
		{"bad signature", httpErr(403, "SignatureDoesNotMatch"), true, classPermanent},
		{"versitygw unknown user", httpErr(404, "XAdminUserNotFound"), true, classPermanent},
		{"no such bucket", httpErr(404, "NoSuchBucket"), true, classPermanent},
		{"no such key", httpErr(404, "NoSuchKey"), true, classFatal},
		{"refused first", fmt.Errorf("send: %w", refused), false, classPermanent},
		{"refused later", fmt.Errorf("send: %w", refused), true, classRetry},
		{"reset", fmt.Errorf("read: %w", syscall.ECONNRESET), true, classRetry},
		{"checksum", fmt.Errorf("x: %w", errChecksum), true, classRetry},
		{"source changed", errSourceChanged, true, classRetry},
		{"cancelled", context.Canceled, true, classFatal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := classify(tc.err, tc.answered); got != tc.want {
				t.Fatalf("classify(%v) = %d, want %d", tc.err, got, tc.want)
			}
		})
	}
	if !isNotFound(httpErr(404, "NoSuchKey")) || isNotFound(httpErr(404, "NoSuchBucket")) {
		t.Error("isNotFound confuses keys and buckets")
	}
}

func TestBackoffDelay(t *testing.T) {
	b := backoff{}.withDefaults()
	for n := 1; n < 30; n++ {
		for range 20 {
			d := b.delay(n)
			if d < b.Base/2 || d > b.Max {
				t.Fatalf("delay(%d) = %v, outside [%v, %v]", n, d, b.Base/2, b.Max)
			}
			if lim := b.Base << (n - 1); n < 6 && d > lim {
				t.Fatalf("delay(%d) = %v, above %v", n, d, lim)
			}
		}
	}
}

// A replica that answers 503 SlowDown for a while: the SDK retryer and the
// replicator's backoff ride it out with no failure.
func TestThrottling(t *testing.T) {
	for _, tc := range []struct {
		name string
		sdk  bool // SDK retries on, else only the replicator's backoff
	}{{"sdk retryer", true}, {"replicator backoff", false}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t, 60*time.Second)
			f := newFixture(t, ctx)
			f.seed(t, ctx, 40)
			// With SDK retries: every request for 1 s. Without: the first 5
			// requests, one worker, so that one operation sees all of them.
			until := time.Now().Add(time.Second)
			var throttled atomic.Int32
			fail := func(w http.ResponseWriter, r *http.Request) bool {
				if tc.sdk && time.Now().Before(until) || !tc.sdk && throttled.Load() < 5 {
					throttled.Add(1)
					slowDown(w)
					return true
				}
				return false
			}
			f.px.fail.Store(&fail)
			dst, workers := f.viaProxy, 4
			if !tc.sdk {
				workers = 1
				dst = s3.New(f.viaProxy.Options(), func(o *s3.Options) { o.Retryer = aws.NopRetryer{} })
			}
			r, err := New(ep(f.srcC, f.src), ep(dst, f.dst), Policy{}, Options{Workers: workers, Checkpoint: filepath.Join(t.TempDir(), "cp.db")})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			r.bo = backoff{Attempts: 8, Base: 50 * time.Millisecond, Max: 500 * time.Millisecond}
			s, err := r.Pass(ctx)
			if err != nil || s.Failed != 0 || s.Copied != 40 {
				t.Fatalf("pass: %+v, %v", s, err)
			}
			if throttled.Load() == 0 {
				t.Fatal("the proxy throttled nothing")
			}
			t.Logf("%d requests throttled", throttled.Load())
		})
	}
}

// Throttling that outlasts every retry fails the objects, not the pass.
func TestThrottlingExhausted(t *testing.T) {
	ctx := testCtx(t, 30*time.Second)
	f := newFixture(t, ctx)
	f.seed(t, ctx, 3)
	fail := func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPut {
			slowDown(w)
			return true
		}
		return false
	}
	f.px.fail.Store(&fail)
	dst := s3.New(f.viaProxy.Options(), func(o *s3.Options) { o.Retryer = aws.NopRetryer{} })
	r, err := New(ep(f.srcC, f.src), ep(dst, f.dst), Policy{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.bo = backoff{Attempts: 3, Base: time.Millisecond, Max: 5 * time.Millisecond}
	s, err := r.Pass(ctx)
	if err != nil || s.Failed != 3 || len(s.Failures) != 3 {
		t.Fatalf("pass: %+v, %v", s, err)
	}
	if e := s.Failures[0].Err; !strings.Contains(e, "replicate: put s3://"+f.dst+"/") || !strings.Contains(e, "SlowDown") {
		t.Errorf("failure message %q", e)
	}
}

func TestRateLimit(t *testing.T) {
	ctx := testCtx(t, 30*time.Second)
	f := newFixture(t, ctx)
	f.seed(t, ctx, 30)
	r := f.replicator(t, Policy{}, Options{RateLimit: 50, Checkpoint: filepath.Join(t.TempDir(), "cp.db")})
	start := time.Now()
	if s, err := r.Pass(ctx); err != nil || s.Copied != 30 {
		t.Fatalf("pass: %+v, %v", s, err)
	}
	// 30 PUTs at 50/s with a burst of 5 take at least 0.5 s.
	if d := time.Since(start); d < 450*time.Millisecond {
		t.Fatalf("pass took %v, faster than the rate limit allows", d)
	}
}

// isolateAWSConfig points the AWS configuration chain at nothing but the
// given keys, so that no test reaches outside the loopback network.
func isolateAWSConfig(t *testing.T, access, secret string) {
	dir := t.TempDir()
	t.Setenv("AWS_ACCESS_KEY_ID", access)
	t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_REGION", "")
}

func TestClearErrors(t *testing.T) {
	st := getStore(t)
	ctx := testCtx(t, 60*time.Second)
	good := st.bucket(t, ctx)
	putObject(t, ctx, st.client(""), &s3.PutObjectInput{Bucket: &good, Key: aws.String("dir/key")}, []byte("x"))
	dead := "http://" + freeAddr(t)

	for _, tc := range []struct {
		name           string
		access, secret string
		from, to       string
		want           []string // in every error
		wantNo         string   // the first operation: a fresh checkpoint, like none, lists the replica first
	}{
		{name: "unreachable source", from: "s3://" + good + "?endpoint=" + dead, to: "s3://" + good + "?endpoint=" + st.proc.Endpoint(),
			want: []string{dead, "connection refused"}, wantNo: "replicate: list s3://" + good + "/:"},
		{name: "unreachable replica", from: "s3://" + good + "?endpoint=" + st.proc.Endpoint(), to: "s3://other?endpoint=" + dead,
			want: []string{dead, "connection refused"}, wantNo: "replicate: list s3://other/:"},
		{name: "unknown access key", access: "AKIAWRONGWRONGWRONG1",
			from: "s3://" + good + "?endpoint=" + st.proc.Endpoint(), to: "s3://other?endpoint=" + st.proc.Endpoint(),
			want: []string{"XAdminUserNotFound"}, wantNo: "replicate: list s3://other/:"},
		{name: "wrong secret", secret: "wrongwrongwrongwrongwrongwrongwrongwrong",
			from: "s3://" + good + "?endpoint=" + st.proc.Endpoint(), to: "s3://other?endpoint=" + st.proc.Endpoint(),
			want: []string{"SignatureDoesNotMatch"}, wantNo: "replicate: list s3://other/:"},
		{name: "missing source bucket", from: "s3://no-such-source?endpoint=" + st.proc.Endpoint(), to: "s3://" + good + "?endpoint=" + st.proc.Endpoint(),
			want: []string{"NoSuchBucket"}, wantNo: "replicate: list s3://no-such-source/:"},
		{name: "missing replica bucket", from: "s3://" + good + "?endpoint=" + st.proc.Endpoint(), to: "s3://no-such-replica/pre?endpoint=" + st.proc.Endpoint(),
			want: []string{"NoSuchBucket"}, wantNo: "replicate: list s3://no-such-replica/pre/:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			access, secret := st.access, st.secret
			if tc.access != "" {
				access = tc.access
			}
			if tc.secret != "" {
				secret = tc.secret
			}
			isolateAWSConfig(t, access, secret)
			from, err := ParseURL(tc.from)
			if err != nil {
				t.Fatal(err)
			}
			to, err := ParseURL(tc.to)
			if err != nil {
				t.Fatal(err)
			}
			src, err := from.Open(ctx)
			if err != nil {
				t.Fatal(err)
			}
			dst, err := to.Open(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, withCheckpoint := range []bool{false, true} {
				o := Options{}
				if withCheckpoint {
					o.Checkpoint = filepath.Join(t.TempDir(), "cp.db")
				}
				r, err := New(src, dst, Policy{}, o)
				if err != nil {
					t.Fatal(err)
				}
				start := time.Now()
				_, err = r.Pass(ctx)
				r.Close()
				if err == nil {
					t.Fatal("pass succeeded")
				}
				var pe *PermanentError
				if !errors.Is(err, ErrPermanent) || !errors.As(err, &pe) {
					t.Fatalf("error %v (%T) is not permanent", err, err)
				}
				want := append([]string{tc.wantNo}, tc.want...)
				for _, w := range want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("checkpoint=%v: error %q does not mention %q", withCheckpoint, err, w)
					}
				}
				if d := time.Since(start); d > 5*time.Second {
					t.Errorf("permanent error took %v", d)
				}
			}
		})
	}
}

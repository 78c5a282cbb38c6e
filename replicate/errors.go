package replicate

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"syscall"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"

	schedule "github.com/pilotlight/pilotlight/backoff"
)

// ErrPermanent matches, with errors.Is, every error that retrying cannot
// fix: access denied, wrong credentials, a missing bucket, or an endpoint
// that refused the very first connection.
var ErrPermanent = errors.New("permanent error")

// PermanentError is a permanent failure of one operation on one endpoint.
// Its message reads "replicate: OP s3://BUCKET/KEY: CAUSE"; for network
// errors the cause names the endpoint URL.
type PermanentError struct {
	Op       string // operation, such as "list" or "copy"
	Endpoint string // Endpoint.Name of the side that failed
	Bucket   string
	Key      string // empty for bucket-level operations
	Err      error
}

func (e *PermanentError) Error() string {
	return fmt.Sprintf("replicate: %s s3://%s/%s: %v", e.Op, e.Bucket, e.Key, e.Err)
}

// Unwrap returns the cause.
func (e *PermanentError) Unwrap() error { return e.Err }

// Is reports whether target is ErrPermanent.
func (e *PermanentError) Is(target error) bool { return target == ErrPermanent }

// errSourceChanged means the source object changed while it was copied;
// the copy is retried from its current version.
var errSourceChanged = errors.New("source changed during the copy")

// errChecksum means a computed checksum did not match; the copy is retried.
var errChecksum = errors.New("checksum mismatch")

// errorClass says what to do about an error.
type errorClass int

const (
	classFatal     errorClass = iota // fail this object, do not retry
	classRetry                       // throttling or transient: back off and retry
	classPermanent                   // stop the pass
)

var permanentCodes = map[string]bool{
	"AccessDenied": true, "InvalidAccessKeyId": true, "SignatureDoesNotMatch": true,
	"NoSuchBucket": true, "XAdminUserNotFound": true, "AllAccessDisabled": true,
	"InvalidBucketName": true, "AccountProblem": true,
}

var retryCodes = map[string]bool{
	"SlowDown": true, "Throttling": true, "ThrottlingException": true, "TooManyRequests": true,
	"RequestLimitExceeded": true, "RequestThrottled": true, "RequestTimeout": true,
	"RequestTimeTooSkewed": true, "InternalError": true, "ServiceUnavailable": true,
	"BadDigest": true, "XAmzContentSHA256Mismatch": true, "NoSuchUpload": false,
}

// classify sorts err; answered says whether the endpoint has answered any
// request before (a refused connection is permanent only before that).
func classify(err error, answered bool) errorClass {
	if err == nil {
		return classFatal
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return classFatal
	}
	if errors.Is(err, errSourceChanged) || errors.Is(err, errChecksum) {
		return classRetry
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		if answered {
			return classRetry
		}
		return classPermanent
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code := ae.ErrorCode()
		if permanentCodes[code] {
			return classPermanent
		}
		if retryCodes[code] {
			return classRetry
		}
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		switch s := re.HTTPStatusCode(); {
		case s == http.StatusForbidden:
			return classPermanent
		case s == http.StatusTooManyRequests || s >= 500:
			return classRetry
		case s >= 400:
			return classFatal
		}
	}
	if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		strings.Contains(err.Error(), "connection reset") || strings.Contains(err.Error(), "unexpected EOF") {
		return classRetry
	}
	var ne interface{ Timeout() bool }
	if errors.As(err, &ne) && ne.Timeout() {
		return classRetry
	}
	return classFatal
}

// isNotFound reports whether err is a 404 for a key (not a bucket).
func isNotFound(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NoSuchKey", "NotFound", "NoSuchVersion":
			return true
		case "NoSuchBucket":
			return false
		}
	}
	var re *awshttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound
}

// isPreconditionFailed reports whether err is a 412 (If-Match failed).
func isPreconditionFailed(err error) bool {
	var re *awshttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == http.StatusPreconditionFailed
}

// backoff is a capped, jittered exponential backoff for whole operations.
type backoff struct {
	Attempts int           // total attempts (default 6)
	Base     time.Duration // first delay (default 200 ms)
	Max      time.Duration // delay cap (default 10 s)
}

func (b backoff) withDefaults() backoff {
	if b.Attempts <= 0 {
		b.Attempts = 6
	}
	if b.Base <= 0 {
		b.Base = 200 * time.Millisecond
	}
	if b.Max <= 0 {
		b.Max = 10 * time.Second
	}
	return b
}

// delay returns the wait before attempt n+1 (n >= 1): full jitter over
// min(Max, Base*2^(n-1)), never below Base/2.
func (b backoff) delay(n int) time.Duration {
	d := schedule.Exp(b.Base, b.Max, n)
	return b.Base/2 + rand.N(d-b.Base/2+1)
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

package replicate

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// URLSpec is a parsed endpoint URL:
//
//	s3://BUCKET[/PREFIX]?endpoint=http://127.0.0.1:9001&region=us-east-1&profile=NAME
type URLSpec struct {
	Bucket   string
	Prefix   string // "" or ending in "/"
	Endpoint string // S3 API URL (optional; default: AWS)
	Region   string // optional; default from the AWS configuration, or us-east-1 with Endpoint
	Profile  string // shared-configuration profile (optional)
}

var bucketRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// validBucket reports why name is not a valid bucket name, or "".
func validBucket(name string) string {
	switch {
	case name == "":
		return "bucket name is empty"
	case len(name) < 3 || len(name) > 63:
		return fmt.Sprintf("bucket name %q must be 3 to 63 characters", name)
	case !bucketRE.MatchString(name) || strings.Contains(name, ".."):
		return fmt.Sprintf("bucket name %q must be lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit", name)
	}
	return ""
}

// ParseURL parses s3://BUCKET[/PREFIX][?endpoint=URL&region=R&profile=P].
// A prefix that does not end in "/" gets one, so that "photos" never
// matches "photos2/". Errors read `replicate: parse URL "RAW": REASON`.
func ParseURL(raw string) (URLSpec, error) {
	fail := func(format string, a ...any) (URLSpec, error) {
		return URLSpec{}, fmt.Errorf("replicate: parse URL %q: %s", raw, fmt.Sprintf(format, a...))
	}
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fail("%v", err)
	}
	if u.Scheme != "s3" {
		if u.Scheme == "" {
			return fail("scheme must be s3:// (as in s3://bucket/prefix)")
		}
		return fail("scheme %q is not s3", u.Scheme)
	}
	if u.Opaque != "" {
		return fail("missing // after s3:")
	}
	if u.User != nil {
		return fail("credentials do not belong in the URL (use the environment or profile=)")
	}
	if u.Port() != "" {
		return fail("bucket name %q must not have a port (use endpoint=)", u.Host)
	}
	if u.Fragment != "" {
		return fail("unexpected fragment %q", u.Fragment)
	}
	if msg := validBucket(u.Host); msg != "" {
		return fail("%s", msg)
	}
	s := URLSpec{Bucket: u.Host, Prefix: strings.TrimPrefix(u.Path, "/")}
	if strings.Contains(s.Prefix, "//") {
		return fail("prefix %q has an empty path segment", s.Prefix)
	}
	if s.Prefix != "" && !strings.HasSuffix(s.Prefix, "/") {
		s.Prefix += "/"
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return fail("query: %v", err)
	}
	for k, vs := range q {
		if len(vs) != 1 {
			return fail("query key %q given %d times", k, len(vs))
		}
		v := vs[0]
		switch k {
		case "endpoint":
			eu, err := url.Parse(v)
			if err != nil || (eu.Scheme != "http" && eu.Scheme != "https") || eu.Host == "" {
				return fail("endpoint %q must be an http:// or https:// URL with a host", v)
			}
			s.Endpoint = v
		case "region":
			if v == "" {
				return fail("region is empty")
			}
			s.Region = v
		case "profile":
			if v == "" {
				return fail("profile is empty")
			}
			s.Profile = v
		default:
			return fail("unknown query key %q (want endpoint, region or profile)", k)
		}
	}
	return s, nil
}

// String returns the URL form of u.
func (u URLSpec) String() string {
	s := "s3://" + u.Bucket + "/" + u.Prefix
	q := url.Values{}
	for _, kv := range [][2]string{{"endpoint", u.Endpoint}, {"region", u.Region}, {"profile", u.Profile}} {
		if kv[1] != "" {
			q.Set(kv[0], kv[1])
		}
	}
	if len(q) > 0 {
		s += "?" + q.Encode()
	}
	return s
}

// Open builds the Endpoint of u: an S3 client with the standard AWS configuration
// chain (environment, shared files, profile=), the bulk-work retryer
// ([NewRetryer]) and awshttp.NewBuildableClient. With endpoint= it uses
// path-style addressing and computes checksums only when required, which
// S3-compatible stores handle best; the region then defaults to us-east-1.
func (u URLSpec) Open(ctx context.Context) (Endpoint, error) {
	opts := []func(*config.LoadOptions) error{
		config.WithHTTPClient(NewHTTPClient()),
		config.WithRetryer(NewRetryer),
	}
	if u.Region != "" {
		opts = append(opts, config.WithRegion(u.Region))
	}
	if u.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(u.Profile))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return Endpoint{}, fmt.Errorf("replicate: load AWS configuration for s3://%s: %w", u.Bucket, err)
	}
	if cfg.Region == "" {
		if u.Endpoint == "" {
			return Endpoint{}, fmt.Errorf("replicate: s3://%s: no region: add region= to the URL or set AWS_REGION", u.Bucket)
		}
		cfg.Region = "us-east-1"
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if u.Endpoint != "" {
			o.BaseEndpoint = aws.String(u.Endpoint)
			o.UsePathStyle = true
			o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
			o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		}
	})
	where := u.Endpoint
	if where == "" {
		where = cfg.Region
	}
	return Endpoint{
		Client: client,
		Bucket: u.Bucket,
		Prefix: u.Prefix,
		Name:   fmt.Sprintf("s3://%s/%s (%s)", u.Bucket, u.Prefix, where),
	}, nil
}

// NewHTTPClient returns the SDK HTTP client for bulk work: the SDK's
// buildable client (which honours AWS_CA_BUNDLE) with enough idle
// connections per host for every worker. The SDK default keeps 10, so more
// workers than that would open and close a connection per request.
func NewHTTPClient() *awshttp.BuildableClient {
	return awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConns = 512
		t.MaxIdleConnsPerHost = 256
	})
}

// BulkOptions sets the bulk-work retryer and HTTP client on an S3 client's
// options; use it with clients built elsewhere (for example
// objstore.NewClient(..., replicate.BulkOptions)).
func BulkOptions(o *s3.Options) {
	o.Retryer = NewRetryer()
	o.HTTPClient = NewHTTPClient()
}

// NewRetryer returns the SDK retryer for bulk work: 10 attempts, backoff
// capped at 20 s, and no client-side retry quota (ratelimit.None), so that
// sustained throttling slows the copy down instead of exhausting the quota
// and failing every request (Litestream's newTransportRetryer makes the same
// choice). A refused connection is not retried here: the replicator's own
// backoff decides, so that an endpoint that never answered fails at once.
// Use it in other clients with s3.Options.Retryer.
func NewRetryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = 10
		o.MaxBackoff = 20 * time.Second
		o.RateLimiter = ratelimit.None
		o.Retryables = append([]retry.IsErrorRetryable{refusedNotRetryable}, o.Retryables...)
	})
}

var refusedNotRetryable = retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
	if errors.Is(err, syscall.ECONNREFUSED) {
		return aws.FalseTernary
	}
	return aws.UnknownTernary
})

package aws

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3control"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// sent is one request as the SDK serialized and signed it.
type sent struct {
	Op, Method, Host, Path string
	Query                  map[string][]string
	Header                 http.Header
	Body                   string
}

// reply is a canned HTTP response.
type reply struct {
	status int
	header map[string]string
	body   string
}

// fakeAWS answers SDK calls in place of AWS. Its middleware sits last in
// the deserialize step, just before the HTTP client would send the request:
// it records the finished request and returns a canned HTTP response that
// the SDK's own deserializers parse, errors included.
type fakeAWS struct {
	t      *testing.T
	mu     sync.Mutex
	reqs   []sent
	routes map[string]func(sent) reply // by operation name, such as PutBucketReplication
}

func newFake(t *testing.T) *fakeAWS {
	return &fakeAWS{t: t, routes: make(map[string]func(sent) reply)}
}

// on answers every call of op with fn.
func (f *fakeAWS) on(op string, fn func(sent) reply) { f.routes[op] = fn }

// always answers every call of op with r.
func (f *fakeAWS) always(op string, r reply) { f.on(op, func(sent) reply { return r }) }

func (f *fakeAWS) stack(st *middleware.Stack) error {
	return st.Deserialize.Add(middleware.DeserializeMiddlewareFunc("fakeAWS", f.handle), middleware.After)
}

func (f *fakeAWS) handle(ctx context.Context, in middleware.DeserializeInput, _ middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
	req, ok := in.Request.(*smithyhttp.Request)
	if !ok {
		return middleware.DeserializeOutput{}, middleware.Metadata{}, fmt.Errorf("fake: unexpected request type %T", in.Request)
	}
	hreq := req.Build(ctx)
	var body []byte
	if hreq.Body != nil {
		var err error
		if body, err = io.ReadAll(hreq.Body); err != nil {
			return middleware.DeserializeOutput{}, middleware.Metadata{}, err
		}
	}
	s := sent{Op: awsmiddleware.GetOperationName(ctx), Method: hreq.Method, Host: hreq.URL.Host, Path: hreq.URL.Path,
		Query: hreq.URL.Query(), Header: hreq.Header.Clone(), Body: string(body)}
	f.mu.Lock()
	f.reqs = append(f.reqs, s)
	route := f.routes[s.Op]
	f.mu.Unlock()
	r := reply{status: 501, body: "<Error><Code>NotImplemented</Code><Message>fake has no route</Message></Error>"}
	if route == nil {
		f.t.Errorf("fake: unexpected call %s %s %s?%s", s.Op, s.Method, s.Path, hreq.URL.RawQuery)
	} else {
		r = route(s)
	}
	rec := httptest.NewRecorder()
	for k, v := range r.header {
		rec.Header().Set(k, v)
	}
	if r.status == 0 {
		r.status = http.StatusOK
	}
	rec.WriteHeader(r.status)
	rec.WriteString(r.body)
	resp := rec.Result()
	resp.Body = io.NopCloser(bytes.NewReader([]byte(r.body)))
	return middleware.DeserializeOutput{RawResponse: &smithyhttp.Response{Response: resp}}, middleware.Metadata{}, nil
}

// calls returns the recorded requests of op ("" for all), in order.
func (f *fakeAWS) calls(op string) []sent {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []sent
	for _, s := range f.reqs {
		if op == "" || s.Op == op {
			out = append(out, s)
		}
	}
	return out
}

// ops returns the operation names called, in order.
func (f *fakeAWS) ops() []string {
	var out []string
	for _, s := range f.calls("") {
		out = append(out, s.Op)
	}
	return out
}

var testCreds = credentials.NewStaticCredentialsProvider("AKIDTEST", "SECRETTEST", "")

func (f *fakeAWS) s3(region string) *s3.Client {
	return s3.New(s3.Options{Region: region, Credentials: testCreds, HTTPClient: awshttp.NewBuildableClient(),
		Retryer: sdkaws.NopRetryer{}, APIOptions: []func(*middleware.Stack) error{f.stack}})
}

func (f *fakeAWS) control(region string) *s3control.Client {
	return s3control.New(s3control.Options{Region: region, Credentials: testCreds, HTTPClient: awshttp.NewBuildableClient(),
		Retryer: sdkaws.NopRetryer{}, APIOptions: []func(*middleware.Stack) error{f.stack}})
}

// s3Error is an S3 error response.
func s3Error(status int, code, msg string) reply {
	return reply{status: status, body: fmt.Sprintf("<Error><Code>%s</Code><Message>%s</Message><RequestId>req-1</RequestId></Error>", code, msg)}
}

// controlError is an S3 Control error response.
func controlError(status int, code, msg string) reply {
	return reply{status: status, body: fmt.Sprintf("<ErrorResponse><Error><Code>%s</Code><Message>%s</Message></Error><RequestId>req-1</RequestId></ErrorResponse>", code, msg)}
}

// xmlBody wraps an XML document with its declaration.
func xmlBody(doc string) reply {
	return reply{body: `<?xml version="1.0" encoding="UTF-8"?>` + doc}
}

// contains fails t for each want missing from s.
func contains(t *testing.T, what, s string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(s, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, s)
		}
	}
}

// lacks fails t for each unwanted string in s.
func lacks(t *testing.T, what, s string, unwanted ...string) {
	t.Helper()
	for _, w := range unwanted {
		if strings.Contains(s, w) {
			t.Errorf("%s has %q:\n%s", what, w, s)
		}
	}
}

package replicate

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"go.uber.org/goleak"

	"github.com/pilotlight/pilotlight/provider/local/objstore"
	"github.com/pilotlight/pilotlight/provider/local/objstore/objstoretest"
)

const crashChildEnv = "REPLICATE_TEST_CRASH_CHILD"

// TestMain doubles as the object store (see objstoretest) and as the
// replicator killed by the crash test (REPLICATE_TEST_CRASH_CHILD=1).
func TestMain(m *testing.M) {
	objstoretest.ServeIfChild()
	if os.Getenv(crashChildEnv) == "1" {
		os.Exit(crashChildMain())
	}
	code := m.Run()
	stopSharedStore()
	if code == 0 {
		if err := goleak.Find(
			goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
			goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
			goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
		); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// store is a child object store shared by the package's tests; each test
// makes its own buckets.
type store struct {
	proc           *objstore.Process
	access, secret string
	dir            string
}

var (
	sharedOnce  sync.Once
	shared      *store
	sharedErr   error
	bucketCount atomic.Int64
)

const testRegion = "us-east-1"

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func getStore(t *testing.T) *store {
	t.Helper()
	sharedOnce.Do(func() {
		dir, err := os.MkdirTemp("", "replicate-test-store-")
		if err != nil {
			sharedErr = err
			return
		}
		access, secret := objstore.Generate()
		addr := freeAddr(t)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		p, err := objstore.Start(ctx, objstoretest.Spec(objstore.Options{Dir: filepath.Join(dir, "store"), Listen: addr,
			AccessKey: access, SecretKey: secret, Region: testRegion, Versioning: true}, filepath.Join(dir, "store.log")))
		if err != nil {
			sharedErr = err
			return
		}
		shared = &store{proc: p, access: access, secret: secret, dir: dir}
	})
	if sharedErr != nil {
		t.Fatalf("start store: %v", sharedErr)
	}
	return shared
}

func stopSharedStore() {
	if shared == nil {
		return
	}
	// The store's data are thrown away: do not wait for its graceful
	// shutdown, which waits for idle keep-alive connections.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = shared.proc.Stop(ctx)
	_ = shared.proc.Wait()
	os.RemoveAll(shared.dir)
}

// client returns an S3 client for the store, or for endpoint when given
// (a proxy in front of the store).
func (s *store) client(endpoint string) *s3.Client {
	if endpoint == "" {
		endpoint = s.proc.Endpoint()
	}
	return objstore.NewClient(endpoint, s.access, s.secret, testRegion, func(o *s3.Options) { o.Retryer = NewRetryer() })
}

// bucket creates a fresh versioned bucket.
func (s *store) bucket(t *testing.T, ctx context.Context) string {
	t.Helper()
	name := fmt.Sprintf("b%03d-%s", bucketCount.Add(1), strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")))
	name = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, name)
	if len(name) > 40 {
		name = name[:40]
	}
	name = strings.TrimRight(name, "-")
	c := s.client("")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &name}); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
	_, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: &name,
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}})
	if err != nil {
		t.Fatalf("enable versioning on %s: %v", name, err)
	}
	return name
}

func testCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// reqLog is one request seen by a proxy.
type reqLog struct {
	Method, Key string
	Query       url.Values
	At          time.Time
}

// proxy is a counting, fault-injecting reverse proxy in front of a store.
type proxy struct {
	srv *httptest.Server
	mu  sync.Mutex
	log []reqLog
	// fail, when set, may answer a request itself (with a fault) and
	// return true.
	fail atomic.Pointer[func(w http.ResponseWriter, r *http.Request) bool]
	// seen is called for every request forwarded (optional).
	seen atomic.Pointer[func(reqLog)]
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.Host = pr.In.Host // keep the signed Host header
		},
		Transport: &http.Transport{MaxIdleConnsPerHost: 64},
	}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f := p.fail.Load(); f != nil && (*f)(w, r) {
			return
		}
		key := strings.TrimPrefix(r.URL.Path, "/")
		if i := strings.IndexByte(key, '/'); i >= 0 {
			key = key[i+1:]
		} else {
			key = ""
		}
		e := reqLog{Method: r.Method, Key: key, Query: r.URL.Query(), At: time.Now()}
		p.mu.Lock()
		p.log = append(p.log, e)
		p.mu.Unlock()
		if f := p.seen.Load(); f != nil {
			(*f)(e)
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		p.srv.Close()
		rp.Transport.(*http.Transport).CloseIdleConnections()
	})
	return p
}

func (p *proxy) URL() string { return p.srv.URL }

func (p *proxy) requests() []reqLog {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]reqLog(nil), p.log...)
}

func (p *proxy) reset() {
	p.mu.Lock()
	p.log = nil
	p.mu.Unlock()
}

// count returns the requests matching method ("" = any) and, when q is
// set, having query parameter q.
func (p *proxy) count(method, q string) int {
	n := 0
	for _, r := range p.requests() {
		if (method == "" || r.Method == method) && (q == "" || r.Query.Has(q)) {
			n++
		}
	}
	return n
}

// slowDown answers like S3 under throttling.
func slowDown(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(http.StatusServiceUnavailable)
	io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>test</RequestId></Error>`)
}

// putObject writes an object to the store.
func putObject(t *testing.T, ctx context.Context, c *s3.Client, in *s3.PutObjectInput, body []byte) {
	t.Helper()
	if err := tryPut(ctx, c, in, body); err != nil {
		t.Fatal(err)
	}
}

// tryPut writes an object to the store; safe in any goroutine.
func tryPut(ctx context.Context, c *s3.Client, in *s3.PutObjectInput, body []byte) error {
	in.Body = bytes.NewReader(body)
	in.ContentLength = aws.Int64(int64(len(body)))
	if _, err := c.PutObject(ctx, in); err != nil {
		return fmt.Errorf("put %s: %w", *in.Key, err)
	}
	return nil
}

func getBody(t *testing.T, ctx context.Context, c *s3.Client, bucket, key string) ([]byte, *s3.GetObjectOutput) {
	t.Helper()
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		t.Fatalf("get %s/%s: %v", bucket, key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b, out
}

func ep(c S3API, bucket string) Endpoint {
	return Endpoint{Client: c, Bucket: bucket, Name: "s3://" + bucket}
}

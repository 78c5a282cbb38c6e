package main

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// fakeS3 is a tiny path-style S3 endpoint: one bucket, PUT/GET object,
// ListObjectsV2 with pages of two keys, HeadBucket. Keys under "deny/" answer
// 403 AccessDenied.
type fakeS3 struct {
	bucket string
	mu     sync.Mutex
	objs   map[string]memObject
	lists  int // ListObjectsV2 requests served
}

func (f *fakeS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if bucket != f.bucket {
		s3Error(w, http.StatusNotFound, "NoSuchBucket")
		return
	}
	if strings.HasPrefix(key, "deny/") {
		s3Error(w, http.StatusForbidden, "AccessDenied")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case key == "" && r.Method == http.MethodHead:
		w.WriteHeader(http.StatusOK)
	case key == "" && r.Method == http.MethodGet && r.URL.Query().Get("list-type") == "2":
		f.list(w, r)
	case r.Method == http.MethodPut:
		body, _ := io.ReadAll(r.Body)
		meta := map[string]string{}
		for k, v := range r.Header {
			if name, ok := strings.CutPrefix(strings.ToLower(k), "x-amz-meta-"); ok {
				meta[name] = v[0]
			}
		}
		f.objs[key] = memObject{body: body, contentType: r.Header.Get("Content-Type"), meta: meta}
		w.Header().Set("ETag", `"etag"`)
		w.WriteHeader(http.StatusOK)
	case r.Method == http.MethodGet:
		o, ok := f.objs[key]
		if !ok {
			s3Error(w, http.StatusNotFound, "NoSuchKey")
			return
		}
		for k, v := range o.meta {
			w.Header().Set("x-amz-meta-"+k, v)
		}
		w.Header().Set("Content-Type", o.contentType)
		w.Header().Set("Content-Length", strconv.Itoa(len(o.body)))
		_, _ = w.Write(o.body)
	default:
		s3Error(w, http.StatusMethodNotAllowed, "MethodNotAllowed")
	}
}

func (f *fakeS3) list(w http.ResponseWriter, r *http.Request) {
	f.lists++
	prefix := r.URL.Query().Get("prefix")
	var keys []string
	for k := range f.objs {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	start, _ := strconv.Atoi(r.URL.Query().Get("continuation-token"))
	end := min(start+2, len(keys))
	type content struct{ Key string }
	out := struct {
		XMLName               xml.Name `xml:"ListBucketResult"`
		Name, Prefix          string
		KeyCount              int
		IsTruncated           bool
		NextContinuationToken string `xml:",omitempty"`
		Contents              []content
	}{Name: f.bucket, Prefix: prefix, KeyCount: end - start, IsTruncated: end < len(keys)}
	if out.IsTruncated {
		out.NextContinuationToken = strconv.Itoa(end)
	}
	for _, k := range keys[start:end] {
		out.Contents = append(out.Contents, content{Key: k})
	}
	w.Header().Set("Content-Type", "application/xml")
	_ = xml.NewEncoder(w).Encode(out)
}

func s3Error(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message></Error>`, code, code)
}

// isolateAWSEnv keeps the developer's AWS files and profile out of a test.
func isolateAWSEnv(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_PROFILE", "")
}

func newTestS3Store(t *testing.T, bucket string) (*s3Store, *fakeS3) {
	t.Helper()
	isolateAWSEnv(t)
	fake := &fakeS3{bucket: "assets", objs: map[string]memObject{}}
	ts := httptest.NewServer(fake)
	t.Cleanup(ts.Close)
	store, err := newS3Store(t.Context(), s3Options{Bucket: bucket, Endpoint: ts.URL, Region: "us-east-1"},
		awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("AKTEST", "secret", "")))
	if err != nil {
		t.Fatal(err)
	}
	return store, fake
}

func TestS3StoreRoundTrip(t *testing.T) {
	store, fake := newTestS3Store(t, "assets")
	ctx := t.Context()
	meta := map[string]string{"client": "c", "seq": "1", "region": "seoul"}
	if err := store.Put(ctx, "orders/c-000000000001.json", []byte(`{"id":"c-000000000001"}`), "application/json", meta); err != nil {
		t.Fatal(err)
	}
	body, ct, gotMeta, err := store.Get(ctx, "orders/c-000000000001.json")
	if err != nil {
		t.Fatal(err)
	}
	if string(body) != `{"id":"c-000000000001"}` || ct != "application/json" || !reflect.DeepEqual(gotMeta, meta) {
		t.Errorf("Get = %q %q %v", body, ct, gotMeta)
	}

	for i := 2; i <= 5; i++ {
		if err := store.Put(ctx, fmt.Sprintf("orders/c-%012d.json", i), []byte("{}"), "application/json", nil); err != nil {
			t.Fatal(err)
		}
	}
	_ = store.Put(ctx, "site/index.html", []byte("x"), "text/html", nil)
	keys, err := store.List(ctx, "orders/c-")
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 5 || keys[0] != "orders/c-000000000001.json" || keys[4] != "orders/c-000000000005.json" {
		t.Errorf("List = %v", keys)
	}
	if fake.lists != 3 {
		t.Errorf("List used %d pages, want 3 (pages of two)", fake.lists)
	}
	if err := store.Ping(ctx); err != nil {
		t.Errorf("Ping = %v", err)
	}
}

func TestS3StoreErrors(t *testing.T) {
	store, _ := newTestS3Store(t, "assets")
	missing, _ := newTestS3Store(t, "no-such-bucket")
	ctx := t.Context()

	tests := []struct {
		name         string
		call         func() error
		wantNotFound bool
		wantText     string
	}{
		{"missing key", func() error { _, _, _, err := store.Get(ctx, "site/index.html"); return err }, true, "s3store: get s3://assets/site/index.html"},
		{"missing bucket get", func() error { _, _, _, err := missing.Get(ctx, "k"); return err }, false, "NoSuchBucket"},
		{"missing bucket list", func() error { _, err := missing.List(ctx, "orders/"); return err }, false, "s3store: list"},
		{"missing bucket ping", func() error { return missing.Ping(ctx) }, false, "s3store: head bucket"},
		{"denied put", func() error { return store.Put(ctx, "deny/x", []byte("x"), "text/plain", nil) }, false, "AccessDenied"},
		{"denied get", func() error { _, _, _, err := store.Get(ctx, "deny/x"); return err }, false, "AccessDenied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if err == nil {
				t.Fatal("want an error")
			}
			if errors.Is(err, ErrNotFound) != tt.wantNotFound {
				t.Errorf("errors.Is(%v, ErrNotFound) = %v, want %v", err, !tt.wantNotFound, tt.wantNotFound)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error %q does not contain %q", err, tt.wantText)
			}
		})
	}
}

func TestS3StoreUnreachable(t *testing.T) {
	isolateAWSEnv(t)
	ln := httptest.NewServer(http.NotFoundHandler())
	url := ln.URL
	ln.Close() // nothing listens there any more
	store, err := newS3Store(t.Context(), s3Options{Bucket: "assets", Endpoint: url, Region: "us-east-1"},
		awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("AKTEST", "secret", "")),
		awsconfig.WithRetryMaxAttempts(1))
	if err != nil {
		t.Fatal(err)
	}
	err = store.Put(t.Context(), "orders/c-000000000001.json", []byte("{}"), "application/json", nil)
	if err == nil || errors.Is(err, ErrNotFound) {
		t.Fatalf("Put to a dead store = %v, want a non-not-found error", err)
	}
}

func TestNewS3StoreRequiresBucket(t *testing.T) {
	if _, err := newS3Store(t.Context(), s3Options{Region: "us-east-1"}); err == nil {
		t.Fatal("want an error without a bucket")
	}
}

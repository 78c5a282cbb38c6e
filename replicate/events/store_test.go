package events

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/pilotlight/pilotlight/provider/local/objstore"
	"github.com/pilotlight/pilotlight/provider/local/objstore/objstoretest"
)

var update = flag.Bool("update", false, "rewrite testdata/ with payloads captured from a real store")

// recorder keeps the raw bodies posted to the receiver it wraps.
type recorder struct {
	next   http.Handler
	mu     sync.Mutex
	bodies [][]byte
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rec.mu.Lock()
	rec.bodies = append(rec.bodies, b)
	rec.mu.Unlock()
	r.Body = io.NopCloser(bytes.NewReader(b))
	rec.next.ServeHTTP(w, r)
}

func (rec *recorder) all() [][]byte {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([][]byte(nil), rec.bodies...)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startStore runs a versioned child store with buckets that posts its
// events to webhook, and stops it when the test ends.
func startStore(t *testing.T, webhook string, buckets ...string) *s3.Client {
	t.Helper()
	access, secret := objstore.Generate()
	o := objstore.Options{
		Dir: filepath.Join(t.TempDir(), "store"), Listen: freeAddr(t), AccessKey: access, SecretKey: secret,
		Region: "test-1", Buckets: buckets, Versioning: true, EventWebhookURL: webhook,
	}
	logFile := filepath.Join(t.TempDir(), "store.log")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p, err := objstore.Start(ctx, objstoretest.Spec(o, logFile))
	if err != nil {
		t.Fatalf("start store: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := p.Stop(ctx); err != nil {
			t.Errorf("stop store: %v", err)
		}
		if err := p.Wait(); err != nil {
			b, _ := os.ReadFile(logFile)
			t.Errorf("store exit: %v\n%s", err, b)
		}
	})
	return objstore.NewClient(p.Endpoint(), access, secret, o.Region)
}

// TestStoreEvents drives a real versitygw store and checks what the
// receiver makes of the notifications it posts. Each operation waits for
// its events before the next one starts: versitygw v1.8.0 marshals an
// event after its request context may have been recycled (see
// objstoretest.ChildEnv), so overlapping requests could mix their paths up.
func TestStoreEvents(t *testing.T) {
	r := NewReceiver(ReceiverOptions{})
	all, stopAll := r.Subscribe("", 256)
	defer stopAll()
	onlyA, stopA := r.Subscribe("events-a", 256)
	defer stopA()
	rec := &recorder{next: r}
	srv := httptest.NewServer(rec)
	defer srv.Close()

	c := startStore(t, srv.URL+"/events", "events-a", "events-b")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	type want struct {
		bucket, key string
		kind        Kind
		name        string
	}
	// expect waits for the events of one operation, in any order.
	var received []Event
	expect := func(op string, wants ...want) {
		t.Helper()
		left := map[want]int{}
		for _, w := range wants {
			left[w]++
		}
		for range wants {
			select {
			case ev := <-all:
				received = append(received, ev)
				w := want{ev.Bucket, ev.Key, ev.Kind, ev.Name}
				if left[w] == 0 {
					t.Errorf("%s: unexpected event %+v", op, ev)
				}
				left[w]--
				if ev.Time.IsZero() || time.Since(ev.Time) > time.Minute {
					t.Errorf("%s: event time %v", op, ev.Time)
				}
			case <-ctx.Done():
				t.Fatalf("%s: timed out waiting for %v", op, wants)
			}
		}
	}
	check := func(op string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", op, err)
		}
	}
	put := func(bucket, key, body string) *s3.PutObjectOutput {
		t.Helper()
		out, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(body)})
		check("put "+key, err)
		expect("put "+key, want{bucket, key, Created, "s3:ObjectCreated:Put"})
		return out
	}

	const odd = "dir/with space+plus ü%41.txt"
	first := put("events-a", "plain.txt", "one")
	if ev := received[0]; ev.Size != 3 || ev.ETag != strings.Trim(aws.ToString(first.ETag), `"`) || ev.VersionID != "" {
		t.Errorf("put event %+v, want size 3, etag %s and no version (versitygw v1.8.0)", ev, aws.ToString(first.ETag))
	}
	put("events-a", "plain.txt", "two two") // overwrite
	put("events-a", odd, "odd")
	put("events-b", "other.txt", "b")

	cp, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("events-a"), Key: aws.String("copy.txt"),
		CopySource: aws.String("events-a/plain.txt")})
	check("copy", err)
	expect("copy", want{"events-a", "copy.txt", Created, "s3:ObjectCreated:Copy"})
	if ev := received[len(received)-1]; ev.VersionID != aws.ToString(cp.VersionId) {
		t.Errorf("copy event version %q, want %q", ev.VersionID, aws.ToString(cp.VersionId))
	}

	mp, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("events-a"), Key: aws.String("multi.bin")})
	check("create multipart", err)
	part, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("events-a"), Key: aws.String("multi.bin"),
		UploadId: mp.UploadId, PartNumber: aws.Int32(1), Body: strings.NewReader("multipart body")})
	check("upload part", err)
	_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("events-a"),
		Key: aws.String("multi.bin"), UploadId: mp.UploadId, MultipartUpload: &types.CompletedMultipartUpload{
			Parts: []types.CompletedPart{{ETag: part.ETag, PartNumber: aws.Int32(1)}}}})
	check("complete multipart", err)
	expect("complete multipart", want{"events-a", "multi.bin", Created, "s3:ObjectCreated:CompleteMultipartUpload"})

	_, err = c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String("events-a"), Key: aws.String("multi.bin"),
		Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}}})
	check("tag", err)
	expect("tag", want{"events-a", "multi.bin", Tagged, "s3:ObjectTagging:Put"})

	_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("events-a"), Key: aws.String("plain.txt")})
	check("delete", err)
	expect("delete", want{"events-a", "plain.txt", Removed, "s3:ObjectRemoved:Delete"})

	_, err = c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("events-a"), Delete: &types.Delete{
		Objects: []types.ObjectIdentifier{{Key: aws.String("copy.txt")}, {Key: aws.String(odd)}}}})
	check("delete objects", err)
	expect("delete objects", want{"events-a", "copy.txt", Removed, "s3:ObjectRemoved:DeleteObjects"},
		want{"events-a", odd, Removed, "s3:ObjectRemoved:DeleteObjects"})

	// The bucket filter: events-a's subscriber got every events-a event
	// and nothing else.
	total := len(received)
	for range total - 1 {
		if ev := <-onlyA; ev.Bucket != "events-a" {
			t.Errorf("events-a subscriber got %+v", ev)
		}
	}
	if len(onlyA) != 0 || len(all) != 0 {
		t.Errorf("extra events: %d for events-a, %d for all", len(onlyA), len(all))
	}
	if r.Received() != uint64(total) || r.Dropped() != 0 {
		t.Errorf("received %d dropped %d, want %d and 0", r.Received(), r.Dropped(), total)
	}
	bodies := rec.all()
	if len(bodies) == 0 || !bytes.Contains(bodies[0], []byte(testEvent)) {
		t.Fatalf("first body is not the start-up test event: %q", bodies)
	}
	if *update {
		saveGolden(t, bodies)
	}
}

// saveGolden writes the first captured body of each event name (and of
// each name with the escaped key) to testdata/, with the access key
// scrubbed.
func saveGolden(t *testing.T, bodies [][]byte) {
	t.Helper()
	principal := regexp.MustCompile(`"PrincipalId":"[^"]*"`)
	saved := map[string]bool{}
	for _, b := range bodies {
		var m struct {
			Records []struct {
				EventName string `json:"eventName"`
				S3        struct {
					Object struct{ Key string } `json:"object"`
				} `json:"s3"`
			}
		}
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		name := "test-event"
		if len(m.Records) > 0 {
			r := m.Records[0]
			name = strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(r.EventName, "s3:"), ":", "-"))
			if strings.Contains(r.S3.Object.Key, "dir/") {
				name += "-escaped"
			}
		}
		if saved[name] {
			continue
		}
		saved[name] = true
		b = principal.ReplaceAll(b, []byte(`"PrincipalId":"TESTACCESSKEY"`))
		if err := os.WriteFile(filepath.Join("testdata", name+".json"), append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

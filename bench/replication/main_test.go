package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pilotlight/pilotlight/provider/local/objstore"
)

// The test binary doubles as the pilotlight binary the benchmark runs:
// `store serve` is the real store; `replicate --once` is a naive copier that
// prints the summary JSON, standing in for the engine being benchmarked.
const childEnvVar = "BENCH_TEST_CHILD"

var childEnv = []string{childEnvVar + "=1", "GORACE=atexit_sleep_ms=0"}

func TestMain(m *testing.M) {
	if os.Getenv(childEnvVar) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
		err := fakePilotlight(ctx, os.Args[1:])
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func fakePilotlight(ctx context.Context, args []string) error {
	switch {
	case len(args) >= 2 && args[0] == "store" && args[1] == "serve":
		return objstore.ServeMain(ctx, args[2:], os.Stdout)
	case len(args) >= 1 && args[0] == "replicate":
		return fakeReplicate(ctx, args[1:])
	}
	return fmt.Errorf("fake pilotlight: unexpected arguments %q", args)
}

// fakeReplicate copies the objects missing from --to once.
func fakeReplicate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("replicate", flag.ContinueOnError)
	once := fs.Bool("once", false, "")
	from := fs.String("from", "", "")
	to := fs.String("to", "", "")
	fs.Int("workers", 1, "")
	fs.String("o", "", "")
	fs.String("state-dir", "", "")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if !*once {
		return fmt.Errorf("fake replicate: only --once")
	}
	src, srcBucket, err := fakeClient(*from)
	if err != nil {
		return err
	}
	dst, dstBucket, err := fakeClient(*to)
	if err != nil {
		return err
	}
	start := time.Now()
	have := map[string]bool{}
	lp := s3.NewListObjectsV2Paginator(dst, &s3.ListObjectsV2Input{Bucket: aws.String(dstBucket)})
	for lp.HasMorePages() {
		page, err := lp.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, o := range page.Contents {
			have[aws.ToString(o.Key)] = true
		}
	}
	var copied int
	var bytes int64
	lp = s3.NewListObjectsV2Paginator(src, &s3.ListObjectsV2Input{Bucket: aws.String(srcBucket)})
	for lp.HasMorePages() {
		page, err := lp.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, o := range page.Contents {
			if have[aws.ToString(o.Key)] {
				continue
			}
			if err := copyObject(ctx, src, srcBucket, dst, dstBucket, aws.ToString(o.Key)); err != nil {
				return err
			}
			copied++
			bytes += aws.ToInt64(o.Size)
		}
	}
	secs := time.Since(start).Seconds()
	return json.NewEncoder(os.Stdout).Encode(passSummary{Copied: copied, Bytes: bytes, Seconds: secs, ObjectsPerSecond: float64(copied) / secs})
}

func fakeClient(raw string) (*s3.Client, string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, "", err
	}
	return objstore.NewClient(u.Query().Get("endpoint"), os.Getenv(objstore.EnvAccessKey), os.Getenv(objstore.EnvSecretKey), u.Query().Get("region")), u.Host, nil
}

// copyObject copies one object between stores through this process.
func copyObject(ctx context.Context, src *s3.Client, srcBucket string, dst *s3.Client, dstBucket, key string) error {
	obj, err := src.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(srcBucket), Key: aws.String(key)})
	if err != nil {
		return fmt.Errorf("get %s: %w", key, err)
	}
	defer obj.Body.Close()
	data, err := io.ReadAll(obj.Body)
	if err != nil {
		return fmt.Errorf("read %s: %w", key, err)
	}
	_, err = dst.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(dstBucket), Key: aws.String(key), Body: strings.NewReader(string(data))})
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

// testBench is a bench whose "pilotlight" is this test binary.
func testBench(t *testing.T) *bench {
	t.Helper()
	c, err := parseFlags([]string{"-pilotlight", os.Args[0], "-dir", t.TempDir(), "-workers", "4"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	b, err := newBench(c, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	b.childEnv = childEnv
	t.Cleanup(b.close)
	return b
}

func testCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

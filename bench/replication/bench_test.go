package main

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pilotlight/pilotlight/internal/needs"
)

func TestParseFlags(t *testing.T) {
	cases := []struct {
		args    []string
		check   func(config) bool
		wantErr string
	}{
		{nil, func(c config) bool {
			return c.small == 10000 && c.smallSize == 4<<10 && c.large == 16 && c.largeSize == 64<<20 &&
				c.lagRate == 200 && c.lagDuration == 20*time.Second && c.workers == 16 && c.pilotlight == "bin/pilotlight"
		}, ""},
		{[]string{"-small", "50", "-large-size", "8MiB", "-lag-duration", "2s", "-out", "r.json"}, func(c config) bool {
			return c.small == 50 && c.largeSize == 8<<20 && c.lagDuration == 2*time.Second && c.out == "r.json"
		}, ""},
		{[]string{"-large-size", "lots"}, nil, "want a number of bytes"},
		{[]string{"-workers", "0"}, nil, "-workers must be >= 1"},
		{[]string{"-lag-rate", "0"}, nil, "-lag-rate and -lag-duration must be > 0"},
		{[]string{"-small", "-1"}, nil, "-small and -large must be >= 0"},
		{[]string{"extra"}, nil, `unexpected argument "extra"`},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			got, err := parseFlags(c.args, io.Discard)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil || !c.check(got) {
				t.Fatalf("parseFlags(%q) = %+v, %v", c.args, got, err)
			}
		})
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"4096": 4096, "4KiB": 4096, "64MiB": 64 << 20, "64M": 64 << 20, "1GiB": 1 << 30, "10B": 10} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "1.5MiB", "MiB", "12XB"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q): no error", in)
		}
	}
}

func TestCommandLines(t *testing.T) {
	got := pilotlightArgs("http://127.0.0.1:1", "small", "http://127.0.0.1:2", "replica", "/s", 16)
	want := []string{"replicate", "--once",
		"--from", "s3://small?endpoint=http://127.0.0.1:1&region=us-east-1",
		"--to", "s3://replica?endpoint=http://127.0.0.1:2&region=us-east-1",
		"--workers", "16", "-o", "json", "--state-dir", "/s"}
	if !slices.Equal(got, want) {
		t.Fatalf("pilotlight args\n got %q\nwant %q", got, want)
	}
	u, err := url.Parse(got[3])
	if err != nil || u.Host != "small" || u.Query().Get("endpoint") != "http://127.0.0.1:1" {
		t.Fatalf("--from URL does not parse back: %v %+v", err, u)
	}
	r := rcloneArgs("large", "replica", 8)
	for _, w := range [][]string{{"sync", "src:large", "dst:replica"}, {"--transfers", "8"}, {"--checkers", "8"}, {"--s3-upload-cutoff", "64M"}} {
		if !containsRun(r, w) {
			t.Errorf("rclone args %q lack %q", r, w)
		}
	}
	env := rcloneEnv([]string{"PATH=/bin", "AWS_CA_BUNDLE=/etc/ca.pem", "RCLONE_CONFIG_OLD_TYPE=s3"}, "/w/rclone.conf", "http://127.0.0.1:1", "http://127.0.0.1:2", "AK", "SK")
	for _, kv := range env {
		if strings.HasPrefix(kv, "AWS_CA_BUNDLE=") || strings.HasPrefix(kv, "RCLONE_CONFIG_OLD") {
			t.Errorf("rclone env keeps %q", kv)
		}
	}
	for _, w := range []string{"PATH=/bin", "RCLONE_CONFIG=/w/rclone.conf", "RCLONE_CONFIG_SRC_TYPE=s3", "RCLONE_CONFIG_SRC_PROVIDER=Other",
		"RCLONE_CONFIG_SRC_ENDPOINT=http://127.0.0.1:1", "RCLONE_CONFIG_DST_ENDPOINT=http://127.0.0.1:2",
		"RCLONE_CONFIG_DST_ACCESS_KEY_ID=AK", "RCLONE_CONFIG_DST_SECRET_ACCESS_KEY=SK", "RCLONE_CONFIG_SRC_FORCE_PATH_STYLE=true",
		"RCLONE_CONFIG_DST_REGION=us-east-1"} {
		if !slices.Contains(env, w) {
			t.Errorf("rclone env lacks %q", w)
		}
	}
}

func containsRun(s, run []string) bool {
	for i := 0; i+len(run) <= len(s); i++ {
		if slices.Equal(s[i:i+len(run)], run) {
			return true
		}
	}
	return false
}

func TestParseSummary(t *testing.T) {
	out := `{"listed":10,"copied":9,"unchanged":1,"failed":0,"bytes":36864,"seconds":0.5,"objectsPerSecond":18,"bytesPerSecond":73728,"buckets":[{"source":"s3://small"}]}` + "\n"
	s, err := parseSummary([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if s != (passSummary{Listed: 10, Copied: 9, Unchanged: 1, Bytes: 36864, Seconds: 0.5, ObjectsPerSecond: 18, BytesPerSecond: 73728}) {
		t.Fatalf("summary %+v", s)
	}
	if _, err := parseSummary([]byte("replicate: boom")); err == nil || !strings.Contains(err.Error(), "replicate: boom") {
		t.Fatalf("bad summary error %v", err)
	}
}

func TestSummarizeLags(t *testing.T) {
	var lags []time.Duration
	for i := 100; i >= 1; i-- { // 10ms .. 1000ms, unsorted
		lags = append(lags, time.Duration(i)*10*time.Millisecond)
	}
	r := summarizeLags(lags, 2)
	if r.Objects != 102 || r.Missing != 2 || r.P50Seconds != 0.5 || r.P99Seconds != 0.99 || r.MaxSeconds != 1 {
		t.Fatalf("summary %+v", r)
	}
	if r := summarizeLags(nil, 3); r.Objects != 3 || r.P99Seconds != 0 {
		t.Fatalf("empty summary %+v", r)
	}
}

func TestFormatReport(t *testing.T) {
	tr := func(objs int, size int64, secs, noop float64) ToolResult {
		r := ToolResult{Objects: objs, Bytes: int64(objs) * size, Seconds: secs, NoopSeconds: noop}
		r.fillRates()
		return r
	}
	rc, rcl := tr(10000, 4<<10, 10, 1.5), tr(16, 64<<20, 4, 0.2)
	pl, pll := tr(10000, 4<<10, 4, 0.25), tr(16, 64<<20, 5, 0.1)
	res := Results{
		Config: ConfigSummary{Workers: 16},
		Cases: []CaseResult{
			{Name: "small", Objects: 10000, ObjectSize: 4 << 10, Pilotlight: &pl, Rclone: &rc},
			{Name: "large", Objects: 16, ObjectSize: 64 << 20, Pilotlight: &pll, Rclone: &rcl},
		},
		Lag: &LagResult{Objects: 4000, WriteRate: 199.6, P50Seconds: 0.08, P99Seconds: 0.4, MaxSeconds: 0.9},
	}
	want := `pilotlight replicate vs rclone sync (16 workers each)

case                pilotlight obj/s  pilotlight MB/s  rclone obj/s  rclone MB/s  ratio obj/s  ratio MB/s
small 10000 x 4KiB  2500              10.2             1000          4.1          2.50x        2.50x
large 16 x 64MiB    3.2               215              4.0           268          0.80x        0.80x

case                pilotlight pass s  pilotlight no-op s  rclone pass s  rclone no-op s
small 10000 x 4KiB  4.00               0.25                10.00          1.50
large 16 x 64MiB    5.00               0.10                4.00           0.20

continuous mode, 4000 objects written at 200/s: lag p50 0.080s  p99 0.400s  max 0.900s  missing 0

goals
  ✓ small objects: pilotlight obj/s >= 1.5x rclone: 2.50x
  ✗ large objects: pilotlight MB/s >= rclone: 0.80x
  ✓ continuous mode: p99 lag < 1s: 0.400s (0 missing)
`
	if got := FormatReport(res); got != want {
		t.Fatalf("report\n%s\nwant\n%s", got, want)
	}
	res.Cases[0].Rclone, res.Cases[1].Pilotlight, res.Lag = nil, nil, nil
	got := FormatReport(res)
	for _, w := range []string{
		"small 10000 x 4KiB  2500              10.2             -             -            -            -\n",
		"large 16 x 64MiB    -                 -                4.0           268          -            -\n",
		"? small objects: pilotlight obj/s >= 1.5x rclone: not measured",
		"? large objects: pilotlight MB/s >= rclone: not measured",
	} {
		if !strings.Contains(got, w) {
			t.Errorf("report with missing figures lacks %q:\n%s", w, got)
		}
	}
	if strings.Contains(got, "continuous") {
		t.Errorf("report without lag mentions it:\n%s", got)
	}
}

// TestMeasureWithFakeReplicator runs the whole measured path (fresh stores,
// fill, the pilotlight command line, summary parsing, replica check, no-op
// pass, clean-up) with the test binary's naive copier as pilotlight.
func TestMeasureWithFakeReplicator(t *testing.T) {
	ctx := testCtx(t, 60*time.Second)
	b := testBench(t)
	src, err := b.startStore(ctx, "source", []string{smallBucket}, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := fill(ctx, b.client(src), smallBucket, "obj/", 40, 1000, 8); err != nil {
		t.Fatal(err)
	}
	if n, by, err := inventory(ctx, b.client(src), smallBucket); err != nil || n != 40 || by != 40000 {
		t.Fatalf("source holds %d objects, %d bytes (%v)", n, by, err)
	}
	r, err := b.measure(ctx, toolPilotlight, src, smallBucket, 40, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if r.Objects != 40 || r.Bytes != 40000 || r.Seconds <= 0 || r.NoopSeconds <= 0 || r.ObjectsPerSecond <= 0 || r.Reported == nil || r.Reported.Copied != 40 {
		t.Fatalf("result %+v (reported %+v)", r, r.Reported)
	}
	if len(b.stores) != 1 {
		t.Fatalf("%d stores still running after the measure, want only the source", len(b.stores))
	}
	// A replica that misses objects is an error, not a figure.
	if err := fill(ctx, b.client(src), smallBucket, "more/", 2, 10, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := b.measure(ctx, toolPilotlight, src, smallBucket, 40, 1000); err == nil || !strings.Contains(err.Error(), "the replica has 42 objects") {
		t.Fatalf("mismatch error %v", err)
	}
	pid := src.proc.Pid()
	b.close()
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("store %d still running after close (%v)", pid, err)
	}
}

func TestMeasureRclone(t *testing.T) {
	needs.Program(t, "rclone", "rclone")
	ctx := testCtx(t, 60*time.Second)
	b := testBench(t)
	src, err := b.startStore(ctx, "source", []string{largeBucket}, "")
	if err != nil {
		t.Fatal(err)
	}
	const n, size = 12, 70 << 10
	if err := fill(ctx, b.client(src), largeBucket, "obj/", n, size, 4); err != nil {
		t.Fatal(err)
	}
	r, err := b.measure(ctx, toolRclone, src, largeBucket, n, size)
	if err != nil {
		t.Fatal(err)
	}
	if r.Objects != n || r.Seconds <= 0 || r.NoopSeconds <= 0 || r.MBPerSecond <= 0 || r.Reported != nil {
		t.Fatalf("result %+v", r)
	}
}

// TestLagThroughRelay measures lag through the real store webhook and the
// relay, with an in-test replicator that copies each object it hears of.
func TestLagThroughRelay(t *testing.T) {
	ctx := testCtx(t, 60*time.Second)
	b := testBench(t)
	dst, err := b.startStore(ctx, "replica", []string{dstBucket}, "")
	if err != nil {
		t.Fatal(err)
	}
	var srcC *s3.Client
	ready := make(chan struct{})
	dstC := b.client(dst)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev struct {
			Records []struct {
				S3 struct {
					Object struct{ Key string } `json:"object"`
				} `json:"s3"`
			}
		}
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		<-ready
		for _, rec := range ev.Records {
			key, _ := url.QueryUnescape(rec.S3.Object.Key)
			if err := copyObject(r.Context(), srcC, lagBucket, dstC, dstBucket, key); err != nil {
				t.Errorf("copy %s: %v", key, err)
			}
		}
	})
	addr, err := freeAddr()
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Addr: addr, Handler: handler}
	go func() { _ = srv.ListenAndServe() }()
	defer srv.Close()
	rl, err := startRelay("http://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	defer rl.Close()
	src, err := b.startStore(ctx, "source", []string{lagBucket}, rl.url)
	if err != nil {
		t.Fatal(err)
	}
	srcC = b.client(src)
	close(ready)
	r, err := runLoad(ctx, srcC, dstC, 50, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if r.Objects != 50 || r.Missing != 0 || r.P50Seconds <= 0 || r.P99Seconds > 5 || r.MaxSeconds < r.P99Seconds || r.WriteRate < 25 {
		t.Fatalf("lag %+v", r)
	}
	if _, err := srcC.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(lagBucket), Key: aws.String("load/0000049")}); err != nil {
		t.Fatalf("last load object: %v", err)
	}
}

package replicate

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pilotlight/pilotlight/provider/local/objstore"
)

// Environment of the crash child.
const (
	envSrcEndpoint = "REPLICATE_TEST_SRC_ENDPOINT"
	envDstEndpoint = "REPLICATE_TEST_DST_ENDPOINT"
	envSrcBucket   = "REPLICATE_TEST_SRC_BUCKET"
	envDstBucket   = "REPLICATE_TEST_DST_BUCKET"
	envCheckpoint  = "REPLICATE_TEST_CHECKPOINT"
	envAccess      = "REPLICATE_TEST_ACCESS"
	envSecret      = "REPLICATE_TEST_SECRET"
)

// crashChildMain runs one Pass with the settings in the environment; the
// crash test kills it with SIGKILL part-way.
func crashChildMain() int {
	client := func(endpoint string) *s3.Client {
		return objstore.NewClient(endpoint, os.Getenv(envAccess), os.Getenv(envSecret), testRegion,
			func(o *s3.Options) { o.Retryer = NewRetryer() })
	}
	r, err := New(
		Endpoint{Client: client(os.Getenv(envSrcEndpoint)), Bucket: os.Getenv(envSrcBucket)},
		Endpoint{Client: client(os.Getenv(envDstEndpoint)), Bucket: os.Getenv(envDstBucket)},
		Policy{}, Options{Workers: 8, Checkpoint: os.Getenv(envCheckpoint)})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer r.Close()
	s, err := r.Pass(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	fmt.Printf("copied %d unchanged %d failed %d\n", s.Copied, s.Unchanged, s.Failed)
	return 0
}

// Kill -9 the replicator during a backfill, start again: no drift, and no
// object whose verification was recorded before the kill is copied again.
func TestCrashAndResume(t *testing.T) {
	n, killAfter := 2000, 400
	if testing.Short() {
		n, killAfter = 600, 150
	}
	ctx := testCtx(t, 120*time.Second)
	f := newFixture(t, ctx)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			err := tryPut(ctx, f.srcC, &s3.PutObjectInput{Bucket: &f.src, Key: aws.String(fmt.Sprintf("k/%05d", i)),
				Metadata: map[string]string{"i": fmt.Sprint(i)}}, []byte(fmt.Sprintf("object %d", i)))
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	cp := filepath.Join(t.TempDir(), "cp.db")
	var puts atomic.Int32
	reached := make(chan struct{})
	seen := func(e reqLog) {
		if e.Method == http.MethodPut && puts.Add(1) == int32(killAfter) {
			close(reached)
		}
	}
	f.px.seen.Store(&seen)
	cmd := exec.Command(os.Args[0])
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Env = append(os.Environ(), crashChildEnv+"=1", "GORACE=atexit_sleep_ms=0",
		envSrcEndpoint+"="+f.st.proc.Endpoint(), envDstEndpoint+"="+f.px.URL(),
		envSrcBucket+"="+f.src, envDstBucket+"="+f.dst, envCheckpoint+"="+cp,
		envAccess+"="+f.st.access, envSecret+"="+f.st.secret)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-reached:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child did not reach %d PUTs:\n%s", killAfter, out.String())
	}
	cmd.Process.Kill()
	killedAt := time.Now()
	cmd.Wait()
	f.px.seen.Store(nil)

	c, err := openCheckpoint(cp)
	if err != nil {
		t.Fatal(err)
	}
	verified := map[string]bool{}
	c.forEachObject(func(key string, _ objectRecord) error { verified[key] = true; return nil })
	c.close()
	if len(verified) == 0 || len(verified) >= n {
		t.Fatalf("%d objects verified at the kill, want some of %d (child output:\n%s)", len(verified), n, out.String())
	}
	t.Logf("killed after %d PUTs with %d objects verified", killAfter, len(verified))

	r := f.replicator(t, Policy{}, Options{Workers: 8, Checkpoint: cp})
	s, err := r.Pass(ctx)
	if err != nil || s.Failed != 0 || s.Copied+s.Unchanged != n || s.Unchanged < len(verified) {
		t.Fatalf("resumed pass: copied %d unchanged %d failed %d, %v", s.Copied, s.Unchanged, s.Failed, err)
	}
	for _, q := range f.px.requests() {
		if q.Method == http.MethodPut && q.At.After(killedAt) && verified[q.Key] {
			t.Errorf("%s was verified before the kill but PUT again after it", q.Key)
		}
	}
	rep, err := Verify(ctx, ep(f.srcC, f.src), ep(f.dstC, f.dst), VerifyOptions{})
	if err != nil || rep.Drift || rep.Checked != n || len(rep.Extra) != 0 {
		t.Fatalf("verify after resume: drift %v checked %d missing %d different %d extra %d, %v",
			rep.Drift, rep.Checked, len(rep.Missing), len(rep.Different), len(rep.Extra), err)
	}
}

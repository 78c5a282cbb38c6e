package objstore

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestDurability stops a store and starts it again on the same directory:
// buckets, objects, versions, delete markers and metadata survive, for both
// metadata stores (xattrs, and the sidecar directory used where xattrs are
// unsupported, forced here by creating Dir/meta first).
func TestDurability(t *testing.T) {
	for _, sidecar := range []bool{false, true} {
		name := map[bool]string{false: "xattr", true: "sidecar"}[sidecar]
		t.Run(name, func(t *testing.T) {
			o := testOptions(t)
			o.Buckets = []string{"keep"}
			if sidecar {
				if err := os.MkdirAll(filepath.Join(o.Dir, "meta"), 0o700); err != nil {
					t.Fatal(err)
				}
			}
			ctx := testCtx(t, 40*time.Second)
			first := startStore(t, o)
			c := first.client()
			v1, err := put(ctx, c, "keep", "a.txt", "one")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := put(ctx, c, "keep", "a.txt", "two"); err != nil {
				t.Fatal(err)
			}
			_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("keep"), Key: aws.String("b.txt"),
				Body: strings.NewReader("bee"), Metadata: map[string]string{"owner": "alice"}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := put(ctx, c, "keep", "gone.txt", "soon deleted"); err != nil {
				t.Fatal(err)
			}
			del, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("keep"), Key: aws.String("gone.txt")})
			if err != nil {
				t.Fatal(err)
			}
			if err := first.Stop(ctx); err != nil {
				t.Fatal(err)
			}

			o.Listen = freeAddr(t) // and the start-up bucket exists already
			second := startStore(t, o)
			c = second.client()
			for _, tc := range []struct{ key, version, want string }{
				{"a.txt", "", "two"}, {"a.txt", aws.ToString(v1.VersionId), "one"}, {"b.txt", "", "bee"},
			} {
				if got, err := get(ctx, c, "keep", tc.key, tc.version); err != nil || got != tc.want {
					t.Errorf("get %s@%q = %q, %v; want %q", tc.key, tc.version, got, err, tc.want)
				}
			}
			h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("keep"), Key: aws.String("b.txt")})
			if err != nil || h.Metadata["owner"] != "alice" {
				t.Errorf("metadata after restart = %v, %v; want owner=alice", h, err)
			}
			vs, err := c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("keep")})
			if err != nil {
				t.Fatal(err)
			}
			if len(vs.Versions) != 4 || len(vs.DeleteMarkers) != 1 ||
				aws.ToString(vs.DeleteMarkers[0].VersionId) != aws.ToString(del.VersionId) {
				t.Errorf("after restart: %d versions, %d markers; want 4 versions and marker %s",
					len(vs.Versions), len(vs.DeleteMarkers), aws.ToString(del.VersionId))
			}
			if ents, _ := os.ReadDir(filepath.Join(o.Dir, "meta")); sidecar != (len(ents) > 0) {
				t.Errorf("sidecar metadata entries = %d, sidecar mode %v", len(ents), sidecar)
			}
		})
	}
}

// TestServeMainPrintsCredentials checks the start-up line of `store serve`:
// the secret key is printed only when it was generated.
func TestServeMainPrintsCredentials(t *testing.T) {
	t.Run("keys from environment", func(t *testing.T) {
		o := testOptions(t)
		s := startStore(t, o)
		b, err := os.ReadFile(s.logFile)
		if err != nil {
			t.Fatal(err)
		}
		want := "endpoint " + s.Endpoint() + " access-key " + o.AccessKey + "\n"
		if got := string(b); !strings.Contains(got, want) || strings.Contains(got, o.SecretKey) {
			t.Errorf("store output %q: want line %q and no secret", got, want)
		}
	})
	t.Run("generated keys", func(t *testing.T) {
		listen := freeAddr(t)
		cmd := exec.Command(os.Args[0], "--dir", t.TempDir(), "--listen", listen, "--bucket", "printed-keys")
		cmd.Env = childEnv(os.Environ(), childTestEnv, "", "") // empty keys: generated
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(out).ReadString('\n')
		if err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatal(err)
		}
		var endpoint, access, secret string
		_, err = fmt.Sscanf(line, "endpoint %s access-key %s secret-key %s", &endpoint, &access, &secret)
		if err != nil || endpoint != "http://"+listen || len(access) != 20 || len(secret) != 40 {
			t.Errorf("start-up line %q (%v): want endpoint, generated access and secret keys", line, err)
		}
		// The printed keys work once the store is ready.
		ctx := testCtx(t, 20*time.Second)
		c := NewClient(endpoint, access, secret, "")
		for {
			_, err = c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("printed-keys")})
			if err == nil || ctx.Err() != nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if err != nil {
			t.Errorf("head bucket with printed keys: %v", err)
		}
		go io.Copy(io.Discard, out)
		cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Errorf("store exit after SIGTERM: %v, want a clean exit", err)
		}
	})
}

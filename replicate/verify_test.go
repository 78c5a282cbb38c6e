package replicate

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/pilotlight/pilotlight/plan"
)

func TestVerify(t *testing.T) {
	ctx := testCtx(t, 60*time.Second)
	f := newFixture(t, ctx)
	keys := f.seed(t, ctx, 24)
	r := f.replicator(t, Policy{Deletes: plan.DeletesKeep}, Options{Checkpoint: filepath.Join(t.TempDir(), "cp.db")})
	if _, err := r.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	src, dst := ep(f.srcC, f.src), ep(f.dstC, f.dst)
	rep, err := Verify(ctx, src, dst, VerifyOptions{})
	if err != nil || rep.Drift || rep.Checked != 24 {
		t.Fatalf("after a pass: %+v, %v", rep, err)
	}

	// A source delete kept by policy is extra, not drift.
	if _, err := f.srcC.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &f.src, Key: &keys[0]}); err != nil {
		t.Fatal(err)
	}
	// Missing: deleted from the replica.
	if _, err := f.dstC.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &f.dst, Key: &keys[1]}); err != nil {
		t.Fatal(err)
	}
	// Different size.
	putObject(t, ctx, f.dstC, &s3.PutObjectInput{Bucket: &f.dst, Key: &keys[2]}, []byte("changed"))
	// Same size and metadata, different content, no pilotlight keys: the
	// ETag rule catches it.
	body, _ := getBody(t, ctx, f.srcC, f.src, keys[3])
	putObject(t, ctx, f.dstC, &s3.PutObjectInput{Bucket: &f.dst, Key: &keys[3]}, []byte(strings.ToUpper(string(body))))
	// Different Content-Type and user metadata, copied from the source ETag.
	_, so := getBody(t, ctx, f.srcC, f.src, keys[4])
	b4, _ := getBody(t, ctx, f.srcC, f.src, keys[4])
	putObject(t, ctx, f.dstC, &s3.PutObjectInput{Bucket: &f.dst, Key: &keys[4], ContentType: aws.String("text/x-other"),
		Metadata: map[string]string{MetaSourceETag: trimETag(so.ETag), "owner": "someone-else"}}, b4)

	rep, err = Verify(ctx, src, dst, VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Drift || rep.Checked != 23 {
		t.Fatalf("report: %+v", rep)
	}
	keysOf := func(ds []Drift) []string {
		var out []string
		for _, d := range ds {
			out = append(out, d.Key)
		}
		return out
	}
	if got := keysOf(rep.Missing); !slices.Equal(got, []string{keys[1]}) {
		t.Errorf("missing %v", rep.Missing)
	}
	if got := keysOf(rep.Extra); !slices.Equal(got, []string{keys[0]}) {
		t.Errorf("extra %v", rep.Extra)
	}
	if got := keysOf(rep.Different); !slices.Equal(got, []string{keys[2], keys[3], keys[4]}) {
		t.Errorf("different %v", rep.Different)
	}
	for _, d := range rep.Different {
		t.Logf("%s: %s", d.Key, d.Reason)
	}
}

// Deep verification catches a same-size content change that kept the
// pilotlight metadata (so the ETag rule cannot see it), and tag changes.
func TestVerifyDeep(t *testing.T) {
	ctx := testCtx(t, 60*time.Second)
	f := newFixture(t, ctx)
	keys := f.seed(t, ctx, 6)
	r := f.replicator(t, Policy{}, Options{})
	if _, err := r.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	body, so := getBody(t, ctx, f.srcC, f.src, keys[0])
	_, do := getBody(t, ctx, f.dstC, f.dst, keys[0])
	forged := []byte(strings.ToUpper(string(body)))
	putObject(t, ctx, f.dstC, &s3.PutObjectInput{Bucket: &f.dst, Key: &keys[0], ContentType: so.ContentType,
		CacheControl: so.CacheControl, ContentDisposition: so.ContentDisposition, ContentLanguage: so.ContentLanguage,
		Metadata: do.Metadata, Tagging: optString(encodeTags(so2tags(tagSet(t, ctx, f.srcC, f.src, keys[0]))))}, forged)
	if _, err := f.dstC.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: &f.dst, Key: &keys[1],
		Tagging: &s3types.Tagging{TagSet: []s3types.Tag{{Key: aws.String("class"), Value: aws.String("other")}}}}); err != nil {
		t.Fatal(err)
	}
	src, dst := ep(f.srcC, f.src), ep(f.dstC, f.dst)
	rep, err := Verify(ctx, src, dst, VerifyOptions{})
	if err != nil || rep.Drift {
		t.Fatalf("shallow verify should not see it: %+v, %v", rep, err)
	}
	rep, err = Verify(ctx, src, dst, VerifyOptions{Deep: true})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Drift || len(rep.Different) != 2 || rep.Different[0].Key != keys[0] || !strings.Contains(rep.Different[0].Reason, "SHA-256") ||
		!strings.Contains(rep.Different[1].Reason, "tags") {
		t.Fatalf("deep report: %+v", rep)
	}
}

func so2tags(m map[string]string) []s3types.Tag {
	var out []s3types.Tag
	for k, v := range m {
		out = append(out, s3types.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	return out
}

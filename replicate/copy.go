package replicate

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// errVanished means the source key disappeared before it could be copied.
var errVanished = errors.New("source object vanished")

// copyAttempts bounds whole-object retries after a verification failure
// (the source changed under the copy, or a checksum did not match).
const copyAttempts = 4

// copyObject copies o to the replica, verifies it and records it in the
// checkpoint. It returns the bytes sent.
func (r *Replicator) copyObject(ctx context.Context, o srcObject) (int64, error) {
	defer r.lockKey(o.Key)()
	b := r.bo.withDefaults()
	for attempt := 1; ; attempt++ {
		var n int64
		var err error
		if o.Size > r.o.MultipartThreshold {
			n, err = r.copyMultipart(ctx, o)
		} else {
			n, err = r.copySingle(ctx, o)
		}
		if err == nil || attempt >= copyAttempts || !(errors.Is(err, errSourceChanged) || errors.Is(err, errChecksum)) {
			return n, err
		}
		r.log.Debug("copy not verified, retrying", "key", o.Key, "attempt", attempt, "err", err)
		if err := sleep(ctx, b.delay(attempt)); err != nil {
			return 0, err
		}
		cur, err := r.headSource(ctx, o.Key)
		if err != nil {
			return 0, err
		}
		o.Size, o.ETag = cur.Size, cur.ETag
	}
}

// headSource returns the current state of a source key (errVanished if it
// is gone).
func (r *Replicator) headSource(ctx context.Context, key string) (srcObject, error) {
	var out *s3.HeadObjectOutput
	err := r.call(ctx, &r.src, "head", key, func(ctx context.Context) (err error) {
		out, err = r.src.Client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &r.src.Bucket, Key: aws.String(r.src.Prefix + key)})
		if isNotFound(err) {
			return errVanished
		}
		return err
	})
	if err != nil {
		return srcObject{}, err
	}
	return srcObject{Key: key, Size: deref(out.ContentLength), ETag: trimETag(out.ETag),
		StorageClass: string(out.StorageClass), LastModified: deref(out.LastModified)}, nil
}

// tags returns the source tag set of key in x-amz-tagging form.
func (r *Replicator) tags(ctx context.Context, key string) (string, error) {
	var out *s3.GetObjectTaggingOutput
	err := r.call(ctx, &r.src, "get tags", key, func(ctx context.Context) (err error) {
		out, err = r.src.Client.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: &r.src.Bucket, Key: aws.String(r.src.Prefix + key)})
		return err
	})
	if err != nil {
		return "", err
	}
	return encodeTags(out.TagSet), nil
}

// copySingle copies an object with one GET and one PUT, both bounded by
// the memory budget. Verification: the MD5 of the bytes read must equal a
// single-part source ETag, and the replica's ETag must equal the MD5 of the
// bytes sent (which the store also checks against Content-MD5).
func (r *Replicator) copySingle(ctx context.Context, o srcObject) (int64, error) {
	held, err := r.mem.acquire(ctx, o.Size)
	if err != nil {
		return 0, err
	}
	defer r.mem.release(held)
	var (
		out *s3.GetObjectOutput
		buf []byte
	)
	err = r.call(ctx, &r.src, "get", o.Key, func(ctx context.Context) (err error) {
		out, err = r.src.Client.GetObject(ctx, &s3.GetObjectInput{Bucket: &r.src.Bucket, Key: aws.String(r.src.Prefix + o.Key)})
		if err != nil {
			if isNotFound(err) {
				return errVanished
			}
			return err
		}
		defer out.Body.Close()
		n := deref(out.ContentLength)
		if n > held && held < r.mem.size {
			return fmt.Errorf("size %d, listed %d: %w", n, o.Size, errSourceChanged)
		}
		buf = make([]byte, n)
		if _, err := io.ReadFull(out.Body, buf); err != nil {
			return fmt.Errorf("read body: %w", err)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	md5sum := md5.Sum(buf)
	shasum := sha256.Sum256(buf)
	md5hex, shahex := hex.EncodeToString(md5sum[:]), hex.EncodeToString(shasum[:])
	etag := trimETag(out.ETag)
	if singlePartETag(etag) && md5hex != etag {
		return 0, fmt.Errorf("replicate: get s3://%s/%s: md5 %s of the content read, ETag %s: %w", r.src.Bucket, r.src.Prefix+o.Key, md5hex, etag, errChecksum)
	}
	m := metaFromGet(out)
	if deref(out.TagCount) > 0 {
		if m.Tagging, err = r.tags(ctx, o.Key); err != nil {
			return 0, err
		}
	}
	in := &s3.PutObjectInput{
		Bucket: &r.dst.Bucket, Key: aws.String(r.dst.Prefix + o.Key),
		ContentLength: aws.Int64(int64(len(buf))), ContentMD5: aws.String(base64.StdEncoding.EncodeToString(md5sum[:])),
		ContentType: m.ContentType, CacheControl: m.CacheControl, ContentDisposition: m.ContentDisposition,
		ContentEncoding: m.ContentEncoding, ContentLanguage: m.ContentLanguage, Expires: m.Expires,
		Metadata: replicaMeta(m, etag, shahex), Tagging: optString(m.Tagging),
	}
	var put *s3.PutObjectOutput
	err = r.call(ctx, &r.dst, "put", o.Key, func(ctx context.Context) (err error) {
		in.Body = bytes.NewReader(buf)
		put, err = r.dst.Client.PutObject(ctx, in)
		return err
	})
	if err != nil {
		return 0, err
	}
	if got := trimETag(put.ETag); got != md5hex {
		return 0, fmt.Errorf("replicate: put s3://%s/%s: replica ETag %s, md5 of the content sent %s: %w", r.dst.Bucket, r.dst.Prefix+o.Key, got, md5hex, errChecksum)
	}
	rec := objectRecord{ETag: etag, Size: int64(len(buf)), VersionID: m.VersionID, SHA256: shahex, Verified: r.o.Clock()}
	return int64(len(buf)), r.cp.putObject(o.Key, rec)
}

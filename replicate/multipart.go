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
	"hash"
	"io"

	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"
)

// partsInFlight bounds the parts of one object copied in parallel (the
// memory budget bounds them across objects).
const partsInFlight = 4

// partSizeFor returns the part size for an object of size bytes: the
// configured size, grown (in MiB steps) to stay within 10,000 parts.
func (r *Replicator) partSizeFor(size int64) int64 {
	ps := r.o.PartSize
	if (size+ps-1)/ps > maxParts {
		ps = (size + maxParts - 1) / maxParts
		ps = (ps + 1<<20 - 1) &^ (1<<20 - 1)
	}
	return ps
}

// compositeETag is the S3 ETag of a multipart object: the MD5 of the
// concatenated binary part MD5s, then "-" and the part count.
func compositeETag(partMD5s []string) (string, error) {
	h := md5.New()
	for _, p := range partMD5s {
		b, err := hex.DecodeString(p)
		if err != nil {
			return "", err
		}
		h.Write(b)
	}
	return fmt.Sprintf("%s-%d", hex.EncodeToString(h.Sum(nil)), len(partMD5s)), nil
}

// copyMultipart copies a large object in parts: CreateMultipartUpload on the
// replica (recorded in the checkpoint before any part is sent), ranged GETs
// of the source pinned to its ETag with If-Match, UploadPart with
// Content-MD5, each verified part recorded in the checkpoint, then
// CompleteMultipartUpload, whose ETag must equal the composite ETag computed
// locally. An upload recorded by an earlier, interrupted run is resumed:
// ListParts tells which parts the replica holds, and those whose ETag equals
// the MD5 recorded for them are not sent again.
func (r *Replicator) copyMultipart(ctx context.Context, o srcObject) (sent int64, err error) {
	dstKey := aws.String(r.dst.Prefix + o.Key)
	var head *s3.HeadObjectOutput
	err = r.call(ctx, &r.src, "head", o.Key, func(ctx context.Context) (err error) {
		head, err = r.src.Client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &r.src.Bucket, Key: aws.String(r.src.Prefix + o.Key)})
		if isNotFound(err) {
			return errVanished
		}
		return err
	})
	if err != nil {
		return 0, err
	}
	etag, size := trimETag(head.ETag), deref(head.ContentLength)
	m := metaFromHead(head)
	if m.Tagging, err = r.tags(ctx, o.Key); err != nil {
		return 0, err
	}
	ps := r.partSizeFor(size)
	nparts := int((size + ps - 1) / ps)
	partLen := func(n int) int64 { return min(ps, size-int64(n-1)*ps) }

	md5s := make([]string, nparts)
	up, resumed, err := r.resumeUpload(ctx, o.Key, etag, size, ps, md5s)
	if err != nil {
		return 0, err
	}
	if !resumed {
		var out *s3.CreateMultipartUploadOutput
		err = r.call(ctx, &r.dst, "create upload", o.Key, func(ctx context.Context) (err error) {
			out, err = r.dst.Client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
				Bucket: &r.dst.Bucket, Key: dstKey,
				ContentType: m.ContentType, CacheControl: m.CacheControl, ContentDisposition: m.ContentDisposition,
				ContentEncoding: m.ContentEncoding, ContentLanguage: m.ContentLanguage, Expires: m.Expires,
				Metadata: replicaMeta(m, etag, ""), Tagging: optString(m.Tagging),
			})
			return err
		})
		if err != nil {
			return 0, err
		}
		up = uploadRecord{UploadID: deref(out.UploadId), SourceETag: etag, Size: size, PartSize: ps}
		if err := r.cp.putUpload(o.Key, up); err != nil {
			r.abort(o.Key, up.UploadID)
			return 0, err
		}
	}
	defer func() {
		// Without a checkpoint nothing could resume the upload; a changed
		// source makes it useless. Otherwise keep it for the next run.
		if err != nil && (r.cp == nil || errors.Is(err, errSourceChanged)) {
			r.abort(o.Key, up.UploadID)
		}
	}()

	// The whole-object MD5 and SHA-256 can be computed only when every part
	// is read in this run; parts are hashed in order as they arrive.
	whole := !resumed
	wholeMD5, wholeSHA := md5.New(), sha256.New()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(partsInFlight)
	prev := make(chan struct{})
	close(prev)
	for n := 1; n <= nparts; n++ {
		if md5s[n-1] != "" {
			continue
		}
		off, length := int64(n-1)*ps, partLen(n)
		held, aerr := r.mem.acquire(gctx, length)
		if aerr != nil {
			break
		}
		myPrev, myDone := prev, make(chan struct{})
		prev = myDone
		g.Go(func() error {
			defer r.mem.release(held)
			var hashes []hash.Hash
			if whole {
				hashes = []hash.Hash{wholeMD5, wholeSHA}
			}
			sum, err := r.copyPart(gctx, o.Key, up.UploadID, etag, n, off, length, hashes, myPrev, myDone)
			if err != nil {
				return err
			}
			md5s[n-1] = sum
			return r.cp.putPart(o.Key, up.UploadID, n, partRecord{MD5: sum})
		})
	}
	if err := g.Wait(); err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	sha := ""
	if whole {
		if md5hex := hex.EncodeToString(wholeMD5.Sum(nil)); singlePartETag(etag) && md5hex != etag {
			return 0, fmt.Errorf("replicate: get s3://%s/%s: md5 %s of the content read, ETag %s: %w", r.src.Bucket, r.src.Prefix+o.Key, md5hex, etag, errChecksum)
		}
		sha = hex.EncodeToString(wholeSHA.Sum(nil))
	}
	want, err := compositeETag(md5s)
	if err != nil {
		return 0, err
	}
	parts := make([]types.CompletedPart, nparts)
	for i, s := range md5s {
		parts[i] = types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: aws.String(`"` + s + `"`)}
	}
	var done *s3.CompleteMultipartUploadOutput
	err = r.call(ctx, &r.dst, "complete upload", o.Key, func(ctx context.Context) (err error) {
		done, err = r.dst.Client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
			Bucket: &r.dst.Bucket, Key: dstKey, UploadId: &up.UploadID,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
		})
		return err
	})
	if err != nil {
		return 0, err
	}
	if got := trimETag(done.ETag); got != want {
		return 0, fmt.Errorf("replicate: complete upload s3://%s/%s: replica ETag %s, computed %s: %w", r.dst.Bucket, *dstKey, got, want, errChecksum)
	}
	rec := objectRecord{ETag: etag, Size: size, VersionID: m.VersionID, SHA256: sha, Verified: r.o.Clock()}
	if err := r.cp.putObject(o.Key, rec); err != nil {
		return 0, err
	}
	return size, r.cp.deleteUpload(o.Key)
}

// resumeUpload looks for an upload of key recorded by an earlier run. If it
// is for the same source version and part size and the replica still knows
// it, it fills md5s with the verified parts the replica holds and returns
// true; otherwise it aborts a stale upload and returns false.
func (r *Replicator) resumeUpload(ctx context.Context, key, etag string, size, ps int64, md5s []string) (uploadRecord, bool, error) {
	up, ok, err := r.cp.upload(key)
	if err != nil || !ok {
		return up, false, err
	}
	if up.SourceETag != etag || up.Size != size || up.PartSize != ps {
		r.log.Info("source changed since the interrupted upload, starting over", "key", key)
		r.abort(key, up.UploadID)
		return up, false, r.cp.deleteUpload(key)
	}
	listed := map[int32]types.Part{}
	var marker *string
	for {
		var out *s3.ListPartsOutput
		err := r.call(ctx, &r.dst, "list parts", key, func(ctx context.Context) (err error) {
			out, err = r.dst.Client.ListParts(ctx, &s3.ListPartsInput{Bucket: &r.dst.Bucket, Key: aws.String(r.dst.Prefix + key), UploadId: &up.UploadID, PartNumberMarker: marker})
			return err
		})
		if err != nil {
			if errors.Is(err, ErrPermanent) || ctx.Err() != nil {
				return up, false, err
			}
			// NoSuchUpload (completed, aborted or expired): start over.
			r.log.Info("interrupted upload is gone, starting over", "key", key, "err", err)
			return up, false, r.cp.deleteUpload(key)
		}
		for _, p := range out.Parts {
			listed[deref(p.PartNumber)] = p
		}
		if !deref(out.IsTruncated) || out.NextPartNumberMarker == nil {
			break
		}
		marker = out.NextPartNumberMarker
	}
	reused := 0
	for n := range md5s {
		p, ok := listed[int32(n+1)]
		rec, known := up.Parts[n+1]
		want := min(ps, size-int64(n)*ps)
		if ok && known && trimETag(p.ETag) == rec.MD5 && deref(p.Size) == want {
			md5s[n] = rec.MD5
			reused++
		}
	}
	r.log.Info("resuming interrupted upload", "key", key, "parts", len(md5s), "reused", reused)
	return up, true, nil
}

// copyPart reads one range of the source (pinned to etag) and uploads it as
// part n, verified by Content-MD5 and the returned ETag. When hashes is
// set, the part is written to them after the previous part (prev closed),
// then done is closed.
func (r *Replicator) copyPart(ctx context.Context, key, uploadID, etag string, n int, off, length int64, hashes []hash.Hash, prev <-chan struct{}, done chan<- struct{}) (string, error) {
	buf := make([]byte, length)
	err := r.call(ctx, &r.src, "get part", key, func(ctx context.Context) error {
		out, err := r.src.Client.GetObject(ctx, &s3.GetObjectInput{
			Bucket: &r.src.Bucket, Key: aws.String(r.src.Prefix + key),
			Range:   aws.String(fmt.Sprintf("bytes=%d-%d", off, off+length-1)),
			IfMatch: aws.String(`"` + etag + `"`),
		})
		if err != nil {
			if isPreconditionFailed(err) || isNotFound(err) {
				return errSourceChanged
			}
			return err
		}
		defer out.Body.Close()
		if got := trimETag(out.ETag); got != "" && got != etag {
			return errSourceChanged
		}
		if _, err := io.ReadFull(out.Body, buf); err != nil {
			return fmt.Errorf("read part %d: %w", n, err)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	if hashes != nil {
		select {
		case <-prev:
		case <-ctx.Done():
			return "", ctx.Err()
		}
		for _, h := range hashes {
			h.Write(buf)
		}
		close(done)
	}
	sum := md5.Sum(buf)
	md5hex := hex.EncodeToString(sum[:])
	var out *s3.UploadPartOutput
	err = r.call(ctx, &r.dst, "upload part", key, func(ctx context.Context) (err error) {
		out, err = r.dst.Client.UploadPart(ctx, &s3.UploadPartInput{
			Bucket: &r.dst.Bucket, Key: aws.String(r.dst.Prefix + key), UploadId: &uploadID,
			PartNumber: aws.Int32(int32(n)), Body: bytes.NewReader(buf), ContentLength: aws.Int64(length),
			ContentMD5: aws.String(base64.StdEncoding.EncodeToString(sum[:])),
		})
		return err
	})
	if err != nil {
		return "", err
	}
	if got := trimETag(out.ETag); got != md5hex {
		return "", fmt.Errorf("replicate: upload part s3://%s/%s part %d: replica ETag %s, md5 %s: %w", r.dst.Bucket, r.dst.Prefix+key, n, got, md5hex, errChecksum)
	}
	return md5hex, nil
}

// abort aborts an upload, best effort, even when ctx was cancelled.
func (r *Replicator) abort(key, uploadID string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := r.dst.Client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &r.dst.Bucket, Key: aws.String(r.dst.Prefix + key), UploadId: &uploadID})
	if err != nil {
		r.log.Warn("abort multipart upload", "key", key, "upload", uploadID, "err", err)
	}
}

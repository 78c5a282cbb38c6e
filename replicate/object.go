package replicate

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Metadata keys pilotlight adds to every replica object.
const (
	MetaPrefix        = "pilotlight-"
	MetaSourceETag    = "pilotlight-source-etag"
	MetaSourceVersion = "pilotlight-source-version"
	MetaSHA256        = "pilotlight-sha256"
)

// srcObject is a source object as listed, key relative to the prefix.
type srcObject struct {
	Key          string
	Size         int64
	ETag         string // quotes stripped
	StorageClass string
	LastModified time.Time
}

// objMeta is what a copy carries besides the content.
type objMeta struct {
	ContentType, CacheControl, ContentDisposition, ContentEncoding, ContentLanguage *string
	Expires                                                                         *time.Time
	Metadata                                                                        map[string]string
	VersionID                                                                       string
	Tagging                                                                         string // URL-encoded tag set
}

func trimETag(s *string) string {
	if s == nil {
		return ""
	}
	return strings.Trim(*s, `"`)
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// singlePartETag reports whether etag is a plain MD5 (not "HASH-N").
func singlePartETag(etag string) bool {
	return len(etag) == 32 && !strings.Contains(etag, "-")
}

// isArchived reports whether a storage class needs a restore to be read.
func isArchived(class string) bool {
	return class == string(types.StorageClassGlacier) || class == string(types.StorageClassDeepArchive)
}

// userMeta returns m without pilotlight's own keys, keys lower-cased.
func userMeta(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		k = strings.ToLower(k)
		if !strings.HasPrefix(k, MetaPrefix) {
			out[k] = v
		}
	}
	return out
}

// metaValue returns the user-metadata value of key, ignoring case.
func metaValue(m map[string]string, key string) string {
	if v, ok := m[key]; ok {
		return v
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return ""
}

func parseExpires(s *string) *time.Time {
	if s == nil || *s == "" {
		return nil
	}
	t, err := http.ParseTime(*s)
	if err != nil {
		return nil
	}
	return &t
}

func metaFromGet(o *s3.GetObjectOutput) objMeta {
	return objMeta{
		ContentType: o.ContentType, CacheControl: o.CacheControl, ContentDisposition: o.ContentDisposition,
		ContentEncoding: o.ContentEncoding, ContentLanguage: o.ContentLanguage,
		Expires: parseExpires(o.ExpiresString), Metadata: o.Metadata, VersionID: deref(o.VersionId),
	}
}

func metaFromHead(o *s3.HeadObjectOutput) objMeta {
	return objMeta{
		ContentType: o.ContentType, CacheControl: o.CacheControl, ContentDisposition: o.ContentDisposition,
		ContentEncoding: o.ContentEncoding, ContentLanguage: o.ContentLanguage,
		Expires: parseExpires(o.ExpiresString), Metadata: o.Metadata, VersionID: deref(o.VersionId),
	}
}

// replicaMeta is the user metadata of a replica: the source's, plus the
// pilotlight keys (sha256 only when known before the upload starts).
func replicaMeta(m objMeta, etag, sha string) map[string]string {
	out := userMeta(m.Metadata)
	out[MetaSourceETag] = etag
	if m.VersionID != "" {
		out[MetaSourceVersion] = m.VersionID
	}
	if sha != "" {
		out[MetaSHA256] = sha
	}
	return out
}

// encodeTags turns a tag set into the x-amz-tagging form.
func encodeTags(tags []types.Tag) string {
	if len(tags) == 0 {
		return ""
	}
	v := url.Values{}
	for _, t := range tags {
		v.Add(deref(t.Key), deref(t.Value))
	}
	return v.Encode()
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

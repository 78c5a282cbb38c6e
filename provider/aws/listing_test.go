package aws

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
)

// bucketListing fakes ListObjectsV2 and HeadObject over keys, pageSize keys
// a page; status gives each key's x-amz-replication-status ("" = none,
// "404" = deleted before its HEAD, "403" = access denied).
type bucketListing struct {
	keys     []string
	pageSize int
	status   func(key string) string

	mu                  sync.Mutex
	inFlight, maxFlight int
	lists               []string // continuation tokens received
}

func newListing(n, pageSize int, status func(i int) string) *bucketListing {
	l := &bucketListing{pageSize: pageSize}
	byKey := make(map[string]string, n)
	for i := range n {
		k := fmt.Sprintf("objects/key-%05d", i)
		l.keys = append(l.keys, k)
		byKey[k] = status(i)
	}
	l.status = func(k string) string { return byKey[k] }
	return l
}

func (l *bucketListing) install(f *fakeAWS) {
	f.on("ListObjectsV2", l.list)
	f.on("HeadObject", l.head)
}

func (l *bucketListing) list(s sent) reply {
	token := ""
	if v := s.Query["continuation-token"]; len(v) > 0 {
		token = v[0]
	}
	l.mu.Lock()
	l.lists = append(l.lists, token)
	l.mu.Unlock()
	start, _ := strconv.Atoi(token)
	end := min(start+l.pageSize, len(l.keys))
	var b strings.Builder
	fmt.Fprintf(&b, `<ListBucketResult%s><Name>%s</Name><Prefix></Prefix><KeyCount>%d</KeyCount><MaxKeys>1000</MaxKeys>`, s3NS, srcBucket, end-start)
	fmt.Fprintf(&b, `<IsTruncated>%t</IsTruncated>`, end < len(l.keys))
	if end < len(l.keys) {
		fmt.Fprintf(&b, `<NextContinuationToken>%d</NextContinuationToken>`, end)
	}
	for _, k := range l.keys[start:end] {
		fmt.Fprintf(&b, `<Contents><Key>%s</Key><Size>4</Size><ETag>"abc"</ETag><StorageClass>STANDARD</StorageClass></Contents>`, k)
	}
	b.WriteString(`</ListBucketResult>`)
	return xmlBody(b.String())
}

func (l *bucketListing) head(s sent) reply {
	l.mu.Lock()
	l.inFlight++
	l.maxFlight = max(l.maxFlight, l.inFlight)
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		l.inFlight--
		l.mu.Unlock()
	}()
	key, _ := url.PathUnescape(strings.TrimPrefix(s.Path, "/"))
	switch st := l.status(key); st {
	case "404":
		return reply{status: 404}
	case "403":
		return reply{status: 403}
	case "":
		return reply{header: map[string]string{"Content-Length": "4", "ETag": `"abc"`}}
	default:
		return reply{header: map[string]string{"Content-Length": "4", "ETag": `"abc"`, "x-amz-replication-status": st}}
	}
}

// mixedStatus gives 40% COMPLETED, 20% PENDING, 10% FAILED, 10% REPLICA
// and 20% none.
func mixedStatus(i int) string {
	switch i % 10 {
	case 0, 1, 2, 3:
		return "COMPLETED"
	case 4, 5:
		return "PENDING"
	case 6:
		return "FAILED"
	case 7:
		return "REPLICA"
	}
	return ""
}

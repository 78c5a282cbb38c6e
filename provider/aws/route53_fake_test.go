package aws

import (
	"cmp"
	"encoding/xml"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/smithy-go/middleware"
)

// Route 53's XML, as sent and as answered.
type xAlias struct {
	HostedZoneId         string
	DNSName              string
	EvaluateTargetHealth bool
}

type xRR struct{ Value string }

type xRRSet struct {
	Name            string
	Type            string
	SetIdentifier   string  `xml:",omitempty"`
	Weight          *int64  `xml:",omitempty"`
	Failover        string  `xml:",omitempty"`
	TTL             *int64  `xml:",omitempty"`
	ResourceRecords []xRR   `xml:"ResourceRecords>ResourceRecord,omitempty"`
	AliasTarget     *xAlias `xml:",omitempty"`
	HealthCheckId   string  `xml:",omitempty"`
}

func (r xRRSet) key() string { return strings.ToLower(r.Name) + " " + r.Type + " " + r.SetIdentifier }

type xChange struct {
	Action string
	Set    xRRSet `xml:"ResourceRecordSet"`
}

type xChangeReq struct {
	Comment string    `xml:"ChangeBatch>Comment"`
	Changes []xChange `xml:"ChangeBatch>Changes>Change"`
}

type xHCConfig struct {
	IPAddress                string `xml:",omitempty"`
	Port                     int    `xml:",omitempty"`
	Type                     string
	ResourcePath             string `xml:",omitempty"`
	FullyQualifiedDomainName string `xml:",omitempty"`
	SearchString             string `xml:",omitempty"`
	RequestInterval          int    `xml:",omitempty"`
	FailureThreshold         int    `xml:",omitempty"`
}

type xHC struct {
	Id                 string
	CallerReference    string
	HealthCheckConfig  xHCConfig
	HealthCheckVersion int64
}

type xUpdateHC struct {
	HealthCheckVersion       int64
	IPAddress                *string
	Port                     int
	ResourcePath             string
	FullyQualifiedDomainName string
	SearchString             string
	FailureThreshold         int
	ResetElements            []string `xml:"ResetElements>ResettableElementName"`
}

// fakeR53 is an in-memory Route 53 behind the SDK fake: one account with
// hosted zones of record sets and health checks. It applies change batches
// atomically with Route 53's rules, paginates, reports changes PENDING for
// a while, injects errors and tracks concurrent change calls per zone.
type fakeR53 struct {
	*fakeAWS
	mu          sync.Mutex
	zones       map[string]map[string]xRRSet // zone ID → key → set
	zoneNames   map[string]string            // zone ID → name
	checks      []xHC
	deletedRefs map[string]bool
	next        int
	pageSize    int
	fail        map[string][]string // op → error codes for its next calls
	pending     map[string]int      // change ID → GetChange answers left PENDING
	pendingFor  int                 // PENDING answers of each new change
	delay       time.Duration       // time spent inside ChangeResourceRecordSets
	inflight    map[string]int
	maxInflight map[string]int
}

func newFakeR53(t *testing.T) *fakeR53 {
	f := &fakeR53{fakeAWS: newFake(t), zones: map[string]map[string]xRRSet{"Z1": {}}, zoneNames: map[string]string{"Z1": "example.com."},
		deletedRefs: map[string]bool{}, pageSize: 100, fail: map[string][]string{}, pending: map[string]int{},
		inflight: map[string]int{}, maxInflight: map[string]int{}}
	for _, op := range []string{"ListHostedZonesByName", "ListResourceRecordSets", "ChangeResourceRecordSets", "GetChange",
		"ListHealthChecks", "CreateHealthCheck", "UpdateHealthCheck"} {
		f.on(op, f.serve)
	}
	return f
}

func (f *fakeR53) client() *route53.Client {
	return route53.New(route53.Options{Region: "us-east-1", Credentials: testCreds, HTTPClient: awshttp.NewBuildableClient(),
		Retryer: sdkaws.NopRetryer{}, APIOptions: []func(*middleware.Stack) error{f.stack}})
}

// driver is a Route53Driver on zone Z1 with tiny delays.
func (f *fakeR53) driver() *Route53Driver {
	return &Route53Driver{Client: f.client(), ZoneID: "Z1", Zone: "example.com.", PlanName: "ticketing",
		Backoff: Backoff{Initial: time.Millisecond, Max: 4 * time.Millisecond, Attempts: 5}, PollInterval: time.Millisecond}
}

// failNext makes the next calls of op fail with codes, in order.
func (f *fakeR53) failNext(op string, codes ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail[op] = append(f.fail[op], codes...)
}

func r53Error(status int, code string) reply {
	return reply{status: status, body: fmt.Sprintf(`<?xml version="1.0"?><ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/">`+
		`<Error><Type>Sender</Type><Code>%s</Code><Message>%s from fake</Message></Error><RequestId>req-1</RequestId></ErrorResponse>`, code, code)}
}

// xmlReply encodes v as the response document named root.
func xmlReply(root string, v any) reply {
	var b strings.Builder
	start := xml.StartElement{Name: xml.Name{Local: root}, Attr: []xml.Attr{{Name: xml.Name{Local: "xmlns"}, Value: "https://route53.amazonaws.com/doc/2013-04-01/"}}}
	if err := xml.NewEncoder(&b).EncodeElement(v, start); err != nil {
		panic(err)
	}
	return xmlBody(b.String())
}

// serve answers every Route 53 call.
func (f *fakeR53) serve(s sent) reply {
	f.mu.Lock()
	if q := f.fail[s.Op]; len(q) > 0 {
		f.fail[s.Op] = q[1:]
		f.mu.Unlock()
		return r53Error(400, q[0])
	}
	f.mu.Unlock()
	switch s.Op {
	case "ChangeResourceRecordSets":
		return f.change(s)
	case "ListResourceRecordSets":
		return f.listSets(s)
	case "GetChange":
		return f.getChange(s)
	case "ListHostedZonesByName":
		return f.listZones(s)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch s.Op {
	case "ListHealthChecks":
		return f.listChecks(s)
	case "CreateHealthCheck":
		return f.createCheck(s)
	case "UpdateHealthCheck":
		return f.updateCheck(s)
	}
	return r53Error(400, "InvalidAction")
}

func (f *fakeR53) zoneOf(s sent) string {
	parts := strings.Split(s.Path, "/") // /2013-04-01/hostedzone/Z1/rrset
	if len(parts) < 5 {
		return ""
	}
	return parts[3]
}

func (f *fakeR53) change(s sent) reply {
	zone := f.zoneOf(s)
	f.mu.Lock()
	f.inflight[zone]++
	f.maxInflight[zone] = max(f.maxInflight[zone], f.inflight[zone])
	f.mu.Unlock()
	time.Sleep(f.delay)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inflight[zone]--
	var req xChangeReq
	if err := xml.Unmarshal([]byte(s.Body), &req); err != nil {
		return r53Error(400, "MalformedInput")
	}
	sets, ok := f.zones[zone]
	if !ok {
		return r53Error(404, "NoSuchHostedZone")
	}
	next := maps(sets)
	for _, c := range req.Changes {
		k := c.Set.key()
		old, exists := next[k]
		switch c.Action {
		case "CREATE":
			if exists {
				return r53Error(400, "InvalidChangeBatch")
			}
			next[k] = c.Set
		case "UPSERT":
			next[k] = c.Set
		case "DELETE":
			if !exists || xmlString(old) != xmlString(c.Set) {
				return r53Error(400, "InvalidChangeBatch")
			}
			delete(next, k)
		default:
			return r53Error(400, "InvalidInput")
		}
	}
	f.zones[zone] = next
	f.next++
	id := "C" + strconv.Itoa(f.next)
	f.pending[id] = f.pendingFor
	return xmlBody(fmt.Sprintf(`<ChangeResourceRecordSetsResponse><ChangeInfo><Id>/change/%s</Id><Status>PENDING</Status>`+
		`<SubmittedAt>2026-11-22T00:00:00Z</SubmittedAt></ChangeInfo></ChangeResourceRecordSetsResponse>`, id))
}

func maps(m map[string]xRRSet) map[string]xRRSet {
	out := make(map[string]xRRSet, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func xmlString(v any) string {
	b, _ := xml.Marshal(v)
	return string(b)
}

func (f *fakeR53) getChange(s sent) reply {
	id := s.Path[strings.LastIndexByte(s.Path, '/')+1:]
	f.mu.Lock()
	defer f.mu.Unlock()
	left, ok := f.pending[id]
	if !ok {
		return r53Error(404, "NoSuchChange")
	}
	status := "INSYNC"
	if left > 0 {
		status = "PENDING"
		f.pending[id] = left - 1
	}
	return xmlBody(fmt.Sprintf(`<GetChangeResponse><ChangeInfo><Id>/change/%s</Id><Status>%s</Status>`+
		`<SubmittedAt>2026-11-22T00:00:00Z</SubmittedAt></ChangeInfo></GetChangeResponse>`, id, status))
}

func (f *fakeR53) listSets(s sent) reply {
	zone := f.zoneOf(s)
	f.mu.Lock()
	defer f.mu.Unlock()
	all := make([]xRRSet, 0, len(f.zones[zone]))
	for _, r := range f.zones[zone] {
		all = append(all, r)
	}
	order := func(a, b xRRSet) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.Type, b.Type), strings.Compare(a.SetIdentifier, b.SetIdentifier))
	}
	slices.SortFunc(all, order)
	start := 0
	if name := url.Values(s.Query).Get("name"); name != "" {
		from := xRRSet{Name: name, Type: url.Values(s.Query).Get("type"), SetIdentifier: url.Values(s.Query).Get("identifier")}
		start, _ = slices.BinarySearchFunc(all, from, order)
	}
	size := f.pageSize
	if m, err := strconv.Atoi(url.Values(s.Query).Get("maxitems")); err == nil && m < size {
		size = m
	}
	end := min(start+size, len(all))
	type out struct {
		Sets                 []xRRSet `xml:"ResourceRecordSets>ResourceRecordSet"`
		IsTruncated          bool
		MaxItems             int
		NextRecordName       string `xml:",omitempty"`
		NextRecordType       string `xml:",omitempty"`
		NextRecordIdentifier string `xml:",omitempty"`
	}
	o := out{Sets: all[start:end], MaxItems: size}
	if end < len(all) {
		n := all[end]
		o.IsTruncated, o.NextRecordName, o.NextRecordType, o.NextRecordIdentifier = true, n.Name, n.Type, n.SetIdentifier
	}
	return xmlReply("ListResourceRecordSetsResponse", o)
}

func (f *fakeR53) listZones(s sent) reply {
	type zone struct{ Id, Name, CallerReference string }
	type out struct {
		Zones       []zone `xml:"HostedZones>HostedZone"`
		IsTruncated bool
		MaxItems    int
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var o out
	for id, name := range f.zoneNames {
		o.Zones = append(o.Zones, zone{Id: "/hostedzone/" + id, Name: name, CallerReference: "ref-" + id})
	}
	slices.SortFunc(o.Zones, func(a, b zone) int { return strings.Compare(a.Id, b.Id) })
	return xmlReply("ListHostedZonesByNameResponse", o)
}

func (f *fakeR53) listChecks(s sent) reply {
	start := 0
	if m := url.Values(s.Query).Get("marker"); m != "" {
		start, _ = strconv.Atoi(m)
	}
	end := min(start+f.pageSize, len(f.checks))
	type out struct {
		Checks      []xHC `xml:"HealthChecks>HealthCheck"`
		IsTruncated bool
		Marker      string
		MaxItems    int
		NextMarker  string `xml:",omitempty"`
	}
	o := out{Checks: f.checks[start:end], Marker: url.Values(s.Query).Get("marker"), MaxItems: f.pageSize}
	if end < len(f.checks) {
		o.IsTruncated, o.NextMarker = true, strconv.Itoa(end)
	}
	return xmlReply("ListHealthChecksResponse", o)
}

func (f *fakeR53) createCheck(s sent) reply {
	var req struct {
		CallerReference   string
		HealthCheckConfig xHCConfig
	}
	if err := xml.Unmarshal([]byte(s.Body), &req); err != nil {
		return r53Error(400, "MalformedInput")
	}
	if f.deletedRefs[req.CallerReference] {
		return r53Error(409, "HealthCheckAlreadyExists")
	}
	for _, h := range f.checks {
		if h.CallerReference == req.CallerReference {
			return xmlReply("CreateHealthCheckResponse", struct{ HealthCheck xHC }{h})
		}
	}
	f.next++
	h := xHC{Id: fmt.Sprintf("hc-%04d", f.next), CallerReference: req.CallerReference, HealthCheckConfig: req.HealthCheckConfig, HealthCheckVersion: 1}
	f.checks = append(f.checks, h)
	r := xmlReply("CreateHealthCheckResponse", struct{ HealthCheck xHC }{h})
	r.status, r.header = 201, map[string]string{"Location": "https://route53.amazonaws.com/2013-04-01/healthcheck/" + h.Id}
	return r
}

func (f *fakeR53) updateCheck(s sent) reply {
	id := s.Path[strings.LastIndexByte(s.Path, '/')+1:]
	var req xUpdateHC
	if err := xml.Unmarshal([]byte(s.Body), &req); err != nil {
		return r53Error(400, "MalformedInput")
	}
	for i := range f.checks {
		h := &f.checks[i]
		if h.Id != id {
			continue
		}
		if req.HealthCheckVersion != h.HealthCheckVersion {
			return r53Error(409, "HealthCheckVersionMismatch")
		}
		c := &h.HealthCheckConfig
		if req.IPAddress != nil {
			c.IPAddress = *req.IPAddress
		}
		c.Port, c.FailureThreshold = cmp.Or(req.Port, c.Port), cmp.Or(req.FailureThreshold, c.FailureThreshold)
		c.ResourcePath = cmp.Or(req.ResourcePath, c.ResourcePath)
		c.FullyQualifiedDomainName = cmp.Or(req.FullyQualifiedDomainName, c.FullyQualifiedDomainName)
		c.SearchString = cmp.Or(req.SearchString, c.SearchString)
		for _, e := range req.ResetElements {
			switch e {
			case "ResourcePath":
				c.ResourcePath = ""
			case "FullyQualifiedDomainName":
				c.FullyQualifiedDomainName = ""
			}
		}
		h.HealthCheckVersion++
		return xmlReply("UpdateHealthCheckResponse", struct{ HealthCheck xHC }{*h})
	}
	return r53Error(404, "NoSuchHealthCheck")
}

// changeReqs parses the recorded ChangeResourceRecordSets requests.
func (f *fakeR53) changeReqs(t *testing.T) []xChangeReq {
	t.Helper()
	var out []xChangeReq
	for _, s := range f.calls("ChangeResourceRecordSets") {
		var r xChangeReq
		if err := xml.Unmarshal([]byte(s.Body), &r); err != nil {
			t.Fatalf("change request: %v\n%s", err, s.Body)
		}
		out = append(out, r)
	}
	return out
}

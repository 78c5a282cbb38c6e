package events

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var eventTime = time.Date(2026, 11, 22, 3, 45, 10, 0, time.UTC)

// TestParseGolden parses payloads captured from versitygw v1.8.0
// (regenerate with go test -run TestStoreEvents -update).
func TestParseGolden(t *testing.T) {
	const odd = "dir/with space+plus ü%41.txt"
	tests := []struct {
		file string
		want []Event // Time is checked apart (eventTime, any date)
	}{
		{"test-event.json", nil},
		{"objectcreated-put.json", []Event{{Bucket: "events-a", Key: "plain.txt", ETag: "f97c5d29941bfb1b2fdab0874906ab82",
			Size: 3, Kind: Created, Name: "s3:ObjectCreated:Put", Sequencer: "1"}}},
		{"objectcreated-put-escaped.json", []Event{{Bucket: "events-a", Key: odd, ETag: "a2b6f2a6066ed8700d83335fc50a2b8e",
			Size: 3, Kind: Created, Name: "s3:ObjectCreated:Put", Sequencer: "3"}}},
		{"objectcreated-copy.json", []Event{{Bucket: "events-a", Key: "copy.txt", VersionID: "01M80NQSDPA1HJXST0B2TNMEK5",
			ETag: "5dea26020e811def89cbf972425f0e46", Kind: Created, Name: "s3:ObjectCreated:Copy", Sequencer: "5"}}},
		{"objectcreated-completemultipartupload.json", []Event{{Bucket: "events-a", Key: "multi.bin",
			VersionID: "01M80NQSDR9P22P9HD61HB6EZ3", ETag: "a706688e59fbf23ab919a15395857c9b-1", Kind: Created,
			Name: "s3:ObjectCreated:CompleteMultipartUpload", Sequencer: "6"}}},
		{"objecttagging-put.json", []Event{{Bucket: "events-a", Key: "multi.bin", Kind: Tagged,
			Name: "s3:ObjectTagging:Put", Sequencer: "7"}}},
		{"objectremoved-delete.json", []Event{{Bucket: "events-a", Key: "plain.txt", Kind: Removed,
			Name: "s3:ObjectRemoved:Delete", Sequencer: "8"}}},
		{"objectremoved-deleteobjects.json", []Event{{Bucket: "events-a", Key: "copy.txt", Kind: Removed,
			Name: "s3:ObjectRemoved:DeleteObjects", Sequencer: "9"}}},
		{"objectremoved-deleteobjects-escaped.json", []Event{{Bucket: "events-a", Key: odd, Kind: Removed,
			Name: "s3:ObjectRemoved:DeleteObjects", Sequencer: "A"}}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			got, err := Parse(body)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d events %+v, want %d", len(got), got, len(tc.want))
			}
			for i := range got {
				if got[i].Time.IsZero() {
					t.Errorf("event %d has no time", i)
				}
				got[i].Time = time.Time{}
				if got[i] != tc.want[i] {
					t.Errorf("event %d:\n got %+v\nwant %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestParse(t *testing.T) {
	rec := func(name, bucket, key string) string {
		return `{"eventName":"` + name + `","eventTime":"2026-11-22T03:45:10Z","s3":{"bucket":{"name":"` + bucket +
			`"},"object":{"key":"` + key + `","size":7,"eTag":"\"abc\"","versionId":"v1"}}}`
	}
	tests := []struct {
		name    string
		body    string
		want    []Event
		wantErr string
	}{
		{name: "AWS test event", body: `{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-01-01T00:00:00.000Z","Bucket":"b","RequestId":"x","HostId":"y"}`},
		{name: "empty Records", body: `{"Records":[]}`},
		{name: "two records with unknown fields and millisecond time", body: `{"Records":[` +
			`{"eventName":"ObjectCreated:Post","eventTime":"2026-11-22T03:45:10.250Z","extra":1,"s3":{"bucket":{"name":"b","arn":"x"},"object":{"key":"k1","size":1,"new":true}}},` +
			rec("s3:ObjectRemoved:DeleteMarkerCreated", "b", "k2") + `],"more":{}}`,
			want: []Event{
				{Bucket: "b", Key: "k1", Size: 1, Kind: Created, Name: "ObjectCreated:Post", Time: eventTime.Add(250 * time.Millisecond)},
				{Bucket: "b", Key: "k2", VersionID: "v1", ETag: "abc", Size: 7, Kind: Removed, Name: "s3:ObjectRemoved:DeleteMarkerCreated", Time: eventTime},
			}},
		{name: "other families are skipped", body: `{"Records":[` + rec("s3:ObjectAcl:Put", "b", "k") + `,` +
			rec("s3:ObjectRestore:Completed", "b", "k") + `,` + rec("s3:ObjectTagging:Delete", "b", "k") + `]}`,
			want: []Event{{Bucket: "b", Key: "k", VersionID: "v1", ETag: "abc", Size: 7, Kind: Tagged, Name: "s3:ObjectTagging:Delete", Time: eventTime}}},
		{name: "skipped family needs no s3 element", body: `{"Records":[{"eventName":"s3:ObjectAcl:Put"}]}`},
		{name: "no time is zero time", body: `{"Records":[{"eventName":"s3:ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"k"}}}]}`,
			want: []Event{{Bucket: "b", Key: "k", Kind: Created, Name: "s3:ObjectCreated:Put"}}},

		{name: "not JSON", body: `hello`, wantErr: "events: parse notification: invalid character"},
		{name: "empty body", body: ``, wantErr: "events: parse notification: EOF"},
		{name: "array", body: `[{"Records":[]}]`, wantErr: "cannot unmarshal array"},
		{name: "null", body: `null`, wantErr: "no Records"},
		{name: "object without Records", body: `{"Event":"s3:Other"}`, wantErr: "no Records"},
		{name: "Records not an array", body: `{"Records":{}}`, wantErr: "cannot unmarshal object"},
		{name: "trailing data", body: `{"Records":[]} {}`, wantErr: "data after the JSON object"},
		{name: "no event name", body: `{"Records":[{"s3":{}}]}`, wantErr: "events: parse record 0: no eventName"},
		{name: "no s3 element", body: `{"Records":[{"eventName":"s3:ObjectCreated:Put"}]}`, wantErr: "no s3 element"},
		{name: "no bucket", body: `{"Records":[` + rec("s3:ObjectCreated:Put", "", "k") + `]}`, wantErr: "no bucket name"},
		{name: "no key", body: `{"Records":[` + rec("s3:ObjectCreated:Put", "b", "k") + `,` + rec("s3:ObjectRemoved:Delete", "b", "") + `]}`,
			wantErr: "events: parse record 1: s3:ObjectRemoved:Delete: no object key"},
		{name: "bad time", body: `{"Records":[{"eventName":"s3:ObjectCreated:Put","eventTime":"yesterday","s3":{"bucket":{"name":"b"},"object":{"key":"k"}}}]}`,
			wantErr: "eventTime"},
		{name: "size not a number", body: `{"Records":[{"eventName":"s3:ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"k","size":"7"}}}]}`,
			wantErr: "cannot unmarshal string"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse([]byte(tc.body))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("event %d:\n got %+v\nwant %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"Records":[{"eventName":"s3:ObjectRemoved:Delete","s3":{"bucket":{"name":"b"},"object":{"key":"k"}}}]}`))
	f.Add([]byte(`{"Records":null}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		evs, err := Parse(body)
		if err != nil {
			if evs != nil {
				t.Fatalf("events %+v with error %v", evs, err)
			}
			if !strings.HasPrefix(err.Error(), "events: parse ") {
				t.Fatalf("error %q lacks the events: prefix", err)
			}
			return
		}
		for _, ev := range evs {
			if ev.Bucket == "" || ev.Key == "" || ev.Name == "" {
				t.Fatalf("incomplete event %+v", ev)
			}
			switch ev.Kind {
			case Created, Removed, Tagged:
			default:
				t.Fatalf("event kind %q", ev.Kind)
			}
		}
	})
}

package replicate

import (
	"strings"
	"testing"
)

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		raw     string
		want    URLSpec
		wantErr string
	}{
		{raw: "s3://assets", want: URLSpec{Bucket: "assets"}},
		{raw: "s3://assets/", want: URLSpec{Bucket: "assets"}},
		{raw: "s3://assets/photos", want: URLSpec{Bucket: "assets", Prefix: "photos/"}},
		{raw: "s3://assets/photos/2024/", want: URLSpec{Bucket: "assets", Prefix: "photos/2024/"}},
		{raw: "s3://my.assets-1?endpoint=http://127.0.0.1:9001&region=us-east-1&profile=dr",
			want: URLSpec{Bucket: "my.assets-1", Endpoint: "http://127.0.0.1:9001", Region: "us-east-1", Profile: "dr"}},
		{raw: "s3://assets/p?endpoint=https://s3.example.com", want: URLSpec{Bucket: "assets", Prefix: "p/", Endpoint: "https://s3.example.com"}},

		{raw: "", wantErr: `replicate: parse URL "": scheme must be s3:// (as in s3://bucket/prefix)`},
		{raw: "assets/photos", wantErr: `replicate: parse URL "assets/photos": scheme must be s3:// (as in s3://bucket/prefix)`},
		{raw: "http://assets", wantErr: `replicate: parse URL "http://assets": scheme "http" is not s3`},
		{raw: "s3:assets", wantErr: `replicate: parse URL "s3:assets": missing // after s3:`},
		{raw: "s3://", wantErr: `replicate: parse URL "s3://": bucket name is empty`},
		{raw: "s3:///photos", wantErr: `replicate: parse URL "s3:///photos": bucket name is empty`},
		{raw: "s3://ab", wantErr: `replicate: parse URL "s3://ab": bucket name "ab" must be 3 to 63 characters`},
		{raw: "s3://" + strings.Repeat("a", 64), wantErr: `must be 3 to 63 characters`},
		{raw: "s3://Assets", wantErr: `replicate: parse URL "s3://Assets": bucket name "Assets" must be lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit`},
		{raw: "s3://assets-", wantErr: `bucket name "assets-" must be lowercase letters`},
		{raw: "s3://a..b", wantErr: `bucket name "a..b" must be lowercase letters`},
		{raw: "s3://assets:9000", wantErr: `replicate: parse URL "s3://assets:9000": bucket name "assets:9000" must not have a port (use endpoint=)`},
		{raw: "s3://key:secret@assets", wantErr: `credentials do not belong in the URL`},
		{raw: "s3://assets/a//b", wantErr: `prefix "a//b" has an empty path segment`},
		{raw: "s3://assets#x", wantErr: `unexpected fragment "x"`},
		{raw: "s3://assets?endpoint=127.0.0.1:9000", wantErr: `replicate: parse URL "s3://assets?endpoint=127.0.0.1:9000": endpoint "127.0.0.1:9000" must be an http:// or https:// URL with a host`},
		{raw: "s3://assets?endpoint=ftp://host", wantErr: `endpoint "ftp://host" must be an http:// or https:// URL with a host`},
		{raw: "s3://assets?endpoint=http://", wantErr: `endpoint "http://" must be an http:// or https:// URL with a host`},
		{raw: "s3://assets?region=", wantErr: `region is empty`},
		{raw: "s3://assets?profile=", wantErr: `profile is empty`},
		{raw: "s3://assets?region=a&region=b", wantErr: `query key "region" given 2 times`},
		{raw: "s3://assets?bucket=x", wantErr: `replicate: parse URL "s3://assets?bucket=x": unknown query key "bucket" (want endpoint, region or profile)`},
		{raw: "s3://assets?a=%zz", wantErr: `query: invalid URL escape "%zz"`},
		{raw: "s3://as sets", wantErr: `replicate: parse URL "s3://as sets": invalid character " " in host name`},
	} {
		t.Run(tc.raw, func(t *testing.T) {
			got, err := ParseURL(tc.raw)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseURL(%q) error = %v, want %q", tc.raw, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseURL(%q): %v", tc.raw, err)
			}
			if got != tc.want {
				t.Fatalf("ParseURL(%q) = %+v, want %+v", tc.raw, got, tc.want)
			}
			again, err := ParseURL(got.String())
			if err != nil || again != got {
				t.Fatalf("round trip through %q: %+v, %v", got.String(), again, err)
			}
		})
	}
}

func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"s3://assets", "s3://assets/p/q?endpoint=http://127.0.0.1:9001&region=r&profile=p", "s3:x", "s3://a?b=c", "http://x/y", "s3://Ab/%41"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := ParseURL(raw)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "replicate: parse URL ") {
				t.Fatalf("error without context: %v", err)
			}
			return
		}
		if validBucket(u.Bucket) != "" {
			t.Fatalf("accepted invalid bucket %q", u.Bucket)
		}
		if u.Prefix != "" && !strings.HasSuffix(u.Prefix, "/") {
			t.Fatalf("prefix %q does not end in /", u.Prefix)
		}
		again, err := ParseURL(u.String())
		if err != nil || again != u {
			t.Fatalf("round trip %q -> %q: %+v, %v", raw, u.String(), again, err)
		}
	})
}

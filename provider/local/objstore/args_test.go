package objstore

import (
	"bytes"
	"context"
	"reflect"
	"strings"
	"testing"
)

func TestParseServeArgs(t *testing.T) {
	env := func(m map[string]string) func(string) string {
		return func(k string) string { return m[k] }
	}
	awsEnv := env(map[string]string{EnvAccessKey: "ENVAK", EnvSecretKey: "envsecret"})
	tests := []struct {
		name          string
		args          []string
		env           func(string) string
		want          Options // AccessKey/SecretKey "*" means generated
		wantGenerated bool
		wantErr       string
	}{
		{
			name:          "defaults with generated keys",
			args:          []string{"--dir", "/s"},
			want:          Options{Dir: "/s", Listen: DefaultListen, Region: DefaultRegion, Versioning: true, AccessKey: "*", SecretKey: "*"},
			wantGenerated: true,
		},
		{
			name: "environment keys",
			args: []string{"--dir", "/s"},
			env:  awsEnv,
			want: Options{Dir: "/s", Listen: DefaultListen, Region: DefaultRegion, Versioning: true, AccessKey: "ENVAK", SecretKey: "envsecret"},
		},
		{
			name: "flags win over environment",
			args: []string{"--dir=/s", "--access-key", "FLAGAK", "--secret-key", "flagsecret"},
			env:  awsEnv,
			want: Options{Dir: "/s", Listen: DefaultListen, Region: DefaultRegion, Versioning: true, AccessKey: "FLAGAK", SecretKey: "flagsecret"},
		},
		{
			name:          "access key given, secret generated",
			args:          []string{"--dir", "/s", "--access-key", "FLAGAK"},
			want:          Options{Dir: "/s", Listen: DefaultListen, Region: DefaultRegion, Versioning: true, AccessKey: "FLAGAK", SecretKey: "*"},
			wantGenerated: true,
		},
		{
			name: "all flags",
			args: []string{"--dir", "d", "--listen", "127.0.1.1:9000", "--region", "seoul",
				"--bucket", "a", "--bucket", "b", "--event-webhook", "http://127.0.0.1:1/ev", "--no-versioning"},
			env: awsEnv,
			want: Options{Dir: "d", Listen: "127.0.1.1:9000", Region: "seoul", Buckets: []string{"a", "b"},
				EventWebhookURL: "http://127.0.0.1:1/ev", AccessKey: "ENVAK", SecretKey: "envsecret"},
		},
		{name: "missing dir", args: []string{"--listen", ":9000"}, wantErr: "--dir is required"},
		{name: "unknown flag", args: []string{"--dir", "d", "--bogus"}, wantErr: "bogus"},
		{name: "stray argument", args: []string{"--dir", "d", "extra"}, wantErr: `unexpected argument "extra"`},
		{name: "empty bucket", args: []string{"--dir", "d", "--bucket", ""}, wantErr: "empty value"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, generated, err := ParseServeArgs(tc.args, tc.env)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if generated != tc.wantGenerated {
				t.Errorf("generated = %v, want %v", generated, tc.wantGenerated)
			}
			for _, k := range []struct{ got, want *string }{{&got.AccessKey, &tc.want.AccessKey}, {&got.SecretKey, &tc.want.SecretKey}} {
				if *k.want == "*" {
					if len(*k.got) < 20 {
						t.Errorf("generated key %q too short", *k.got)
					}
					*k.got = "*"
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("options = %+v\nwant      %+v", got, tc.want)
			}
		})
	}
}

func TestGenerate(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		a, s := Generate()
		if len(a) != 20 || len(s) != 40 {
			t.Fatalf("lengths %d, %d; want 20, 40", len(a), len(s))
		}
		if seen[a] || seen[s] {
			t.Fatal("repeated credential")
		}
		seen[a], seen[s] = true, true
	}
}

func TestEndpoint(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.1.1:9000": "http://127.0.1.1:9000",
		":9000":          "http://127.0.0.1:9000",
		"0.0.0.0:9000":   "http://127.0.0.1:9000",
		"[::]:9000":      "http://[::1]:9000",
		"[::1]:9000":     "http://[::1]:9000",
	} {
		if got := Endpoint(in); got != want {
			t.Errorf("Endpoint(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestServeMainRejectsBadArgs(t *testing.T) {
	var out bytes.Buffer
	err := ServeMain(context.Background(), []string{"--listen", "127.0.0.1:0"}, &out)
	if err == nil || !strings.Contains(err.Error(), "--dir is required") {
		t.Fatalf("err = %v, want --dir is required", err)
	}
	if out.Len() != 0 {
		t.Errorf("printed %q before failing", out.String())
	}
}

func TestServeValidates(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"no dir", Options{AccessKey: "a", SecretKey: "s"}, "state directory is required"},
		{"no keys", Options{Dir: t.TempDir()}, "access key and secret key are required"},
		{"bad listen", Options{Dir: t.TempDir(), AccessKey: "a", SecretKey: "s", Listen: "nope"}, "missing port"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Serve(context.Background(), tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

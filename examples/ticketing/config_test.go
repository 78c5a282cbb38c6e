package main

import (
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

func TestParseConfig(t *testing.T) {
	defaults := config{
		Addr: "127.0.0.1:8080", Region: "us-east-1", Bucket: "assets", S3Region: "us-east-1",
		StoreCheckInterval: 5 * time.Second, StoreTimeout: 5 * time.Second,
	}
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    func(c *config)
		wantErr string
	}{
		{name: "defaults", args: []string{"--bucket", "assets"}, want: func(*config) {}},
		{
			name: "env fallbacks",
			env: map[string]string{
				"PILOTLIGHT_ADDR": "127.0.1.10:8080", "PILOTLIGHT_REGION": "seoul", "PILOTLIGHT_BUCKET": "assets",
				"PILOTLIGHT_S3_ENDPOINT": "http://127.0.1.1:9000", "AWS_REGION": "ap-northeast-2",
				"PILOTLIGHT_INSTANCE_ID": "web-3", "PILOTLIGHT_HEALTHZ_STRICT": "true",
			},
			want: func(c *config) {
				c.Addr, c.Region, c.S3Endpoint, c.S3Region = "127.0.1.10:8080", "seoul", "http://127.0.1.1:9000", "ap-northeast-2"
				c.InstanceID, c.HealthzStrict = "web-3", true
			},
		},
		{
			name: "flags win over env",
			args: []string{"--addr=127.0.2.10:9090", "--region", "virginia", "--bucket", "b2", "--s3-endpoint", "http://127.0.2.1:9000",
				"--s3-region", "us-east-1", "--instance-id", "web-9", "--healthz-strict=false", "--store-timeout", "2s"},
			env: map[string]string{"PILOTLIGHT_ADDR": "x:1", "PILOTLIGHT_REGION": "seoul", "PILOTLIGHT_BUCKET": "assets",
				"PILOTLIGHT_S3_ENDPOINT": "http://e", "AWS_REGION": "eu-west-1", "PILOTLIGHT_INSTANCE_ID": "i", "PILOTLIGHT_HEALTHZ_STRICT": "1"},
			want: func(c *config) {
				c.Addr, c.Region, c.Bucket, c.S3Endpoint = "127.0.2.10:9090", "virginia", "b2", "http://127.0.2.1:9000"
				c.InstanceID, c.StoreTimeout = "web-9", 2*time.Second
			},
		},
		{
			name: "AWS_ENDPOINT_URL_S3 fallback",
			args: []string{"--bucket", "assets"},
			env:  map[string]string{"AWS_ENDPOINT_URL_S3": "http://127.0.1.1:9000"},
			want: func(c *config) { c.S3Endpoint = "http://127.0.1.1:9000" },
		},
		{
			name: "PILOTLIGHT_S3_ENDPOINT preferred",
			args: []string{"--bucket", "assets"},
			env:  map[string]string{"AWS_ENDPOINT_URL_S3": "http://a", "PILOTLIGHT_S3_ENDPOINT": "http://b"},
			want: func(c *config) { c.S3Endpoint = "http://b" },
		},
		{name: "bucket required", wantErr: "--bucket is required"},
		{name: "bad strict env", args: []string{"--bucket", "a"}, env: map[string]string{"PILOTLIGHT_HEALTHZ_STRICT": "maybe"}, wantErr: "PILOTLIGHT_HEALTHZ_STRICT"},
		{name: "unknown flag", args: []string{"--bucket", "a", "--nope"}, wantErr: "flag provided but not defined"},
		{name: "stray argument", args: []string{"--bucket", "a", "extra"}, wantErr: `unexpected argument "extra"`},
		{name: "bad interval", args: []string{"--bucket", "a", "--store-check-interval", "0s"}, wantErr: "--store-check-interval must be > 0"},
		{name: "bad timeout", args: []string{"--bucket", "a", "--store-timeout", "-1s"}, wantErr: "--store-timeout must be > 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) string { return tt.env[k] }
			got, err := parseConfig(tt.args, getenv, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := defaults
			tt.want(&want)
			if got != want {
				t.Errorf("config = %+v\nwant     %+v", got, want)
			}
		})
	}
}

func TestParseConfigHelp(t *testing.T) {
	var out strings.Builder
	_, err := parseConfig([]string{"--help"}, func(string) string { return "" }, &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err = %v, want flag.ErrHelp", err)
	}
	if !strings.Contains(out.String(), "-bucket") {
		t.Errorf("usage does not list flags: %q", out.String())
	}
}

package plan

import (
	"encoding/json"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"90s", 90 * time.Second, true},
		{"2m", 2 * time.Minute, true},
		{"4h", 4 * time.Hour, true},
		{"1h30m", 90 * time.Minute, true},
		{"1d", 24 * time.Hour, true},
		{"2d12h", 60 * time.Hour, true},
		{"500ms", 500 * time.Millisecond, true},
		{"-5s", -5 * time.Second, true},
		{"-1d", -24 * time.Hour, true},
		{"0s", 0, true},
		{"", 0, false},
		{"5", 0, false},
		{"d", 0, false},
		{"1d-5s", 0, false},
		{"xd", 0, false},
		{"2 minutes", 0, false},
		{"100001d", 0, false},
		{"100000d2562047h", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if (err == nil) != tt.ok || (tt.ok && got.D() != tt.want) {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v, ok %v", tt.in, got.D(), err, tt.want, tt.ok)
		}
	}
}

func TestDurationString(t *testing.T) {
	tests := map[time.Duration]string{
		2 * time.Minute:         "2m",
		90 * time.Second:        "1m30s",
		4 * time.Hour:           "4h",
		90 * time.Minute:        "1h30m",
		time.Hour + time.Second: "1h0m1s",
		1500 * time.Millisecond: "1.5s",
		0:                       "0s",
	}
	for d, want := range tests {
		if got := Duration(d).String(); got != want {
			t.Errorf("Duration(%v).String() = %q, want %q", d, got, want)
		}
	}
}

func TestDurationMarshal(t *testing.T) {
	type box struct {
		D Duration `yaml:"d" json:"d"`
	}
	in := box{Duration(2 * time.Minute)}
	y, err := yaml.Marshal(in)
	if err != nil || string(y) != "d: 2m\n" {
		t.Fatalf("yaml = %q, %v", y, err)
	}
	var out box
	if err := yaml.Unmarshal([]byte("d: 1d\n"), &out); err != nil || out.D.D() != 24*time.Hour {
		t.Fatalf("yaml unmarshal = %v, %v", out.D, err)
	}
	j, err := json.Marshal(in)
	if err != nil || string(j) != `{"d":"2m"}` {
		t.Fatalf("json = %s, %v", j, err)
	}
	if err := json.Unmarshal([]byte(`{"d":"90s"}`), &out); err != nil || out.D.D() != 90*time.Second {
		t.Fatalf("json unmarshal = %v, %v", out.D, err)
	}
	for _, bad := range []string{`{"d":5}`, `{"d":"five"}`} {
		if err := json.Unmarshal([]byte(bad), &out); err == nil {
			t.Errorf("json unmarshal %s succeeded", bad)
		}
	}
}

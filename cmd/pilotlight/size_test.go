package main

import "testing"

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  bool
	}{
		{"0", 0, false},
		{"1024", 1024, false},
		{"64MiB", 64 << 20, false},
		{"5 MiB", 5 << 20, false},
		{"16MB", 16e6, false},
		{"1GiB", 1 << 30, false},
		{"10B", 10, false},
		{"", 0, true},
		{"-1", 0, true},
		{"1.5MiB", 0, true},
		{"12XB", 0, true},
		{"9999999999GiB", 0, true},
	}
	for _, tt := range tests {
		got, err := parseSize(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d, err=%v", tt.in, got, err, tt.want, tt.err)
		}
	}
	s := sizeFlag(64 << 20)
	if s.String() != "64MiB" {
		t.Errorf("String() = %q", s.String())
	}
}

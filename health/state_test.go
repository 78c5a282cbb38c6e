package health

import (
	"reflect"
	"testing"
)

func TestTracker(t *testing.T) {
	type step struct {
		from, to State
		at       int // index of the observation that caused it
	}
	tests := []struct {
		name       string
		initial    State
		fail, pass int
		seq        string // p = pass, f = fail
		want       []step
	}{
		{"unknown to healthy after pass threshold", Unknown, 3, 2, "pp", []step{{Unknown, Healthy, 1}}},
		{"unknown to unhealthy after failure threshold", Unknown, 3, 2, "fff", []step{{Unknown, Unhealthy, 2}}},
		{"mixed stays unknown", Unknown, 3, 2, "pfpffpf", nil},
		{"healthy tolerates failures below threshold", Healthy, 3, 2, "ffpffpff", nil},
		{"healthy to unhealthy and back", Healthy, 3, 2, "fffpfppp", []step{{Healthy, Unhealthy, 2}, {Unhealthy, Healthy, 6}}},
		{"flapping unhealthy target stays unhealthy", Unhealthy, 3, 2, "pfpfpf", nil},
		{"threshold one flips every change", Healthy, 1, 1, "fpf", []step{{Healthy, Unhealthy, 0}, {Unhealthy, Healthy, 1}, {Healthy, Unhealthy, 2}}},
		{"zero thresholds take defaults", Unknown, 0, 0, "pffff", []step{{Unknown, Unhealthy, 3}}},
		{"no repeated transition on long streak", Unknown, 2, 2, "pppppp", []step{{Unknown, Healthy, 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := NewTracker(tt.initial, tt.fail, tt.pass)
			var got []step
			for i, c := range tt.seq {
				from, changed := tr.Observe(c == 'p')
				if changed {
					got = append(got, step{from, tr.State(), i})
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("transitions = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestStateString(t *testing.T) {
	for s, want := range map[State]string{Unknown: "unknown", Healthy: "healthy", Unhealthy: "unhealthy", State(7): "state(7)"} {
		if got := s.String(); got != want {
			t.Errorf("State(%d).String() = %q, want %q", int32(s), got, want)
		}
	}
}

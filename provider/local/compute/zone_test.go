package compute

import (
	"testing"
	"time"
)

// Every zone down is an outage, not a crash loop: nothing is launched, no
// backoff builds up, and the group refills as soon as a zone is back.
func TestAllZonesDownWaitsWithoutBackoff(t *testing.T) {
	h := start(t, testConfig(t, "serve", 2))
	h.waitRunning(2)
	for _, z := range h.g.cfg.Zones {
		h.g.SetZoneDown(z, true)
	}
	for _, z := range h.g.cfg.Zones {
		h.g.KillZone(z)
	}
	h.waitFor(10*time.Second, "every instance gone", func() bool { return len(h.running()) == 0 })
	// Give the supervision loop time to (wrongly) launch or back off.
	time.Sleep(300 * time.Millisecond)
	st := h.g.Status()
	if st.State == GroupBackoff || st.Backoff != 0 || st.LastError != "" {
		t.Errorf("status with every zone down = %+v, want no backoff and no error", st)
	}
	for _, in := range h.g.Instances() {
		if in.State != StateExited {
			t.Errorf("instance %s %s while every zone is down", in.ID, in.State)
		}
	}
	h.g.SetZoneDown(h.g.cfg.Zones[1], false)
	for _, in := range h.waitRunning(2) {
		if in.Zone != h.g.cfg.Zones[1] {
			t.Errorf("%s launched in down zone %s", in.ID, in.Zone)
		}
	}
}

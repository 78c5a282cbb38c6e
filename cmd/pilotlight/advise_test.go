package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestAdviseCommand(t *testing.T) {
	out, errOut, code := run(t, "advise", "-f", "../../examples/ticketing/pilotlight.yaml")
	if code != 0 || !strings.Contains(out, "Recommendation: warm-standby") || !strings.Contains(out, "pilot-light") {
		t.Fatalf("advise = %d\n%s\n%s", code, out, errOut)
	}
	out, errOut, code = run(t, "advise", "-f", "../../examples/ticketing/pilotlight.yaml", "-o", "json",
		"--prices", "../../advise/prices.yaml", "--model", "../../provider/sim/model.yaml")
	var r struct {
		Recommendation string `json:"recommendation"`
		Options        []struct {
			Strategy string `json:"strategy"`
		} `json:"options"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &r) != nil || r.Recommendation != "warm-standby" || len(r.Options) != 4 {
		t.Fatalf("advise -o json = %d %+v\n%s\n%s", code, r, out, errOut)
	}
	if _, errOut, code = run(t, "advise", "-f", "../../examples/ticketing/pilotlight.yaml", "--prices", "testdata/nope.yaml"); code != 1 || !strings.Contains(errOut, "nope.yaml") {
		t.Errorf("advise with a missing price file = %d %s", code, errOut)
	}
}

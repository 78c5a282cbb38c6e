package plan

import (
	"fmt"
	"net/url"
)

// Stage is a stage of a recovery runbook, after which a hook runs.
type Stage string

// Stages of a recovery runbook, in order.
const (
	StagePrepare Stage = "prepare"
	StageData    Stage = "data"
	StageCompute Stage = "compute"
	StageDNS     Stage = "dns"
	StageVerify  Stage = "verify"
)

// Stages lists every valid stage.
var Stages = []Stage{StagePrepare, StageData, StageCompute, StageDNS, StageVerify}

// Hook is a command or a webhook that a recovery runbook runs at the end of
// a stage, such as flushing a cache once data is promoted or paging a team
// once DNS moved. A failing hook pauses the run like any failed step.
type Hook struct {
	// Name of the hook: unique, lowercase letters, digits and hyphens; it
	// names the runbook step ("hook-NAME"). Required.
	Name string `yaml:"name" json:"name" jsonschema:"required,pattern=^[a-z0-9-]+$,maxLength=63"`
	// After is the stage the hook follows: prepare, data, compute, dns or
	// verify (default verify).
	After Stage `yaml:"after,omitempty" json:"after,omitempty"`
	// On lists the runbooks that run the hook: failover, failback (default
	// both).
	On []string `yaml:"on,omitempty" json:"on,omitempty"`
	// Command runs a program (argv) on the machine running pilotlight, with
	// PILOTLIGHT_RUN_ID and PILOTLIGHT_STEP_KEY (an idempotency key) in its
	// environment; a non-zero exit fails the step. One of command or
	// webhook.
	Command []string `yaml:"command,omitempty" json:"command,omitempty"`
	// Webhook is an http or https URL that receives a POST with the run,
	// step and idempotency key as JSON (header Idempotency-Key); 2xx is
	// success, 429 and 5xx are retried. One of command or webhook.
	Webhook string `yaml:"webhook,omitempty" json:"webhook,omitempty"`
}

func (h *Hook) setDefaults() {
	if h.After == "" {
		h.After = StageVerify
	}
	if len(h.On) == 0 {
		h.On = []string{"failover", "failback"}
	}
}

// Runs reports whether the hook runs in the runbook of direction
// ("failover" or "failback").
func (h Hook) Runs(direction string) bool {
	for _, d := range h.On {
		if d == direction {
			return true
		}
	}
	return false
}

func (v *validator) hooks(hs []Hook) {
	seen := map[string]int{}
	for i := range hs {
		h := &hs[i]
		path := fmt.Sprintf("hooks[%d]", i)
		v.label(path+".name", h.Name)
		if j, dup := seen[h.Name]; dup && h.Name != "" {
			v.add(path+".name", "duplicate hook %q (also hooks[%d])", h.Name, j)
		} else if h.Name != "" {
			seen[h.Name] = i
		}
		oneOf(v, path+".after", h.After, Stages)
		for j, d := range h.On {
			if d != "failover" && d != "failback" {
				v.add(fmt.Sprintf("%s.on[%d]", path, j), "must be failover or failback, got %q", d)
			}
		}
		switch {
		case len(h.Command) > 0 && h.Webhook != "":
			v.add(path, "give either command or webhook, not both")
		case len(h.Command) == 0 && h.Webhook == "":
			v.add(path, "give a command or a webhook")
		case len(h.Command) > 0 && h.Command[0] == "":
			v.add(path+".command[0]", "required")
		case h.Webhook != "":
			if u, err := url.Parse(h.Webhook); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				v.add(path+".webhook", "must be an http or https URL, got %q", h.Webhook)
			}
		}
	}
}

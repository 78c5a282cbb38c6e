// Package readiness answers "would a failover succeed now, and if not,
// why not?" (`pilotlight readiness`). A readiness check examines one
// condition of a plan — a recovery point younger than the RPO, an image in
// the recovery region, a network, a quota, a permission, a DNS record —
// and reports, per subject, pass, fail, warn or skip with a reason that
// says what is wrong and what to do. Run executes checks concurrently with
// bounded parallelism and gathers a Report; a plan is ready when no check
// fails (warnings do not fail it).
//
// The checks that need a cloud are built by the providers (such as
// provider/aws's Readiness); this package holds the runner, the report and
// its writers, and the provider-independent checks (Routing, Buckets).
package readiness

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"
	"sync"
	"time"
)

// Status is the verdict of one check on one subject.
type Status string

// Statuses, from best to worst.
const (
	// Pass: the condition holds.
	Pass Status = "pass"
	// Skip: the condition could not be checked here (not applicable, or
	// not implemented for the provider); the reason says which.
	Skip Status = "skip"
	// Warn: the condition holds only partly (such as only after an
	// instance-type fallback); a failover would still succeed.
	Warn Status = "warn"
	// Fail: a failover would not succeed, or the check could not run.
	Fail Status = "fail"
)

// Result is one verdict: check ID, subject, status and reason.
type Result struct {
	// Check is the ID of the check, such as recovery-point.
	Check string `json:"check"`
	// Subject is the resource examined, such as volume vol-1.
	Subject string `json:"subject"`
	// Status is pass, fail, warn or skip.
	Status Status `json:"status"`
	// Reason says why, and for a failure what to do.
	Reason string `json:"reason"`
}

// Check is one readiness condition. Run returns the verdicts for every
// subject it examined; an error (such as an API call that failed after
// its retries) becomes one failed result with the error as the reason. Run
// must return when ctx is cancelled; a panic in Run is recovered and
// reported as a failure.
type Check struct {
	// ID names the check (results without a Check get it).
	ID string
	// Subject is what the check is about (results without a Subject get
	// it, and so does the failure of an error).
	Subject string
	// Run examines the condition.
	Run func(ctx context.Context) ([]Result, error)
}

// Report is the outcome of a readiness run.
type Report struct {
	// Plan is the plan's name.
	Plan string `json:"plan"`
	// Time is when the run started.
	Time time.Time `json:"time"`
	// Ready is true when no result failed.
	Ready bool `json:"ready"`
	// Counts are the number of results by status.
	Counts map[Status]int `json:"counts"`
	// Results are in the order of the checks, each check's in the order it
	// returned them.
	Results []Result `json:"results"`
}

// DefaultParallel is how many checks Run runs at once by default.
const DefaultParallel = 8

// Run runs checks, at most parallel at once (DefaultParallel when < 1),
// and returns their report for plan, stamped with now. A check not started
// because ctx was cancelled fails with the context's error.
func Run(ctx context.Context, planName string, now time.Time, checks []Check, parallel int) Report {
	if parallel < 1 {
		parallel = DefaultParallel
	}
	out := make([][]Result, len(checks))
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i, c := range checks {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			out[i] = []Result{{Check: c.ID, Subject: c.Subject, Status: Fail, Reason: "not run: " + ctx.Err().Error()}}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			out[i] = runOne(ctx, c)
		}()
	}
	wg.Wait()
	rep := Report{Plan: planName, Time: now, Counts: map[Status]int{Pass: 0, Fail: 0, Warn: 0, Skip: 0}}
	for _, rs := range out {
		rep.Results = append(rep.Results, rs...)
	}
	for _, r := range rep.Results {
		rep.Counts[r.Status]++
	}
	rep.Ready = rep.Counts[Fail] == 0
	return rep
}

// runOne runs c, turning its error or panic into a failure and filling in
// the check ID and subject.
func runOne(ctx context.Context, c Check) (rs []Result) {
	defer func() {
		if v := recover(); v != nil {
			stack := strings.SplitN(string(debug.Stack()), "\n", 8)
			rs = []Result{{Check: c.ID, Subject: c.Subject, Status: Fail,
				Reason: fmt.Sprintf("readiness: check %s panicked: %v (%s)", c.ID, v, strings.TrimSpace(stack[len(stack)-2]))}}
		}
	}()
	if c.Run == nil {
		return []Result{{Check: c.ID, Subject: c.Subject, Status: Skip, Reason: "not implemented"}}
	}
	rs, err := c.Run(ctx)
	if err != nil {
		rs = append(rs, Result{Status: Fail, Reason: err.Error()})
	}
	for i := range rs {
		if rs[i].Check == "" {
			rs[i].Check = c.ID
		}
		if rs[i].Subject == "" {
			rs[i].Subject = c.Subject
		}
		if rs[i].Status == "" {
			rs[i].Status = Fail
		}
	}
	return rs
}

// Skipped returns a check that reports subject skipped for reason: for
// conditions that do not apply to a plan or its provider.
func Skipped(id, subject, reason string) Check {
	return Check{ID: id, Subject: subject, Run: func(context.Context) ([]Result, error) {
		return []Result{{Status: Skip, Reason: reason}}, nil
	}}
}

// Passf, Failf, Warnf and Skipf build a result of check id on subject with
// a formatted reason.
func Passf(id, subject, format string, args ...any) Result {
	return Result{Check: id, Subject: subject, Status: Pass, Reason: fmt.Sprintf(format, args...)}
}

// Failf builds a failed result; see Passf.
func Failf(id, subject, format string, args ...any) Result {
	return Result{Check: id, Subject: subject, Status: Fail, Reason: fmt.Sprintf(format, args...)}
}

// Warnf builds a warning; see Passf.
func Warnf(id, subject, format string, args ...any) Result {
	return Result{Check: id, Subject: subject, Status: Warn, Reason: fmt.Sprintf(format, args...)}
}

// Skipf builds a skipped result; see Passf.
func Skipf(id, subject, format string, args ...any) Result {
	return Result{Check: id, Subject: subject, Status: Skip, Reason: fmt.Sprintf(format, args...)}
}

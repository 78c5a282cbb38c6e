package runbook

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Approver asks whether a step may go ahead. It returns false to deny, and
// must return when ctx is cancelled.
type Approver func(ctx context.Context, prompt string) (bool, error)

// AutoApprove approves every prompt without asking (the --approve flag).
func AutoApprove(ctx context.Context, prompt string) (bool, error) { return true, ctx.Err() }

// PromptApprover asks on out ("prompt [y/N] ") and reads the answer, a line,
// from in: "y" or "yes" (any case) approves, anything else denies, the end of
// in is an error. Prompts of concurrent steps are asked one at a time. Lines
// are read by one goroutine, so that a cancelled prompt returns at once; it
// ends when in returns an error or EOF and every line read was answered.
func PromptApprover(in io.Reader, out io.Writer) Approver {
	p := &prompter{in: in, out: out}
	return p.ask
}

type prompter struct {
	in    io.Reader
	out   io.Writer
	ask1  sync.Mutex // one prompt at a time
	once  sync.Once
	lines chan string // closed when in ends
}

func (p *prompter) read() {
	defer close(p.lines)
	br := bufio.NewReader(p.in)
	for {
		s, err := br.ReadString('\n')
		if s != "" {
			p.lines <- s
		}
		if err != nil {
			return
		}
	}
}

func (p *prompter) ask(ctx context.Context, prompt string) (bool, error) {
	p.ask1.Lock()
	defer p.ask1.Unlock()
	p.once.Do(func() {
		p.lines = make(chan string)
		go p.read()
	})
	if _, err := fmt.Fprintf(p.out, "%s [y/N] ", prompt); err != nil {
		return false, fmt.Errorf("runbook: approval prompt: %w", err)
	}
	select {
	case line, ok := <-p.lines:
		if !ok {
			return false, fmt.Errorf("runbook: approval prompt: no answer: %w", io.EOF)
		}
		switch strings.ToLower(strings.TrimSpace(line)) {
		case "y", "yes":
			return true, nil
		}
		return false, nil
	case <-ctx.Done():
		fmt.Fprintln(p.out)
		return false, ctx.Err()
	}
}

// ErrDenied is wrapped by the error of a denied Approval step.
var ErrDenied = errors.New("not approved")

// Approval returns a step that asks approve before the steps that depend on
// it go ahead. A denial is a Fatal error wrapping ErrDenied. The step
// changes nothing, so it is not mutating.
func Approval(id string, tier int, prompt string, approve Approver) Step {
	return Step{
		ID: id, Tier: tier, Describe: "approval: " + prompt,
		Run: func(ctx context.Context, sc *StepContext) (Output, error) {
			ok, err := approve(ctx, prompt)
			if err != nil {
				return nil, fmt.Errorf("runbook: approval %s: %w", id, err)
			}
			if !ok {
				return nil, Fatal(fmt.Errorf("runbook: approval %s: %w", id, ErrDenied))
			}
			return Output{"approved": "true"}, nil
		},
	}
}

// WaitFor returns a step that calls cond every interval, on the engine's
// clock, until it reports true or timeout has passed since the first call.
// cond's detail string describes the state it saw ("2/3 targets healthy");
// the output records the last one ("detail") and the seconds waited
// ("waited"). A timeout is a Transient error (the engine retries the wait
// with backoff); an error from cond ends the step with that error.
func WaitFor(id string, tier int, describe string, cond func(ctx context.Context) (bool, string, error), interval, timeout time.Duration) Step {
	if interval <= 0 {
		interval = time.Second
	}
	return Step{
		ID: id, Tier: tier, Describe: describe,
		Run: func(ctx context.Context, sc *StepContext) (Output, error) {
			clock := sc.Clock()
			if clock == nil {
				clock = realClock{}
			}
			start := clock.Now()
			for {
				ok, detail, err := cond(ctx)
				if err != nil {
					return nil, fmt.Errorf("runbook: wait %s: %w", id, err)
				}
				waited := clock.Now().Sub(start)
				if ok {
					return Output{"detail": detail, "waited": strconv.FormatFloat(waited.Seconds(), 'f', 1, 64)}, nil
				}
				if waited >= timeout {
					return nil, Transient(fmt.Errorf("runbook: wait %s: timed out after %s: %s", id, timeout, detail))
				}
				select {
				case <-clock.After(min(interval, timeout-waited)):
				case <-ctx.Done():
					return nil, ctx.Err()
				}
			}
		},
	}
}

package runbook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// commandTail is how much of a command's combined output a Command step keeps.
const commandTail = 4 << 10

// commandWaitDelay bounds the wait for a killed command's output pipes.
const commandWaitDelay = 2 * time.Second

// Command returns a step that runs argv (no shell) in its own process group,
// with the environment of pilotlight plus env plus PILOTLIGHT_RUN_ID and
// PILOTLIGHT_STEP_KEY (the idempotency key, for the command to pass on).
// Cancelling the run kills the whole group. The output has "exitCode" and
// "output", the last 4 KiB of stdout and stderr interleaved. A non-zero exit
// is a Fatal error naming the exit status and the last line of output. The
// step is mutating.
func Command(id string, tier int, argv []string, env []string) Step {
	return Step{
		ID: id, Tier: tier, Mutating: true, Describe: "run " + strings.Join(argv, " "),
		Run: func(ctx context.Context, sc *StepContext) (Output, error) {
			if len(argv) == 0 {
				return nil, Fatal(fmt.Errorf("runbook: command %s: empty argv", id))
			}
			cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
			cmd.Env = append(append(os.Environ(), env...),
				"PILOTLIGHT_RUN_ID="+sc.RunID(), "PILOTLIGHT_STEP_KEY="+sc.Key())
			tail := &tailBuffer{max: commandTail}
			cmd.Stdout, cmd.Stderr = tail, tail
			cmd.WaitDelay = commandWaitDelay
			processGroup(cmd)
			err := cmd.Run()
			// ExitCode is -1 when the command did not start or was killed.
			out := Output{"exitCode": strconv.Itoa(cmd.ProcessState.ExitCode()), "output": tail.String()}
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			var exit *exec.ExitError
			switch {
			case errors.As(err, &exit):
				return out, Fatal(fmt.Errorf("runbook: command %s: %s: %w%s", id, argv[0], err, lastLine(out["output"])))
			case err != nil:
				return nil, Fatal(fmt.Errorf("runbook: command %s: %w", id, err))
			}
			return out, nil
		},
	}
}

// lastLine returns ": " and the last non-empty line of s, or "".
func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if s == "" {
		return ""
	}
	return ": " + s
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// webhookTimeout bounds one webhook call.
const webhookTimeout = 10 * time.Second

// webhookBody is what a Webhook step posts.
type webhookBody struct {
	Run     string            `json:"run"`
	Step    string            `json:"step"`
	Key     string            `json:"key"`
	Payload map[string]string `json:"payload,omitempty"`
}

// Webhook returns a step that POSTs {"run","step","key","payload"} as JSON
// to url with the header "Idempotency-Key: <key>", the step's idempotency
// key, within 10s. A 2xx answer succeeds (the output has "status"); 429 is
// Throttled, 5xx, a timeout or a connection error is Transient, and any
// other status is Fatal. The step is mutating.
func Webhook(id string, tier int, url string, payload map[string]string) Step {
	return Step{
		ID: id, Tier: tier, Mutating: true, Describe: "POST " + url,
		Run: func(ctx context.Context, sc *StepContext) (Output, error) {
			body, err := json.Marshal(webhookBody{Run: sc.RunID(), Step: sc.StepID(), Key: sc.Key(), Payload: payload})
			if err != nil {
				return nil, Fatal(fmt.Errorf("runbook: webhook %s: %w", id, err))
			}
			cctx, cancel := context.WithTimeout(ctx, webhookTimeout)
			defer cancel()
			req, err := http.NewRequestWithContext(cctx, http.MethodPost, url, bytes.NewReader(body))
			if err != nil {
				return nil, Fatal(fmt.Errorf("runbook: webhook %s: %w", id, err))
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", sc.Key())
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				return nil, Transient(fmt.Errorf("runbook: webhook %s: %w", id, err))
			}
			defer resp.Body.Close()
			msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
			if resp.StatusCode >= 200 && resp.StatusCode < 300 {
				return Output{"status": strconv.Itoa(resp.StatusCode)}, nil
			}
			err = fmt.Errorf("runbook: webhook %s: POST %s: %s%s", id, url, resp.Status, lastLine(string(msg)))
			switch {
			case resp.StatusCode == http.StatusTooManyRequests:
				return nil, Throttled(err)
			case resp.StatusCode >= 500:
				return nil, Transient(err)
			}
			return nil, Fatal(err)
		},
	}
}

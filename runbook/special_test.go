package runbook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// runOne runs a single step through an engine (one attempt) and returns
// its result and error.
func runOne(t *testing.T, ctx context.Context, s Step, clk Clock) (StepResult, error) {
	t.Helper()
	e := mustEngine(t, Options{Clock: clk, Backoff: Backoff{Attempts: 1}})
	res, err := e.Run(ctx, Runbook{Name: "rb", Steps: []Step{s}}, "run-1")
	sr, _ := res.Step(s.ID)
	return sr, err
}

func TestApproval(t *testing.T) {
	deny := func(context.Context, string) (bool, error) { return false, nil }
	broken := func(context.Context, string) (bool, error) { return false, errors.New("tty gone") }
	tests := []struct {
		name      string
		approve   Approver
		input     string
		wantOK    bool
		wantErrIs error
		wantText  string
	}{
		{name: "auto", approve: AutoApprove, wantOK: true},
		{name: "denied", approve: deny, wantErrIs: ErrDenied, wantText: "not approved"},
		{name: "approver error", approve: broken, wantText: "tty gone"},
		{name: "prompt yes", input: "yes\n", wantOK: true},
		{name: "prompt Y", input: " Y \n", wantOK: true},
		{name: "prompt no", input: "n\n", wantErrIs: ErrDenied},
		{name: "prompt empty line", input: "\n", wantErrIs: ErrDenied},
		{name: "prompt eof", input: "", wantErrIs: io.EOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			approve := tt.approve
			if approve == nil {
				approve = PromptApprover(strings.NewReader(tt.input), &out)
			}
			s := Approval("gate", 0, "fail over to virginia?", approve)
			if s.Mutating {
				t.Error("approval is mutating")
			}
			sr, err := runOne(t, context.Background(), s, nil)
			if tt.wantOK {
				if err != nil || sr.Output["approved"] != "true" {
					t.Fatalf("result %+v, %v", sr, err)
				}
			} else {
				if err == nil || Classify(err) != ClassFatal {
					t.Fatalf("error %v (class %v), want fatal", err, Classify(err))
				}
				if tt.wantErrIs != nil && !errors.Is(err, tt.wantErrIs) {
					t.Fatalf("error %v, want %v", err, tt.wantErrIs)
				}
				if !strings.Contains(err.Error(), tt.wantText) {
					t.Fatalf("error %v, want %q", err, tt.wantText)
				}
			}
			if tt.approve == nil && out.String() != "fail over to virginia? [y/N] " {
				t.Fatalf("prompt %q", out.String())
			}
		})
	}
}

func TestPromptApproverHonoursContext(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	approve := PromptApprover(pr, io.Discard)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := approve(ctx, "go?"); done <- err }()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("prompt ignored cancellation")
	}
	// The next prompt still reads the next line.
	go func() { _, _ = io.WriteString(pw, "y\n") }()
	if ok, err := approve(context.Background(), "go?"); !ok || err != nil {
		t.Fatalf("second prompt: %v, %v", ok, err)
	}
}

func TestWaitFor(t *testing.T) {
	tests := []struct {
		name       string
		okOnCall   int // 0: never
		timeout    time.Duration
		wantCalls  int
		wantWaited string
		wantClass  Class
		wantErr    bool
	}{
		{"ready at once", 1, time.Minute, 1, "0.0", 0, false},
		{"ready on third poll", 3, time.Minute, 3, "10.0", 0, false},
		{"times out", 0, 12 * time.Second, 4, "", ClassTransient, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newFakeClock()
			calls := 0
			cond := func(context.Context) (bool, string, error) {
				calls++
				return calls == tt.okOnCall, fmt.Sprintf("%d/3 healthy", calls), nil
			}
			s := WaitFor("lb-healthy", 1, "wait for targets", cond, 5*time.Second, tt.timeout)
			sr, err := runOne(t, context.Background(), s, clk)
			if calls != tt.wantCalls || (err != nil) != tt.wantErr {
				t.Fatalf("calls %d, err %v", calls, err)
			}
			if tt.wantErr {
				if Classify(err) != tt.wantClass || !strings.Contains(err.Error(), "4/3 healthy") {
					t.Fatalf("error %v (class %v)", err, Classify(err))
				}
				// 5s + 5s + 2s (capped at the timeout): waits in virtual time.
				if w := clk.Waits(); len(w) != 3 || w[2] != 2*time.Second {
					t.Fatalf("waits %v", w)
				}
				return
			}
			if sr.Output["waited"] != tt.wantWaited || sr.Output["detail"] != fmt.Sprintf("%d/3 healthy", tt.okOnCall) {
				t.Fatalf("output %v", sr.Output)
			}
		})
	}
	t.Run("cond error", func(t *testing.T) {
		s := WaitFor("w", 0, "", func(context.Context) (bool, string, error) {
			return false, "", NotFound(errors.New("no such target group"))
		}, time.Second, time.Minute)
		if _, err := runOne(t, context.Background(), s, newFakeClock()); Classify(err) != ClassNotFound {
			t.Fatalf("err %v", err)
		}
	})
}

func TestCommand(t *testing.T) {
	key := StepKey("rb", "run-1", "cmd")
	tests := []struct {
		name     string
		script   string
		wantExit string
		wantOut  string
		wantErr  bool
	}{
		{"env and output", `echo "run=$PILOTLIGHT_RUN_ID key=$PILOTLIGHT_STEP_KEY extra=$EXTRA"; echo oops >&2`, "0",
			"run=run-1 key=" + key + " extra=1\noops\n", false},
		{"non-zero exit", `echo "cannot promote replica" >&2; exit 3`, "3", "cannot promote replica\n", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Command("cmd", 0, []string{"sh", "-c", tt.script}, []string{"EXTRA=1"})
			if !s.Mutating {
				t.Error("command not mutating")
			}
			sr, err := runOne(t, context.Background(), s, nil)
			if tt.wantErr {
				// The engine keeps no output of a failed step: the error says it all.
				if Classify(err) != ClassFatal || !strings.Contains(err.Error(), "exit status "+tt.wantExit) ||
					!strings.Contains(err.Error(), strings.TrimSpace(tt.wantOut)) {
					t.Fatalf("error %v", err)
				}
				return
			}
			if err != nil || sr.Output["exitCode"] != tt.wantExit || sr.Output["output"] != tt.wantOut {
				t.Fatalf("output %q, err %v", sr.Output, err)
			}
		})
	}
	t.Run("tail of long output", func(t *testing.T) {
		s := Command("cmd", 0, []string{"sh", "-c", `i=0; while [ $i -lt 1000 ]; do echo "line $i"; i=$((i+1)); done`}, nil)
		sr, err := runOne(t, context.Background(), s, nil)
		out := sr.Output["output"]
		if err != nil || len(out) != commandTail || !strings.HasSuffix(out, "line 999\n") {
			t.Fatalf("len %d, suffix %q, err %v", len(out), out[max(0, len(out)-20):], err)
		}
	})
	t.Run("missing binary", func(t *testing.T) {
		s := Command("cmd", 0, []string{"/nonexistent/pilotlight-test"}, nil)
		if _, err := runOne(t, context.Background(), s, nil); Classify(err) != ClassFatal {
			t.Fatalf("err %v", err)
		}
	})
}

func TestWebhook(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		wantErr   bool
		wantClass Class
	}{
		{"ok", http.StatusOK, false, 0},
		{"accepted", http.StatusAccepted, false, 0},
		{"throttled", http.StatusTooManyRequests, true, ClassThrottled},
		{"server error", http.StatusBadGateway, true, ClassTransient},
		{"bad request", http.StatusBadRequest, true, ClassFatal},
		{"not found", http.StatusNotFound, true, ClassFatal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var got webhookBody
			var header, ctype string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				defer mu.Unlock()
				header, ctype = r.Header.Get("Idempotency-Key"), r.Header.Get("Content-Type")
				if r.Method != http.MethodPost || json.NewDecoder(r.Body).Decode(&got) != nil {
					w.WriteHeader(http.StatusTeapot)
					return
				}
				w.WriteHeader(tt.status)
				fmt.Fprint(w, "slow down")
			}))
			defer srv.Close()
			s := Webhook("notify", 0, srv.URL, map[string]string{"region": "virginia"})
			if !s.Mutating {
				t.Error("webhook not mutating")
			}
			sr, err := runOne(t, context.Background(), s, newFakeClock())
			if (err != nil) != tt.wantErr {
				t.Fatalf("err %v", err)
			}
			if tt.wantErr && Classify(err) != tt.wantClass {
				t.Fatalf("class of %v = %v, want %v", err, Classify(err), tt.wantClass)
			}
			if !tt.wantErr && sr.Output["status"] != strconv.Itoa(tt.status) {
				t.Fatalf("output %v", sr.Output)
			}
			mu.Lock()
			defer mu.Unlock()
			key := StepKey("rb", "run-1", "notify")
			want := webhookBody{Run: "run-1", Step: "notify", Key: key, Payload: map[string]string{"region": "virginia"}}
			if header != key || ctype != "application/json" || fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("server saw key %q type %q body %+v", header, ctype, got)
			}
		})
	}
	t.Run("connection refused", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		_, err = runOne(t, context.Background(), Webhook("notify", 0, "http://"+addr+"/", nil), newFakeClock())
		if Classify(err) != ClassTransient {
			t.Fatalf("err %v (class %v)", err, Classify(err))
		}
	})
}

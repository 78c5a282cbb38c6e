package aws

import "sync"

// callLog is what the SDK-level fakes share: the mutex that guards the
// whole fake, the calls recorded and the error codes to answer next.
type callLog struct {
	mu    sync.Mutex
	calls []call
	fail  map[string][]string // op → error codes of its next calls
}

// failNext makes the next calls of op fail with codes, in order.
func (l *callLog) failNext(op string, codes ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fail == nil {
		l.fail = map[string][]string{}
	}
	l.fail[op] = append(l.fail[op], codes...)
}

// record logs a call of op (as logged, such as "region:op") with input
// in, and returns the next injected failure of failKey, if any. l.mu is
// held.
func (l *callLog) record(logged, failKey string, in any) error {
	l.calls = append(l.calls, call{Op: logged, In: in})
	if q := l.fail[failKey]; len(q) > 0 {
		l.fail[failKey] = q[1:]
		return apiErr(q[0])
	}
	return nil
}

// count returns the calls of op.
func (l *callLog) count(op string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, c := range l.calls {
		if c.Op == op {
			n++
		}
	}
	return n
}

// loggedInputs returns the recorded inputs of op.
func loggedInputs[T any](l *callLog, op string) []T {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []T
	for _, c := range l.calls {
		if c.Op == op {
			out = append(out, c.In.(T))
		}
	}
	return out
}

package runbook

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

// readRecords parses every line of a journal, failing on any bad line.
func readRecords(t *testing.T, path string) []record {
	t.Helper()
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var recs []record
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("journal line %q: %v", sc.Text(), err)
		}
		recs = append(recs, r)
	}
	return recs
}

func writeJournal(t *testing.T, path string, recs []record, tail string) {
	t.Helper()
	var b strings.Builder
	for _, r := range recs {
		line, _ := json.Marshal(r)
		b.Write(line)
		b.WriteByte('\n')
	}
	b.WriteString(tail)
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestJournalSyncedAroundMutatingStep(t *testing.T) {
	path := t.TempDir() + "/run.jsonl"
	var during []record
	rb := Runbook{Name: "rb", Steps: []Step{{ID: "launch", Mutating: true, Run: func(_ context.Context, sc *StepContext) (Output, error) {
		during = readRecords(t, path)
		return Output{"id": "i-1"}, nil
	}}}}
	if _, err := mustEngine(t, Options{Journal: path}).Run(context.Background(), rb, "r1"); err != nil {
		t.Fatal(err)
	}
	key := StepKey("rb", "r1", "launch")
	if len(during) != 1 || during[0].Event != eventStart || during[0].Key != key || during[0].Attempt != 1 {
		t.Fatalf("journal while running: %+v", during)
	}
	after := readRecords(t, path)
	if len(after) != 2 || after[1].Event != eventDone || after[1].Output["id"] != "i-1" {
		t.Fatalf("journal after: %+v", after)
	}
}

func TestResume(t *testing.T) {
	tests := []struct {
		name string
		tail string // appended after the records: a torn write
	}{
		{"clean", ""},
		{"torn last line", `{"time":"2026-01-01T00:00:00Z","run":"r1","step":"c","ev`},
		{"torn last line with newline", "{\"run\":\"r1\",\"step\":\"c\",\"event\":\"do\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := t.TempDir() + "/run.jsonl"
			now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			writeJournal(t, path, []record{
				{Time: now, Run: "r1", Step: "a", Event: eventStart, Key: StepKey("rb", "r1", "a"), Attempt: 1},
				{Time: now, Run: "r1", Step: "a", Event: eventDone, Key: StepKey("rb", "r1", "a"), Attempt: 1, Output: Output{"ip": "10.0.0.7"}},
				{Time: now, Run: "other", Step: "b", Event: eventDone, Attempt: 1},
				{Time: now, Run: "r1", Step: "b", Event: eventStart, Key: StepKey("rb", "r1", "b"), Attempt: 1},
			}, tt.tail)

			rec := &recorder{}
			var bKey string
			var bAttempt int
			var cInput Output
			rb := Runbook{Name: "rb", Steps: []Step{
				{ID: "a", Mutating: true, Run: func(context.Context, *StepContext) (Output, error) { rec.call("a"); return nil, nil }},
				{ID: "b", Mutating: true, DependsOn: []string{"a"}, Run: func(_ context.Context, sc *StepContext) (Output, error) {
					rec.call("b")
					bKey, bAttempt = sc.Key(), sc.Attempt()
					return Output{"lb": "lb-1"}, nil
				}},
				{ID: "c", Mutating: true, DependsOn: []string{"a", "b"}, Run: func(_ context.Context, sc *StepContext) (Output, error) {
					rec.call("c")
					cInput = sc.Input("a")
					return nil, nil
				}},
			}}
			res, err := mustEngine(t, Options{Journal: path}).Run(context.Background(), rb, "r1")
			if err != nil {
				t.Fatal(err)
			}
			if rec.count("a") != 0 || rec.count("b") != 1 || rec.count("c") != 1 {
				t.Fatalf("calls %v", rec.calls)
			}
			if bKey != StepKey("rb", "r1", "b") || bAttempt != 2 {
				t.Fatalf("b re-run with key %s attempt %d", bKey, bAttempt)
			}
			if cInput["ip"] != "10.0.0.7" {
				t.Fatalf("restored output of a = %v", cInput)
			}
			if s, _ := res.Step("a"); s.State != StateResumed || s.Output["ip"] != "10.0.0.7" {
				t.Fatalf("a = %+v", s)
			}
			// The torn line is gone and the journal is whole again.
			recs := readRecords(t, path)
			if last := recs[len(recs)-1]; last.Step != "c" || last.Event != eventDone {
				t.Fatalf("last record %+v", last)
			}
			// A second resume runs nothing.
			rec2 := &recorder{}
			for i := range rb.Steps {
				id := rb.Steps[i].ID
				rb.Steps[i].Run = func(context.Context, *StepContext) (Output, error) { rec2.call(id); return nil, nil }
			}
			res, err = mustEngine(t, Options{Journal: path}).Run(context.Background(), rb, "r1")
			if err != nil || len(rec2.calls) != 0 {
				t.Fatalf("second resume: err %v, calls %v", err, rec2.calls)
			}
			for _, s := range res.Steps {
				if s.State != StateResumed {
					t.Fatalf("second resume: %+v", s)
				}
			}
		})
	}
}

func TestJournalCorruptMiddleLine(t *testing.T) {
	path := t.TempDir() + "/run.jsonl"
	if err := os.WriteFile(path, []byte("{\"run\":\"r\"}\nnot json\n{\"run\":\"r\"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rb := Runbook{Name: "rb", Steps: []Step{{ID: "a", Run: func(context.Context, *StepContext) (Output, error) { return nil, nil }}}}
	_, err := mustEngine(t, Options{Journal: path}).Run(context.Background(), rb, "r")
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("Run = %v, want a line 2 error", err)
	}
}

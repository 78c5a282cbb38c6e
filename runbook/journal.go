package runbook

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Journal events.
const (
	eventStart  = "start"
	eventDone   = "done"
	eventFailed = "failed"
)

// record is one line of the journal.
type record struct {
	Time    time.Time `json:"time"`
	Run     string    `json:"run"`
	Step    string    `json:"step"`
	Event   string    `json:"event"`
	Key     string    `json:"key,omitempty"`
	Attempt int       `json:"attempt,omitempty"`
	Output  Output    `json:"output,omitempty"`
	Err     string    `json:"err,omitempty"`
}

// journal appends records to a file, each followed by fsync. A mutating step
// gets "start" before each attempt and "done" or "failed" after it; a
// read-only step gets "done" only, so that its output is restored on resume.
// A nil *journal records nothing.
type journal struct {
	mu sync.Mutex
	f  *os.File
}

// stepHistory is what a journal says about one step.
type stepHistory struct {
	last    string // last event
	attempt int    // highest attempt recorded
	output  Output
}

// openJournal reads the journal at path (if any) for runID and opens it for
// appending. A torn last line (crash mid-write) is ignored and cut off so
// that new records start on a fresh line; a corrupt line elsewhere is an
// error. Records of other runs are ignored.
func openJournal(path, runID string) (*journal, map[string]stepHistory, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("runbook: open journal %s: %w", path, err)
	}
	hist, good, err := readJournal(f, runID)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("runbook: read journal %s: %w", path, err)
	}
	if err := f.Truncate(good); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("runbook: truncate journal %s: %w", path, err)
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("runbook: seek journal %s: %w", path, err)
	}
	return &journal{f: f}, hist, nil
}

// readJournal parses r and returns the history per step and the length of
// the well-formed prefix.
func readJournal(r io.Reader, runID string) (map[string]stepHistory, int64, error) {
	hist := map[string]stepHistory{}
	br := bufio.NewReader(r)
	var good int64
	for line := 1; ; line++ {
		b, err := br.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			// A partial line without newline is a torn write: drop it.
			return hist, good, nil
		}
		if err != nil {
			return nil, 0, err
		}
		var rec record
		if jerr := json.Unmarshal(bytes.TrimSpace(b), &rec); jerr != nil {
			if _, perr := br.Peek(1); errors.Is(perr, io.EOF) {
				return hist, good, nil // torn last line that happens to end in newline
			}
			return nil, 0, fmt.Errorf("line %d: %w", line, jerr)
		}
		good += int64(len(b))
		if rec.Run != runID {
			continue
		}
		h := hist[rec.Step]
		h.last = rec.Event
		if rec.Attempt > h.attempt {
			h.attempt = rec.Attempt
		}
		if rec.Event == eventDone {
			h.output = rec.Output
		}
		hist[rec.Step] = h
	}
}

// write appends rec and fsyncs.
func (j *journal) write(rec record) error {
	if j == nil {
		return nil
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("runbook: journal step %s: %w", rec.Step, err)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, err := j.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("runbook: journal step %s: %w", rec.Step, err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("runbook: sync journal step %s: %w", rec.Step, err)
	}
	return nil
}

func (j *journal) close() error {
	if j == nil {
		return nil
	}
	return j.f.Close()
}

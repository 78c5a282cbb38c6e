package gitmirror

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"time"
)

// State is the content of the state file: what was last mirrored, by
// source URL (with any password in it hidden).
type State struct {
	Repositories map[string]*RepoState `json:"repositories"`
}

// RepoState is the mirror state of one repository.
type RepoState struct {
	// Source and Recovery are the repository's URLs, passwords hidden.
	Source   string `json:"source"`
	Recovery string `json:"recovery"`
	// LastGood is when the recovery remote last matched the source.
	LastGood time.Time `json:"lastGood,omitzero"`
	// Refs are the refs of the last good mirror and the object each
	// pointed to, such as refs/heads/main → commit ID.
	Refs map[string]string `json:"refs,omitempty"`
	// LastAttempt is when the last pass over the repository ended, good or
	// not; LastError is why it failed ("" if it did not).
	LastAttempt time.Time `json:"lastAttempt,omitzero"`
	LastError   string    `json:"lastError,omitempty"`
	// Failures counts consecutive failed passes.
	Failures int `json:"consecutiveFailures"`
}

func (r *RepoState) clone() *RepoState {
	c := *r
	c.Refs = maps.Clone(r.Refs)
	return &c
}

// LoadState reads a state file; a missing file is an empty state.
func LoadState(path string) (*State, error) {
	st := &State{Repositories: map[string]*RepoState{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, fmt.Errorf("gitmirror: read state %s: %w", path, err)
	}
	if err := json.Unmarshal(b, st); err != nil {
		return nil, fmt.Errorf("gitmirror: parse state %s: %w", path, err)
	}
	if st.Repositories == nil {
		st.Repositories = map[string]*RepoState{}
	}
	return st, nil
}

// save writes the state atomically: a temporary file, synced, renamed.
func (st *State) save(path string) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("gitmirror: encode state: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("gitmirror: write state %s: %w", path, err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".state-*")
	if err != nil {
		return fmt.Errorf("gitmirror: write state %s: %w", path, err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("gitmirror: write state %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("gitmirror: write state %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("gitmirror: write state %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("gitmirror: write state %s: %w", path, err)
	}
	return nil
}

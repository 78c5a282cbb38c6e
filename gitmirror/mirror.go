package gitmirror

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pilotlight/pilotlight/plan"
)

// Repo is one repository to mirror.
type Repo struct {
	// Source is the git URL mirrored from.
	Source string `json:"source"`
	// Recovery is the git URL of the recovery remote mirrored to.
	Recovery string `json:"recovery"`
}

// FromPlan returns the repositories of a plan's data.repositories, which
// must name their recovery remote.
func FromPlan(repos []plan.Repository) ([]Repo, error) {
	out := make([]Repo, 0, len(repos))
	for i, r := range repos {
		if r.Recovery == "" {
			return nil, fmt.Errorf("gitmirror: data.repositories[%d] (%s): a recovery remote is required to mirror", i, redactURL(r.URL))
		}
		out = append(out, Repo{Source: r.URL, Recovery: r.Recovery})
	}
	return out, nil
}

// Options configure a Mirror.
type Options struct {
	// CacheDir holds the mirror clones, one bare repository per source.
	// Required.
	CacheDir string
	// StatePath is the JSON state file. Required.
	StatePath string
	// Git is the git executable (default "git" on $PATH).
	Git string
	// Env is added to the environment of every git command, after the
	// process environment (for example GIT_SSH_COMMAND).
	Env []string
	// Timeout bounds one repository's pass: fetch, push and check
	// (default 30m).
	Timeout time.Duration
	// Jobs is how many repositories are mirrored at once (default 2).
	Jobs int
	// RetryMin is the first wait after a failed pass in Run; it doubles on
	// each consecutive failure, with jitter, up to Run's interval (default
	// 30s).
	RetryMin time.Duration
	// Now is the clock of the state file (default time.Now).
	Now func() time.Time
	// After is the timer of Run (default time.After).
	After func(time.Duration) <-chan time.Time
	// Logger receives a record per repository pass (default: discard).
	Logger *slog.Logger
	// Progress, if set, is called when a repository starts and ends.
	Progress func(Event)
	// OnPass, if set, is called by Run after each pass with its results.
	OnPass func([]Result)
}

// Event reports one repository: Done is false when its pass starts and
// true, with the final Result, when it ends.
type Event struct {
	Done   bool
	Result Result
}

// Result is the outcome of one repository's pass.
type Result struct {
	// Source and Recovery are the repository's URLs, passwords hidden.
	Source   string `json:"source"`
	Recovery string `json:"recovery"`
	// Refs is how many refs the recovery remote holds after a good pass.
	Refs int `json:"refs"`
	// Updated are the refs created or moved, and Deleted those pruned,
	// since the previous good pass.
	Updated []string `json:"updated"`
	Deleted []string `json:"deleted"`
	// LastGood is the time of the last good pass (this one, if it was
	// good); zero if there has been none.
	LastGood time.Time `json:"lastGood,omitzero"`
	Seconds  float64   `json:"seconds"`
	// Error is why the pass failed ("" if it did not).
	Error string `json:"error,omitempty"`
}

// Mirror mirrors a set of repositories and keeps their state file. Its
// methods are safe for concurrent use, but one state file must have one
// Mirror.
type Mirror struct {
	repos []Repo
	opts  Options
	log   *slog.Logger

	mu    sync.Mutex // guards state and the state file
	state *State
	locks map[string]*sync.Mutex // per cache directory
}

// New returns a Mirror of repos, loading the state file if it exists.
func New(repos []Repo, o Options) (*Mirror, error) {
	if o.CacheDir == "" || o.StatePath == "" {
		return nil, errors.New("gitmirror: CacheDir and StatePath are required")
	}
	if o.Git == "" {
		o.Git = "git"
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Minute
	}
	if o.Jobs <= 0 {
		o.Jobs = 2
	}
	if o.RetryMin <= 0 {
		o.RetryMin = 30 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.After == nil {
		o.After = time.After
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	seen := map[string]bool{}
	for _, r := range repos {
		if r.Source == "" || r.Recovery == "" {
			return nil, fmt.Errorf("gitmirror: repository %q: source and recovery are required", redactURL(r.Source))
		}
		if seen[r.Source] {
			return nil, fmt.Errorf("gitmirror: repository %s listed twice", redactURL(r.Source))
		}
		seen[r.Source] = true
	}
	st, err := LoadState(o.StatePath)
	if err != nil {
		return nil, err
	}
	locks := map[string]*sync.Mutex{}
	for _, r := range repos {
		locks[r.Source] = &sync.Mutex{}
	}
	return &Mirror{repos: slices.Clone(repos), opts: o, log: log.With("component", "gitmirror"), state: st, locks: locks}, nil
}

// State returns a copy of the current state.
func (m *Mirror) State() State {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := State{Repositories: make(map[string]*RepoState, len(m.state.Repositories))}
	for k, v := range m.state.Repositories {
		c.Repositories[k] = v.clone()
	}
	return c
}

// Sync makes one pass over every repository, Options.Jobs at a time, and
// returns their results in the order of the repositories. A repository
// that fails does not stop the others; the error is non-nil only when the
// context ends or the state file cannot be written.
func (m *Mirror) Sync(ctx context.Context) ([]Result, error) {
	results := make([]Result, len(m.repos))
	eg, ectx := errgroup.WithContext(ctx)
	eg.SetLimit(m.opts.Jobs)
	for i, r := range m.repos {
		eg.Go(func() error {
			var err error
			results[i], err = m.SyncRepo(ectx, r)
			if errors.Is(err, errState) || ectx.Err() != nil {
				return err
			}
			return nil
		})
	}
	err := eg.Wait()
	if err == nil {
		err = ctx.Err()
	}
	return results, err
}

// errState marks a failure to write the state file.
var errState = errors.New("gitmirror: state file")

// SyncRepo mirrors one repository: it fetches the source into the cache
// (cloning it the first time), pushes every ref to the recovery remote,
// checks that the remote holds exactly those refs and records the outcome
// in the state file. The error is also in Result.Error.
func (m *Mirror) SyncRepo(ctx context.Context, r Repo) (Result, error) {
	lock := m.locks[r.Source]
	if lock == nil {
		return Result{Source: r.Source, Recovery: r.Recovery}, fmt.Errorf("gitmirror: %s is not one of the mirror's repositories", redactURL(r.Source))
	}
	lock.Lock()
	defer lock.Unlock()

	start := m.opts.Now()
	key := redactURL(r.Source)
	res := Result{Source: key, Recovery: redactURL(r.Recovery), Updated: []string{}, Deleted: []string{}}
	m.progress(Event{Result: res})
	rctx, cancel := context.WithTimeout(ctx, m.opts.Timeout)
	refs, err := m.mirror(rctx, r)
	cancel()
	end := m.opts.Now()
	res.Seconds = end.Sub(start).Seconds()

	m.mu.Lock()
	rs := m.state.Repositories[key]
	if rs == nil {
		rs = &RepoState{}
		m.state.Repositories[key] = rs
	}
	rs.Source, rs.Recovery = res.Source, res.Recovery
	rs.LastAttempt = end
	if err == nil {
		res.Updated, res.Deleted = diffRefs(rs.Refs, refs)
		res.Refs = len(refs)
		rs.LastGood, rs.Refs, rs.LastError, rs.Failures = end, refs, "", 0
	} else if ctx.Err() == nil {
		rs.LastError, rs.Failures = err.Error(), rs.Failures+1
	}
	res.LastGood = rs.LastGood
	serr := m.state.save(m.opts.StatePath)
	m.mu.Unlock()

	switch {
	case err != nil && ctx.Err() != nil:
		err = ctx.Err()
	case err != nil:
		m.log.Warn("mirror failed", "source", redactURL(r.Source), "recovery", redactURL(r.Recovery), "err", err)
	default:
		m.log.Info("mirrored", "source", redactURL(r.Source), "refs", res.Refs, "updated", len(res.Updated), "deleted", len(res.Deleted))
	}
	if serr != nil {
		err = errors.Join(err, fmt.Errorf("%w: %w", errState, serr))
	}
	if err != nil {
		res.Error = err.Error()
	}
	m.progress(Event{Done: true, Result: res})
	return res, err
}

func (m *Mirror) progress(e Event) {
	if m.opts.Progress != nil {
		m.opts.Progress(e)
	}
}

// mirror fetches, pushes and checks one repository and returns the refs
// the recovery remote now holds.
func (m *Mirror) mirror(ctx context.Context, r Repo) (map[string]string, error) {
	dir := filepath.Join(m.opts.CacheDir, cacheName(r.Source))
	if err := m.fetch(ctx, r.Source, dir); err != nil {
		return nil, fmt.Errorf("gitmirror: fetch %s: %w", redactURL(r.Source), err)
	}
	out, err := m.git(ctx, dir, "for-each-ref", "--format=%(objectname) %(refname)")
	if err != nil {
		return nil, fmt.Errorf("gitmirror: list refs of %s: %w", redactURL(r.Source), err)
	}
	want := parseRefs(out)
	if _, err := m.git(ctx, dir, "push", "--mirror", "--quiet", "--", r.Recovery); err != nil {
		return nil, fmt.Errorf("gitmirror: push to %s: %w", redactURL(r.Recovery), err)
	}
	out, err = m.git(ctx, "", "ls-remote", "--", r.Recovery)
	if err != nil {
		return nil, fmt.Errorf("gitmirror: check %s: %w", redactURL(r.Recovery), err)
	}
	if got := parseRefs(out); !maps.Equal(got, want) {
		up, del := diffRefs(want, got)
		return nil, fmt.Errorf("gitmirror: check %s: refs differ from the source after push: %s", redactURL(r.Recovery), describeDiff(up, del))
	}
	return want, nil
}

// fetch brings the mirror clone in dir up to date with the source, cloning
// it first if needed. The clone is made in a temporary directory and
// renamed, so an interrupted clone is never mistaken for a mirror.
func (m *Mirror) fetch(ctx context.Context, source, dir string) error {
	if _, err := os.Stat(filepath.Join(dir, "HEAD")); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(m.opts.CacheDir, 0o755); err != nil {
			return err
		}
		tmp, err := os.MkdirTemp(m.opts.CacheDir, ".clone-*")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		if _, err := m.git(ctx, "", "clone", "--mirror", "--quiet", "--", source, tmp); err != nil {
			return err
		}
		os.RemoveAll(dir)
		return os.Rename(tmp, dir)
	} else if err != nil {
		return err
	}
	// The plan may have moved the source; the mirror follows it.
	if _, err := m.git(ctx, dir, "remote", "set-url", "origin", source); err != nil {
		return err
	}
	_, err := m.git(ctx, dir, "remote", "update", "--prune")
	return err
}

// diffRefs returns the refs of now that are new or moved since before, and
// those of before that are gone, sorted.
func diffRefs(before, now map[string]string) (updated, deleted []string) {
	updated, deleted = []string{}, []string{}
	for ref, obj := range now {
		if before[ref] != obj {
			updated = append(updated, ref)
		}
	}
	for ref := range before {
		if _, ok := now[ref]; !ok {
			deleted = append(deleted, ref)
		}
	}
	slices.Sort(updated)
	slices.Sort(deleted)
	return updated, deleted
}

func describeDiff(missing, extra []string) string {
	var parts []string
	if len(missing) > 0 {
		parts = append(parts, "missing or different "+strings.Join(missing, ", "))
	}
	if len(extra) > 0 {
		parts = append(parts, "unexpected "+strings.Join(extra, ", "))
	}
	return strings.Join(parts, "; ")
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// cacheName is the cache directory of a source: its last path element,
// made safe, and a hash of the whole URL so two sources never share one.
func cacheName(source string) string {
	base := strings.TrimSuffix(path.Base(strings.TrimRight(strings.ReplaceAll(source, ":", "/"), "/")), ".git")
	base = strings.Trim(unsafeName.ReplaceAllString(base, "-"), ".-")
	if base == "" {
		base = "repo"
	}
	sum := sha256.Sum256([]byte(source))
	return base + "-" + hex.EncodeToString(sum[:6]) + ".git"
}

package gitmirror

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pilotlight/pilotlight/plan"
)

// gitEnv isolates git from the machine: no global or system config, a
// fixed author and dates, and no prompts.
func gitEnv(t *testing.T) []string {
	t.Helper()
	return []string{
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1", "HOME=" + t.TempDir(),
		"GIT_AUTHOR_NAME=Pilot Light", "GIT_AUTHOR_EMAIL=dr@example.com",
		"GIT_COMMITTER_NAME=Pilot Light", "GIT_COMMITTER_EMAIL=dr@example.com",
		"GIT_AUTHOR_DATE=2026-01-02T03:04:05Z", "GIT_COMMITTER_DATE=2026-01-02T03:04:05Z",
	}
}

// fixture is a source bare repository with a working clone that pushes to
// it, and an empty recovery bare repository.
type fixture struct {
	t                *testing.T
	env              []string
	work             string
	source, recovery string // file:// URLs
	recoveryDir      string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	dir := t.TempDir()
	f := &fixture{t: t, env: gitEnv(t), work: filepath.Join(dir, "work"), recoveryDir: filepath.Join(dir, "recovery.git")}
	src := filepath.Join(dir, "source.git")
	f.run("", "init", "--quiet", "--bare", "--initial-branch=main", src)
	f.run("", "init", "--quiet", "--bare", "--initial-branch=main", f.recoveryDir)
	f.run("", "init", "--quiet", "--initial-branch=main", f.work)
	f.source, f.recovery = "file://"+src, "file://"+f.recoveryDir
	f.run(f.work, "remote", "add", "origin", f.source)
	return f
}

// run runs git and returns its trimmed output.
func (f *fixture) run(dir string, args ...string) string {
	f.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), f.env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		f.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// commit writes a file and commits it; it returns the commit ID.
func (f *fixture) commit(file, content string) string {
	f.t.Helper()
	if err := os.WriteFile(filepath.Join(f.work, file), []byte(content), 0o644); err != nil {
		f.t.Fatal(err)
	}
	f.run(f.work, "add", file)
	f.run(f.work, "commit", "--quiet", "-m", "change "+file)
	return f.run(f.work, "rev-parse", "HEAD")
}

// refs lists a repository's refs, as the mirror records them.
func (f *fixture) refs(url string) map[string]string {
	f.t.Helper()
	return parseRefs([]byte(f.run("", "ls-remote", url)))
}

func (f *fixture) mirror(o Options) *Mirror {
	f.t.Helper()
	if o.CacheDir == "" {
		o.CacheDir = filepath.Join(filepath.Dir(f.work), "cache")
	}
	if o.StatePath == "" {
		o.StatePath = filepath.Join(filepath.Dir(f.work), "state", "mirror.json")
	}
	o.Env = f.env
	m, err := New([]Repo{{Source: f.source, Recovery: f.recovery}}, o)
	if err != nil {
		f.t.Fatal(err)
	}
	return m
}

// clock is a fake clock that moves one minute per reading.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(time.Minute)
	return c.now
}

func TestMirrorLifecycle(t *testing.T) {
	f := newFixture(t)
	clk := &clock{now: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	opts := Options{Now: clk.Now, Timeout: time.Minute}
	m := f.mirror(opts)

	first := f.commit("a.txt", "one")
	f.run(f.work, "push", "--quiet", "origin", "main")
	f.run(f.work, "branch", "feature")
	f.commit("b.txt", "two")
	f.run(f.work, "push", "--quiet", "origin", "main", "feature")
	f.run(f.work, "tag", "v1", first)
	f.run(f.work, "push", "--quiet", "origin", "v1")

	steps := []struct {
		name        string
		change      func()
		wantUpdated []string
		wantDeleted []string
	}{
		{"initial mirror", func() {}, []string{"refs/heads/feature", "refs/heads/main", "refs/tags/v1"}, nil},
		{"nothing new", func() {}, nil, nil},
		{"new commit", func() {
			f.commit("c.txt", "three")
			f.run(f.work, "push", "--quiet", "origin", "main")
		}, []string{"refs/heads/main"}, nil},
		{"force-push rewrites a branch", func() {
			f.run(f.work, "checkout", "--quiet", "feature")
			f.run(f.work, "commit", "--quiet", "--amend", "-m", "rewritten")
			f.run(f.work, "push", "--quiet", "--force", "origin", "feature")
			f.run(f.work, "checkout", "--quiet", "main")
		}, []string{"refs/heads/feature"}, nil},
		{"deleted branch is pruned", func() {
			f.run(f.work, "push", "--quiet", "origin", ":feature")
		}, nil, []string{"refs/heads/feature"}},
		{"annotated tag", func() {
			f.run(f.work, "tag", "-a", "-m", "release 2", "v2")
			f.run(f.work, "push", "--quiet", "origin", "v2")
		}, []string{"refs/tags/v2"}, nil},
		{"moved tag", func() {
			f.run(f.work, "tag", "--force", "v1", "HEAD")
			f.run(f.work, "push", "--quiet", "--force", "origin", "v1")
		}, []string{"refs/tags/v1"}, nil},
	}
	for _, s := range steps {
		s.change()
		rs, err := m.Sync(t.Context())
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		r := rs[0]
		if r.Error != "" {
			t.Fatalf("%s: %s", s.name, r.Error)
		}
		want := f.refs(f.source)
		if got := f.refs(f.recovery); !equalRefs(got, want) {
			t.Fatalf("%s: recovery refs\n%v\nwant\n%v", s.name, got, want)
		}
		if !slices.Equal(r.Updated, nonNil(s.wantUpdated)) || !slices.Equal(r.Deleted, nonNil(s.wantDeleted)) {
			t.Errorf("%s: updated %v deleted %v, want %v and %v", s.name, r.Updated, r.Deleted, s.wantUpdated, s.wantDeleted)
		}
		if r.Refs != len(want) || r.LastGood.IsZero() {
			t.Errorf("%s: result %+v, want %d refs and a last good time", s.name, r, len(want))
		}
		st := m.State().Repositories[f.source]
		if !equalRefs(st.Refs, want) || !st.LastGood.Equal(r.LastGood) || st.Failures != 0 || st.LastError != "" {
			t.Errorf("%s: state %+v does not record the good mirror", s.name, st)
		}
	}
	if _, ok := f.refs(f.recovery)["refs/heads/feature"]; ok {
		t.Error("deleted branch still in the recovery remote")
	}

	// The state survives a restart.
	again := f.mirror(opts)
	if got := again.State().Repositories[f.source]; got == nil || !equalRefs(got.Refs, f.refs(f.source)) {
		t.Errorf("state after restart = %+v", got)
	}
}

func TestFailureKeepsLastGoodState(t *testing.T) {
	f := newFixture(t)
	clk := &clock{now: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	var events []Event
	m := f.mirror(Options{Now: clk.Now, Timeout: time.Minute, Progress: func(e Event) { events = append(events, e) }})
	f.commit("a.txt", "one")
	f.run(f.work, "push", "--quiet", "origin", "main")
	rs, err := m.Sync(t.Context())
	if err != nil || rs[0].Error != "" {
		t.Fatalf("first sync: %v %+v", err, rs)
	}
	good := m.State().Repositories[f.source]

	// The recovery remote becomes unreachable while the source moves on.
	moved := f.recoveryDir + ".away"
	if err := os.Rename(f.recoveryDir, moved); err != nil {
		t.Fatal(err)
	}
	f.commit("b.txt", "two")
	f.run(f.work, "push", "--quiet", "origin", "main")
	for i := 1; i <= 2; i++ {
		rs, err = m.Sync(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if rs[0].Error == "" || !strings.Contains(rs[0].Error, "push to") || !rs[0].LastGood.Equal(good.LastGood) {
			t.Fatalf("sync to an unreachable remote = %+v, want a push error and the old last good time", rs[0])
		}
		st := m.State().Repositories[f.source]
		if st.Failures != i || st.LastError == "" || !st.LastGood.Equal(good.LastGood) || !equalRefs(st.Refs, good.Refs) || !st.LastAttempt.After(good.LastGood) {
			t.Fatalf("state after failure %d = %+v, want the last good state kept and %d failures", i, st, i)
		}
	}
	// The state file on disk says the same.
	disk, err := LoadState(m.opts.StatePath)
	if err != nil {
		t.Fatal(err)
	}
	if d := disk.Repositories[f.source]; d.Failures != 2 || !d.LastGood.Equal(good.LastGood) || !equalRefs(d.Refs, good.Refs) {
		t.Errorf("state file = %+v", d)
	}

	// Back again: the next pass catches up and clears the failures.
	if err := os.Rename(moved, f.recoveryDir); err != nil {
		t.Fatal(err)
	}
	rs, err = m.Sync(t.Context())
	if err != nil || rs[0].Error != "" {
		t.Fatalf("sync after recovery: %v %+v", err, rs)
	}
	if !slices.Equal(rs[0].Updated, []string{"refs/heads/main"}) || !equalRefs(f.refs(f.recovery), f.refs(f.source)) {
		t.Errorf("catch-up = %+v", rs[0])
	}
	if st := m.State().Repositories[f.source]; st.Failures != 0 || st.LastError != "" || !st.LastGood.After(good.LastGood) {
		t.Errorf("state after catch-up = %+v", st)
	}
	if len(events) != 8 || events[0].Done || !events[1].Done {
		t.Errorf("got %d progress events, want a start and an end per pass (8)", len(events))
	}
}

func TestUnreachableSource(t *testing.T) {
	f := newFixture(t)
	f.source = "file://" + filepath.Join(t.TempDir(), "missing.git")
	m := f.mirror(Options{Timeout: time.Minute})
	rs, err := m.Sync(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rs[0].Error, "fetch") || !rs[0].LastGood.IsZero() {
		t.Errorf("sync from a missing source = %+v, want a fetch error", rs[0])
	}
	if entries, _ := os.ReadDir(m.opts.CacheDir); len(entries) != 0 {
		t.Errorf("failed clone left %d entries in the cache", len(entries))
	}
}

func TestRunBacksOffOnFailure(t *testing.T) {
	f := newFixture(t)
	f.commit("a.txt", "one")
	f.run(f.work, "push", "--quiet", "origin", "main")
	moved := f.recoveryDir + ".away"
	if err := os.Rename(f.recoveryDir, moved); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	const interval = 15 * time.Minute
	var waits []time.Duration
	var passes [][]Result
	m := f.mirror(Options{
		RetryMin: 10 * time.Second,
		OnPass:   func(rs []Result) { passes = append(passes, rs) },
		After: func(d time.Duration) <-chan time.Time {
			waits = append(waits, d)
			switch len(waits) {
			case 3: // after three failed passes, the remote comes back
				if err := os.Rename(moved, f.recoveryDir); err != nil {
					t.Error(err)
				}
			case 5:
				cancel()
			}
			ch := make(chan time.Time, 1)
			ch <- time.Time{}
			return ch
		},
	})
	if err := m.Run(ctx, interval); err != nil {
		t.Fatal(err)
	}
	if len(waits) < 5 || len(passes) < 5 {
		t.Fatalf("Run made %d passes with waits %v, want at least 5", len(passes), waits)
	}
	// Failed passes: 10s, 20s, 40s with jitter down to half; then good
	// passes wait the full interval.
	for i, max := range []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second} {
		if waits[i] < max/2 || waits[i] > max || passes[i][0].Error == "" {
			t.Errorf("wait after failed pass %d = %v (error %q), want in [%v, %v]", i+1, waits[i], passes[i][0].Error, max/2, max)
		}
	}
	for i := 3; i < 5; i++ {
		if waits[i] != interval || passes[i][0].Error != "" {
			t.Errorf("wait after good pass %d = %v (error %q), want %v", i+1, waits[i], passes[i][0].Error, interval)
		}
	}
}

func TestFromPlanAndNew(t *testing.T) {
	got, err := FromPlan([]plan.Repository{{URL: "https://git.example.com/a.git", Recovery: "file:///srv/a.git"}})
	if err != nil || len(got) != 1 || got[0].Recovery != "file:///srv/a.git" {
		t.Errorf("FromPlan = %+v, %v", got, err)
	}
	if _, err := FromPlan([]plan.Repository{{URL: "https://user:secret@git.example.com/a.git"}}); err == nil ||
		!strings.Contains(err.Error(), "recovery remote") || strings.Contains(err.Error(), "secret") {
		t.Errorf("FromPlan without recovery = %v, want an error without the password", err)
	}
	dir := t.TempDir()
	o := Options{CacheDir: dir, StatePath: filepath.Join(dir, "s.json")}
	dup := []Repo{{Source: "file:///a", Recovery: "file:///b"}, {Source: "file:///a", Recovery: "file:///c"}}
	if _, err := New(dup, o); err == nil {
		t.Error("New accepted a repository listed twice")
	}
	if _, err := New(nil, Options{}); err == nil {
		t.Error("New accepted options without directories")
	}
}

func TestCacheName(t *testing.T) {
	tests := []struct{ url, prefix string }{
		{"https://git.example.com/org/app.git", "app-"},
		{"git@git.example.com:org/lib.git", "lib-"},
		{"file:///srv/git/tool/", "tool-"},
		{"https://host/a b/..", "repo-"},
	}
	for _, tt := range tests {
		got := cacheName(tt.url)
		if !strings.HasPrefix(got, tt.prefix) || !strings.HasSuffix(got, ".git") || strings.ContainsAny(got, "/: ") {
			t.Errorf("cacheName(%q) = %q, want %s….git", tt.url, got, tt.prefix)
		}
	}
	if cacheName("https://a/x.git") == cacheName("https://b/x.git") {
		t.Error("two sources share a cache directory")
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://user:token@git.example.com/a.git", "https://user:xxxxx@git.example.com/a.git"},
		{"https://git.example.com/a.git", "https://git.example.com/a.git"},
		{"ssh://git@host/a.git", "ssh://git@host/a.git"},
		{"git@host:a.git", "git@host:a.git"},
	}
	for _, tt := range tests {
		if got := redactURL(tt.in); got != tt.want {
			t.Errorf("redactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func equalRefs(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

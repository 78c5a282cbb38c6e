package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pilotlight/pilotlight/gitmirror"
)

// gitRun runs git in dir with an isolated configuration and a fixed author.
func gitRun(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// gitFixture makes, with an isolated git configuration, a bare source
// repository holding one commit on main tagged v1 and an empty bare
// recovery repository in dir; it returns their paths and the commit.
func gitFixture(t *testing.T) (dir, src, dst, head string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	for _, kv := range [][2]string{
		{"GIT_CONFIG_GLOBAL", "/dev/null"}, {"GIT_CONFIG_NOSYSTEM", "1"}, {"HOME", t.TempDir()},
		{"GIT_AUTHOR_NAME", "Pilot Light"}, {"GIT_AUTHOR_EMAIL", "dr@example.com"},
		{"GIT_COMMITTER_NAME", "Pilot Light"}, {"GIT_COMMITTER_EMAIL", "dr@example.com"},
		{"GIT_AUTHOR_DATE", "2026-01-02T03:04:05Z"}, {"GIT_COMMITTER_DATE", "2026-01-02T03:04:05Z"},
	} {
		t.Setenv(kv[0], kv[1])
	}
	dir = t.TempDir()
	src, dst = filepath.Join(dir, "src.git"), filepath.Join(dir, "dst.git")
	work := filepath.Join(dir, "work")
	gitRun(t, dir, "init", "--quiet", "--bare", src)
	gitRun(t, dir, "init", "--quiet", "--bare", dst)
	gitRun(t, dir, "init", "--quiet", "--initial-branch=main", work)
	if err := os.WriteFile(filepath.Join(work, "README"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gitRun(t, work, "add", "README")
	gitRun(t, work, "commit", "--quiet", "-m", "first")
	gitRun(t, work, "tag", "v1")
	gitRun(t, work, "push", "--quiet", "file://"+src, "main", "v1")
	head = gitRun(t, work, "rev-parse", "HEAD")
	return dir, src, dst, head
}

func TestMirrorOnce(t *testing.T) {
	dir, src, dst, head := gitFixture(t)
	stateDir := t.TempDir()
	planPath := writePlan(t, fmt.Sprintf("  repositories:\n    - {url: %q, recovery: %q}\n", "file://"+src, "file://"+dst))

	out, errOut, err := runSubcommand(t, newMirrorCommand, "mirror", "--once", "-o", "json", "-f", planPath, "--state-dir", stateDir)
	if err != nil {
		t.Fatalf("mirror: %v\n%s", err, errOut)
	}
	var rep mirrorReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	if rep.Failed != 0 || len(rep.Repositories) != 1 || rep.Repositories[0].Refs != 2 || len(rep.Repositories[0].Updated) != 2 {
		t.Errorf("report = %+v", rep)
	}
	if got := gitRun(t, dir, "--git-dir", dst, "rev-parse", "refs/heads/main"); got != head {
		t.Errorf("recovery main = %s, want %s", got, head)
	}
	if !strings.Contains(errOut, "mirror: file://"+src+": 2 refs, 2 updated, 0 deleted") {
		t.Errorf("progress on stderr = %q", errOut)
	}
	st, err := gitmirror.LoadState(filepath.Join(stateDir, "mirror", "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	if rs := st.Repositories["file://"+src]; rs == nil || rs.Refs["refs/heads/main"] != head || rs.LastGood.IsZero() {
		t.Errorf("state = %+v", rs)
	}

	// The recovery remote disappears: exit 1, the error in the table, the
	// last good time kept.
	if err := os.RemoveAll(dst); err != nil {
		t.Fatal(err)
	}
	out, _, err = runSubcommand(t, newMirrorCommand, "mirror", "--once", "-f", planPath, "--state-dir", stateDir)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 1 {
		t.Fatalf("mirror to a missing remote = %v, want exit 1", err)
	}
	if !strings.Contains(out, "failed") || !strings.Contains(out, "push to file://"+dst) || strings.Contains(out, "never") {
		t.Errorf("table after failure:\n%s", out)
	}
}

func TestMirrorNeedsRecoveryRemote(t *testing.T) {
	_, _, err := runSubcommand(t, newMirrorCommand, "mirror", "--once", "-f", writePlan(t, "  repositories: [{url: https://git.example.com/a.git}]\n"))
	if err == nil || !strings.Contains(err.Error(), "recovery remote is required") {
		t.Errorf("mirror without a recovery remote = %v", err)
	}
}

package gitmirror

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// git runs the git CLI with the mirror's environment. Output on stderr is
// kept (its last lines) for the error.
func (m *Mirror) git(ctx context.Context, dir string, args ...string) ([]byte, error) {
	if dir != "" {
		args = append([]string{"-C", dir}, args...)
	}
	cmd := exec.CommandContext(ctx, m.opts.Git, args...)
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_ASKPASS=", "SSH_ASKPASS=", "LC_ALL=C")
	cmd.Env = append(cmd.Env, m.opts.Env...)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("git %s: %w: %s", redactArgs(args), err, lastLines(stderr.String(), 3))
	}
	return stdout.Bytes(), nil
}

// redactArgs renders a git command line for an error, with any password
// in a URL replaced.
func redactArgs(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = redactURL(a)
	}
	return strings.Join(out, " ")
}

// redactURL hides the password of scheme://user:password@host URLs.
func redactURL(s string) string {
	scheme := strings.Index(s, "://")
	if scheme < 0 {
		return s
	}
	rest := s[scheme+3:]
	at := strings.Index(rest, "@")
	if at < 0 || strings.Contains(rest[:at], "/") {
		return s
	}
	if colon := strings.Index(rest[:at], ":"); colon >= 0 {
		return s[:scheme+3] + rest[:colon] + ":xxxxx" + rest[at:]
	}
	return s
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return redactURL(strings.Join(lines, "; "))
}

// parseRefs reads "<object> <ref>" lines (for-each-ref and ls-remote
// output, space or tab separated). It skips HEAD and peeled tags (^{}).
func parseRefs(out []byte) map[string]string {
	refs := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		obj, ref, ok := strings.Cut(strings.Replace(sc.Text(), "\t", " ", 1), " ")
		if !ok || !strings.HasPrefix(ref, "refs/") || strings.HasSuffix(ref, "^{}") {
			continue
		}
		refs[ref] = obj
	}
	return refs
}

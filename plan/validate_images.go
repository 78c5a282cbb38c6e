package plan

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

var (
	// imageRepoRE is the distribution spec's repository name grammar.
	imageRepoRE = regexp.MustCompile(`^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$`)
	// imageTagRE is the distribution spec's tag grammar.
	imageTagRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	// registryRE is host[:port] with an optional repository namespace.
	registryRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$`)
	// scpLikeRE is git's scp-like syntax, such as git@host:org/repo.git.
	scpLikeRE = regexp.MustCompile(`^([A-Za-z0-9._-]+@)?[A-Za-z0-9.-]+:[^/].*$|^([A-Za-z0-9._-]+@)?[A-Za-z0-9.-]+:/.+$`)
)

// images checks data.images: repository names and tags as the
// distribution spec spells them, registries as host[:port][/namespace], and
// no image copied twice to the same place.
func (v *validator) images(imgs []Image) {
	seen := map[string]int{}
	for i, img := range imgs {
		path := fmt.Sprintf("data.images[%d]", i)
		if v.requiredString(path+".repository", img.Repository) && !imageRepoRE.MatchString(img.Repository) {
			v.add(path+".repository", "must be a repository name (lowercase letters, digits and separators ._- with / between components); got %q", img.Repository)
		}
		for j, tag := range img.Tags {
			if !imageTagRE.MatchString(tag) {
				v.add(fmt.Sprintf("%s.tags[%d]", path, j), "must be an image tag (letters, digits, _ . -, at most 128, not starting with . or -); got %q", tag)
			}
		}
		for _, f := range []struct{ name, val string }{{"source", img.Source}, {"recovery", img.Recovery}} {
			if f.val != "" && !registryRE.MatchString(f.val) {
				v.add(path+"."+f.name, "must be a registry as host[:port][/namespace], without a scheme; got %q", f.val)
			}
		}
		if img.Source != "" && img.Source == img.Recovery {
			v.add(path+".recovery", "must differ from source, got %q for both", img.Recovery)
		}
		key := img.Source + "/" + img.Repository + " -> " + img.Recovery
		if j, ok := seen[key]; ok && img.Repository != "" {
			v.add(path+".repository", "duplicate of data.images[%d]", j)
		} else {
			seen[key] = i
		}
	}
}

// repositories checks data.repositories: git URLs (URL or scp-like syntax)
// and a recovery remote distinct from the source.
func (v *validator) repositories(repos []Repository) {
	seen := map[string]int{}
	for i, repo := range repos {
		path := fmt.Sprintf("data.repositories[%d]", i)
		if v.requiredString(path+".url", repo.URL) {
			v.gitURL(path+".url", repo.URL)
			if j, ok := seen[repo.URL]; ok {
				v.add(path+".url", "duplicate of data.repositories[%d]", j)
			} else {
				seen[repo.URL] = i
			}
		}
		if repo.Recovery != "" {
			v.gitURL(path+".recovery", repo.Recovery)
			if repo.Recovery == repo.URL {
				v.add(path+".recovery", "must differ from url, got %q for both", repo.Recovery)
			}
		}
	}
}

// gitURL checks a URL git can fetch from or push to: a URL with a scheme
// and a host or path, scp-like syntax, or an absolute local path.
func (v *validator) gitURL(path, s string) {
	if strings.ContainsAny(s, " \t\n") {
		v.add(path, "must be a git URL, got %q", s)
		return
	}
	if strings.HasPrefix(s, "/") || scpLikeRE.MatchString(s) && !strings.Contains(s, "://") {
		return
	}
	if u, err := url.Parse(s); err != nil || u.Scheme == "" || u.Host == "" && u.Path == "" {
		v.add(path, "must be a git URL, got %q", s)
	}
}

// Package gitmirror mirrors git repositories to recovery remotes, so that
// a recovery never depends on the primary's source platform.
//
// Each repository is kept as a mirror clone in a cache directory (git
// clone --mirror, then git remote update --prune), pushed with git push
// --mirror (every branch and tag, force-updated; refs deleted at the
// source are deleted in the recovery remote), and checked with git
// ls-remote: the recovery remote must hold exactly the refs of the cache.
// The outcome is recorded in a small JSON state file: per repository, the
// last good mirror time and the object each ref pointed to then, and the
// last attempt and its error. A failed pass never overwrites the last good
// state.
//
// The git CLI is used rather than go-git: push --mirror and fetch --prune
// are exactly the semantics needed, and the CLI speaks every transport and
// authentication method the operator's git already has (ssh agent and
// config, credential helpers, http.extraHeader, proxies) with git's own
// performance on large repositories; go-git lacks parts of this (ssh
// config, protocol v2, some credential helpers) and would add a large
// dependency for less.
package gitmirror

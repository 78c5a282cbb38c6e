// Package replicate copies the objects of one S3-compatible bucket to
// another and keeps the copy converged: a backfill pass copies every object
// that existed before replication started, later passes copy only what
// changed (from a bbolt checkpoint, or by comparing with the replica's
// listing), and [Replicator.SyncKey] replicates one key when an event says it
// changed. [Replicator.Run] combines both to keep a replica converged.
//
// Every copy keeps the source's content, standard headers, user metadata and
// tags, adds the pilotlight-source-etag, pilotlight-source-version and
// pilotlight-sha256 metadata keys, and is verified by checksum before the
// checkpoint records it (see docs/decisions/0003-replication-verification.md).
// Objects larger than Options.MultipartThreshold are copied in parts with
// bounded memory, and an interrupted multipart copy resumes its parts.
//
// Deletes follow plan.DeletePolicy (kept and reported by default) and
// archived objects (GLACIER, DEEP_ARCHIVE) follow plan.ArchivedPolicy.
// Permanent errors (access denied, missing bucket, wrong credentials,
// unreachable endpoint) stop a pass with a [*PermanentError]; throttling and
// transient errors are retried with capped, jittered backoff.
//
// [Verify] compares a source with its replica and reports drift.
package replicate

// Package registry copies container images by digest from a source
// registry to a recovery registry and proves that the copies are intact.
//
// A Copier walks each tag's manifest tree (image indexes, image manifests,
// config and layer blobs), uploads only the blobs and manifests the
// recovery registry does not have, writes manifests child first so the
// registry never holds a dangling reference, tags the copy with the source
// bytes unchanged (so the digest is the same), and then verifies the copy
// in the recovery registry: the tag resolves to the source digest, every
// child manifest matches its digest and every blob exists with its size
// (and, with Options.Deep, hashes to its digest).
//
// On AWS the same protection can be delegated to ECR cross-region
// replication: ECRReplication builds the PutReplicationConfiguration input
// for a plan's repositories, and ConfigureECR applies it without dropping
// the registry's other rules.
//
// The copy path uses github.com/google/go-containerregistry and is tested
// against two of its in-memory registries served on 127.0.0.1.
package registry

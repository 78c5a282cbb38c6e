// Package local runs pilotlight regions on one machine: the embedded default
// provider. A region owns a /24 of loopback (see docs/decisions/0001) and holds
// a durable S3-compatible object store (a `pilotlight store serve` child
// process), one HTTP load balancer per service, and instances that are
// supervised child processes kept at a desired count.
//
// Up starts the primary region fully and the recovery region according to the
// plan's strategy; Stop tears everything down with no process left behind.
package local

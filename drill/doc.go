// Package drill runs DR drills end to end: it drives synthetic traffic at a
// service through pilotlight's DNS answer, records what the clients saw
// (per-bucket request counts, errors, latencies and answering regions, and
// every acknowledged write), and turns that record into measured RTO and RPO
// figures: when the recovery region started answering, when traffic was
// stable again, and how much acknowledged data the failover lost.
package drill

// Package compute runs the instances of the embedded local provider: supervised
// child processes started from a service's command template, kept in groups
// with a desired count the way an auto scaling group keeps its capacity.
//
// Each instance gets a unique ID, a zone label, its own loopback host from an
// AddrAllocator and a log file under the state directory. A Group replaces
// instances that exit, fail to start listening, or are reported unhealthy,
// backs off exponentially when its instances crash in a loop, and stops every
// child (including the children's own children, by process group) before Run
// returns.
package compute

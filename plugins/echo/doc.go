// Command echo is the smallest first-party agent: for any envelope it is
// given, it stores the payload in the CAS, reads it back, and answers with
// an UPDATE_PLAN annotating the envelope with its payload's ref. It exercises
// every part of the swarm_v1 ABI that needs no policy or plan.
package main

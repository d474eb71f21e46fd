// Command verifier checks classify results: when a COMMIT arrives on a
// thread whose DECIDE names it among the verifiers, it labels the NEED's
// texts again and attests pass when the committed result is the same, fail
// otherwise. Where the thread's policy capsule is available it evaluates the
// capsule's verify entrypoint and carries the evaluation digest.
package main

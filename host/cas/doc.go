// Package cas is the content-addressed store of PROTOCOL.md section 1: blobs
// (capability tokens, policy capsules, inputs, artifacts, evidence) named by
// their ref, "sha256:" + 64 lowercase hex digits of the SHA-256 of their bytes.
//
// # Contract
//
// Every [Store] keeps these promises, and the conformance suite in
// [github.com/canswarm/swarmhost/host/cas/castest] checks them on every
// backend:
//
//   - Put returns envelope.HashRef(data) and is idempotent: putting bytes that
//     are already stored changes nothing and succeeds. Concurrent Puts of the
//     same bytes all succeed with the same ref.
//   - Get verifies the bytes against the ref on every read. A blob whose bytes
//     no longer hash to its ref (a flipped bit on disk, an object overwritten
//     behind our back) is reported as an error wrapping [ErrCorrupt], never
//     returned as data: a caller that gets bytes from a Store may trust that
//     they are the bytes the ref names.
//   - Put of bytes whose stored copy is corrupt repairs the stored copy.
//   - A ref that is not "sha256:" + 64 lowercase hex digits is refused with
//     [ErrBadRef] before any I/O, so a ref can never name a path or subject
//     outside the store.
//   - A blob that is absent is [ErrNotFound]; Has reports presence only (it
//     does not read the bytes), so Has may be true for a corrupt blob.
//   - Blobs are at most [MaxBlobBytes]; larger ones are refused with
//     [ErrTooLarge] (the protocol moves big data by ref, but a store must
//     still bound what one call can make it hold in memory).
//   - Errors wrap a sentinel with %w and name the ref, so callers switch with
//     errors.Is and operators can read which blob was at fault.
//
// Two backends exist: [FileStore], the default, keeps one file per blob under
// a folder (DATA/cas/ab/cdef...), written atomically; [ObjectStore] keeps
// blobs in a NATS JetStream object store bucket, for hosts that form a
// cluster and must share blobs.
package cas

// Package dirlock takes an exclusive lock on a folder, for a process that
// must be the folder's only writer (a node's data folder, an embedded NATS
// server's store).
//
// The lock is an flock(2) on a file in the folder: it belongs to the open
// file, so a second lock in the same process is refused too, and the
// kernel drops it when the process dies, so a crash leaves nothing stale.
// Where flock is unavailable, Lock succeeds without locking (keeping one
// writer per folder is then the operator's job).
package dirlock

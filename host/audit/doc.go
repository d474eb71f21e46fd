// Package audit is the audit trail of PROTOCOL.md section 10: one
// append-only, hash-chained JSONL file per thread under DATA/audit.
//
// # Contract
//
//   - Each line is the JCS form of {seq, prev, kind, received_lamport,
//     envelope, verdict, reason}; seq counts from 1 per thread, prev is
//     "sha256:" of the previous line's bytes (without its newline), "" on
//     line 1. An edit, deletion, insertion or reordering breaks the chain.
//   - [Trail.Append] returns only after the line is written and fsynced:
//     an acknowledged record survives a crash. Appends to one thread are
//     serialised; different threads append in parallel.
//   - Every envelope received is recorded, accepted or rejected: a rejected
//     one with its reason code, and with the text exactly as received (a
//     JSON string, or "base64:..." for bytes that are not UTF-8). Text that
//     names no usable thread goes to the thread "unthreaded".
//   - A duplicate envelope (an id already accepted on the thread) is
//     acknowledged again and not written twice ([ErrDuplicate]);
//     [Trail.HasAccepted] asks before (the node's core forgets what a
//     retired thread, or the swarm thread, accepted; the trail does not).
//   - Beside each thread's file a head file records its last seq and line
//     hash, so that editing or deleting the last line is detected too. It
//     is written after its lines are durable and is not fsynced itself:
//     one a crash left lagging, empty or torn is rebuilt when the trail is
//     opened. A thread file a crash left with no whole line (made, its
//     first line torn) is removed by [Trail.RecoverThreads]: nothing of it
//     was committed.
//   - An append is durable when it returns (the line fsynced, then the
//     head), or, under [Trail.SetGroupCommit], once [Trail.Commit] returns:
//     the writer then commits before any effect of its lines leaves.
//   - [Verify] walks every file and reports the first broken line by thread
//     and line number as a [*TamperError]: a line edited, deleted, inserted,
//     reordered or torn, an envelope whose id or signature no longer holds, a
//     verdict that contradicts the envelope (a rejection for a stateless
//     reason its text passes: the envelope's checks, and its verb's rules
//     whatever the state, [protocol.CheckStateless]), a head that
//     disagrees. It
//     holds a thread at a time per core, and a thread file of 4 MiB or
//     more a window of lines at a time (a line's neighbours carried over,
//     so the line named is the one the whole read names): a trail of any
//     length verifies in bounded memory.
//     [Read] is Verify that returns the decoded lines too, and may leave the
//     per-line record checks (signatures) for later: [CheckAll] runs them on
//     every core, for a caller (replay) that overlaps them with other work
//     or trusts some lines by a signed checkpoint.
//   - [Trail.Root] is a Merkle tree (RFC 6962 shape, [MerkleRoot]) over
//     every thread's head: what a CHECKPOINT signs. The heads are read
//     from their files once ([Trail.RecoverThreads], or the first Root);
//     after that a [HeadIndex] the trail keeps with every head it writes
//     answers, so a node with a thread per NEED it ever saw does not read
//     them all at each CHECKPOINT. A replay keeps one the same way over
//     the lines it steps.
//   - Of a broken link, the line named is the one an edit changed: line
//     n when its prev fails line n-1 and its own hash fails what follows
//     it (an edited prev), line n-1 when only the link after it broke.
//   - At most [DefaultMaxOpenThreads] thread files are open at once
//     ([Trail.SetMaxOpenThreads]): past it the least recently used thread
//     is committed and closed, and reopened (read back) when written again,
//     so a node that sees NEEDs for months holds a bounded number of files.
//
// Thread files are named by the 64 hex digits of the thread id.
package audit
